"""Evaluate: one finding per instance (PASS / FAIL / EXCEPTED, with a reason) and the cluster roll-up.

Neptune applies minor engine upgrades to a whole cluster by its *writer's* setting: a writer
with the setting off holds the whole cluster back; a reader with it off does so only after a
failover promotes it.  Both fail the rule; the reason says which risk applies.

The verdict is the flag (Conformity's rule); what the flag *means* for the cluster is its upgrade
exposure.  From engine release 1.3.0.0 on, versions read product.major.minor.patch and the setting
governs the minor number; an older release gets no automatic minor upgrades whatever the flag says
(Neptune user guide, "Engine version numbers": docs.aws.amazon.com/neptune/latest/userguide/
cluster-maintenance.html, and "Managing engine updates to your Neptune DB cluster":
.../engine-maintenance-management.html).  Exposure: ``not-covered`` (older than 1.3.0.0; takes
precedence), ``behind`` (a newer minor exists or maintenance is pending), ``current``, ``unknown``
(the catalogue or the pending actions could not be read, or the writer was not seen).
"""
from __future__ import annotations

import functools
from datetime import date
from typing import NamedTuple

import pandas as pd

from . import exceptions as exc_rules
from .contract import CLUSTER_FIELDS, EXCEPTED, FAIL, FINDING_FIELDS, NOT_SCANNED, PASS, RESULTS, SCANNED

# Beside the contract's fields the DataFrames carry what the views and remediation use: the role, the reason in
# short, the cluster's exposure and maintenance window (engine updates happen in the *cluster's* window).
FINDING_COLUMNS = [*FINDING_FIELDS, "role", "why", "exposure", "cluster_maintenance_window"]
CLUSTER_COLUMNS = [*CLUSTER_FIELDS, "reason"]
COVERED_FROM = (1, 3, 0, 0)
EXPOSURES = ("not-covered", "behind", "current", "unknown")


@functools.lru_cache(maxsize=4096)
def version_key(version) -> tuple:
    """``1.3.2.1`` -> (1, 3, 2, 1), for ordering engine releases."""
    return tuple(int(p) if p.isdigit() else 0 for p in str(version).split("."))


def amvu_effective(engine_version) -> bool | None:
    """Whether the setting can act on this engine release at all (1.3.0.0 and later); None when unknown."""
    if not engine_version:
        return None
    return version_key(engine_version) >= COVERED_FROM


def upgrade_position(engine_version, targets) -> tuple[str | None, int | None]:
    """(latest minor version, minor versions behind) from ``ValidUpgradeTarget``; (None, None) when unknown.

    Only non-major targets count.  From 1.3.0.0 on, "behind" counts distinct newer minor numbers (1.3.3.0,
    1.3.3.1 and 1.3.4.0 above 1.3.2.1 are 2); before it, distinct newer non-major target versions.
    """
    if targets is None or not engine_version:
        return None, None
    current = version_key(engine_version)
    newer = {t["EngineVersion"] for t in targets
             if not t.get("IsMajorVersionUpgrade") and version_key(t["EngineVersion"]) > current}
    latest = max(newer, key=version_key) if newer else engine_version
    if current >= COVERED_FROM:
        return latest, len({version_key(v)[:3] for v in newer if version_key(v)[:3] > current[:3]})
    return latest, len(newer)


def exposure_of(engine_version, behind, pending) -> str:
    if amvu_effective(engine_version) is False:
        return "not-covered"
    if behind is None or pending is None:
        return "unknown"
    return "behind" if behind or pending else "current"
RESULT_ORDER = {r: i for i, r in enumerate((FAIL, EXCEPTED, PASS))}
assert set(RESULT_ORDER) == set(RESULTS)


class Verdict(NamedTuple):
    """What the rule says of one instance: ``reason`` is whole (JSON, CSV), ``why`` is for tables."""

    result: str
    role: str
    reason: str
    why: str
    exception: dict | None


def role_of(is_writer) -> str:
    if is_writer is True:
        return "writer"
    if is_writer is False:
        return "reader"
    return "instance"


_OFF = {
    "writer": ("Auto Minor Version Upgrade is off on the writer of cluster {cluster}: the whole cluster receives "
               "no automatic minor upgrades.", "writer off: whole cluster gets no minor upgrades"),
    "reader": ("Auto Minor Version Upgrade is off on a reader of cluster {cluster}: if a failover promotes it, "
               "the cluster stops receiving automatic minor upgrades.", "reader off: failover risk"),
    "instance": ("Auto Minor Version Upgrade is off: this instance receives no automatic minor upgrades.", "off"),
}
_NOT_REPORTED = ("The API did not report the Auto Minor Version Upgrade setting (AutoMinorVersionUpgrade is absent), "
                 "so it cannot be shown to be on.", "setting not reported")


