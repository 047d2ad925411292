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
from neptune_audit.contract.vocabulary import SCANNED

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

    from neptune_audit.aws.targets import describe_error

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
    stamp = utc_time(now or datetime.now(timezone.utc))
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
