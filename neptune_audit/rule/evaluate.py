"""Evaluate: one finding per instance (PASS / FAIL / EXCEPTED, with a reason) and the cluster roll-up.

Neptune applies minor engine upgrades to a whole cluster by its *writer's* setting: a writer
with the setting off holds the whole cluster back; a reader with it off does so only after a
failover promotes it.  Both fail the rule; the reason says which risk applies.

The verdict is the flag (Conformity's rule); what the flag *means* for the cluster (where it takes the
engine, what is pending, when the release reaches end of life) is ``outlook``'s, and every instance of a
cluster shares its cluster's engine facts, so rows and roll-up never disagree.
"""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, NamedTuple

from neptune_audit.aws.inventory import INSTANCE_COLUMNS, SCOPE_COLUMNS
from neptune_audit.rule import allowlist as exc_rules
from neptune_audit.vocabulary import (Summary, CLUSTER_FIELDS, EXCEPTED, FAIL, FINDING_FIELDS, NOT_SCANNED, PASS,
                                               RESULT_ORDER, summary)
from neptune_audit.rule.calendars import default_calendar
from neptune_audit.rule.outlook import Calendar, amvu_effective, engine_facts, sentence

if TYPE_CHECKING:  # the scan works on rows; pandas loads only for the DataFrames of a notebook, a table or a report
    import pandas as pd

# Beside the contract's fields the DataFrames carry what the views and remediation use: the role, the reason in
# short, the cluster's exposure and maintenance window (engine updates happen in the *cluster's* window), and
# whether a global cluster's automatic target is out of reach.
FINDING_COLUMNS = [*FINDING_FIELDS, "role", "why", "exposure", "cluster_maintenance_window", "global_cluster_id",
                   "end_of_life", "end_of_life_date"]
CLUSTER_COLUMNS = [*CLUSTER_FIELDS, "reason"]
_EXTRA = [c for c in INSTANCE_COLUMNS if c not in FINDING_COLUMNS]  # what collection adds (upgrade targets, ...)


RESULT_RANK = {r: i for i, r in enumerate(RESULT_ORDER)}


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
               "no automatic minor upgrades (features, improvements and fixes; urgent security fixes ship as "
               "patches, which Neptune installs whatever the setting says).",
               "writer off: whole cluster gets no minor upgrades"),
    "reader": ("Auto Minor Version Upgrade is off on a reader of cluster {cluster}: if a failover promotes it, "
               "the cluster stops receiving automatic minor upgrades.", "reader off: failover risk"),
    "instance": ("Auto Minor Version Upgrade is off: this instance receives no automatic minor upgrades.", "off"),
}
_ON = {
    "writer": ("Auto Minor Version Upgrade is on on the writer of cluster {cluster}: Neptune may apply automatic "
               "minor upgrades to the whole cluster in the cluster's maintenance window.", "on"),
    "reader": ("Auto Minor Version Upgrade is on on this reader of cluster {cluster}: the writer's setting decides "
               "the cluster's upgrades; this one keeps them going if a failover promotes the reader.", "on (reader)"),
    "instance": ("Auto Minor Version Upgrade is on.", "on"),
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
        target = row.get("auto_upgrade_target")
        auto = f"automatic target {target}" if target else "no automatic target"
        full, short = f" The engine is {behind} minor version{s} behind ({version}; newest minor {latest}; {auto}).", \
            f"; {behind} minor{s} behind"
    pending = [a for a in row.get("pending_maintenance") or [] if a.get("action") == "db-upgrade"]
    if pending:
        first = min((a["auto_applied_after"] for a in pending if a.get("auto_applied_after")), default=None)
        forced = min((a["forced_apply_date"] for a in pending if a.get("forced_apply_date")), default=None)
        # PendingMaintenanceAction: AutoAppliedAfterDate, in a maintenance window after it; ForcedApplyDate, on it
        when = (f" (applied in a maintenance window after {first[:10]})" if first
                else f" (applied on {forced[:10]}, regardless of the maintenance window)" if forced else "")
        full += f" An engine upgrade is pending{when}."
        short += "; engine upgrade pending"
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
        reason, why = _ON[role]
        return Verdict(PASS, role, reason.format(cluster=row["cluster_id"] or "(none)") + note, why + short, None)
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
               "exception", "auto_upgrade_target", "os_update_pending", "managed_by")
_SHARED = ("latest_minor_version", "minor_versions_behind", "auto_upgrade_target", "os_update_pending", "exposure",
           "global_cluster_id", "end_of_life", "end_of_life_date", "manual_upgrade_target")


