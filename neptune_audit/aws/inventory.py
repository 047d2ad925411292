"""Collect: Neptune instances and clusters per (account, region), and the scope each ended in.

Per region: one paginated DescribeDBInstances and, where it finds Neptune instances, three calls
that start together as soon as its first page has any: DescribeDBClusters (writer/reader roles, the
cluster's engine version and maintenance window), DescribePendingMaintenanceActions (what is waiting,
kept for the Neptune clusters and instances found) and DescribeDBEngineVersions (what each engine
version can move to; the catalogue is the same for every account, so it is asked once per partition
and region per run).  Instances and clusters are filtered on the server to ``engine=neptune`` (the RDS
API also returns RDS and DocumentDB resources) and checked again here.  Tags come with
DescribeDBInstances' ``TagList``, so there is no call per instance.  Every (account, region) ends in
exactly one scope state: ``scanned``, ``not-enabled``, ``denied`` or ``error``; a failure of the two
upgrade-exposure calls never loses a finding: their columns become unknown (None) and the scope row
says which call failed, in ``warnings``.
"""
from __future__ import annotations

from typing import Protocol

import threading
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from neptune_audit.aws.permissions import Needs
from neptune_audit.aws.tuning import load_models
from neptune_audit.vocabulary import NOT_ENABLED, SCANNED
from neptune_audit.defaults import DEFAULT_WORKERS, MAX_ORGANIZATION_WORKERS
from neptune_audit.options import auto_workers
from neptune_audit.records import iso
from neptune_audit.aws.faults import AWS_ERRORS, describe_error
from neptune_audit.aws.connection import Account
from neptune_audit.aws.regions import RegionList, check_known_regions, describe_regions


ENGINE = "neptune"
# The calls made here and the IAM action each needs (aws/permissions.py).  Without the exposure pair a scan still
# produces every finding, its exposure unknown (and says so).
EXPOSURE_NEEDS = Needs("NeptuneAuditRead", {"rds.DescribeDBEngineVersions": "rds:DescribeDBEngineVersions",
                                            "rds.DescribePendingMaintenanceActions":
                                                "rds:DescribePendingMaintenanceActions"})
NEEDS = (Needs("NeptuneAuditRead", {"rds.DescribeDBClusters": "rds:DescribeDBClusters",
                                    "rds.DescribeDBInstances": "rds:DescribeDBInstances"}), EXPOSURE_NEEDS)
PAGE_SIZE = 100  # DescribeDBInstances' MaxRecords is 20-100: the fewest round trips
_FILTER = [{"Name": "engine", "Values": [ENGINE]}]

INSTANCE_COLUMNS = [
    "account_id", "region", "cluster_id", "instance_id", "arn", "engine", "engine_version",
    "instance_class", "status", "is_writer", "promotion_tier", "auto_minor_version_upgrade",
    "maintenance_window", "pending_modifications", "tags", "availability_zone",
    # None when the call that knows them failed; region_catalogue: the region's versions (version -> Status)
    "upgrade_targets", "engine_status", "region_catalogue", "own_pending_maintenance",
]
CLUSTER_COLUMNS = ["account_id", "region", "cluster_id", "cluster_arn", "cluster_status", "engine_version",
                   "maintenance_window", "members", "upgrade_targets", "engine_status", "region_catalogue",
                   "pending_maintenance", "global_cluster_id"]
SCOPE_COLUMNS = ["account_id", "account_label", "region", "state", "instances", "error", "warnings"]
ANY_REGION = "*"  # the scope row of an account whose regions could not be listed


@dataclass
class Inventory:
    """What collection found: raw instances, raw clusters, and the scope, as rows of their ``*_COLUMNS``
    (plain lists: a scan that writes JSON or CSV never needs pandas)."""

    instances: list[dict]
    clusters: list[dict]
    scope: list[dict]
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
        # The API marks the key optional: absent is "not reported", never "off".
        "auto_minor_version_upgrade": (None if db.get("AutoMinorVersionUpgrade") is None
                                       else bool(db["AutoMinorVersionUpgrade"])),
        "maintenance_window": db.get("PreferredMaintenanceWindow"),
        "pending_modifications": dict(db.get("PendingModifiedValues") or {}),
        "tags": {t["Key"]: t.get("Value", "") for t in db.get("TagList") or []},
        "availability_zone": db.get("AvailabilityZone"),
    }


def pending_action(detail: dict) -> dict:
    """One PendingMaintenanceAction as the contract's ``pending_maintenance`` item."""
    return {"action": detail.get("Action"), "description": detail.get("Description"),
            "auto_applied_after": iso(detail.get("AutoAppliedAfterDate")),
            "forced_apply_date": iso(detail.get("ForcedApplyDate")),
            "current_apply_date": iso(detail.get("CurrentApplyDate")), "opt_in_status": detail.get("OptInStatus")}


