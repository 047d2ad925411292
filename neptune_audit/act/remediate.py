"""Act: turn Auto Minor Version Upgrade on — plan, then apply, then verify.

``plan()`` changes nothing: it says what would change and warns about what else could happen.
``apply()`` re-reads each instance first (engine, status, setting) so a stale plan cannot touch a
non-Neptune or already-fixed instance, then calls ModifyDBInstance, logging an intent before and an
outcome after.  ``ApplyImmediately`` is sent only when asked, because it also applies every pending
modification at once, and some of those restart the instance.
"""
from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd

from neptune_audit.act import auditlog
from neptune_audit.rule import model
from neptune_audit.rule.model import command
from neptune_audit.act.auditlog import AuditLog
from neptune_audit.vocabulary import EXCEPTED, FAIL
from neptune_audit.errors import UsageError, one_line
from neptune_audit.records import iso
from neptune_audit.defaults import DEFAULT_WORKERS
from neptune_audit.options import REGION
from neptune_audit.aws.permissions import Needs
from neptune_audit.aws.faults import AWS_ERRORS, describe_error

# The calls made here and the IAM action each needs (aws/permissions.py): one write, on DB instances only; the
# re-read after it is the audit's own read.
NEEDS = (Needs("NeptuneAuditRead", {"rds.DescribeDBInstances": "rds:DescribeDBInstances"}),
         Needs("NeptuneEnableAutoMinorVersionUpgrade", {"rds.ModifyDBInstance": "rds:ModifyDBInstance"},
               resource="arn:aws:rds:*:*:db:*", kinds=("remediate",)),
         # after an API change to an instance a stack owns: did the stack's resource drift? (it also reads the
         # resource, through rds:DescribeDBInstances above)
         Needs("NeptuneCheckStackDrift",
               {"cloudformation.DetectStackResourceDrift": "cloudformation:DetectStackResourceDrift"},
               resource="arn:aws:cloudformation:*:*:stack/*/*", kinds=("remediate",), when="iac"))

PLAN_COLUMNS = ["account_id", "region", "cluster_id", "instance_id", "arn", "role", "status", "result",
                "current", "change", "pending_modifications", "maintenance_window", "warnings",
                # what the change means for the cluster (the panel shows them beside each candidate)
                "exposure", "engine", "pending_maintenance", "next_window", "command",
                # the code that owns the instance (scan --iac, or CloudFormation's tags): fix it there first
                "managed_by",
                # upgrade_starts_warning applies: the change may start an engine upgrade and restart the cluster
                "restarts"]
RESULT_COLUMNS = ["account_id", "region", "cluster_id", "instance_id", "outcome", "error", "apply_immediately",
                  "verified", "detail", "drift"]
_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
VERIFY_BATCH = 100  # instance ids per DescribeDBInstances filter when re-reading
_VERIFY_DETAIL = {True: "on", False: "still off: AWS applies it asynchronously; re-verify shortly",
                  None: "re-read failed: the instance no longer exists"}


def _minute_of_week(spec: str) -> int:
    day, hh, mm = spec.split(":")
    return _DAYS.index(day.lower()) * 1440 + int(hh) * 60 + int(mm)


def in_maintenance_window(window: str | None, now: datetime) -> bool:
    """Whether ``now`` (UTC) falls in a window such as ``sun:23:30-mon:00:30`` (wrapping the week)."""
    if not window or "-" not in window:
        return False
    try:
        start, end = (_minute_of_week(p) for p in window.split("-"))
    except (ValueError, IndexError):
        return False
    t = now.weekday() * 1440 + now.hour * 60 + now.minute
    return start <= t < end if start <= end else (t >= start or t < end)


UPGRADE_LEAD = timedelta(hours=1)  # a window about to open counts as open: the change may land inside it


