"""Collection and evaluation against in-process moto: what a user sees in the findings DataFrame."""
from __future__ import annotations

import pytest

import neptune_audit
from neptune_audit import UsageError
from neptune_audit.simulate import estate as sim_estate
from neptune_audit.aws.connection import Connection

from .conftest import CREDS, assume_creds, boto, seed
from .faults import fail_call, in_region, throttle


def test_only_neptune_instances_are_findings(aws):
    made = seed([("g1", [("g1-w", False, {}), ("g1-r", True, {})])])
    sim_estate.seed_decoys(CREDS, "us-east-1")
    boto("rds").create_db_cluster(DBClusterIdentifier="aurora-1", Engine="aurora-mysql",
                                  MasterUsername="admin", MasterUserPassword="not-a-secret-1")
    result = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"))
    assert sorted(result.findings["instance_id"]) == sorted(m["instance_id"] for m in made)
    assert set(result.clusters["cluster_id"]) == {"g1"}
    assert not set(result.findings["instance_id"]) & {n for n, _ in sim_estate.DECOYS}


def test_writer_and_reader_reasons_and_cluster_rollup(aws):
    seed([("held", [("held-w", False, {}), ("held-r", True, {})]),
          ("risky", [("risky-w", True, {}), ("risky-r", False, {})]),
          ("good", [("good-w", True, {})])])
    r = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"))
    f = r.findings.set_index("instance_id")
    assert f.loc["held-w", "result"] == "FAIL" and "whole cluster" in f.loc["held-w", "reason"]
    assert f.loc["risky-r", "result"] == "FAIL" and "failover" in f.loc["risky-r", "reason"]
    assert f.loc["held-w", "is_writer"] and not f.loc["risky-r", "is_writer"]
    assert list(r.findings["result"][:2]) == ["FAIL", "FAIL"], "failing findings come first"
    c = r.clusters.set_index("cluster_id")
    assert not c.loc["held", "gets_minor_upgrades"] and c.loc["held", "writer_instance_id"] == "held-w"
    assert c.loc["risky", "gets_minor_upgrades"] and c.loc["risky", "result"] == "FAIL"
    assert c.loc["good", "result"] == "PASS" and c.loc["good", "failing_instances"] == 0
    assert r.summary == {"instances": 5, "pass": 3, "fail": 2, "excepted": 0,
                         "targets_scanned": 1, "targets_not_scanned": 0}
    assert r.exit_code == 1


def test_more_than_one_page_of_instances(aws):
    members = [(f"big-{i:03d}", i % 3 != 0, {}) for i in range(130)]
    seed([("big", members)], instance_class="db.t4g.medium")
    r = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"))
    assert len(r.findings) == 130
    assert (r.findings["result"] == "FAIL").sum() == sum(1 for _, on, _ in members if not on)
    assert r.api_calls >= 1 + 2 + 1, "one DescribeRegions, two instance pages, one cluster page"


def test_every_enabled_region_and_not_enabled_ones_recorded(aws):
    seed([("east", [("east-1", True, {})])], region="us-east-1")
    seed([("west", [("west-1", False, {})])], region="eu-west-1")
    # moto lists China and GovCloud regions too; an `aws` partition account can reach neither.
    enabled = {r["RegionName"]: r["OptInStatus"] != "not-opted-in"
               for r in boto("ec2").describe_regions(AllRegions=True)["Regions"]
               if not r["RegionName"].startswith(("cn-", "us-gov-"))}
    r = neptune_audit.scan()  # default: all
    scope = r.scope.set_index("region")
    assert set(scope.index) == set(enabled), "exactly one scope row per region"
    assert all(scope.loc[reg, "state"] == ("scanned" if on else "not-enabled") for reg, on in enabled.items())
    assert scope.loc["eu-west-1", "instances"] == 1
    assert set(r.findings["region"]) == {"us-east-1", "eu-west-1"}
    assert r.exit_code == 1


