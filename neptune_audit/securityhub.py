"""AWS Security Hub: the run as AWS Security Finding Format findings (``--format asff``), and imported into
Security Hub (``scan --security-hub``) so a re-run updates what the last one sent.

AWS facts this relies on (Security Hub user guide and API reference, read 2026-12-01):
- Required top-level attributes: AwsAccountId, CreatedAt, Description, GeneratorId, Id, ProductArn, Resources,
  SchemaVersion (``2018-10-08``), Severity, Title, Types, UpdatedAt — "Required top-level ASFF attributes",
  docs.aws.amazon.com/securityhub/latest/userguide/asff-required-attributes.html.
- A finding is indexed by ProductArn + Id: "to update a finding, resubmit the finding with the same identifier"
  (partner guide, "Guidelines for mapping findings into the ASFF"). Title <= 256 and Description <= 1024 chars.
- With the account's default product (``arn:…:securityhub:REGION:ACCOUNT:product/ACCOUNT/default``) the
  account calling BatchImportFindings must be the finding's AwsAccountId; at most 100 findings per call
  (API_BatchImportFindings.html). So each account imports its own findings, with its own credentials.
- After creation BatchImportFindings cannot change Note, UserDefinedFields, VerificationState or Workflow, and
  providers should not change Severity or Types but send FindingProviderFields: so an exception's reason is
  carried where it can follow later runs (Compliance.StatusReasons, ProductFields), not in Note.
- Workflow: Security Hub resets RESOLVED to NEW when RecordState goes ARCHIVED -> ACTIVE or Compliance.Status
  leaves PASSED (API_Workflow.html): a passing instance is imported as PASSED, a gone one as ARCHIVED.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

from . import __version__, rule
from .contract import EXCEPTED, FAIL, FINDING_FIELDS, PASS, SCANNED

SCHEMA_VERSION = "2018-10-08"
BATCH = 100  # BatchImportFindings: at most 100 findings per call
TYPES = ["Software and Configuration Checks/Industry and Regulatory Standards"]
COMPLIANCE = {PASS: "PASSED", FAIL: "FAILED", EXCEPTED: "WARNING"}


def generator_id() -> str:
    return f"neptune-audit/{rule.metadata().id}"


def finding_id(arn: str) -> str:
    """Stable per rule x instance, so a re-run updates the finding instead of adding one."""
    return f"{generator_id()}/{arn}"


def product_arn(partition: str, region: str, account_id: str) -> str:
    return f"arn:{partition}:securityhub:{region}:{account_id}:product/{account_id}/default"


def _time(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _details(f: dict) -> dict:
    """``Details.AwsRdsDbInstance``: the fields the kit read from DescribeDBInstances (AwsRdsDbInstanceDetails)."""
    d = {"DBInstanceIdentifier": f["instance_id"], "DBClusterIdentifier": f["cluster_id"], "Engine": "neptune",
         "EngineVersion": f["engine_version"], "DBInstanceClass": f["instance_class"],
         "DbInstanceStatus": f["status"], "AutoMinorVersionUpgrade": f["auto_minor_version_upgrade"],
         "PreferredMaintenanceWindow": f["maintenance_window"]}
    # ASFF strings must match .*\S.*: leave out what is unknown rather than send an empty value
    return {k: v for k, v in d.items() if v is not None and (not isinstance(v, str) or v.strip())}


def asff_findings(result, *, region: str | None = None) -> list[dict]:
    """One ASFF finding per instance.  ``region``: the one Security Hub region they are sent to (an aggregation
    region); default each instance's own region."""
    from .export import _records

    meta, when = rule.metadata(), _time(result.generated_at)
    partitions = {a.account_id: a.partition for a in result.accounts}
    standards = [f"{meta.publisher} {meta.id}"] + [f"{s}" for s in meta.standards]
    out = []
    for f in _records(result.findings, FINDING_FIELDS):
        partition = partitions.get(f["account_id"]) or (f["arn"] or "arn:aws").split(":")[1]
        home = region or f["region"]
        status = COMPLIANCE[f["result"]]
        reason = f["reason"] or ""
        finding = {
            "SchemaVersion": SCHEMA_VERSION,
            "Id": finding_id(f["arn"]),
            "ProductArn": product_arn(partition, home, f["account_id"]),
            "ProductName": "neptune-audit",
            "CompanyName": "neptune-audit",
            "GeneratorId": generator_id(),
            "AwsAccountId": f["account_id"],
            "Types": list(TYPES),
            "CreatedAt": when,
            "UpdatedAt": when,
            "Severity": {"Label": meta.risk.upper(), "Original": meta.risk},
            "FindingProviderFields": {"Severity": {"Label": meta.risk.upper(), "Original": meta.risk},
                                      "Types": list(TYPES)},
            "Title": _clip(f"{meta.title}: {f['instance_id']}", 256),
            "Description": _clip(f"{f['result']}: {reason}" if reason else meta.rationale, 1024),
            "Remediation": {"Recommendation": {"Text": _clip(meta.remediation, 512), "Url": meta.reference}},
            "SourceUrl": meta.reference,
            "ProductFields": {"neptune-audit/Result": f["result"], "neptune-audit/ToolVersion": __version__,
                              "neptune-audit/RuleId": meta.id,
                              **({"neptune-audit/Reason": _clip(reason, 1024)} if reason.strip() else {})},
            "Resources": [{"Type": "AwsRdsDbInstance", "Id": f["arn"], "Partition": partition,
                           "Region": f["region"],
                           **({"Tags": {str(k): str(v) for k, v in f["tags"].items()}} if f["tags"] else {}),
                           "Details": {"AwsRdsDbInstance": _details(f)}}],
            "Compliance": {"Status": status, "RelatedRequirements": standards,
                           "SecurityControlId": meta.id,
                           **({"StatusReasons": [{"ReasonCode": "EXCEPTED" if f["result"] == EXCEPTED
                                                  else f["result"], "Description": _clip(reason, 2048)}]}
                              if reason.strip() else {})},
            "RecordState": "ACTIVE",
            # honoured only when the finding is created; later states belong to whoever triages it
            "Workflow": {"Status": "RESOLVED" if f["result"] == PASS else "NEW"},
        }
        if f["result"] == EXCEPTED and f["exception"]:
            finding["UserDefinedFields"] = {k: _clip(str(v), 1024) for k, v in f["exception"].items()
                                            if v is not None and str(v).strip()}
        out.append(finding)
    return out


