"""What the setting means for each cluster: engine releases, minor versions behind, pending maintenance.

Responses below are written from the RDS/Neptune API reference (DescribeDBEngineVersions' DBEngineVersion with
ValidUpgradeTarget; DescribePendingMaintenanceActions' ResourcePendingMaintenanceActions with dates) and answered
through botocore's before-call hook, as botocore's parser would hand them over.  Scans of the simulated account
(moto plus its Neptune extras) check the same through AWS's XML.
"""
from __future__ import annotations

import json

import pytest

import neptune_audit
from neptune_audit import vocabulary
from neptune_audit.aws.connection import Connection

from .conftest import run_cli, seed
from .faults import answer as _answer
from .faults import fail_call

ACCOUNT = "123456789012"


def _target(version: str, major: bool = False, auto: bool = False) -> dict:
    return {"Engine": "neptune", "EngineVersion": version, "Description": f"Neptune {version}",
            "AutoUpgrade": auto, "IsMajorVersionUpgrade": major}


CATALOGUE = {"DBEngineVersions": [
    {"Engine": "neptune", "EngineVersion": "1.3.2.1", "DBParameterGroupFamily": "neptune1.3",
     "ValidUpgradeTarget": [_target("1.3.3.0"), _target("1.3.3.1"), _target("1.3.4.0", auto=True),
                            _target("1.4.5.1", major=True)]},
    {"Engine": "neptune", "EngineVersion": "1.2.1.0", "DBParameterGroupFamily": "neptune1.2",
     "ValidUpgradeTarget": [_target("1.2.1.1"), _target("1.2.1.2", auto=True), _target("1.3.4.0", major=True)]},
    {"Engine": "neptune", "EngineVersion": "1.4.5.1", "DBParameterGroupFamily": "neptune1.4",
     "ValidUpgradeTarget": []},
]}


def _pending(cluster: str) -> dict:
    return {"PendingMaintenanceActions": [{
        "ResourceIdentifier": f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:{cluster}",
        "PendingMaintenanceActionDetails": [{
            "Action": "db-upgrade", "AutoAppliedAfterDate": "2026-12-06T00:00:00Z",
            "ForcedApplyDate": "2027-01-05T00:00:00.000Z", "CurrentApplyDate": "2026-12-06T00:00:00Z",
            "OptInStatus": "next-maintenance", "Description": "Upgrade to engine version 1.4.5.1"}]}]}


@pytest.fixture
def estate(aws):
    seed([("behind", [("behind-1", False, {}), ("behind-2", True, {})]),
          ("legacy", [("legacy-1", True, {})]),
          ("fresh", [("fresh-1", True, {})]),
          ("waiting", [("waiting-1", True, {})])],
         engine_versions={"behind": "1.3.2.1", "legacy": "1.2.1.0", "fresh": "1.4.5.1", "waiting": "1.4.5.1"})


def _scan(*hooks):
    return neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"), connection=Connection(hooks=list(hooks)))


def test_every_exposure_state_from_recorded_answers(estate):
    r = _scan(_answer("DescribeDBEngineVersions", CATALOGUE), _answer("DescribePendingMaintenanceActions",
                                                                      _pending("waiting")))
    c = r.clusters.set_index("cluster_id")
    assert dict(c["exposure"]) == {"behind": "behind", "legacy": "not-covered", "fresh": "current",
                                   "waiting": "behind"}
    # 1.3.3.0, 1.3.3.1 and 1.3.4.0 above 1.3.2.1 are two newer minor versions; the major target does not count.
    assert c.loc["behind", "minor_versions_behind"] == 2 and c.loc["behind", "latest_minor_version"] == "1.3.4.0"
    # Before 1.3.0.0: distinct newer non-major versions; the setting cannot act on it.
    assert c.loc["legacy", "minor_versions_behind"] == 2 and c.loc["legacy", "amvu_effective"] is False
    assert not c.loc["legacy", "gets_minor_upgrades"] and "older than 1.3.0.0" in c.loc["legacy", "reason"]
    assert c.loc["fresh", "latest_minor_version"] == "1.4.5.1" and c.loc["fresh", "minor_versions_behind"] == 0
    assert c.loc["waiting", "pending_maintenance"] == [{
        "action": "db-upgrade", "description": "Upgrade to engine version 1.4.5.1",
        "auto_applied_after": "2026-12-06T00:00:00Z", "forced_apply_date": "2027-01-05T00:00:00Z",
        "current_apply_date": "2026-12-06T00:00:00Z", "opt_in_status": "next-maintenance"}]
    f = r.findings.set_index("instance_id")
    assert f.loc["waiting-1", "pending_maintenance"][0]["action"] == "db-upgrade", "the cluster's update is the instance's"
    assert f.loc["fresh-1", "pending_maintenance"] == []
    # The verdict is the flag; the reason tells the truth about what it does.
    assert f.loc["legacy-1", "result"] == "PASS" and "no effect" in f.loc["legacy-1", "reason"]
    assert "older than 1.3.0.0" in f.loc["legacy-1", "reason"]
    assert f.loc["behind-1", "result"] == "FAIL" and "2 minor versions behind" in f.loc["behind-1", "reason"]
    assert "to the whole cluster in the cluster's maintenance window" in f.loc["fresh-1", "reason"]
    assert c.loc["behind", "auto_upgrade_target"] == "1.3.4.0", "the AutoUpgrade target of the recorded answer"
    vocabulary.validate(r.to_dict())