def _combined(*lists):
    """Pending actions of a cluster and its instances together; None (unknown) when any part is unknown."""
    return None if any(x is None for x in lists) else [a for x in lists for a in x]


def cluster_facts(instances: list[dict], clusters: list[dict] | None, calendar: Calendar | None = None,
                  today: date | None = None) -> dict:
    """(account, region, cluster) -> engine facts (``outlook.engine_facts``), over the cluster and its instances'
    pending actions."""
    if not clusters:
        return {}
    calendar, today = calendar or default_calendar(), today or date.today()
    own = {(r["account_id"], r["region"], r["instance_id"]): r.get("own_pending_maintenance")
           for r in instances}
    out = {}
    for c in clusters:
        key = (c["account_id"], c["region"], c["cluster_id"])
        pending = _combined(c["pending_maintenance"], *[own[(c["account_id"], c["region"], m)]
                                                        for m, _ in c["members"] if (c["account_id"], c["region"], m) in own])
        out[key] = {**engine_facts(c["engine_version"], c.get("engine_status"), c["upgrade_targets"],
                                   c.get("region_catalogue"), pending, c.get("global_cluster_id"), calendar, today),
                    "pending_maintenance": pending}
    return out


def _instance_facts(row: dict, cluster: dict | None, facts: dict | None, calendar, today) -> dict:
    """One instance's engine facts: its cluster's (one engine per cluster), or its own when it has none."""
    if facts is None:
        pending = row.get("own_pending_maintenance")
        facts = engine_facts(row["engine_version"], row.get("engine_status"), row.get("upgrade_targets"),
                             row.get("region_catalogue"), pending, None, calendar, today)
        facts["pending_maintenance"] = pending
    else:
        # a cluster's engine update restarts every instance: its actions and the instance's own, together
        facts = {**facts, "pending_maintenance": _combined((cluster or {}).get("pending_maintenance"),
                                                           row.get("own_pending_maintenance"))}
    return {"amvu_effective": amvu_effective(row["engine_version"]),
            "pending_maintenance": facts["pending_maintenance"],
            "cluster_maintenance_window": (cluster or {}).get("maintenance_window"),
            **{k: facts[k] for k in _SHARED}}


# CloudFormation's stack-level tags on the resources it creates (template reference, "Resource tag"); the
# propagation of stack-level tags varies by resource type, so an untagged instance may still be a stack's.
CFN_TAGS = ("aws:cloudformation:stack-name", "aws:cloudformation:logical-id")


def managed_by(tags, owner_tag: tuple[str, str | None] | None = None) -> dict | None:
    """What an instance's tags say of the code that owns it (``managed_by``), or None.  ``owner_tag``: the user's
    convention for Terraform (``ManagedBy=terraform``: the key, and the value or None for any value)."""
    tags = tags or {}
    if all(tags.get(k) for k in CFN_TAGS):
        return {"tool": "cloudformation", "stack": str(tags[CFN_TAGS[0]]), "logical_id": str(tags[CFN_TAGS[1]]),
                "address": None, "file": None, "line": None}
    if owner_tag is not None:
        key, value = owner_tag
        if key in tags and (value is None or str(tags[key]) == value):
            return {"tool": "terraform", "stack": None, "logical_id": None, "address": None, "file": None,
                    "line": None}
    return None


def _last_if_none(v) -> tuple:
    return (v is None, v or "")  # as pandas sorts: missing values last


def finding_rows(instances: list[dict], rules=(), today: date | None = None, clusters: list[dict] | None = None,
                 calendar: Calendar | None = None, owner_tag: tuple[str, str | None] | None = None) -> list[dict]:
    """Findings as rows: collection's instance rows with their engine facts and the verdict's columns, failing
    first.  ``owner_tag``: the tag that marks an instance as Terraform's (``ScanOptions.managed_by_tag``)."""
    today, calendar = today or date.today(), calendar or default_calendar()
    clusters = clusters or []
    by_cluster = {(c["account_id"], c["region"], c["cluster_id"]): c for c in clusters}
    instances = [dict(r) for r in instances]
    facts = cluster_facts(instances, clusters, calendar, today)
    extra = [c for c in (instances[0] if instances else _EXTRA) if c not in FINDING_COLUMNS]
    rows = []
    for row in instances:
        key = (row["account_id"], row["region"], row["cluster_id"])
        row.update(_instance_facts(row, by_cluster.get(key), facts.get(key), calendar, today))
        row.update(judge(row, rules, today)._asdict())
        row["managed_by"] = managed_by(row.get("tags"), owner_tag)
        rows.append({c: row.get(c) for c in (*FINDING_COLUMNS, *extra)})
    rows.sort(key=lambda r: (RESULT_RANK[str(r["result"])], r["account_id"], r["region"], _last_if_none(r["cluster_id"]),
                             r["instance_id"]))
    return rows


