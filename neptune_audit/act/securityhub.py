"""AWS Security Hub: the run's ASFF findings (``contract.asff``) imported with ``scan --security-hub``, so a
re-run updates what the last one sent, and an instance gone from a scanned region is archived.

See ``contract.asff`` for the AWS facts (one finding per ProductArn + Id, the default product's caller rule,
100 findings per call, what BatchImportFindings may not change after creation).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from neptune_audit.aws.permissions import Needs
from neptune_audit.contract.asff import asff_findings, generator_id, product_arn, utc_time
from neptune_audit.vocabulary import SCANNED

BATCH = 100  # BatchImportFindings: at most 100 findings per call
# The calls made here and the IAM action each needs (aws/permissions.py).  Resource "*": Security Hub decides
# which product a finding goes to from its ProductArn, and the calling account must be the finding's account
# (API_BatchImportFindings); I found no resource-level permissions for these two in the docs corpus.
NEEDS = (Needs("ImportFindingsToSecurityHub", {"securityhub.BatchImportFindings": "securityhub:BatchImportFindings",
                                               "securityhub.GetFindings": "securityhub:GetFindings"},
               when="security_hub"),)


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


# What BatchImportFindings may not change once a finding exists (API reference, BatchImportFindings): Note,
# UserDefinedFields, VerificationState and Workflow belong to whoever triages it; providers should not send Severity,
# Types, Confidence, Criticality or RelatedFindings again, but FindingProviderFields.  CreatedAt is when the provider
# first detected the issue (ASFF), so an update keeps the one Security Hub holds.
NOT_UPDATED = ("Note", "UserDefinedFields", "VerificationState", "Workflow", "Severity", "Types", "Confidence",
               "Criticality", "RelatedFindings")
# Read-only members GetFindings returns that are not the provider's to send back
READ_ONLY = ("ProcessedAt", "WorkflowState", "FirstObservedAt", "LastObservedAt", "Sample", "ProductName",
             "CompanyName", "Region", "AwsAccountName")
NOT_SUBSCRIBED = ("InvalidAccessException", "ResourceNotFoundException")


def _held(client, product: str, account_id: str) -> dict[str, dict]:
    """This rule's findings for ``account_id`` that Security Hub holds under ``product`` (one region's hub), by Id,
    in any record state."""
    filters = {"ProductArn": [{"Value": product, "Comparison": "EQUALS"}],
               "GeneratorId": [{"Value": generator_id(), "Comparison": "EQUALS"}],
               "AwsAccountId": [{"Value": account_id, "Comparison": "EQUALS"}]}
    held = {}
    for page in client.get_paginator("get_findings").paginate(Filters=filters, PaginationConfig={"PageSize": 100}):
        for f in page.get("Findings", []):
            # the filters again, locally: a finding of another product or rule is never touched
            if (f.get("ProductArn") == product and f.get("GeneratorId") == generator_id()
                    and f.get("AwsAccountId") == account_id):
                held[f["Id"]] = f
    return held


def _as_update(finding: dict, held: dict | None, first_seen: str | None) -> dict:
    """A finding Security Hub already holds is sent as an update, without the fields a provider may not change
    after creation; either way it keeps the first CreatedAt any hub of the account holds for it (a mode switch
    moves it from one region's hub to another's)."""
    out = finding if held is None else {k: v for k, v in finding.items() if k not in NOT_UPDATED}
    if first_seen and first_seen < out["CreatedAt"]:
        out = {**out, "CreatedAt": first_seen}
    return out


def _archived(held: dict, stamp: str) -> dict:
    """The update that archives a finding Security Hub holds (an instance gone, or a copy left by the other mode)."""
    out = {k: v for k, v in held.items() if k not in NOT_UPDATED and k not in READ_ONLY}
    # Security Hub's own keys (aws/securityhub/...) are added on its side, never sent by a provider
    out["ProductFields"] = {k: v for k, v in (held.get("ProductFields") or {}).items() if not k.startswith("aws/")}
    out.update(RecordState="ARCHIVED", UpdatedAt=stamp)
    return out


def import_findings(result, *, region: str | None = None, now: datetime | None = None,
                    instances=None) -> ImportReport:
    """Send every finding to Security Hub in its own account (and its own region, or ``region``), ≤ 100 per
    call; archive this rule's findings for instances that are gone from account-regions this run scanned.

    Each finding lives in one place whatever mode the last run used: per region (default), a copy an earlier run
    sent to an aggregation region among the scanned regions is archived; with ``region``, the per-region copies in
    every other scanned region are archived.  Refusals (per finding or per call) go to the scope warnings; the
    other findings still go.  ``instances``: only these instance ids (what one change touched): their findings
    imported, and theirs archived where they are gone; every other finding is left as it is."""
    from botocore.exceptions import BotoCoreError, ClientError

    from neptune_audit.aws.faults import describe_error

    report = ImportReport()
    accounts = {a.account_id: a for a in result.accounts}
    findings = asff_findings(result, region=region)
    only = None if instances is None else set(instances)
    if only is not None:
        findings = [f for f in findings if _instance_of(f) in only]
    groups: dict[tuple[str, str], list[dict]] = {}
    for f in findings:
        groups.setdefault((f["AwsAccountId"], region or f["Resources"][0]["Region"]), []).append(f)
    scanned = result.scope[result.scope["state"] == SCANNED]
    # every account-region scanned gets a look for stale findings, even with no instance left in it; with an
    # aggregation region, every scanned region's own hub too, for copies an earlier per-region run left there
    for r in scanned.itertuples():
        groups.setdefault((r.account_id, region or r.region), [])
        if region is not None:
            groups.setdefault((r.account_id, r.region), [])
    stamp = utc_time(now or datetime.now(timezone.utc))
    # first what every hub holds, so that a finding moved by a mode switch keeps its first CreatedAt
    held_in: dict[tuple[str, str], dict | None] = {}
    first_seen: dict[tuple[str, str], str] = {}
    for (account_id, home), batch in sorted(groups.items()):
        account = accounts.get(account_id)
        if account is None or not account.reachable:
            continue
        scanned_regions = set(scanned[scanned["account_id"] == account_id]["region"])
        held: dict | None
        try:
            held = _held(account.client("securityhub", home), product_arn(account.partition, home, account_id),
                         account_id)
        except (ClientError, BotoCoreError) as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if batch or code not in NOT_SUBSCRIBED:  # no hub in a region only looked at: it holds no copies
                affected = scanned_regions if home == region else {home} & scanned_regions
                for r in sorted(affected):
                    _warn(result, account_id, r, f"securityhub:GetFindings failed in {home} "
                                                 f"({describe_error(exc)[1]}): earlier findings not updated or "
                                                 "archived")
            held = None
        held_in[(account_id, home)] = held
        for i, h in (held or {}).items():
            if h.get("CreatedAt") and h["CreatedAt"] < first_seen.get((account_id, i), "~"):
                first_seen[(account_id, i)] = h["CreatedAt"]
    for (account_id, home), batch in sorted(groups.items()):
        if (account_id, home) not in held_in or (held_in[(account_id, home)] is None and not batch):
            continue
        account = accounts[account_id]
        held = held_in[(account_id, home)] or {}
        scanned_regions = set(scanned[scanned["account_id"] == account_id]["region"])
        client = account.client("securityhub", home)
        current = {f["Id"] for f in batch}
        stale = [_archived(h, stamp) for i, h in sorted(held.items())
                 if i not in current and h.get("RecordState", "ACTIVE") == "ACTIVE"
                 and (h.get("Resources") or [{}])[0].get("Region") in scanned_regions
                 and (only is None or _instance_of(h) in only)]
        items = [("import", _as_update(f, held.get(f["Id"]), first_seen.get((account_id, f["Id"]))))
                 for f in batch] + [("archive", f) for f in stale]
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


def _instance_of(finding: dict) -> str:
    """The instance id of a finding's resource (its ARN ends ``:db:ID``)."""
    arn = str((finding.get("Resources") or [{}])[0].get("Id") or "")
    return arn.rsplit(":db:", 1)[-1] if ":db:" in arn else ""


def _refused(result, report: ImportReport, finding: dict, text: str) -> None:
    account_id, resource_region = finding["AwsAccountId"], finding["Resources"][0].get("Region", "")
    report.failed.append({"account_id": account_id, "region": resource_region, "id": finding["Id"], "error": text})
    _warn(result, account_id, resource_region, text)