@dataclass
class EngineCatalogue:
    """Neptune's engine versions and their upgrade targets, per (partition, region), asked once per run.

    The catalogue is AWS's, not the account's, so one account's answer serves every account of the run.  Only
    answers are kept: an account whose call is refused (an older audit policy) does not spoil the others.
    """

    _known: dict = field(default_factory=dict)
    _locks: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def targets(self, rds, partition: str, region: str) -> tuple[dict[str, dict], int]:
        """engine version -> {"status": Status, "targets": ValidUpgradeTarget[]}, and the calls this made (0 when
        already known).  ValidUpgradeTarget is optional in the API: a missing list is read as "none listed", and
        newer releases are also found from the catalogue's own versions (``outlook.engine_facts``)."""
        key = (partition, region)
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # a second account of the region waits for the first's answer instead of asking again
            if key in self._known:
                return self._known[key], 0
            versions, calls = {}, 0
            # IncludeAll: a cluster can run a version no longer offered for new clusters; it is still listed then.
            for page in rds.get_paginator("describe_db_engine_versions").paginate(
                    Engine=ENGINE, IncludeAll=True, PaginationConfig={"PageSize": PAGE_SIZE}):
                calls += 1
                for v in page.get("DBEngineVersions", []):
                    if v.get("Engine") == ENGINE:
                        versions[v["EngineVersion"]] = {"status": v.get("Status"),
                                                        "targets": list(v.get("ValidUpgradeTarget") or [])}
            statuses = {k: e["status"] for k, e in versions.items()}
            for e in versions.values():
                e["catalogue"] = statuses  # one dict shared by every entry of the region
            self._known[key] = versions
            return versions, calls


def _catalogue_fields(catalogue: dict | None, version) -> dict:
    """A version's targets and status, and the region's catalogue; a version it does not list has unknown
    targets, never "none newer"."""
    if catalogue is None:
        return {"upgrade_targets": None, "engine_status": None, "region_catalogue": None}
    entry = catalogue.get(version)
    shared = next(iter(catalogue.values()))["catalogue"] if catalogue else {}
    return {"upgrade_targets": entry["targets"] if entry else None, "engine_status": entry["status"] if entry else None,
            "region_catalogue": shared}


def collect_region(account: Account, region: str, catalogue: EngineCatalogue | None = None,
                   side: ThreadPoolExecutor | None = None) -> tuple[dict, list[dict], list[dict], int]:
    """Scan one (account, region): its scope row, instance rows, cluster rows and API calls made.  ``side``: the
    pool its three exposure calls run on (at least three workers per region in flight; default: one of its own)."""
    scope = _unscanned(account, region, SCANNED, None)
    catalogue = catalogue or EngineCatalogue()
    calls = 0
    # The rds model, not neptune's: the API is the same, but only rds's model keeps TagList.
    rds = account.client("rds", region, cache=False)

    def pages(operation: str, key: str):
        for page in rds.get_paginator(operation).paginate(Filters=_FILTER, PaginationConfig={"PageSize": PAGE_SIZE}):
            yield [r for r in page[key] if r.get("Engine") == ENGINE]

    def pending_pages():
        # Unfiltered (RDS filters take identifiers, and the ARNs are not all known yet); kept for Neptune below.
        return [page.get("PendingMaintenanceActions", []) for page in
                rds.get_paginator("describe_pending_maintenance_actions").paginate(
                    PaginationConfig={"PageSize": PAGE_SIZE})]

    own_side = side is None
    side = side or ThreadPoolExecutor(max_workers=3)
    try:
        # Where a region has Neptune instances, clusters, pending actions and the engine catalogue are asked for
        # while the remaining instance pages come in: one region's pages are a chain of markers, the longest
        # chain is the scan's critical path, and these calls need not wait at its end.  A region without
        # Neptune instances (most regions of most accounts) makes none of them.
        started = None
        instance_pages = []
        for page in pages("describe_db_instances", "DBInstances"):
            instance_pages.append(page)
            if page and started is None:
                started = (side.submit(lambda: list(pages("describe_db_clusters", "DBClusters"))),
                           side.submit(pending_pages),
                           side.submit(catalogue.targets, rds, account.partition, region))
        cluster_pages = started[0].result() if started else []
        calls += len(instance_pages) + len(cluster_pages)
        instances = [_instance_row(account.account_id, region, db) for page in instance_pages for db in page]
        clusters = [c for page in cluster_pages for c in page]
    except AWS_ERRORS as exc:
        # A region is all or nothing: instances without their cluster roles would mislabel writers.
        state, msg = describe_error(exc)
        scope.update(state=state, error=msg)
        return scope, [], [], calls
    finally:
        if own_side:
            side.shutdown(wait=False)
    pending, targets = None, None
    if started:
        try:
            found = started[1].result()
            calls += len(found)
            pending = {}
            for resource in (r for page in found for r in page):
                pending[resource.get("ResourceIdentifier")] = [
                    pending_action(d) for d in resource.get("PendingMaintenanceActionDetails") or []]
        except AWS_ERRORS as exc:
            scope["warnings"].append(f"rds:DescribePendingMaintenanceActions failed ({describe_error(exc)[1]}): "
                                     "pending maintenance unknown")
        try:
            targets, made = started[2].result()
            calls += made
        except AWS_ERRORS as exc:
            scope["warnings"].append(f"rds:DescribeDBEngineVersions failed ({describe_error(exc)[1]}): "
                                     "engine upgrade targets unknown")
    writer_of = {}
    cluster_rows = []
    for c in clusters:
        members = [(m["DBInstanceIdentifier"], bool(m.get("IsClusterWriter"))) for m in c.get("DBClusterMembers", [])]
        writer_of.update(dict(members))
        arn = c.get("DBClusterArn")
        cluster_rows.append({"account_id": account.account_id, "region": region,
                             "cluster_id": c["DBClusterIdentifier"], "cluster_arn": arn,
                             "cluster_status": c.get("Status"), "engine_version": c.get("EngineVersion"),
                             "maintenance_window": c.get("PreferredMaintenanceWindow"), "members": members,
                             **_catalogue_fields(targets, c.get("EngineVersion")),
                             "pending_maintenance": None if pending is None else pending.get(arn, []),
                             "global_cluster_id": c.get("GlobalClusterIdentifier") or None})
    for row in instances:
        row["is_writer"] = writer_of.get(row["instance_id"])
        row.update(_catalogue_fields(targets, row["engine_version"]))
        row["own_pending_maintenance"] = None if pending is None else pending.get(row["arn"], [])
    seen = {row["instance_id"] for row in instances}
    unseen = [(c["cluster_id"], m) for c in cluster_rows for m, is_writer in c["members"] if is_writer and m not in seen]
    if unseen:
        # The writer decides a cluster's upgrades: without it the roll-up would guess.  The findings stay; the
        # account-region is incomplete, so the run cannot pass.
        scope.update(state="error", error="; ".join(
            f"cluster {c}: its writer {m} was not returned by DescribeDBInstances (changed during the scan?)"
            for c, m in unseen))
    scope["instances"] = len(instances)
    return scope, instances, cluster_rows, calls


