"""The Lambda function: a CloudTrail event (or the daily schedule) in, the region re-described and judged, Security
Hub's findings updated under the same Ids as ``scan --security-hub``, one log line per decision out.

Why a rescan of the function's own account-region rather than the instance alone: the writer decides a cluster's
upgrades and exceptions may match on tags, so a verdict needs the cluster and its members as they are now; the
batch import already archives the findings of instances that are gone; and a region of a few clusters costs a
handful of calls.  Redelivered or out-of-order events do no harm: each run judges what is, never what an event said.

Its configuration is environment variables the template sets (``continuous.config``).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from neptune_audit.continuous import events
from neptune_audit.continuous.config import (ENV_AUTO_REMEDIATE, ENV_CALENDAR, ENV_EXCEPTIONS, ENV_MANAGED_BY,
                                              ENV_SNS, fetch)
from neptune_audit.errors import NeptuneAuditError


def _log(**fields) -> None:
    """One structured line (CloudWatch Logs keeps the function's stdout)."""
    sys.stdout.write(json.dumps({"logger": __name__, **fields}, default=str, sort_keys=True) + "\n")
    sys.stdout.flush()


def _is_neptune(change: events.Change, rds) -> bool:
    """Whether the event touches Neptune, from what is (described now), else from what the event says."""
    from botocore.exceptions import ClientError

    if change.engine:
        return change.engine == "neptune"
    try:
        for i in change.instances:
            for db in rds.describe_db_instances(DBInstanceIdentifier=i).get("DBInstances", []):
                return db.get("Engine") == "neptune"
        for c in change.clusters:
            for cl in rds.describe_db_clusters(DBClusterIdentifier=c).get("DBClusters", []):
                return cl.get("Engine") == "neptune"
    except ClientError:
        return True  # gone already (a delete): the rescan archives its finding if it was ours
    return not (change.instances or change.clusters)


def _affected(findings, change: events.Change) -> list[dict]:
    rows = findings.to_dict("records")
    if change.scheduled:
        return rows
    return [r for r in rows if r["instance_id"] in change.instances or r["cluster_id"] in change.clusters]


def handler(event: dict, context=None) -> dict:
    """Judge what the event touched, update Security Hub, log each decision; returns what it decided."""
    import boto3

    from neptune_audit import api
    from neptune_audit.options import ScanOptions

    started = time.monotonic()
    change = events.read(event)
    base = {"event": change.kind, "account_id": change.account_id, "region": change.region, "who": change.who}
    if change.error:  # the call failed: nothing changed
        _log(**base, decision="skipped", why=f"the call failed ({change.error})")
        return {"decision": "skipped", "findings": []}
    session = boto3.Session()
    region = change.region or session.region_name
    if not change.scheduled and not _is_neptune(change, session.client("rds", region_name=region)):
        _log(**base, decision="skipped", why="not Neptune")
        return {"decision": "skipped", "findings": []}
    sources = {name: os.environ.get(name) for name in (ENV_EXCEPTIONS, ENV_CALENDAR)}
    fetched: dict[str, str | None] = {}
    try:
        for name, where in sources.items():
            fetched[name] = fetch(where, session, region)
        options = ScanOptions(regions=[region], exceptions_file=fetched[ENV_EXCEPTIONS],
                              engine_calendar=fetched[ENV_CALENDAR],
                              managed_by_tag=os.environ.get(ENV_MANAGED_BY) or None)
        try:
            result = api.scan(options)
        except NeptuneAuditError as exc:
            # a configuration fault: said once, in the words of where it came from; the error makes Lambda retry
            # the event and then keep it in the dead-letter queue, so no change goes unjudged once it is fixed
            why = str(exc)
            for name, path in fetched.items():
                if path:
                    why = why.replace(path, str(sources[name]))
            _log(**base, decision="error", why=why)
            raise
        if change.kind == "DeleteDBInstance":
            # AWS answers a delete at once and the instance stays "deleting" for minutes: its finding is archived
            # now, as a rescan will see it gone
            result.findings = result.findings[~result.findings["instance_id"].isin(change.instances)]
        remediated = _remediate(result, change, base) if os.environ.get(ENV_AUTO_REMEDIATE) == "true" else []
        if remediated:  # judge again what the remediation changed, so that the finding says what is
            result = api.scan(options)
        # an event sends only what it touched (fewer ingestion events, less time); the schedule sends the region
        touched = None if change.scheduled else \
            sorted({r["instance_id"] for r in _affected(result.findings, change)} | set(change.instances))
        report = api.send_to_security_hub(result, instances=touched)
    finally:
        for path in fetched.values():
            if path:
                Path(path).unlink(missing_ok=True)
    decided = []
    for row in _affected(result.findings, change):
        entry = {**base, "decision": "judged", "instance_id": row["instance_id"], "cluster_id": row["cluster_id"],
                 "result": row["result"], "reason": row["reason"],
                 "remediated": row["instance_id"] in remediated}
        decided.append(entry)
        _log(**entry)
    if change.kind == "DeleteDBInstance":
        for i in change.instances:
            _log(**base, decision="archived", instance_id=i, why="deleted")
    _notify(decided, change, session, region)
    problems = [w for ws in result.scope["warnings"] for w in ws] + [e for e in result.scope["error"] if e]
    _log(**base, decision="done", imported=report.imported, archived=report.archived, refused=len(report.failed),
         problems=problems, seconds=round(time.monotonic() - started, 3))
    return {"decision": "judged", "findings": decided, "imported": report.imported, "archived": report.archived}


def _remediate(result, change: events.Change, base: dict) -> list[str]:
    """Turn the setting back on for the FAILs the event touched that no code owns (CloudFormation's tags, the
    managed-by tag): changing a code-owned instance through the API would be drift, so those are only logged, as
    is an instance whose cluster's maintenance window is open with an upgrade waiting (turning it on then starts the
    upgrade and restarts the cluster: ModifyDBInstance API reference)."""
    from neptune_audit.act import remediate

    if change.scheduled or change.kind == "DeleteDBInstance":
        return []
    now = datetime.now(timezone.utc)
    free = []
    for r in _affected(result.findings, change):
        if r["result"] != "FAIL":
            continue
        if r.get("managed_by"):
            _log(**base, decision="not remediated", instance_id=r["instance_id"],
                 why="owned by code: fix it there (drift otherwise)")
            continue
        outage = remediate.upgrade_starts_warning(r, now)
        if outage:  # the one case where turning it on restarts the cluster: left for a person to choose when
            _log(**base, decision="not remediated", instance_id=r["instance_id"], why=outage)
        else:
            free.append(r["instance_id"])
    if not free:
        return []
    plan_df = remediate.plan(result.findings, instances=free)
    # the kit's audit log, in the function's /tmp: the structured lines below are the lasting record
    done = remediate.apply(plan_df, result, audit_log=Path(tempfile.gettempdir()) / "neptune-audit-changes.jsonl")
    changed = [r["instance_id"] for r in done.to_dict("records") if r["outcome"] == "changed"]
    for r in done.to_dict("records"):
        _log(**base, decision="remediated" if r["instance_id"] in changed else "remediation " + r["outcome"],
             instance_id=r["instance_id"], detail=r.get("error"),
             what="ModifyDBInstance AutoMinorVersionUpgrade=true (applied as soon as possible: API reference)")
    return changed


def _notify(decided: list[dict], change: events.Change, session, region: str) -> None:
    topic = os.environ.get(ENV_SNS)
    fails = [d for d in decided if d["result"] == "FAIL" and not change.scheduled]
    if not topic or not fails:
        return
    lines = [f"{d['instance_id']} ({d['cluster_id']}): FAIL after {change.kind} by {change.who or 'unknown'}: "
             f"{d['reason']}" for d in fails]
    session.client("sns", region_name=region).publish(
        TopicArn=topic, Subject=f"Neptune-001: {len(fails)} instance(s) fail in {region}"[:100],
        Message="\n".join(lines))