def test_unknown_region_is_bad_input(aws):
    with pytest.raises(UsageError, match="unknown region 'mars-north-1'"):
        neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1,mars-north-1"))
    with pytest.raises(UsageError, match="unknown region"):
        neptune_audit.scan(neptune_audit.ScanOptions(regions="US_EAST"))


def test_assumed_roles_with_identical_instance_names(aws):
    for acct in ("111111111111", "222222222222"):
        seed([("graph", [("graph-1", acct == "111111111111", {})])], creds=assume_creds(acct), account_id=acct)
    r = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1", role_arns=[
        "arn:aws:iam::111111111111:role/Audit", "arn:aws:iam::222222222222:role/Audit"]))
    got = {(row.account_id, row.instance_id): row.result for row in r.findings.itertuples()}
    assert got == {("111111111111", "graph-1"): "PASS", ("222222222222", "graph-1"): "FAIL"}
    assert set(r.clusters["account_id"]) == {"111111111111", "222222222222"}
    assert {c["caller_arn"].split(":")[4] for c in r.callers} == {"111111111111", "222222222222"}


def test_organization_matches_the_seeded_estate(aws):
    manifest = sim_estate.seed()
    r = neptune_audit.scan(neptune_audit.ScanOptions(organization=True, regions="us-east-1,eu-west-1,ap-southeast-2"))
    assert set(r.scope["account_id"]) == set(manifest.accounts.values())
    expected = {(m["account_id"], m["instance_id"]): ("PASS" if m["auto_minor_version_upgrade"] else "FAIL")
                for m in manifest.instances}
    got = {(row.account_id, row.instance_id): row.result for row in r.findings.itertuples()}
    assert got == expected
    writers = {(m["account_id"], m["instance_id"]) for m in manifest.instances if m["is_writer"]}
    assert {(row.account_id, row.instance_id) for row in r.findings.itertuples() if row.is_writer} == writers


def test_failing_role_assumption_is_recorded_and_others_finish(aws):
    seed([("g", [("g-1", True, {})])], creds=assume_creds("111111111111"), account_id="111111111111")
    bad = "arn:aws:iam::999999999999:role/Audit"
    hook = fail_call("sts", "AssumeRole", "AccessDenied", "not authorized to perform sts:AssumeRole",
                     status=403, when=lambda params, ctx: params["body"].get("RoleArn") == bad)
    r = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1,eu-west-1",
                                                     role_arns=["arn:aws:iam::111111111111:role/Audit",
                                                                bad]), connection=Connection(hooks=[hook]))
    denied = r.scope[r.scope["account_id"] == "999999999999"]
    assert list(denied["state"]) == ["denied", "denied"] and "sts:AssumeRole" in denied["error"].iloc[0]
    ok = r.scope[r.scope["account_id"] == "111111111111"]
    assert set(ok["state"]) == {"scanned"}
    assert list(r.findings["instance_id"]) == ["g-1"]
    assert r.summary["targets_not_scanned"] == 2 and r.exit_code == 3


def test_denied_region_is_recorded_and_other_regions_finish(aws):
    seed([("east", [("east-1", False, {})])], region="us-east-1")
    seed([("west", [("west-1", True, {})])], region="eu-west-1")
    hook = fail_call("rds", "DescribeDBInstances", "AccessDenied",
                     "explicit deny in a service control policy", status=403, when=in_region("eu-west-1"))
    r = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1,eu-west-1"), connection=Connection(hooks=[hook]))
    scope = r.scope.set_index("region")
    assert scope.loc["eu-west-1", "state"] == "denied"
    assert "service control policy" in scope.loc["eu-west-1", "error"]
    assert scope.loc["us-east-1", "state"] == "scanned"
    assert list(r.findings["instance_id"]) == ["east-1"]
    assert r.exit_code == 1, "a FAIL wins over an incomplete scope"


def test_region_error_other_than_denial_is_error(aws):
    hook = fail_call("rds", "DescribeDBClusters", "InternalFailure", "boom", status=500)
    seed([("east", [("east-1", True, {})])])
    r = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"), connection=Connection(hooks=[hook], max_attempts=1))
    assert r.scope.loc[0, "state"] == "error" and r.findings.empty, "a region is all or nothing"
    assert r.exit_code == 3