def upgrade_starts_warning(finding: dict, now: datetime) -> str | None:
    """The outage case: AutoMinorVersionUpgrade turned on while the cluster's maintenance window is open, with an
    automatic minor-version target waiting, starts that upgrade at once, and every instance of the cluster restarts.

    AWS, ModifyDBInstance API reference (AutoMinorVersionUpgrade): no outage "except ... if this parameter is set
    to true during the maintenance window, and a newer minor version is available, and Neptune has enabled auto
    patching for that engine version" (the target's ``AutoUpgrade``, API reference ``UpgradeTarget``); engine
    updates apply to all instances of the cluster at once, in the cluster's window, with 20-30 s to several minutes
    of downtime (user guide, "Managing engine updates").  A newer *patch* is installed whatever the setting says,
    so it never triggers this; neither does a target a global cluster cannot reach (``outlook``).
    """
    window = finding.get("cluster_maintenance_window") or finding.get("maintenance_window")
    open_now = in_maintenance_window(window, now)
    if not (open_now or window_opens_within(window, now, UPGRADE_LEAD)):
        return None
    target, current = finding.get("auto_upgrade_target"), finding.get("engine_version")
    if finding.get("amvu_effective") is False or not target:
        return None
    cluster = finding.get("cluster_id") or finding.get("instance_id")
    restart = "every instance of the cluster restarts (20-30 s to several minutes of downtime)"
    if open_now:
        return (f"the maintenance window of cluster {cluster} ({window}) is open and {target} is its automatic "
                f"upgrade target: enabling now starts the upgrade from {current} to {target} at once, and {restart}; "
                "change it outside the window")
    # AWS's condition is the setting being turned on *during* the window; a window about to open is a precaution
    return (f"the maintenance window of cluster {cluster} ({window}) opens within the hour and {target} is its "
            f"automatic upgrade target: a change still being applied when the window opens may start the upgrade "
            f"from {current} to {target} at once, and {restart}; as a precaution, change it after the window")


def restarting(plan_df: pd.DataFrame) -> list[str]:
    """Instances whose change may start an engine upgrade at once (the cluster's window open, or about to be)."""
    return list(plan_df.loc[plan_df["restarts"].astype(bool), "instance_id"])


def next_window_start(window: str | None, now: datetime) -> datetime | None:
    """When a weekly window such as ``sat:09:57-sat:10:27`` next opens (UTC), or None if it cannot be read."""
    try:
        start = _minute_of_week((window or "").split("-")[0])
    except (AttributeError, ValueError, IndexError):
        return None
    t = now.weekday() * 1440 + now.hour * 60 + now.minute
    return (now.replace(second=0, microsecond=0) + timedelta(minutes=(start - t) % (7 * 1440)))


def window_opens_within(window: str | None, now: datetime, lead: timedelta) -> bool:
    """Whether a window such as ``sat:09:57-sat:10:27`` starts after ``now`` (UTC) and within ``lead``."""
    opens = next_window_start(window, now)
    return opens is not None and timedelta(0) < opens - now.replace(second=0, microsecond=0) <= lead


