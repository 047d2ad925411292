"""Evaluate: one finding per instance (PASS / FAIL / EXCEPTED, with a reason) and the cluster roll-up.

Neptune applies minor engine upgrades to a whole cluster by its *writer's* setting: a writer
with the setting off holds the whole cluster back; a reader with it off does so only after a
failover promotes it.  Both fail the rule; the reason says which risk applies.
"""
from __future__ import annotations

from datetime import date
from typing import NamedTuple

import pandas as pd

from . import exceptions as exc_rules
from .contract import CLUSTER_FIELDS, EXCEPTED, FAIL, FINDING_FIELDS, NOT_SCANNED, PASS, RESULTS, SCANNED

# Beside the contract's fields the DataFrames carry what the views show: the role and the reason in short.
FINDING_COLUMNS = [*FINDING_FIELDS, "role", "why"]
CLUSTER_COLUMNS = [*CLUSTER_FIELDS, "reason"]
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


def judge(row, rules, today: date) -> Verdict:
    """The verdict for one instance row (``auto_minor_version_upgrade``, ``is_writer``, ``cluster_id`` ...)."""
    role = role_of(row["is_writer"])
    if row["auto_minor_version_upgrade"]:
        return Verdict(PASS, role, "Auto Minor Version Upgrade is on: minor engine releases are applied in the "
                                   "maintenance window.", "on", None)
    reason, why = _OFF[role]
    reason = reason.format(cluster=row["cluster_id"] or "(none)")
    rule = exc_rules.find(rules, row, today)
    if rule is None:
        return Verdict(FAIL, role, reason, why, None)
    if rule.expired(today):
        return Verdict(FAIL, role, f"{reason} Its exception ({rule.match_text}) expired on {rule.expires.isoformat()}.",
                       f"{why} (exception expired)", rule.as_dict(today))
    until = f" until {rule.expires.isoformat()}" if rule.expires else ""
    return Verdict(EXCEPTED, role, f"Excepted{until} ({rule.match_text}): {rule.reason}",
                   f"excepted{until}: {rule.reason}", rule.as_dict(today))


def evaluate_instances(instances: pd.DataFrame, rules=(), today: date | None = None) -> pd.DataFrame:
    """Findings: the instance rows with the verdict's columns, failing first."""
    today = today or date.today()
    verdicts = [judge(row, rules, today) for row in instances.to_dict("records")]
    df = instances.copy()
    for i, name in enumerate(Verdict._fields):
        df[name] = pd.Series([v[i] for v in verdicts], index=df.index, dtype=object)
    df = df.assign(_order=df["result"].map(RESULT_ORDER))
    df = df.sort_values(["_order", "account_id", "region", "cluster_id", "instance_id"], kind="stable")
    extra = [c for c in df.columns if c not in FINDING_COLUMNS and c != "_order"]
    return df[FINDING_COLUMNS + extra].reset_index(drop=True)


def roll_up_clusters(findings: pd.DataFrame, clusters: pd.DataFrame) -> pd.DataFrame:
    """One row per cluster: its writer, whether it gets minor upgrades, and how many instances fail."""
    by_instance = {(r["account_id"], r["region"], r["instance_id"]): r for r in findings.to_dict("records")}
    rows = []
    for c in clusters.to_dict("records"):
        members = [by_instance.get((c["account_id"], c["region"], m)) for m, _ in c["members"]]
        members = [m for m in members if m is not None]
        writer_id = next((m for m, w in c["members"] if w), None)
        writer = by_instance.get((c["account_id"], c["region"], writer_id))
        failing = sum(m["result"] == FAIL for m in members)
        off_readers = [m["instance_id"] for m in members
                       if m["is_writer"] is False and not m["auto_minor_version_upgrade"]]
        gets = bool(writer and writer["auto_minor_version_upgrade"])
        if writer is None:
            reason = "No writer instance: nothing to upgrade."
        elif gets and off_readers:
            reason = f"Writer {writer_id} has it on; reader(s) {', '.join(off_readers)} would stop upgrades after a failover."
        elif gets:
            reason = f"Writer {writer_id} has it on: the cluster receives minor upgrades."
        else:
            reason = f"Writer {writer_id} has it off: the cluster receives no automatic minor upgrades."
        rows.append({
            "account_id": c["account_id"], "region": c["region"], "cluster_id": c["cluster_id"],
            "writer_instance_id": writer_id, "gets_minor_upgrades": gets, "instances": len(members),
            "failing_instances": failing, "result": FAIL if failing else PASS, "reason": reason,
        })
    df = pd.DataFrame(rows, columns=CLUSTER_COLUMNS)
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
