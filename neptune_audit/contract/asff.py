"""The run as AWS Security Finding Format findings (``--format asff``; ``act.securityhub`` imports them).

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
  carried where it can follow later runs (Compliance.StatusReasons, ProductFields), not in Note, and
  ``act.securityhub`` sends an existing finding's update without them, with the CreatedAt Security Hub holds
  (CreatedAt: when the provider first detected the issue).
- Severity.Label INFORMATIONAL means no issue was found (ASFF, Severity): a passing instance's label.
- Workflow: Security Hub resets RESOLVED to NEW when RecordState goes ARCHIVED -> ACTIVE or Compliance.Status
  leaves PASSED (API_Workflow.html): a passing instance is imported as PASSED, a gone one as ARCHIVED.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from neptune_audit._version import __version__
from neptune_audit.records import clip
from neptune_audit.vocabulary import EXCEPTED, FAIL, FINDING_FIELDS, PASS
from neptune_audit.rule import model

SCHEMA_VERSION = "2018-10-08"
TYPES = ["Software and Configuration Checks/Industry and Regulatory Standards"]
COMPLIANCE = {PASS: "PASSED", FAIL: "FAILED", EXCEPTED: "WARNING"}


def generator_id() -> str:
    return f"neptune-audit/{model.metadata().id}"


def finding_id(arn: str) -> str:
    """Stable per rule x instance, so a re-run updates the finding instead of adding one."""
    return f"{generator_id()}/{arn}"


def product_arn(partition: str, region: str, account_id: str) -> str:
    return f"arn:{partition}:securityhub:{region}:{account_id}:product/{account_id}/default"


def utc_time(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _details(f: dict) -> dict:
    """``Details.AwsRdsDbInstance``: the fields the kit read from DescribeDBInstances (AwsRdsDbInstanceDetails)."""
    d = {"DBInstanceIdentifier": f["instance_id"], "DBClusterIdentifier": f["cluster_id"], "Engine": "neptune",
         "EngineVersion": f["engine_version"], "DBInstanceClass": f["instance_class"],
         "DbInstanceStatus": f["status"], "AutoMinorVersionUpgrade": f["auto_minor_version_upgrade"],
         "PreferredMaintenanceWindow": f["maintenance_window"]}
    # ASFF strings must match .*\S.*: leave out what is unknown rather than send an empty value
    return {k: v for k, v in d.items() if v is not None and (not isinstance(v, str) or v.strip())}


def _severity(result: str, risk: str) -> dict:
    """INFORMATIONAL where no issue was found (ASFF Severity: "No issue was found"); the rule's risk otherwise, an
    excepted instance included: its issue is accepted, not absent."""
    if result == PASS:
        return {"Label": "INFORMATIONAL", "Original": "INFORMATIONAL"}
    return {"Label": risk.upper(), "Original": risk}


def asff_findings(result, *, region: str | None = None) -> list[dict]:
    """One ASFF finding per instance.  ``region``: the one Security Hub region they are sent to (an aggregation
    region); default each instance's own region."""
    meta, when = model.metadata(), utc_time(result.generated_at)
    partitions = {a.account_id: a.partition for a in result.accounts}
    standards = [f"{meta.publisher} {meta.id}"] + [f"{s}" for s in meta.standards]
    out = []
    for f in result.rows("findings", FINDING_FIELDS):
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
            "Severity": _severity(f["result"], meta.risk),
            "FindingProviderFields": {"Severity": _severity(f["result"], meta.risk), "Types": list(TYPES)},
            "Title": clip(f"{meta.title}: {f['instance_id']}", 256),
            "Description": clip(f"{f['result']}: {reason}" if reason else meta.rationale, 1024),
            "Remediation": {"Recommendation": {"Text": clip(meta.remediation, 512), "Url": meta.reference}},
            "SourceUrl": meta.reference,
            "ProductFields": {"neptune-audit/Result": f["result"], "neptune-audit/ToolVersion": __version__,
                              "neptune-audit/RuleId": meta.id,
                              **({"neptune-audit/Reason": clip(reason, 1024)} if reason.strip() else {})},
            "Resources": [{"Type": "AwsRdsDbInstance", "Id": f["arn"], "Partition": partition,
                           "Region": f["region"],
                           **({"Tags": {str(k): str(v) for k, v in f["tags"].items()}} if f["tags"] else {}),
                           "Details": {"AwsRdsDbInstance": _details(f)}}],
            "Compliance": {"Status": status, "RelatedRequirements": standards,
                           "SecurityControlId": meta.id,
                           **({"StatusReasons": [{"ReasonCode": "EXCEPTED" if f["result"] == EXCEPTED
                                                  else f["result"], "Description": clip(reason, 2048)}]}
                              if reason.strip() else {})},
            "RecordState": "ACTIVE",
            # honoured only when the finding is created; later states belong to whoever triages it
            "Workflow": {"Status": "RESOLVED" if f["result"] == PASS else "NEW"},
        }
        if f["result"] == EXCEPTED and f["exception"]:
            finding["UserDefinedFields"] = {k: clip(str(v), 1024) for k, v in f["exception"].items()
                                            if v is not None and str(v).strip()}
        out.append(finding)
    return out


def to_asff(result) -> str:
    """``--format asff``: a JSON list of every finding.  ``aws securityhub batch-import-findings`` takes at most 100
    findings a call, all of the calling account (default product): a run of several accounts or regions is split
    before import (README, "Output formats"), or imported with ``scan --security-hub``."""
    return json.dumps(asff_findings(result), indent=2) + "\n"