def select(findings: pd.DataFrame, instances=None, include_excepted: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """Rows to remediate, and the named instances left alone because they are excepted (with why).

    Every FAIL by default; or the named instances (id or ARN) that have the setting off.  A named EXCEPTED
    instance is left alone unless ``include_excepted``: its exception says it may keep the setting off.
    """
    off = findings[~findings["auto_minor_version_upgrade"].astype(bool)]
    if not instances:
        return off[off["result"] == FAIL], []
    wanted = list(dict.fromkeys(instances))
    known = set(findings["instance_id"]) | set(findings["arn"])
    unknown = [i for i in wanted if i not in known]
    if unknown:
        raise UsageError(f"unknown instance {unknown[0]!r}: not a Neptune instance in the scanned scope")
    named = off[off["instance_id"].isin(wanted) | off["arn"].isin(wanted)]
    if include_excepted:
        return named, []
    excepted = named[named["result"] == EXCEPTED]
    skipped = [f"{r.instance_id} ({r.account_id}, {r.region}) is excepted, left alone: {r.why} "
               "(--include-excepted changes it anyway)" for r in excepted.itertuples()]
    return named[named["result"] != EXCEPTED], skipped


def plan(findings: pd.DataFrame, instances=None, apply_immediately: bool = False,
         now: datetime | None = None, include_excepted: bool = False) -> pd.DataFrame:
    """What would change, one row per selected Neptune instance with the setting off, with warnings."""
    return plan_rows(select(findings, instances, include_excepted)[0], apply_immediately, now)


def plan_rows(selected: pd.DataFrame, apply_immediately: bool = False, now: datetime | None = None) -> pd.DataFrame:
    """The plan for rows already selected (``select()``)."""
    now = now or datetime.now(timezone.utc)
    rows = []
    for f in selected.to_dict("records"):
        if f.get("engine", "neptune") != "neptune" or ":db:" not in str(f["arn"]):
            continue  # only Neptune DB instances can ever be planned
        pending = f["pending_modifications"] or {}
        warnings = []
        if pending:
            names = ", ".join(sorted(pending))
            warnings.append(f"ApplyImmediately would also apply its pending modifications now ({names}); "
                            "some restart the instance" if apply_immediately else
                            f"has pending modifications ({names}); they stay queued unless you apply immediately")
        if f["status"] != "available":
            warnings.append(f"instance is {f['status']}: AWS refuses changes until it is available")
        warning = upgrade_starts_warning(f, now)
        if warning:
            warnings.append(warning)
        if f.get("amvu_effective") is False:
            warnings.append(f"engine {f.get('engine_version')} is before 1.3.0.0: the setting changes nothing until "
                            "a manual engine upgrade to 1.3.0.0 or later")
        upgrades = [a for a in (f.get("pending_maintenance") or []) if a.get("action") == "db-upgrade"]
        for a in upgrades:
            # PendingMaintenanceAction: AutoAppliedAfterDate, in a window after it; ForcedApplyDate, on it
            auto, forced = a.get("auto_applied_after"), a.get("forced_apply_date")
            when = (f": AWS applies it in a maintenance window after {auto[:10]}" if auto else
                    f": AWS applies it on {forced[:10]}, regardless of the maintenance window" if forced else "")
            warnings.append(f"an engine upgrade (db-upgrade) is pending{when}, whatever the setting says")
        owner = f.get("managed_by")
        if owner:
            from neptune_audit.code.link import where as defined_in

            redeploy = "stack update" if owner.get("tool") in ("cloudformation", "cdk") else "terraform apply"
            warnings.append(f"{defined_in(owner)}: a change through the API is drift, which the next {redeploy} "
                            "may revert; fix the code first (remediate --iac PATH --fix-diff FILE), or allow the "
                            "drift (--allow-drift; in the notebook's panel, the box to change instances code "
                            "defines)")
        window = f.get("cluster_maintenance_window") or f.get("maintenance_window")
        open_now = in_maintenance_window(window, now)
        opens = None if open_now else next_window_start(window, now)
        target = f.get("auto_upgrade_target")
        engine = str(f.get("engine_version") or "?") + (f" -> {target} (automatic target)" if target else "")
        maintenance = "; ".join(f"{a.get('action')}: {a.get('description') or ''}".rstrip(": ")
                                for a in (f.get("pending_maintenance") or [])) or "none"
        rows.append({**{k: f.get(k) for k in PLAN_COLUMNS if k in f}, "current": False,
                     "change": "AutoMinorVersionUpgrade: false -> true", "pending_modifications": pending,
                     "warnings": warnings, "exposure": f.get("exposure"), "engine": engine,
                     "pending_maintenance": maintenance,
                     "next_window": (f"{opens:%a %Y-%m-%d %H:%M} UTC" if opens else
                                     f"open now ({window})" if open_now else "unknown"),
                     "command": command(f["region"], f["instance_id"]), "managed_by": owner,
                     "restarts": warning is not None})
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def _comment(value) -> str:
    """A value for a shell comment: JSON-escaped, so no newline or control character can end the comment."""
    return json.dumps("" if value is None else str(value), ensure_ascii=True)


# What AWS accepts as a DB instance identifier (ModifyDBInstance API reference): a letter first, then letters,
# digits and hyphens, at most 63.  Anything else in a plan (``-h``, ``--debug``) would be read as an option.
_INSTANCE_ID = re.compile(r"[a-zA-Z][a-zA-Z0-9-]{0,62}")


def to_script(plan_df: pd.DataFrame, generated_at: datetime | None = None) -> str:
    """A shell script of AWS CLI calls, one per instance, for change-managed teams to review and run.

    Values from AWS are never trusted: ids and regions must be what AWS accepts, arguments are ``shlex.quote``d,
    comments carry JSON-escaped text.
    """
    bad = [r.instance_id for r in plan_df.itertuples() if not _INSTANCE_ID.fullmatch(str(r.instance_id))
           or not REGION.fullmatch(str(r.region))]
    if bad:
        raise UsageError(f"the plan holds {len(bad)} instance id(s) or region(s) AWS would not accept "
                         f"(first: {_comment(bad[0])}): no script written")
    meta = model.metadata()
    when = iso(generated_at or datetime.now(timezone.utc))
    lines = ["#!/bin/sh", f"# {meta.id}: {meta.title}",
             f"# Generated by neptune-audit at {when} for {len(plan_df)} instance(s). Review before running.",
             "# Each call turns Auto Minor Version Upgrade on without applying pending modifications.",
             "# Run each block with credentials for the account named above it.", "set -eu", ""]
    for r in plan_df.itertuples():
        lines.append(f"# account {_comment(r.account_id)}, cluster {_comment(r.cluster_id)} ({_comment(r.role)})"
                     + ("; WARNING: " + "; ".join(map(_comment, r.warnings)) if r.warnings else ""))
        lines.append(command(r.region, r.instance_id))
    return "\n".join(lines) + "\n"


def _describe(rds, instance_id: str) -> dict:
    return rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]


