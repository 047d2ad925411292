"""Saved scans: read contract JSONs back, merge shards of one audit, and rebuild an ``AuditResult`` from them.

Several files are *shards* of one audit (``scan --organization --shard K/N``): scope, findings and clusters are
unioned.  The same account x region in two shards is bad input (the shards overlap), and so is any file that is
not a valid ``neptune-audit/1`` document.  Nothing here calls AWS.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from neptune_audit._version import __version__
from neptune_audit import vocabulary
from neptune_audit.rule import model
from neptune_audit.errors import InputError, UsageError, one_line
from neptune_audit.contract.facts import check_facts
from neptune_audit.inputs import contract_document, read_bytes

if TYPE_CHECKING:  # imported in load(): pandas loads only when asked
    from neptune_audit.contract.result import AuditResult


@dataclass(frozen=True)
class Source:
    """One saved file: its name, the run it holds, and the SHA-256 of its bytes."""

    name: str
    document: dict
    sha256: str

    def describe(self) -> dict:
        return {"file": self.name, "generated_at": self.document["generated_at"], "sha256": self.sha256}


SHARD_SPREAD = timedelta(days=7)  # shards of one audit are run the same day; a week allows a re-run of one
MAX_BYTES = 128 * 1024 * 1024  # a 10,000-instance run is ~19 MB; a 1,000-account Organization's shard far less;
# larger is refused from its size alone, before a byte is read (a 239 MB file took 120 s and 1 GB to refuse)


def read(path) -> Source:
    """One saved scan, read with a byte cap, parsed strictly and checked against the schema and its own facts."""
    p = Path(path)
    if p.suffix.lower() in (".ipynb", ".html", ".htm"):
        # a report or executed notebook: the run embedded in it, its hash checked (evidence.verify)
        from neptune_audit.contract.evidence import verify

        found = verify(p)  # its facts checked there
        return Source(p.name, contract_document(json.dumps(found.document), str(p)), found.sha256)
    data = read_bytes(p, MAX_BYTES, "saved scan")
    doc = contract_document(data, str(p))
    check_facts(doc, p.name)
    return Source(p.name, doc, hashlib.sha256(data).hexdigest())


def _key(account_id: str, region: str) -> tuple[str, str]:
    """Account ids and regions as AWS means them: '123456789012' and 'us-east-1' however a file spells them."""
    return account_id.strip().zfill(12), region.strip().lower()


def merge(sources: list[Source]) -> dict:
    """One document from shards: scope, findings and clusters unioned, the summary recomputed."""
    if not sources:
        raise UsageError("give at least one saved scan (a `neptune-audit scan --format json` file)")
    seen: dict[tuple, str] = {}
    arns: dict[str, str] = {}
    scope, findings, clusters = [], [], []
    times = sorted(datetime.strptime(s.document["generated_at"], "%Y-%m-%dT%H:%M:%SZ") for s in sources)
    if times[-1] - times[0] > SHARD_SPREAD:
        raise InputError(f"the files were generated {times[0]:%Y-%m-%d} to {times[-1]:%Y-%m-%d}, more than "
                         f"{SHARD_SPREAD.days} days apart: shards of one audit run together (tool versions "
                         f"{', '.join(sorted({s.document['tool_version'] for s in sources}))}): refused")
    for src in sources:
        doc = src.document
        if doc["rule"]["id"] != model.metadata().id:
            raise InputError(f"{src.name} is a run of rule {doc['rule']['id']}, not {model.metadata().id}")
        own = set()
        for row in doc["scope"]:
            key = _key(row["account_id"], row["region"])
            if key in seen:
                raise InputError(f"account {key[0]} region {key[1]} is in both {seen[key]} and {src.name}: "
                                 "shards of one audit must not overlap")
            seen[key] = src.name
            own.add(key)
        for item in (*doc["findings"], *doc["clusters"]):
            if _key(item["account_id"], item["region"]) not in own:
                raise InputError(f"{src.name}: {item.get('instance_id') or item.get('cluster_id')} is in account "
                                 f"{item['account_id']} region {item['region']}, which its scope does not list: refused")
        for f in doc["findings"]:
            if f["arn"] in arns:
                raise InputError(f"instance {one_line(f['arn'])} is in both {arns[f['arn']]} and {src.name}: refused")
            arns[f["arn"]] = src.name
        scope += doc["scope"]
        findings += doc["findings"]
        clusters += doc["clusters"]
    order = {r: i for i, r in enumerate(vocabulary.RESULT_ORDER)}
    findings.sort(key=lambda f: (order[f["result"]], f["account_id"], f["region"], f["cluster_id"] or "",
                                 f["instance_id"]))
    scope.sort(key=lambda s: (s["account_id"], s["region"]))
    clusters.sort(key=lambda c: (c["result"], c["account_id"], c["region"], c["cluster_id"]))
    merged = {
        "schema": vocabulary.SCHEMA, "rule": model.header(),
        "generated_at": max(src.document["generated_at"] for src in sources),
        "tool_version": __version__, "scope": scope, "findings": findings, "clusters": clusters,
        "summary": vocabulary.summary([f["result"] for f in findings], [s["state"] for s in scope]),
    }
    runs = [src.document.get("run") or {} for src in sources]
    if all(runs):  # shards run side by side: the longest is the audit's wall time; their calls add up
        merged["run"] = {"duration_seconds": max(r["duration_seconds"] for r in runs),
                         "api_calls": sum(r["api_calls"] for r in runs)}
    calendar = _calendar_of(sources)
    if calendar:  # the oldest the shards used: a stale calendar never vanishes in a merge
        merged["engine_calendar"] = calendar
    # what the merge made is checked; the rows are the shards' own, each checked as its file was read (checking
    # 10,000 findings again took 4.4 s of a 10-s load)
    vocabulary.validate({**merged, "scope": [], "findings": [], "clusters": []})
    return merged


def load(paths) -> AuditResult:
    """The same ``AuditResult`` as ``scan()`` returns, from one or more saved scans (shards), without AWS."""
    import pandas as pd

    from neptune_audit.contract.result import AuditResult
    from neptune_audit.rule.evaluate import CLUSTER_COLUMNS, FINDING_COLUMNS, verdict_of
    from neptune_audit.options import ScanOptions

    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    sources = [read(p) for p in paths]
    doc = merge(sources)
    by_cluster = {(c["account_id"], c["region"], c["cluster_id"]): c for c in doc["clusters"]}
    rows = []
    for f in doc["findings"]:
        v = verdict_of(f)
        cluster = by_cluster.get((f["account_id"], f["region"], f["cluster_id"]), {})
        rows.append({**f, "role": v.role, "why": v.why, "exposure": cluster.get("exposure", "unknown"),
                     "cluster_maintenance_window": cluster.get("maintenance_window"),
                     **{k: cluster.get(k) for k in ("global_cluster_id", "end_of_life", "end_of_life_date")},
                     "manual_upgrade_target": f.get("manual_upgrade_target", cluster.get("manual_upgrade_target"))})
    findings = pd.DataFrame(rows, columns=FINDING_COLUMNS, dtype=object)
    # a file from before the outlook fields: they are unknown, never guessed
    older = {"end_of_life": "unknown", "outlook": "Unknown: this saved scan predates the outlook."}
    clusters = pd.DataFrame([{**older, **c, "reason": "Automatic minor upgrades apply." if c["gets_minor_upgrades"]
                              else "Receives no automatic minor upgrades (saved scan: its findings say why)."}
                             for c in doc["clusters"]], columns=CLUSTER_COLUMNS, dtype=object)
    clusters = clusters.astype(object).where(clusters.notna(), None)
    findings = findings.astype(object).where(findings.notna(), None)
    scope = pd.DataFrame([{**s, "account_label": ""} for s in doc["scope"]],
                         columns=["account_id", "account_label", "region", "state", "instances", "error", "warnings"])
    generated = datetime.strptime(doc["generated_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return AuditResult(findings=findings, clusters=clusters.astype({"instances": int, "failing_instances": int}),
                       scope=scope, summary=doc["summary"], generated_at=generated, options=ScanOptions(),
                       parameters={"from": [s.name for s in sources]}, sources=[s.describe() for s in sources],
                       api_calls=(doc.get("run") or {}).get("api_calls", 0),
                       duration_seconds=(doc.get("run") or {}).get("duration_seconds"),
                       engine_calendar=_calendar_of(sources))


def _calendar_of(sources) -> dict | None:
    """The engine calendar the shards used: the oldest, so a stale one is never hidden by a fresh one."""
    found = [s.document["engine_calendar"] for s in sources if s.document.get("engine_calendar")]
    return min(found, key=lambda c: c["as_of"]) if found else None