def _unscanned(account: Account, region: str, state: str, error: str | None) -> dict:
    return {"account_id": account.account_id, "account_label": account.label, "region": region,
            "state": state, "instances": 0, "error": error, "warnings": []}


def plan_account(acct: Account, regions: list[str] | None, rl: RegionList) -> tuple[list, list[dict]]:
    """One reachable account's (account, region) pairs to scan, and the scope rows already decided."""
    if rl.error and regions is None:
        return [], [_unscanned(acct, ANY_REGION, rl.state or "error", rl.error)]
    tasks, decided = [], []
    for region in sorted(rl.enabled, key=lambda r: (r != acct.home_region, r)) if regions is None else regions:
        if rl.error or rl.enabled.get(region):
            tasks.append((acct, region))
        else:
            decided.append(_unscanned(acct, region, NOT_ENABLED, "region is not enabled (opted in) for this account"))
    return tasks, decided


class Progress(Protocol):
    """What ``collect`` tells whoever shows progress (``present.progress.ScanProgress`` in a notebook or terminal):
    the accounts to scan, each account's regions once listed, each account-region done, the end."""

    def start(self, accounts: int, per_account: float) -> None: ...
    def listed_account(self, tasks: int) -> None: ...
    def done(self) -> None: ...
    def close(self) -> None: ...


class _Silent:
    def start(self, accounts: int, per_account: float) -> None:
        pass

    def listed_account(self, tasks: int) -> None:
        pass

    def done(self) -> None:
        pass

    def close(self) -> None:
        pass


def exposure_pool(max_workers: int = 3 * MAX_ORGANIZATION_WORKERS) -> ThreadPoolExecutor:
    """The pool the regions' exposure calls share: three workers per region worker, so none waits for another's
    (a pool per region started three threads for every region, each start waiting for the interpreter)."""
    return ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="neptune-audit-exposure")


def start_threads(pool: ThreadPoolExecutor, n: int) -> None:
    """Start ``n`` of the pool's threads now, before the regions' answers compete for the interpreter: a thread
    started on demand makes its submitter wait until it runs (``Thread.start``), and a region's next page waited
    behind the three starts of its exposure calls (us-east-1's second page of the sweep went out ~0.1 s later)."""
    go = threading.Event()
    try:
        for _ in range(n):
            pool.submit(go.wait)  # each finds every thread busy, so each starts one
    except RuntimeError:
        pass  # the pool was shut down meanwhile (the scan stopped): nothing to start
    finally:
        go.set()