def test_throttling_succeeds_after_retries(aws):
    seed([("g", [("g-1", False, {}), ("g-2", True, {})])])
    calm = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"))
    hook = throttle("rds", "DescribeDBInstances", times=2)
    stormy = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"), connection=Connection(hooks=[hook],
                                                                                                      retry_mode="standard"))
    assert hook[1].state["throttled"] == 2
    cols = ["instance_id", "result", "reason"]
    assert stormy.findings[cols].equals(calm.findings[cols])
    assert stormy.scope.loc[0, "state"] == "scanned"


def test_rejected_credentials_are_bad_input(aws):
    hook = fail_call("sts", "GetCallerIdentity", "InvalidClientTokenId",
                     "The security token included in the request is invalid.", status=403)
    with pytest.raises(neptune_audit.AwsError, match="rejected the credentials.*InvalidClientTokenId"):
        neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"), connection=Connection(hooks=[hook]))


def test_denied_region_listing_with_all_regions(aws):
    hook = fail_call("ec2", "DescribeRegions", "UnauthorizedOperation", "no ec2:DescribeRegions", status=403)
    r = neptune_audit.scan(connection=Connection(hooks=[hook]))
    assert list(r.scope["region"]) == ["*"] and r.scope.loc[0, "state"] == "denied"
    assert "ec2:DescribeRegions" in r.scope.loc[0, "error"] and r.exit_code == 3


def test_assumed_role_credentials_are_refreshed_before_they_expire():
    from datetime import datetime, timedelta, timezone

    from neptune_audit.aws.connection import AssumedRoleProvider

    class FakeSTS:
        """Real STS hands out credentials for an hour at most (by default); a long Organization run outlives them."""

        def __init__(self):
            self.calls = 0

        def assume_role(self, RoleArn, RoleSessionName):
            self.calls += 1
            return {"AssumedRoleUser": {"Arn": f"arn:aws:sts::111111111111:assumed-role/A/{RoleSessionName}"},
                    "Credentials": {"AccessKeyId": f"key{self.calls}", "SecretAccessKey": "s", "SessionToken": "t",
                                    "Expiration": datetime.now(timezone.utc) + timedelta(minutes=5)}}

    sts = FakeSTS()
    provider = AssumedRoleProvider(sts, "arn:aws:iam::111111111111:role/A")
    creds = provider.load()
    assert sts.calls == 1 and provider.load() is creds, "one AssumeRole up front, reused by botocore"
    assert creds.get_frozen_credentials().access_key == "key2", "refreshed: it expires within botocore's window"
    assert sts.calls == 2


def test_gc_is_tuned_only_in_the_kits_own_process(aws, monkeypatch):
    """A notebook kernel's interpreter is the user's: a library scan never touches its GC.  The console script's
    process is the kit's: there collection runs less often while responses are parsed, and is restored after."""
    import gc

    from neptune_audit.aws import tuning

    seed([("g", [("g-1", False, {})])])
    seen = []
    hook = ("before-call.rds.DescribeDBInstances", lambda **_: seen.append(gc.get_threshold()))
    before = gc.get_threshold()
    neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"), connection=Connection(hooks=[hook]))
    assert seen == [before], "inside a user's process the GC is left alone"
    monkeypatch.setattr(tuning.process, "_own_process", [True])
    neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"), connection=Connection(hooks=[hook]))
    assert seen[1][0] > before[0], "fewer collections while responses are parsed, in the CLI's process"
    assert gc.get_threshold() == before
    with pytest.raises(UsageError):
        neptune_audit.scan(neptune_audit.ScanOptions(regions="xx-nowhere-9"))
    assert gc.get_threshold() == before