def test_refused_exposure_calls_lose_no_finding(estate):
    """An older audit policy (three actions) refuses both new calls: every finding stays, exposure is unknown."""
    full = _scan()
    r = _scan(fail_call("rds", "DescribeDBEngineVersions", "AccessDenied", "not authorized", status=403),
              fail_call("rds", "DescribePendingMaintenanceActions", "AccessDenied", "not authorized", status=403))
    assert list(r.findings["instance_id"]) == list(full.findings["instance_id"])
    assert list(r.findings["result"]) == list(full.findings["result"])
    c = r.clusters.set_index("cluster_id")
    assert c.loc["legacy", "exposure"] == "not-covered", "known from the version alone"
    assert {c.loc[k, "exposure"] for k in ("behind", "fresh", "waiting")} == {"unknown"}
    assert r.findings["latest_minor_version"].isna().all() and r.findings["pending_maintenance"].isna().all()
    scope = r.scope.iloc[0]
    assert scope["state"] == "scanned" and len(scope["warnings"]) == 2
    assert any("DescribeDBEngineVersions" in w and "AccessDenied" in w for w in scope["warnings"])
    assert r.exit_code == full.exit_code


def test_absent_setting_is_never_reported_as_off(aws):
    seed([("c", [("w", True, {})])])
    import boto3

    real = boto3.client("rds", region_name="us-east-1").describe_db_instances()["DBInstances"]
    for db in real:
        del db["AutoMinorVersionUpgrade"]  # optional in the API: a response may leave it out
    r = _scan(_answer("DescribeDBInstances", {"DBInstances": real}))
    f = r.findings.iloc[0]
    assert f["auto_minor_version_upgrade"] is None and f["result"] == "FAIL"
    assert "did not report" in f["reason"]
    doc = r.to_dict()
    assert doc["findings"][0]["auto_minor_version_upgrade"] is None


def test_a_writer_not_returned_makes_its_cluster_and_region_incomplete(aws):
    seed([("c", [("w", True, {}), ("r", True, {})])])
    import boto3

    real = boto3.client("rds", region_name="us-east-1").describe_db_instances()["DBInstances"]
    readers_only = [db for db in real if db["DBInstanceIdentifier"] == "r"]  # the writer vanished mid-scan
    r = _scan(_answer("DescribeDBInstances", {"DBInstances": readers_only}))
    c = r.clusters.iloc[0]
    assert c["writer_instance_id"] == "w" and not c["gets_minor_upgrades"] and c["result"] == "FAIL"
    assert "not returned" in c["reason"] and c["exposure"] == "unknown"
    assert r.scope.iloc[0]["state"] == "error" and "writer w" in r.scope.iloc[0]["error"]
    assert list(r.findings["instance_id"]) == ["r"], "what was seen is still reported"
    assert r.exit_code == 3, "no FAIL among instances, but never a pass"


def test_demo_json_shows_every_exposure_state(moto_server):
    proc = run_cli(["scan", "--demo", "--format", "json"], moto_server.env())
    doc = json.loads(proc.stdout)
    vocabulary.validate(doc)
    assert {c["exposure"] for c in doc["clusters"]} == {"current", "behind", "not-covered", "unknown"}
    unknown = [c for c in doc["clusters"] if c["exposure"] == "unknown"]
    assert all(c["latest_minor_version"] is None and c["engine_version"] == "1.4.99.0" for c in unknown), \
        "a version the catalogue does not list is unknown, never current"
    assert any(c["pending_maintenance"] for c in doc["clusters"])
    assert any(f["amvu_effective"] is False for f in doc["findings"])


def test_the_catalogue_is_asked_once_per_region_not_per_account(aws):
    from neptune_audit.simulate import estate as sim_estate

    manifest = sim_estate.seed()
    asked = []
    r = neptune_audit.scan(neptune_audit.ScanOptions(organization=True, regions="us-east-1,eu-west-1,ap-southeast-2"),
                           connection=Connection(
        hooks=[("before-call.rds.DescribeDBEngineVersions", lambda context, **_: asked.append(context["client_region"]))]))
    with_instances = {(m["account_id"], m["region"]) for m in manifest.instances}
    assert len(with_instances) > len({region for _, region in with_instances}), "some region has several accounts"
    assert sorted(asked) == sorted({region for _, region in with_instances})
    assert set(r.clusters["exposure"]) <= {"current", "behind", "not-covered", "unknown"}