def _apply_one(row: dict, account, log: AuditLog, apply_immediately: bool) -> dict:
    base = {k: row[k] for k in ("account_id", "region", "cluster_id", "instance_id")}
    change = {**base, "arn": row["arn"], "caller_arn": account.caller_arn if account else None,
              "before": {"auto_minor_version_upgrade": False}, "after": {"auto_minor_version_upgrade": True},
              "apply_immediately": apply_immediately}
    result = {**base, "apply_immediately": apply_immediately, "verified": None, "detail": None, "drift": None}
    if account is None or not account.reachable:
        return {**result, "outcome": "failed", "error": "account not reachable in this scan"}
    change_id = log.intent(change)

    def done(outcome: str, error: str | None = None) -> dict:
        log.outcome(change_id, change, outcome, error)
        return {**result, "outcome": outcome, "error": error}

    rds = account.client("rds", row["region"])
    try:
        current = _describe(rds, row["instance_id"])
    except AWS_ERRORS as exc:
        return done("failed", describe_error(exc)[1])
    if current.get("Engine") != "neptune":
        return done("skipped", f"engine is {current.get('Engine')}, not neptune")
    if current.get("AutoMinorVersionUpgrade"):
        return done("already-enabled")
    kwargs = {"DBInstanceIdentifier": row["instance_id"], "AutoMinorVersionUpgrade": True}
    if apply_immediately:
        kwargs["ApplyImmediately"] = True
    try:
        rds.modify_db_instance(**kwargs)
    except AWS_ERRORS as exc:
        return done("failed", describe_error(exc)[1])
    return done("changed")


def _accounts_by_id(result, rows) -> dict:
    if not result.accounts and len(rows):
        raise UsageError("this result holds no AWS sessions (it was loaded from a file or unpickled: sessions hold "
                         "credentials and never travel with a result): remediate a result of scan() in this process")
    return {a.account_id: a for a in result.accounts}


def apply(plan_df: pd.DataFrame, result, apply_immediately: bool = False, audit_log=None,
          max_workers: int = 4, on_result=None) -> pd.DataFrame:
    """Call ModifyDBInstance for each planned instance; failures are results, not exceptions.

    ``result``: the scan (``AuditResult``) the plan came from; its accounts make the calls.  ``on_result``
    is called with each instance's result as it completes (progress bars, widgets), from worker threads.
    """
    by_id = _accounts_by_id(result, plan_df)
    log = audit_log if isinstance(audit_log, AuditLog) else AuditLog(audit_log)

    def run(row):
        res = _apply_one(row, by_id.get(row["account_id"]), log, apply_immediately)
        if on_result:
            on_result(res)
        return res

    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        results = list(pool.map(run, plan_df.to_dict("records")))
    return pd.DataFrame(results, columns=RESULT_COLUMNS)


def _read_settings(account, region: str, instance_ids: list[str]) -> dict[str, bool]:
    """AutoMinorVersionUpgrade of these instances: one DescribeDBInstances per 100 ids, not one per instance."""
    rds = account.client("rds", region)
    found = {}
    for i in range(0, len(instance_ids), VERIFY_BATCH):
        ids = instance_ids[i:i + VERIFY_BATCH]
        pages = rds.get_paginator("describe_db_instances").paginate(Filters=[{"Name": "db-instance-id", "Values": ids}])
        found.update({db["DBInstanceIdentifier"]: bool(db.get("AutoMinorVersionUpgrade"))
                      for page in pages for db in page["DBInstances"]})
    return found


