"""Collect: Neptune instances and clusters per (account, region), and the scope each ended in.

Per region: one paginated DescribeDBInstances and, where it finds Neptune instances, one
DescribeDBClusters (for writer/reader roles), both filtered on the server to ``engine=neptune``
(the RDS API also returns RDS and DocumentDB resources) and checked again here.  Tags come with
DescribeDBInstances' ``TagList``, so there is no call per instance.  Every (account, region)
ends in exactly one scope state: ``scanned``, ``not-enabled``, ``denied`` or ``error``.
"""
from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .botocore_tuning import load_models
from .contract import NOT_ENABLED, SCANNED
from .targets import AWS_ERRORS, Account, RegionList, check_known_regions, describe_error, describe_regions

if TYPE_CHECKING:  # pandas loads while the first requests are in flight (see audit.scan)
    import pandas as pd

ENGINE = "neptune"
PAGE_SIZE = 100  # DescribeDBInstances' MaxRecords is 20-100: the fewest round trips
_FILTER = [{"Name": "engine", "Values": [ENGINE]}]

INSTANCE_COLUMNS = [
    "account_id", "region", "cluster_id", "instance_id", "arn", "engine", "engine_version",
    "instance_class", "status", "is_writer", "promotion_tier", "auto_minor_version_upgrade",
    "maintenance_window", "pending_modifications", "tags", "availability_zone",
]
CLUSTER_COLUMNS = ["account_id", "region", "cluster_id", "cluster_status", "engine_version", "members"]
SCOPE_COLUMNS = ["account_id", "account_label", "region", "state", "instances", "error"]
ANY_REGION = "*"  # the scope row of an account whose regions could not be listed


@dataclass
class Inventory:
    """What collection found: raw instances, raw clusters, and the scope."""

    instances: pd.DataFrame
    clusters: pd.DataFrame
    scope: pd.DataFrame
    api_calls: int = 0


def _instance_row(account_id: str, region: str, db: dict) -> dict:
    return {
        "account_id": account_id,
        "region": region,
        "cluster_id": db.get("DBClusterIdentifier"),
        "instance_id": db["DBInstanceIdentifier"],
        "arn": db.get("DBInstanceArn"),
        "engine": db.get("Engine"),
        "engine_version": db.get("EngineVersion"),
        "instance_class": db.get("DBInstanceClass"),
        "status": db.get("DBInstanceStatus"),
        "is_writer": None,
        "promotion_tier": db.get("PromotionTier"),
        "auto_minor_version_upgrade": bool(db.get("AutoMinorVersionUpgrade")),
        "maintenance_window": db.get("PreferredMaintenanceWindow"),
        "pending_modifications": dict(db.get("PendingModifiedValues") or {}),
        "tags": {t["Key"]: t.get("Value", "") for t in db.get("TagList") or []},
        "availability_zone": db.get("AvailabilityZone"),
    }