def collect(accounts: list[Account], regions: list[str] | None, max_workers: int | None = None,
            progress: Progress | None = None, exposure: ThreadPoolExecutor | None = None) -> Inventory:
    """Collect every account x region concurrently; ``regions=None`` means every enabled region.

    A bounded pipeline, so memory follows the pool, not the Organization: accounts' regions are listed
    (DescribeRegions) a few accounts ahead of the pool, their account-regions are queued ahead of any new
    account, at most ``2 x max_workers`` tasks are submitted at a time, and an account's session is
    released as soon as its last region is done.  Only the rows are kept.
    """
    load_models()
    scope_rows, instances, clusters = [], [], []
    reachable = []
    for acct in accounts:
        if acct.reachable:
            reachable.append(acct)
        else:
            scope_rows += [_unscanned(acct, region, acct.state or "error", acct.error)
                           for region in regions or [ANY_REGION]]
    api_calls = 0
    first: Future | None = None
    if reachable:
        # Nothing can be scanned before the first listing is back (it was sent beside GetCallerIdentity): wait for
        # it here, check region names against it (a partition's regions are the same for all), and size the pool
        # by it, so that every region of the first account starts in the next round trip.
        first = Future()
        first.set_result(describe_regions(reachable[0]))
        if regions is not None:
            check_known_regions(regions, [first.result()])
        max_workers = auto_workers(max_workers, len(regions) if regions is not None
                                   else sum(first.result().enabled.values()), accounts=len(reachable))
    max_workers = max_workers or DEFAULT_WORKERS
    catalogue = EngineCatalogue()
    per_account = float(len(regions)) if regions else 20.0  # expected regions per account, refined as lists come
    bar = progress or _Silent()
    bar.start(len(reachable), per_account)
    planned = listed = 0            # account-regions of the accounts listed so far, and those accounts
    limit = 2 * max_workers
    queue: deque = deque()          # (account, region) pairs ready to scan
    left: dict[int, int] = {}       # id(account) -> its regions not yet done
    pending: dict[Future, tuple[str, Account]] = {}
    to_list = iter(reachable)
    listing = 0                     # DescribeRegions calls in flight

    # ``exposure``: the caller's pool, its threads started while the first round trip was in flight (core.run)
    side = exposure or exposure_pool(3 * max_workers)
    if exposure is None:
        start_threads(side, 3 * max_workers)
    try:
        with ThreadPoolExecutor(max_workers=max_workers) as pool:
            def feed() -> None:
                nonlocal listing
                while len(pending) < limit and queue:
                    acct, region = queue.popleft()
                    pending[pool.submit(collect_region, acct, region, catalogue, side)] = ("region", acct)
                # Once the queue cannot fill the pool, list the next accounts, up to two submissions' worth of
                # expected work at once (a listing waits behind the tasks already submitted, then takes its own
                # round trip, so one account at a time left 16 workers idle at every account boundary).
                while len(pending) < limit and len(queue) + listing * per_account < 2 * limit:
                    acct = next(to_list, None)
                    if acct is None:
                        return
                    fut = first if first is not None and acct is reachable[0] else pool.submit(describe_regions, acct)
                    pending[fut] = ("regions", acct)
                    listing += 1

            feed()
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    kind, acct = pending.pop(fut)
                    if kind == "regions":
                        listing -= 1
                        api_calls += 1  # its DescribeRegions
                        tasks, decided = plan_account(acct, regions, fut.result())
                        scope_rows += decided
                        queue.extend(tasks)
                        left[id(acct)] = len(tasks)
                        bar.listed_account(len(tasks))
                        planned, listed = planned + len(tasks), listed + 1
                        per_account = planned / listed if not regions else per_account
                    else:
                        scope, inst, clus, calls = fut.result()
                        scope_rows.append(scope)
                        instances += inst
                        clusters += clus
                        api_calls += calls
                        left[id(acct)] -= 1
                        bar.done()
                    if not left[id(acct)]:
                        acct.release()  # its regions are done: keep the rows, not the session and its clients
                feed()
    finally:
        if exposure is None:
            side.shutdown(wait=False)  # a failed region's calls still in flight need not hold the scan
        bar.close()
    return Inventory(instances=_complete(instances, INSTANCE_COLUMNS), clusters=_complete(clusters, CLUSTER_COLUMNS),
                     scope=sorted(_complete(scope_rows, SCOPE_COLUMNS), key=lambda r: (r["account_id"], r["region"])),
                     api_calls=api_calls)


def _complete(rows: list[dict], columns: list[str]) -> list[dict]:
    """Every row with exactly ``columns``, in that order (a key never set is None)."""
    return [{c: r.get(c) for c in columns} for r in rows]
