"""Which CloudTrail events can change this rule's verdict, and what they name.

Neptune's management calls are logged as Amazon RDS API calls (Neptune user guide, "Logging Amazon Neptune API Calls
with AWS CloudTrail"): ``eventSource`` ``rds.amazonaws.com``, and EventBridge delivers them on the default bus of the
account and region where the call was made, ``source`` ``aws.rds``, ``detail-type`` "AWS API Call via CloudTrail"
(EventBridge user guide, "Events from AWS services": a trail with logging enabled is required for them).  An event
says what was *requested*; the handler always describes what *is* before judging.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# The calls that can change a verdict: the instance's own setting (create, modify, restore), which instance a
# cluster's writer is and its engine (modify cluster, failover, maintenance applied), the tags that exceptions and
# the managed-by test read, and a deletion (its finding is archived).
INSTANCE_EVENTS = ("CreateDBInstance", "ModifyDBInstance", "DeleteDBInstance")
CLUSTER_EVENTS = ("CreateDBCluster", "ModifyDBCluster", "FailoverDBCluster", "DeleteDBCluster",
                  "RestoreDBClusterFromSnapshot", "RestoreDBClusterToPointInTime", "ApplyPendingMaintenanceAction")
TAG_EVENTS = ("AddTagsToResource", "RemoveTagsFromResource")
EVENT_NAMES = INSTANCE_EVENTS + CLUSTER_EVENTS + TAG_EVENTS
DETAIL_TYPE = "AWS API Call via CloudTrail"
SCHEDULED = "Scheduled Event"


def pattern() -> dict:
    """The EventBridge rule's event pattern."""
    return {"source": ["aws.rds"], "detail-type": [DETAIL_TYPE],
            "detail": {"eventSource": ["rds.amazonaws.com"], "eventName": list(EVENT_NAMES)}}


@dataclass
class Change:
    """One event, as the handler needs it: what happened, where, to what, by whom."""

    kind: str                      # the eventName, or "Scheduled Event"
    region: str
    account_id: str
    instances: list[str] = field(default_factory=list)
    clusters: list[str] = field(default_factory=list)
    who: str = ""
    error: str = ""                # the call failed (errorCode): nothing changed
    engine: str | None = None      # where the event itself says (CreateDBInstance's request, a response)

    @property
    def scheduled(self) -> bool:
        return self.kind == SCHEDULED


def _who(identity: dict) -> str:
    """The principal, as CloudTrail's userIdentity records it (an assumed role's session, a user, a service)."""
    if not isinstance(identity, dict):
        return ""
    return str(identity.get("arn") or identity.get("invokedBy") or identity.get("principalId")
               or identity.get("type") or "")


def _ids(value, kind: str) -> str | None:
    """An identifier, or the last part of an ARN (arn:aws:rds:REGION:ACCOUNT:db:NAME, :cluster:NAME)."""
    if not isinstance(value, str) or not value:
        return None
    if value.startswith("arn:"):
        parts = value.split(":")
        return parts[6] if len(parts) > 6 and parts[5] == kind else None
    return value


def read(event: dict) -> Change:
    """The change an EventBridge event describes (a CloudTrail record's camelCase fields, or the schedule)."""
    region = str(event.get("region") or "")
    account = str(event.get("account") or "")
    if event.get("detail-type") == SCHEDULED:
        return Change(SCHEDULED, region, account)
    detail = event.get("detail") or {}
    req = detail.get("requestParameters") or {}
    resp = detail.get("responseElements") or {}
    change = Change(str(detail.get("eventName") or ""), str(detail.get("awsRegion") or region),
                    str(detail.get("recipientAccountId") or account), who=_who(detail.get("userIdentity") or {}),
                    error=str(detail.get("errorCode") or ""))
    for source in (req, resp):
        if not isinstance(source, dict):
            continue
        i = _ids(source.get("dBInstanceIdentifier"), "db")
        c = _ids(source.get("dBClusterIdentifier"), "cluster")
        if i and i not in change.instances:
            change.instances.append(i)
        if c and c not in change.clusters:
            change.clusters.append(c)
        change.engine = change.engine or source.get("engine")
    for arn_key in ("resourceName", "resourceIdentifier"):  # tags, pending maintenance: by ARN
        arn = req.get(arn_key) if isinstance(req, dict) else None
        for kind, bucket in (("db", change.instances), ("cluster", change.clusters)):
            name = _ids(arn, kind) if isinstance(arn, str) and arn.startswith("arn:") else None
            if name and name not in bucket:
                bucket.append(name)
    return change
