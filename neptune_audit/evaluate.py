"""Evaluate: one finding per instance (PASS / FAIL / EXCEPTED, with a reason) and the cluster roll-up.

Neptune applies minor engine upgrades to a whole cluster by its *writer's* setting: a writer
with the setting off holds the whole cluster back; a reader with it off does so only after a
failover promotes it.  Both fail the rule; the reason says which risk applies.
"""
from __future__ import annotations

from datetime import date

import pandas as pd

from . import exceptions as exc_rules

FINDING_COLUMNS = [
    "account_id", "region", "cluster_id", "instance_id", "arn", "engine_version", "instance_class",
    "status", "is_writer", "auto_minor_version_upgrade", "maintenance_window", "pending_modifications",
    "tags", "result", "reason", "exception",
]
CLUSTER_COLUMNS = [
    "account_id", "region", "cluster_id", "writer_instance_id", "gets_minor_upgrades", "instances",
    "failing_instances", "result", "reason",
]
RESULT_ORDER = {"FAIL": 0, "EXCEPTED": 1, "PASS": 2}


def _role(row) -> str:
    if row["is_writer"] is True:
        return "writer"
    if row["is_writer"] is False:
        return "reader"
    return "instance"


def judge(row, rules, today: date) -> tuple[str, str, dict | None]:
    """Result, reason and exception for one instance row."""
    cluster = row["cluster_id"] or "(none)"
    if row["auto_minor_version_upgrade"]:
        return "PASS", "Auto Minor Version Upgrade is on: minor engine releases are applied in the maintenance window.", None
    if row["is_writer"] is True:
        reason = (f"Auto Minor Version Upgrade is off on the writer of cluster {cluster}: "
                  "the whole cluster receives no automatic minor upgrades.")
    elif row["is_writer"] is False:
        reason = (f"Auto Minor Version Upgrade is off on a reader of cluster {cluster}: "
                  "if a failover promotes it, the cluster stops receiving automatic minor upgrades.")
    else:
        reason = "Auto Minor Version Upgrade is off: this instance receives no automatic minor upgrades."
    rule = exc_rules.find(rules, row, today)
    if rule is None:
        return "FAIL", reason, None
    if rule.expired(today):
        return "FAIL", f"{reason} Its exception ({rule.match_text}) expired on {rule.expires.isoformat()}.", rule.as_dict(today)
    until = f" until {rule.expires.isoformat()}" if rule.expires else ""
    return "EXCEPTED", f"Excepted{until} ({rule.match_text}): {rule.reason}", rule.as_dict(today)


def evaluate_instances(instances: pd.DataFrame, rules=(), today: date | None = None) -> pd.DataFrame:
    """Findings: the instance rows with ``result``, ``reason`` and ``exception``, failing first."""
    today = today or date.today()
    df = instances.copy()
    rows = df.to_dict("records")
    judged = [judge(row, rules, today) for row in rows]
    df["result"] = [j[0] for j in judged]
    df["reason"] = [j[1] for j in judged]
    df["exception"] = [j[2] for j in judged]
    df["role"] = [_role(r) for r in rows] if rows else pd.Series(dtype=object)
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
        failing = sum(m["result"] == "FAIL" for m in members)
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
            "failing_instances": failing, "result": "FAIL" if failing else "PASS", "reason": reason,
        })
    df = pd.DataFrame(rows, columns=CLUSTER_COLUMNS)
    return df.sort_values(["result", "account_id", "region", "cluster_id"], kind="stable").reset_index(drop=True)


def summarize(findings: pd.DataFrame, scope: pd.DataFrame) -> dict:
    """The contract's summary block."""
    counts = findings["result"].value_counts()
    return {
        "instances": int(len(findings)),
        "pass": int(counts.get("PASS", 0)),
        "fail": int(counts.get("FAIL", 0)),
        "excepted": int(counts.get("EXCEPTED", 0)),
        "targets_scanned": int((scope["state"] == "scanned").sum()),
        # not-enabled regions hold nothing to scan: they are in scope, but not "incomplete"
        "targets_not_scanned": int(scope["state"].isin(["denied", "error"]).sum()),
    }