def _version_note(row) -> tuple[str, str]:
    """What the engine release adds to a reason, in full and in short."""
    version, behind, latest = row.get("engine_version"), row.get("minor_versions_behind"), row.get("latest_minor_version")
    if row.get("amvu_effective") is False:
        return (f" Engine release {version} is older than 1.3.0.0: Neptune applies no automatic minor upgrades to it "
                "whatever the setting says; it needs a manual engine upgrade.", f"; {version}: not covered before 1.3.0.0")
    full, short = "", ""
    if behind:
        s = "s" if behind > 1 else ""
        full, short = f" The engine is {behind} minor version{s} behind ({version}; newest minor {latest}).", \
            f"; {behind} minor{s} behind"
    pending = row.get("pending_maintenance") or []
    if pending:
        first = pending[0]
        when = first.get("auto_applied_after") or first.get("forced_apply_date")
        full += f" Pending maintenance: {first.get('action')}" + (f" (applied automatically after {when[:10]})" if when else "") + "."
        short += f"; pending {first.get('action')}"
    return full, short


def _unexcepted(row) -> Verdict:
    """The verdict before exceptions: PASS, or FAIL with the role's reason, and what the engine release adds."""
    role = role_of(row["is_writer"])
    note, short = _version_note(row)
    setting = row["auto_minor_version_upgrade"]
    if setting is True:
        if row.get("amvu_effective") is False:
            return Verdict(PASS, role, "Auto Minor Version Upgrade is on, but it has no effect yet." + note,
                           "on, no effect" + short, None)
        return Verdict(PASS, role, "Auto Minor Version Upgrade is on: minor engine releases are applied in the "
                                   "cluster's maintenance window." + note, "on" + short, None)
    reason, why = _NOT_REPORTED if setting is None else _OFF[role]
    return Verdict(FAIL, role, reason.format(cluster=row["cluster_id"] or "(none)") + note, why + short, None)


def _excepted(v: Verdict, exception: dict | None) -> Verdict:
    """A FAIL under an exception (the finding's ``exception`` field): EXCEPTED, or still FAIL once it expired."""
    if v.result != FAIL or not exception:
        return v
    if exception["expired"]:
        return Verdict(FAIL, v.role, f"{v.reason} Its exception ({exception['match']}) expired on "
                                     f"{exception['expires']}.", f"{v.why} (exception expired)", exception)
    until = f" until {exception['expires']}" if exception["expires"] else ""
    return Verdict(EXCEPTED, v.role, f"Excepted{until} ({exception['match']}): {exception['reason']}",
                   f"excepted{until}: {exception['reason']}", exception)


def judge(row, rules, today: date) -> Verdict:
    """The verdict for one instance row (``auto_minor_version_upgrade``, ``is_writer``, ``cluster_id``, and the
    exposure columns ``engine_version``, ``amvu_effective``, ``minor_versions_behind``, ``latest_minor_version``)."""
    v = _unexcepted(row)
    rule = exc_rules.find(rules, row, today) if v.result == FAIL else None
    return _excepted(v, rule.as_dict(today) if rule else None)


def verdict_of(finding: dict) -> Verdict:
    """The verdict of a saved finding (a contract document's), from its own fields and recorded exception."""
    return _excepted(_unexcepted(finding), finding.get("exception"))


_KEEP_AS_IS = ("amvu_effective", "latest_minor_version", "minor_versions_behind", "pending_maintenance",
               "exception")


def _exposure(row: dict, cluster: dict, positions: dict) -> dict:
    """One instance's upgrade exposure: from its engine version, the catalogue, and what is pending for it
    (its own actions and its cluster's: a cluster's engine update restarts every instance)."""
    own, of_cluster = row.get("own_pending_maintenance"), cluster.get("pending_maintenance", [])
    pending = None if own is None or of_cluster is None else [*of_cluster, *own]
    targets = row.get("upgrade_targets")
    key = (row["engine_version"], id(targets))  # one catalogue entry serves every instance on that version
    if key not in positions:
        positions[key] = upgrade_position(row["engine_version"], targets)
    latest, behind = positions[key]
    return {"amvu_effective": amvu_effective(row["engine_version"]), "latest_minor_version": latest,
            "minor_versions_behind": behind, "pending_maintenance": pending,
            "exposure": exposure_of(row["engine_version"], behind, pending),
            "cluster_maintenance_window": cluster.get("maintenance_window")}