def verify(results: pd.DataFrame, result, wait_seconds: float = 0, interval: float = 5) -> pd.DataFrame:
    """Re-read each instance; ``verified`` is True once AWS reports the setting on.

    AWS applies this setting asynchronously, so ``wait_seconds`` polls the ones not yet on.
    """
    by_id = _accounts_by_id(result, results)
    out = results.copy()
    deadline = time.monotonic() + wait_seconds
    while True:
        todo = [i for i in out.index if out.at[i, "outcome"] in ("changed", "already-enabled")
                and out.at[i, "verified"] is not True]
        groups: dict[tuple, list] = {}
        for i in todo:
            groups.setdefault((out.at[i, "account_id"], out.at[i, "region"]), []).append(i)
        for (account_id, region), rows in groups.items():
            try:
                on = _read_settings(by_id.get(account_id), region, [out.at[i, "instance_id"] for i in rows])
            except AWS_ERRORS as exc:
                for i in rows:
                    out.at[i, "verified"] = False
                    out.at[i, "detail"] = f"re-read failed: {describe_error(exc)[1]}"
                continue
            for i in rows:
                state = on.get(out.at[i, "instance_id"])
                out.at[i, "verified"] = state is True
                out.at[i, "detail"] = _VERIFY_DETAIL[state]
        if not any(out.at[i, "verified"] is not True for i in todo) or time.monotonic() >= deadline:
            return out
        time.sleep(interval)


def check_drift(results: pd.DataFrame, plan_df: pd.DataFrame, result) -> pd.DataFrame:
    """After an API change to an instance a CloudFormation stack owns: DetectStackResourceDrift on its stack and
    logical id, as the ``drift`` column (``StackResourceDriftStatus``: MODIFIED means the next stack update may
    set it back).  A refusal is said in the column; it never undoes the change."""
    out = results.copy()
    by_id = _accounts_by_id(result, results)
    owners = {(r.account_id, r.region, r.instance_id): r.managed_by for r in plan_df.itertuples()}
    for i in out.index:
        owner = owners.get((out.at[i, "account_id"], out.at[i, "region"], out.at[i, "instance_id"]))
        if (not owner or owner.get("tool") not in ("cloudformation", "cdk") or not owner.get("stack")
                or out.at[i, "outcome"] != "changed"):
            continue
        account = by_id[out.at[i, "account_id"]]
        try:
            cfn = account.client("cloudformation", out.at[i, "region"])
            drift = cfn.detect_stack_resource_drift(StackName=owner["stack"],
                                                    LogicalResourceId=owner["logical_id"])["StackResourceDrift"]
            status = drift.get("StackResourceDriftStatus", "UNKNOWN")
            out.at[i, "drift"] = (f"{status}: stack {owner['stack']} now differs from its template; the next stack "
                                  "update may set the setting back" if status == "MODIFIED" else status)
        except AWS_ERRORS as exc:
            out.at[i, "drift"] = f"not checked: {describe_error(exc)[1]}"
        except Exception as exc:  # noqa: BLE001 - an endpoint without the call (moto): the change stands, said so
            out.at[i, "drift"] = f"not checked: {one_line(exc, limit=160)}"
    return out


def succeeded(results: pd.DataFrame) -> bool:
    """Every change made (or already in place) and verified."""
    return bool(len(results) == 0 or (results["outcome"].isin(["changed", "already-enabled"])
                                      & results["verified"].eq(True)).all())


VERIFY_WAIT_SECONDS = 60  # AWS applies the setting asynchronously: how long a run polls before it reports