def test_clusters_are_listed_only_where_there_are_neptune_instances(aws):
    """Most regions of most accounts hold no Neptune: one call each, not two (half the API calls of a sweep)."""
    seed([("g", [("g-w", False, {}), ("g-r", True, {})])], region="eu-west-1")
    calls = []
    hooks = [(f"before-call.rds.{op}", lambda model, context, **_: calls.append((model.name, context["client_region"])))
             for op in ("DescribeDBInstances", "DescribeDBClusters")]
    r = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1,eu-west-1,ap-southeast-2"),
                           connection=Connection(hooks=hooks))
    assert sorted(calls) == sorted([("DescribeDBInstances", "us-east-1"), ("DescribeDBInstances", "ap-southeast-2"),
                                    ("DescribeDBInstances", "eu-west-1"), ("DescribeDBClusters", "eu-west-1")])
    assert set(r.scope["state"]) == {"scanned"}
    assert r.findings.set_index("instance_id")["is_writer"].to_dict() == {"g-w": True, "g-r": False}


def test_the_region_listing_travels_beside_the_identity_call(aws):
    # Real AWS answers both in one round trip each; sent one after the other they cost two.  The identity call
    # here waits until DescribeRegions has been sent: sequential code would wait the full timeout and fail.
    import threading

    from neptune_audit.aws.connection import Connection

    sent = threading.Event()
    seen = {}

    def regions_sent(**_):
        sent.set()

    def identity(**_):
        seen["regions_first"] = sent.wait(timeout=10)

    seed([("g", [("g-w", True, {})])])
    conn = Connection(hooks=[("before-send.ec2.DescribeRegions", regions_sent),
                             ("before-send.sts.GetCallerIdentity", identity)])
    result = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"), connection=conn)
    assert seen == {"regions_first": True} and len(result.findings) == 1


def _enabled_regions() -> list[str]:
    """The commercial partition's enabled regions the simulated account lists (moto also lists China and GovCloud)."""
    listed = boto("ec2").describe_regions(AllRegions=True)["Regions"]
    return sorted(r["RegionName"] for r in listed if r.get("OptInStatus") != "not-opted-in"
                  and not r["RegionName"].startswith(("cn-", "us-gov-", "us-iso")))


def _first_pages_wait_for(parties: int):
    """A Connection whose first DescribeDBInstances pages wait at a barrier that opens only once ``parties`` of
    them are in flight together, and the list that records a barrier that broke (a page waited for a worker)."""
    import threading

    from neptune_audit.aws.connection import Connection

    barrier = threading.Barrier(parties, timeout=10)
    broken = []

    def first_page(params, **_):
        if "Marker" not in params:
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                broken.append(1)

    return Connection(hooks=[("provide-client-params.rds.DescribeDBInstances", first_page)]), broken


def test_an_organizations_account_regions_start_together_beyond_one_accounts_cap(aws):
    """Several accounts: each account-region is its own endpoint and rate bucket, so the pool grows past one
    account's regions, up to 64.  The 3 accounts x 12 regions' first pages wait at a barrier that opens only when all
    36 are in flight."""
    from neptune_audit.simulate import estate as sim_estate

    sim_estate.seed()
    regions = _enabled_regions()[:12]
    conn, broken = _first_pages_wait_for(3 * len(regions))
    result = neptune_audit.scan(neptune_audit.ScanOptions(organization=True, regions=",".join(regions)), connection=conn)
    assert not broken, "some account-regions waited for a free worker"
    assert (result.scope["state"] == "scanned").sum() == 3 * len(regions)


def test_every_region_of_one_account_starts_at_once(aws):
    # With 20 regions, a pool of 16 left 4 regions waiting for a worker (one round trip each); the pool is now
    # sized by the region count (16-64).  Each first page waits at a barrier for all 20: it only opens if all
    # 20 are in flight together.
    regions = _enabled_regions()[:20]
    assert len(regions) > 16, regions
    conn, broken = _first_pages_wait_for(len(regions))
    result = neptune_audit.scan(neptune_audit.ScanOptions(regions=",".join(regions)), connection=conn)
    assert not broken, "some regions waited for a free worker"
    assert (result.scope["state"] == "scanned").sum() == len(regions)


