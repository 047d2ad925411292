"""Which regions a scan covers: what DescribeRegions says is enabled for the account (``get_available_regions``
returns a static list and knows nothing of opt-in regions), within the partition its credentials work in."""
from __future__ import annotations

import re
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from neptune_audit.aws.faults import AWS_ERRORS, describe_error
from neptune_audit.aws.permissions import Needs
from neptune_audit.aws.tuning import new_botocore_session
from neptune_audit.errors import OptionError

if TYPE_CHECKING:
    from neptune_audit.aws.connection import Account

# The call made here and the IAM action it needs (aws/permissions.py)
NEEDS = (Needs("NeptuneAuditRead", {"ec2.DescribeRegions": "ec2:DescribeRegions"}),)

# Regions launched before 20 March 2019 are enabled in every account and cannot be disabled; the later ones are
# opt-in (AWS Account Management guide, "Enable or disable AWS Regions in your account":
# https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html).  Only an order of likelihood
# here: what is enabled is always DescribeRegions' answer.
DEFAULT_REGIONS = frozenset({
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1", "eu-west-1", "eu-west-2",
    "eu-west-3", "eu-central-1", "eu-north-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
    "ap-southeast-1", "ap-southeast-2"})


def send_describe_regions(ec2) -> Future:
    """DescribeRegions on its own thread: it needs the credentials, not the account id, so it can travel beside
    GetCallerIdentity instead of after it."""
    fut: Future = Future()

    def run() -> None:
        try:
            fut.set_result(ec2.describe_regions(AllRegions=True)["Regions"])
        except BaseException as exc:  # noqa: BLE001 - handed to whoever reads the listing, as if called there
            fut.set_exception(exc)

    threading.Thread(target=run, name="neptune-audit-regions", daemon=True).start()
    return fut


@dataclass
class RegionList:
    """What DescribeRegions said for one account: region -> enabled, or why it could not say."""

    enabled: dict[str, bool] = field(default_factory=dict)
    state: str | None = None
    error: str | None = None


_PARTITIONS: list[tuple[str, set, re.Pattern]] | None = None


def partition_of(region: str) -> str | None:
    """The AWS partition (aws, aws-cn, aws-us-gov, ...) a region name belongs to, from botocore's data."""
    global _PARTITIONS
    if _PARTITIONS is None:
        data = new_botocore_session().get_data("endpoints")["partitions"]  # the shared, already parsed copy
        _PARTITIONS = [(p["partition"], set(p.get("regions", {})), re.compile(p["regionRegex"])) for p in data]
    for name, regions, _ in _PARTITIONS:
        if region in regions:
            return name
    for name, _, regex in _PARTITIONS:
        if regex.match(region):
            return name
    return None


def describe_regions(account: Account) -> RegionList:
    prefetch, account.regions_prefetch = account.regions_prefetch, None
    try:
        regions = (prefetch.result() if prefetch is not None
                   else account.client("ec2").describe_regions(AllRegions=True)["Regions"])
    except AWS_ERRORS as exc:
        state, msg = describe_error(exc)
        return RegionList(state=state, error=f"ec2:DescribeRegions failed: {msg}")
    # Credentials work in one partition only; some endpoints (moto among them) list every partition's regions.
    return RegionList({r["RegionName"]: r.get("OptInStatus", "opt-in-not-required") != "not-opted-in"
                       for r in regions if partition_of(r["RegionName"]) in (account.partition, None)})


def check_known_regions(regions: list[str], region_lists: list[RegionList]) -> None:
    known = known_regions(region_lists)
    unknown = [r for r in regions if r not in known]
    if unknown:
        raise OptionError("regions", f"holds an unknown region {unknown[0]!r} (not a region AWS knows; try 'all')")


def known_regions(region_lists: list[RegionList]) -> set[str]:
    """Region names AWS (or the endpoint) knows, with botocore's bundled list as a fallback."""
    known = {r for rl in region_lists for r in rl.enabled}
    if not known:
        s = new_botocore_session()
        for partition in s.get_available_partitions():
            known.update(s.get_available_regions("ec2", partition_name=partition))
    return known