def collect_region(account: Account, region: str) -> tuple[dict, list[dict], list[dict], int]:
    """Scan one (account, region): its scope row, instance rows, cluster rows and API calls made."""
    scope = _unscanned(account, region, SCANNED, None)
    calls = 0
    # The rds model, not neptune's: the API is the same, but only rds's model keeps TagList.
    rds = account.client("rds", region, cache=False)

    def pages(operation: str, key: str):
        for page in rds.get_paginator(operation).paginate(Filters=_FILTER, PaginationConfig={"PageSize": PAGE_SIZE}):
            yield [r for r in page[key] if r.get("Engine") == ENGINE]

    side = ThreadPoolExecutor(max_workers=1)
    try:
        # Clusters only give instances their writer/reader roles, so a region without Neptune instances (most
        # regions of most accounts) needs no cluster call.  Where there are instances, clusters are listed
        # while the remaining instance pages come in: one region's pages are a chain of markers, the longest
        # chain is the scan's critical path, and the cluster call need not wait at its end.
        cluster_pages = None
        instance_pages = []
        for page in pages("describe_db_instances", "DBInstances"):
            instance_pages.append(page)
            if page and cluster_pages is None:
                cluster_pages = side.submit(lambda: list(pages("describe_db_clusters", "DBClusters")))
        cluster_pages = cluster_pages.result() if cluster_pages else []
        calls += len(instance_pages) + len(cluster_pages)
        instances = [_instance_row(account.account_id, region, db) for page in instance_pages for db in page]
        clusters = [c for page in cluster_pages for c in page]
    except AWS_ERRORS as exc:
        # A region is all or nothing: instances without their cluster roles would mislabel writers.
        state, msg = describe_error(exc)
        scope.update(state=state, error=msg)
        return scope, [], [], calls
    finally:
        side.shutdown(wait=False)
    writer_of = {}
    cluster_rows = []
    for c in clusters:
        members = [(m["DBInstanceIdentifier"], bool(m.get("IsClusterWriter"))) for m in c.get("DBClusterMembers", [])]
        writer_of.update(dict(members))
        cluster_rows.append({"account_id": account.account_id, "region": region,
                             "cluster_id": c["DBClusterIdentifier"], "cluster_status": c.get("Status"),
                             "engine_version": c.get("EngineVersion"), "members": members})
    for row in instances:
        row["is_writer"] = writer_of.get(row["instance_id"])
    scope["instances"] = len(instances)
    return scope, instances, cluster_rows, calls


def _unscanned(account: Account, region: str, state: str, error: str | None) -> dict:
    return {"account_id": account.account_id, "account_label": account.label, "region": region,
            "state": state, "instances": 0, "error": error}


def plan_tasks(accounts: list[Account], regions: list[str] | None, region_lists: dict[str, RegionList]):
    """Split (account, region) pairs into those to scan and scope rows already decided."""
    tasks, decided = [], []
    for acct in accounts:
        if acct.session is None:
            for region in regions or [ANY_REGION]:
                decided.append(_unscanned(acct, region, acct.state, acct.error))
            continue
        rl = region_lists[acct.account_id]
        if rl.error and regions is None:
            decided.append(_unscanned(acct, ANY_REGION, rl.state, rl.error))
            continue
        for region in sorted(rl.enabled) if regions is None else regions:
            if rl.error or rl.enabled.get(region):
                tasks.append((acct, region))
            else:
                decided.append(_unscanned(acct, region, NOT_ENABLED,
                                          "region is not enabled (opted in) for this account"))
    return tasks, decided


def collect(accounts: list[Account], regions: list[str] | None, max_workers: int = 16,
            progress: bool = False) -> Inventory:
    """Collect every account x region concurrently; ``regions=None`` means every enabled region."""
    reachable = [a for a in accounts if a.session is not None]
    load_models()
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        region_lists = dict(zip([a.account_id for a in reachable], pool.map(describe_regions, reachable)))
        if regions is not None:
            check_known_regions(regions, list(region_lists.values()))
        tasks, scope_rows = plan_tasks(accounts, regions, region_lists)
        instances, clusters = [], []
        api_calls = len(reachable)
        futures = [pool.submit(collect_region, acct, region) for acct, region in tasks]
        bar = None
        if progress and futures:
            from tqdm import tqdm

            bar = tqdm(total=len(futures), desc="Scanning regions", unit="region", file=sys.stderr, leave=False)
        for fut in as_completed(futures):
            scope, inst, clus, calls = fut.result()
            scope_rows.append(scope)
            instances += inst
            clusters += clus
            api_calls += calls
            if bar is not None:
                bar.update()
        if bar is not None:
            bar.close()
    import pandas as pd

    return Inventory(
        instances=pd.DataFrame(instances, columns=INSTANCE_COLUMNS),
        clusters=pd.DataFrame(clusters, columns=CLUSTER_COLUMNS),
        scope=pd.DataFrame(scope_rows, columns=SCOPE_COLUMNS)
        .sort_values(["account_id", "region"], kind="stable").reset_index(drop=True),
        api_calls=api_calls,
    )
