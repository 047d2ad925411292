"""Saved scans: read contract JSONs back, merge shards of one audit, and rebuild an ``AuditResult`` from them.

Several files are *shards* of one audit (``scan --organization --shard K/N``): scope, findings and clusters are
unioned.  The same account x region in two shards is bad input (the shards overlap), and so is any file that is
not a valid ``neptune-audit/1`` document.  Nothing here calls AWS.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from . import __version__, contract, rule
from .errors import UsageError, one_line


@dataclass(frozen=True)
class Source:
    """One saved file: its name, the run it holds, and the SHA-256 of its bytes."""

    name: str
    document: dict
    sha256: str

    def describe(self) -> dict:
        return {"file": self.name, "generated_at": self.document["generated_at"], "sha256": self.sha256}


def read(path) -> Source:
    p = Path(path)
    try:
        data = p.read_bytes()
        doc = json.loads(data.decode("utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {p}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, ValueError):
        raise UsageError(f"{p} is not JSON (expected a `neptune-audit scan --format json` file)") from None
    tag = doc.get("schema") if isinstance(doc, dict) else None
    if tag != contract.SCHEMA:
        raise UsageError(f"{p} is schema {tag!r}, not {contract.SCHEMA}: refused")
    try:
        contract.validate(doc)
    except Exception as exc:  # jsonschema.ValidationError: its message, in one line
        where = "/".join(str(x) for x in getattr(exc, "absolute_path", [])) or "the top level"
        raise UsageError(f"{p} is not a valid {contract.SCHEMA} document at {where}: "
                         f"{one_line(getattr(exc, 'message', exc), limit=200)}") from None
    return Source(p.name, doc, hashlib.sha256(data).hexdigest())


def merge(sources: list[Source]) -> dict:
    """One document from shards: scope, findings and clusters unioned, the summary recomputed."""
    if not sources:
        raise UsageError("give at least one saved scan (a `neptune-audit scan --format json` file)")
    seen: dict[tuple, str] = {}
    scope, findings, clusters = [], [], []
    for src in sources:
        doc = src.document
        if doc["rule"]["id"] != rule.metadata().id:
            raise UsageError(f"{src.name} is a run of rule {doc['rule']['id']}, not {rule.metadata().id}")
        for row in doc["scope"]:
            key = (row["account_id"], row["region"])
            if key in seen:
                raise UsageError(f"account {key[0]} region {key[1]} is in both {seen[key]} and {src.name}: "
                                 "shards of one audit must not overlap")
            seen[key] = src.name
        scope += doc["scope"]
        findings += doc["findings"]
        clusters += doc["clusters"]
    order = {r: i for i, r in enumerate((contract.FAIL, contract.EXCEPTED, contract.PASS))}
    findings.sort(key=lambda f: (order[f["result"]], f["account_id"], f["region"], f["cluster_id"] or "",
                                 f["instance_id"]))
    scope.sort(key=lambda s: (s["account_id"], s["region"]))
    clusters.sort(key=lambda c: (c["result"], c["account_id"], c["region"], c["cluster_id"]))
    counts = {r: sum(f["result"] == r for f in findings) for r in contract.RESULTS}
    merged = {
        "schema": contract.SCHEMA, "rule": rule.header(),
        "generated_at": max(src.document["generated_at"] for src in sources),
        "tool_version": __version__, "scope": scope, "findings": findings, "clusters": clusters,
        "summary": {"instances": len(findings), "pass": counts[contract.PASS], "fail": counts[contract.FAIL],
                    "excepted": counts[contract.EXCEPTED],
                    "targets_scanned": sum(s["state"] == contract.SCANNED for s in scope),
                    "targets_not_scanned": sum(s["state"] in contract.NOT_SCANNED for s in scope)},
    }
    runs = [src.document.get("run") for src in sources]
    if all(runs):  # shards run side by side: the longest is the audit's wall time; their calls add up
        merged["run"] = {"duration_seconds": max(r["duration_seconds"] for r in runs),
                         "api_calls": sum(r["api_calls"] for r in runs)}
    contract.validate(merged)
    return merged


def load(paths) -> "AuditResult":  # noqa: F821 - imported below: pandas loads only when asked
    """The same ``AuditResult`` as ``scan()`` returns, from one or more saved scans (shards), without AWS."""
    import pandas as pd

    from .audit import AuditResult
    from .evaluate import CLUSTER_COLUMNS, FINDING_COLUMNS, verdict_of
    from .options import ScanOptions

    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    sources = [read(p) for p in paths]
    doc = merge(sources)
    by_cluster = {(c["account_id"], c["region"], c["cluster_id"]): c for c in doc["clusters"]}
    rows = []
    for f in doc["findings"]:
        v = verdict_of(f)
        cluster = by_cluster.get((f["account_id"], f["region"], f["cluster_id"]), {})
        rows.append({**f, "role": v.role, "why": v.why, "exposure": cluster.get("exposure", "unknown"),
                     "cluster_maintenance_window": cluster.get("maintenance_window")})
    findings = pd.DataFrame(rows, columns=FINDING_COLUMNS, dtype=object)
    clusters = pd.DataFrame([{**c, "reason": "Receives minor upgrades." if c["gets_minor_upgrades"] else
                               "Receives no automatic minor upgrades (saved scan: its findings say why)."}
                              for c in doc["clusters"]], columns=CLUSTER_COLUMNS, dtype=object)
    scope = pd.DataFrame([{**s, "account_label": ""} for s in doc["scope"]],
                         columns=["account_id", "account_label", "region", "state", "instances", "error", "warnings"])
    generated = datetime.strptime(doc["generated_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return AuditResult(findings=findings, clusters=clusters.astype({"instances": int, "failing_instances": int}),
                       scope=scope, summary=doc["summary"], generated_at=generated, options=ScanOptions(),
                       parameters={"from": [s.name for s in sources]}, sources=[s.describe() for s in sources],
                       api_calls=(doc.get("run") or {}).get("api_calls", 0),
                       duration_seconds=(doc.get("run") or {}).get("duration_seconds"))