def test_an_account_with_every_opt_in_region_enabled_starts_them_all_at_once(aws, monkeypatch):
    """An account that has enabled every opt-in region lists ~35 regions (38 in issue 25's fleet), more than the
    32 workers one account used to get: the last regions then waited two round trips for a free worker.  One
    worker per region (each its own endpoint and rate bucket): all first pages wait at a barrier that opens only
    when every region's is in flight."""
    # The listing comes from the installed botocore's region list (28 outside China and GovCloud at the lowest pin,
    # 1.34.0): it is made exactly ``wanted`` of the commercial partition's, padded with regions AWS may open later,
    # which moto answers when told to allow unknown regions.
    from neptune_audit.aws.regions import partition_of

    monkeypatch.setenv("MOTO_ALLOW_NONEXISTENT_REGION", "true")
    wanted, answered = 40, []

    def all_opted_in(parsed, **_):  # what DescribeRegions answers for an account that enabled them all
        regions = parsed.get("Regions", [])
        for region in regions:
            if region.get("OptInStatus") == "not-opted-in":
                region["OptInStatus"] = "opted-in"
        listed = [r["RegionName"] for r in regions if partition_of(r["RegionName"]) == "aws"][:wanted]
        padding = [f"eu-future-{n}" for n in range(1, wanted - len(listed) + 1)]
        regions[:] = [r for r in regions if partition_of(r["RegionName"]) != "aws" or r["RegionName"] in listed]
        regions += [{"RegionName": name, "Endpoint": f"ec2.{name}.amazonaws.com", "OptInStatus": "opted-in"}
                    for name in padding]
        answered[:] = sorted(listed + padding)

    conn, broken = _first_pages_wait_for(wanted)
    conn.hooks.append(("after-call.ec2.DescribeRegions", all_opted_in))
    result = neptune_audit.scan(connection=conn)
    assert not broken, "some regions waited for a free worker"
    assert len(answered) == wanted, answered
    assert sorted(result.scope.loc[result.scope["state"] == "scanned", "region"]) == answered


def test_rds_clients_are_built_while_the_region_listing_is_in_flight(aws):
    """The listing takes a round trip, in which the interpreter is idle: the rds clients of the regions to scan are
    built then, in scan order, so that no region's first page waits for one to be built after it.  Those no region
    asks for are dropped with the scan."""
    import threading
    import time

    from neptune_audit.aws.connection import Connection

    built = []

    class Recording(Connection):
        def client(self, session, service, region):
            if service == "rds":
                built.append((threading.current_thread().name, region))
            return super().client(session, service, region)

    regions = _enabled_regions()[:6]
    seed([("g", [("g-w", True, {})])], region=regions[0])
    slow_listing = ("before-send.ec2.DescribeRegions", lambda **_: time.sleep(1.0))
    result = neptune_audit.scan(neptune_audit.ScanOptions(regions=",".join(regions)), connection=Recording(hooks=[slow_listing]))
    assert (result.scope["state"] == "scanned").sum() == len(regions)
    assert sorted(built) == sorted(("neptune-audit-spares", r) for r in regions), built
    assert all(not a._spares for a in result.accounts)


@pytest.mark.parametrize("organization", [False, True], ids=["one account", "organization"])
def test_run_api_calls_counts_every_call_the_scan_made(aws, monkeypatch, organization):
    """run.api_calls against botocore's own count (every BaseClient._make_api_call of the scan): the caller's
    identity (STS), the Organization's accounts (ListAccounts) and each AssumeRole included."""
    from botocore.client import BaseClient

    if organization:
        sim_estate.seed()
    else:
        seed([("g1", [("g1-w", False, {})])])
    made: list[str] = []
    original = BaseClient._make_api_call

    def counted(self, operation_name, api_params):
        made.append(f"{self.meta.service_model.service_name}.{operation_name}")
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counted)
    result = neptune_audit.scan(neptune_audit.ScanOptions(organization=organization, regions="us-east-1,eu-west-1"))
    assert result.api_calls == len(made) == result.to_dict()["run"]["api_calls"], sorted(made)
    assert "sts.GetCallerIdentity" in made
    if organization:
        assert "organizations.ListAccounts" in made and made.count("sts.AssumeRole") == 2, "two member accounts"