class Remediation:
    """One remediation run, the same for the CLI and the widget panel.

    ``Remediation(result, ...)`` plans (changes nothing); ``prepare()`` opens the audit log (a corrupt
    or symlinked log is refused before anything is asked or changed) and lists the intents an earlier
    run left without an outcome; ``run()`` applies ``result.options.max_workers`` at a time, logging an
    intent before and an outcome after each change, then re-reads until verified or ``wait_seconds``.
    """

    def __init__(self, result, instances=None, *, apply_immediately: bool = False, include_excepted: bool = False,
                 audit_log=None, now: datetime | None = None, allow_drift: bool = False):
        self.result = result
        self.apply_immediately = apply_immediately
        self.allow_drift = allow_drift
        # how the refusal below says to allow drift, in the words of whoever asks: the CLI's flag, or the panel's box
        self.how_to_allow_drift = "--allow-drift"
        selected, self.skipped = select(result.findings, instances, include_excepted)
        self.plan = plan_rows(selected, apply_immediately, now)
        self.audit_log_path = Path(audit_log) if audit_log else auditlog.default_path()
        self.log: AuditLog | None = None
        self.dangling: list[dict] = []
        self.results: pd.DataFrame | None = None

    @property
    def flushed(self) -> list[tuple[str, dict]]:
        """Pending modifications that ApplyImmediately would apply now, per instance."""
        if not self.apply_immediately:
            return []
        return [(r.instance_id, r.pending_modifications) for r in self.plan.itertuples() if r.pending_modifications]

    def prepare(self) -> list[dict]:
        """Open and lock the audit log for this run; the intents an earlier (killed) run left open."""
        self.log = AuditLog(self.audit_log_path)
        self.log.lock()
        self.dangling = auditlog.dangling(self.log.path)
        return self.dangling

    @property
    def code_owned(self) -> pd.DataFrame:
        """Planned instances that code defines: an API change to them is drift."""
        return self.plan[self.plan["managed_by"].map(bool)]

    def check_drift_allowed(self) -> None:
        """Refuse, before anything changes, to change through the API what code owns, unless told to."""
        owned = self.code_owned
        if len(owned) and not self.allow_drift:
            from neptune_audit.code.link import where as defined_in

            first = owned.iloc[0]
            raise UsageError(f"{len(owned)} planned instance(s) are defined in code ({first['instance_id']}: "
                             f"{defined_in(first['managed_by'])}): fix the code first (remediate --iac PATH "
                             f"--fix-diff FILE), or allow the drift ({self.how_to_allow_drift})")

    def code_fix(self, paths=None) -> tuple[str, list[str]]:
        """The code fix for the planned instances code owns: a unified diff of their deciding lines, and notes."""
        from neptune_audit.code import output
        from neptune_audit.code.scan import IacResult, scan as scan_code

        paths = paths or self.result.options.iac_paths
        if not paths:
            return "", ["no code given (--iac PATH): nothing to diff"]
        code = scan_code(paths)
        owned = {(m.get("file"), m.get("logical_id") or m.get("address")) for m in self.code_owned["managed_by"]}
        picked = [f for f in code.findings if (f["file"], f["resource"]) in owned]
        notes = [f"{f['resource']} ({f['file']}) already passes in code: the live value drifted from it, and the "
                 "next deploy restores it" for f in picked if f["result"] != FAIL]
        subset = IacResult([f for f in picked if f["result"] == FAIL], code.files, code.resources)
        diff, more = output.fix_diff(subset)
        return diff, notes + more

    def run(self, on_result=None, wait_seconds: float = VERIFY_WAIT_SECONDS, interval: float = 5) -> pd.DataFrame:
        self.check_drift_allowed()
        if self.log is None:
            self.prepare()
        assert self.log is not None
        try:
            results = apply(self.plan, self.result, apply_immediately=self.apply_immediately, audit_log=self.log,
                            max_workers=self.result.options.max_workers or DEFAULT_WORKERS, on_result=on_result)
            waiting = wait_seconds if (results["outcome"] == "changed").any() else 0
            self.results = check_drift(verify(results, self.result, wait_seconds=waiting, interval=interval),
                                       self.plan, self.result)
            # this run re-read every instance it planned: earlier open intents need not be reported again
            self.log.resolve(self.dangling, note=f"left open by an earlier run; run {self.log.run_id} re-read "
                                                 "the instances")
            self.dangling = []
        finally:
            self.log.unlock()
        return self.results

    def reverify(self) -> pd.DataFrame:
        self.results = verify(self.results, self.result)
        return self.results

    @property
    def succeeded(self) -> bool:
        return self.results is not None and succeeded(self.results)