def findings_frame(rows: list[dict]) -> pd.DataFrame:
    """The findings DataFrame of ``finding_rows``: None stays None (unknown), ints stay ints, lists stay lists."""
    import pandas as pd

    columns = list(rows[0]) if rows else [*FINDING_COLUMNS, *_EXTRA]
    df = pd.DataFrame(rows, columns=columns)
    for name in _KEEP_AS_IS:
        df[name] = pd.Series([row[name] for row in rows], index=df.index, dtype=object)
    return df


def cluster_rows(findings: list[dict], clusters: list[dict], calendar: Calendar | None = None,
                 today: date | None = None) -> list[dict]:
    """One row per cluster: its writer, whether it gets minor upgrades, how many instances fail, its engine
    facts and outlook."""
    today, calendar = today or date.today(), calendar or default_calendar()
    by_instance = {(r["account_id"], r["region"], r["instance_id"]): r for r in findings}
    facts_of = cluster_facts(findings, clusters, calendar, today)  # findings keep the rows' own pending actions
    rows = []
    for c in clusters:
        found = [by_instance.get((c["account_id"], c["region"], m)) for m, _ in c["members"]]
        members = [m for m in found if m is not None]
        writer_id = next((m for m, w in c["members"] if w), None)
        writer = by_instance.get((c["account_id"], c["region"], writer_id))
        failing = sum(m["result"] == FAIL for m in members)
        off_readers = [m["instance_id"] for m in members
                       if m["is_writer"] is False and m["auto_minor_version_upgrade"] is not True]
        f = facts_of[(c["account_id"], c["region"], c["cluster_id"])]
        effective = f["amvu_effective"]
        exposure = f["exposure"]
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
            reason = f"Writer {writer_id} has it on: automatic minor upgrades apply to the cluster."
        outlook = sentence(f, c["engine_version"], c["maintenance_window"], writer_id,
                           writer["auto_minor_version_upgrade"] if writer else None, writer is not None)
        rows.append({
            "account_id": c["account_id"], "region": c["region"], "cluster_id": c["cluster_id"],
            "writer_instance_id": writer_id, "gets_minor_upgrades": gets, "instances": len(members),
            "failing_instances": failing, "engine_version": c["engine_version"],
            # a cluster whose writer was not seen cannot pass
            "result": FAIL if failing or (writer_id is not None and writer is None) else PASS,
            "maintenance_window": c["maintenance_window"], "latest_minor_version": f["latest_minor_version"],
            "minor_versions_behind": f["minor_versions_behind"], "amvu_effective": effective,
            "pending_maintenance": f["pending_maintenance"], "exposure": exposure,
            "auto_upgrade_target": f["auto_upgrade_target"], "end_of_life_date": f["end_of_life_date"],
            "end_of_life": f["end_of_life"], "forced_upgrade_date": f["forced_upgrade_date"],
            "global_cluster_id": f["global_cluster_id"], "os_update_pending": f["os_update_pending"],
            "outlook": outlook, "manual_upgrade_target": f["manual_upgrade_target"], "reason": reason,
        })
    rows.sort(key=lambda r: (r["result"], r["account_id"], r["region"], _last_if_none(r["cluster_id"])))
    return rows


def clusters_frame(rows: list[dict]) -> pd.DataFrame:
    """The clusters DataFrame of ``cluster_rows``: object columns keep None as None (unknown) and bools as bools;
    the counts stay numbers."""
    import pandas as pd

    return pd.DataFrame(rows, columns=CLUSTER_COLUMNS, dtype=object).astype(
        {"instances": int, "failing_instances": int, "gets_minor_upgrades": bool})


def scope_frame(rows: list[dict]) -> pd.DataFrame:
    """The scope DataFrame of collection's scope rows."""
    import pandas as pd

    return pd.DataFrame(rows, columns=SCOPE_COLUMNS)


def held_back(clusters: pd.DataFrame) -> pd.DataFrame:
    """Clusters with instances whose writer has the setting off: they receive no automatic minor upgrades."""
    return clusters[~clusters["gets_minor_upgrades"].astype(bool) & (clusters["instances"] > 0)]


def not_scanned(scope: pd.DataFrame) -> pd.DataFrame:
    """Scope rows that make a run incomplete (denied, error)."""
    return scope[scope["state"].isin(NOT_SCANNED)]


def summarize(findings: list[dict], scope: list[dict]) -> Summary:
    """The contract's summary block, from the finding and scope rows."""
    return summary([r["result"] for r in findings], [r["state"] for r in scope])