def evaluate_instances(instances: pd.DataFrame, rules=(), today: date | None = None,
                       clusters: pd.DataFrame | None = None) -> pd.DataFrame:
    """Findings: the instance rows with their upgrade exposure and the verdict's columns, failing first."""
    today = today or date.today()
    by_cluster = {}
    if clusters is not None:
        by_cluster = {(c["account_id"], c["region"], c["cluster_id"]): c for c in clusters.to_dict("records")}
    rows, positions = instances.to_dict("records"), {}
    for row in rows:
        row.update(_exposure(row, by_cluster.get((row["account_id"], row["region"], row["cluster_id"]), {}), positions))
        row.update(judge(row, rules, today)._asdict())
    extra = [c for c in instances.columns if c not in FINDING_COLUMNS]
    df = pd.DataFrame(rows, columns=FINDING_COLUMNS + extra)
    for name in _KEEP_AS_IS:  # None stays None (unknown), ints stay ints, lists stay lists
        df[name] = pd.Series([row[name] for row in rows], index=df.index, dtype=object)
    df = df.assign(_order=df["result"].map(RESULT_ORDER))
    df = df.sort_values(["_order", "account_id", "region", "cluster_id", "instance_id"], kind="stable")
    return df.drop(columns="_order").reset_index(drop=True)


def roll_up_clusters(findings: pd.DataFrame, clusters: pd.DataFrame) -> pd.DataFrame:
    """One row per cluster: its writer, whether it gets minor upgrades, how many instances fail, its exposure."""
    by_instance = {(r["account_id"], r["region"], r["instance_id"]): r for r in findings.to_dict("records")}
    rows = []
    for c in clusters.to_dict("records"):
        members = [by_instance.get((c["account_id"], c["region"], m)) for m, _ in c["members"]]
        members = [m for m in members if m is not None]
        writer_id = next((m for m, w in c["members"] if w), None)
        writer = by_instance.get((c["account_id"], c["region"], writer_id))
        failing = sum(m["result"] == FAIL for m in members)
        off_readers = [m["instance_id"] for m in members
                       if m["is_writer"] is False and m["auto_minor_version_upgrade"] is not True]
        effective = amvu_effective(c["engine_version"])
        latest, behind = upgrade_position(c["engine_version"], c["upgrade_targets"])
        pending = c["pending_maintenance"]
        exposure = exposure_of(c["engine_version"], behind, pending)
        gets = bool(writer and writer["auto_minor_version_upgrade"] is True and effective is not False)
        if writer_id is None:
            reason = "No writer instance: nothing to upgrade."
        elif writer is None:
            reason = (f"Writer {writer_id} was not returned by DescribeDBInstances: whether the cluster receives minor "
                      "upgrades is unknown, and its account-region is not fully scanned.")
            exposure = "unknown"
        elif writer["auto_minor_version_upgrade"] is not True:
            reason = f"Writer {writer_id} has it off: the cluster receives no automatic minor upgrades."
        elif effective is False:
            reason = (f"Writer {writer_id} has it on, but engine release {c['engine_version']} is older than 1.3.0.0: "
                      "the cluster receives no automatic minor upgrades until it is upgraded by hand.")
        elif off_readers:
            reason = f"Writer {writer_id} has it on; reader(s) {', '.join(off_readers)} would stop upgrades after a failover."
        else:
            reason = f"Writer {writer_id} has it on: the cluster receives minor upgrades."
        rows.append({
            "account_id": c["account_id"], "region": c["region"], "cluster_id": c["cluster_id"],
            "writer_instance_id": writer_id, "gets_minor_upgrades": gets, "instances": len(members),
            "failing_instances": failing, "engine_version": c["engine_version"],
            # a cluster whose writer was not seen cannot pass
            "result": FAIL if failing or (writer_id is not None and writer is None) else PASS,
            "maintenance_window": c["maintenance_window"], "latest_minor_version": latest,
            "minor_versions_behind": behind, "amvu_effective": effective, "pending_maintenance": pending,
            "exposure": exposure, "reason": reason,
        })
    # object columns keep None as None (unknown) and bools as bools; the counts stay numbers
    df = pd.DataFrame(rows, columns=CLUSTER_COLUMNS, dtype=object).astype(
        {"instances": int, "failing_instances": int, "gets_minor_upgrades": bool})
    return df.sort_values(["result", "account_id", "region", "cluster_id"], kind="stable").reset_index(drop=True)


def held_back(clusters: pd.DataFrame) -> pd.DataFrame:
    """Clusters with instances whose writer has the setting off: they receive no automatic minor upgrades."""
    return clusters[~clusters["gets_minor_upgrades"].astype(bool) & (clusters["instances"] > 0)]


def not_scanned(scope: pd.DataFrame) -> pd.DataFrame:
    """Scope rows that make a run incomplete (denied, error)."""
    return scope[scope["state"].isin(NOT_SCANNED)]


def summarize(findings: pd.DataFrame, scope: pd.DataFrame) -> dict:
    """The contract's summary block."""
    counts = findings["result"].value_counts()
    return {
        "instances": int(len(findings)),
        "pass": int(counts.get(PASS, 0)),
        "fail": int(counts.get(FAIL, 0)),
        "excepted": int(counts.get(EXCEPTED, 0)),
        "targets_scanned": int((scope["state"] == SCANNED).sum()),
        # not-enabled regions hold nothing to scan: they are in scope, but not "incomplete"
        "targets_not_scanned": int(len(not_scanned(scope))),
    }