def to_asff(result) -> str:
    """``--format asff``: a JSON list, what ``aws securityhub batch-import-findings --findings file://…`` takes."""
    return json.dumps(asff_findings(result), indent=2) + "\n"


@dataclass
class ImportReport:
    """What ``scan --security-hub`` did: findings imported, findings archived, and each refusal."""

    imported: int = 0
    archived: int = 0
    failed: list[dict] = field(default_factory=list)  # {"account_id", "region", "id", "error"}

    def line(self) -> str:
        s = f"Security Hub: {self.imported} findings imported, {self.archived} archived"
        return s + (f", {len(self.failed)} refused (see the scope warnings)" if self.failed else "")


def _warn(result, account_id: str, region: str, text: str) -> None:
    """A refusal is recorded in the scope row of the instance's account-region: it never sinks the others."""
    scope = result.scope
    rows = scope.index[(scope["account_id"] == account_id) & (scope["region"] == region)]
    for i in rows[:1]:
        scope.at[i, "warnings"] = [*scope.at[i, "warnings"], text]


def _stale(client, product: str, account_id: str, current: set[str], scanned_regions: set[str]) -> list[dict]:
    """Active findings of this rule in Security Hub for instances this run no longer sees (in regions it scanned)."""
    filters = {"ProductArn": [{"Value": product, "Comparison": "EQUALS"}],
               "GeneratorId": [{"Value": generator_id(), "Comparison": "EQUALS"}],
               "AwsAccountId": [{"Value": account_id, "Comparison": "EQUALS"}],
               "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}]}
    gone = []
    for page in client.get_paginator("get_findings").paginate(Filters=filters, PaginationConfig={"PageSize": 100}):
        for f in page.get("Findings", []):
            # the filters again, locally: a finding of another product or rule is never touched
            if (f.get("ProductArn") != product or f.get("GeneratorId") != generator_id()
                    or f.get("AwsAccountId") != account_id or f.get("RecordState", "ACTIVE") != "ACTIVE"
                    or f.get("Id") in current):
                continue
            resource_region = (f.get("Resources") or [{}])[0].get("Region")
            if resource_region in scanned_regions:
                gone.append(f)
    return gone


def import_findings(result, *, region: str | None = None, now: datetime | None = None) -> ImportReport:
    """Send every finding to Security Hub in its own account (and its own region, or ``region``), ≤ 100 per
    call; archive this rule's findings for instances that are gone from account-regions this run scanned.
    Refusals (per finding or per call) go to the scope warnings; the other findings still go."""
    from botocore.exceptions import BotoCoreError, ClientError

    from .targets import describe_error

    report = ImportReport()
    accounts = {a.account_id: a for a in result.accounts}
    findings = asff_findings(result, region=region)
    groups: dict[tuple[str, str], list[dict]] = {}
    for f in findings:
        groups.setdefault((f["AwsAccountId"], region or f["Resources"][0]["Region"]), []).append(f)
    scanned = result.scope[result.scope["state"] == SCANNED]
    # every account-region scanned gets a look for stale findings, even with no instance left in it
    for r in scanned.itertuples():
        groups.setdefault((r.account_id, region or r.region), [])
    stamp = _time(now or datetime.now(timezone.utc))
    for (account_id, home), batch in sorted(groups.items()):
        account = accounts.get(account_id)
        if account is None or not account.reachable:
            continue
        scanned_regions = set(scanned[scanned["account_id"] == account_id]["region"])
        if region is None:
            scanned_regions &= {home}
        client = account.client("securityhub", home)
        product = product_arn(account.partition, home, account_id)
        try:
            stale = _stale(client, product, account_id, {f["Id"] for f in batch}, scanned_regions)
        except (ClientError, BotoCoreError) as exc:
            stale = []
            for r in sorted(scanned_regions):
                _warn(result, account_id, r, f"securityhub:GetFindings failed in {home} "
                                             f"({describe_error(exc)[1]}): findings of gone instances not archived")
        for f in stale:
            f.update(RecordState="ARCHIVED", UpdatedAt=stamp)
        items = [("import", f) for f in batch] + [("archive", f) for f in stale]
        for start in range(0, len(items), BATCH):
            chunk = items[start:start + BATCH]
            try:
                resp = client.batch_import_findings(Findings=[f for _, f in chunk])
            except (ClientError, BotoCoreError) as exc:
                why = describe_error(exc)[1]
                for _, f in chunk:
                    _refused(result, report, f, f"securityhub:BatchImportFindings failed in {home} ({why})")
                continue
            refused = {x.get("Id"): x for x in resp.get("FailedFindings", [])}
            for kind, f in chunk:
                if f["Id"] in refused:
                    x = refused[f["Id"]]
                    _refused(result, report, f, f"securityhub:BatchImportFindings refused {f['Id']} in {home}: "
                                                f"{x.get('ErrorCode', '?')} {x.get('ErrorMessage', '')}".rstrip())
                elif kind == "import":
                    report.imported += 1
                else:
                    report.archived += 1
    return report


def _refused(result, report: ImportReport, finding: dict, text: str) -> None:
    account_id, resource_region = finding["AwsAccountId"], finding["Resources"][0].get("Region", "")
    report.failed.append({"account_id": account_id, "region": resource_region, "id": finding["Id"], "error": text})
    _warn(result, account_id, resource_region, text)
