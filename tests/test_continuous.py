"""Continuous assurance: the Lambda handler on CloudTrail's RDS events, in-process against moto.

The events are shaped as EventBridge delivers CloudTrail records of RDS calls (Neptune's calls are logged as RDS
API calls: Neptune user guide, "Logging Amazon Neptune API Calls with AWS CloudTrail"): ``detail`` holds the record,
camelCase ``requestParameters`` and ``responseElements``, ``userIdentity``, ``errorCode`` for a call that failed.
moto does not emit these events; the tests build them as AWS's examples show them and call the handler, which
always describes what is rather than trusting what the event says."""
from __future__ import annotations

import json

import pytest
import yaml

from neptune_audit import api
from neptune_audit.contract.asff import asff_findings
from neptune_audit.errors import InputError
from neptune_audit.continuous import config, events, handler, template

from .conftest import boto, seed

ACCOUNT = "123456789012"
ALICE = {"type": "AssumedRole", "principalId": "AROAEXAMPLE:alice", "accountId": ACCOUNT,
         "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice"}


def cloudtrail(name: str, request: dict, response: dict | None = None, error: str | None = None,
               region: str = "us-east-1") -> dict:
    detail = {"eventVersion": "1.09", "userIdentity": ALICE, "eventTime": "2026-12-07T10:00:00Z",
              "eventSource": "rds.amazonaws.com", "eventName": name, "awsRegion": region,
              "sourceIPAddress": "192.0.2.10", "userAgent": "aws-cli/2.15.0", "requestParameters": request,
              "responseElements": response, "requestID": "7f0b8f8e-0000-4000-8000-000000000000",
              "eventID": "0a0b0c0d-0000-4000-8000-000000000000", "readOnly": False, "eventType": "AwsApiCall",
              "managementEvent": True, "recipientAccountId": ACCOUNT, "eventCategory": "Management"}
    if error:
        detail.update(errorCode=error, errorMessage="denied", responseElements=None)
    return {"version": "0", "id": "5b1c2d3e-0000-4000-8000-000000000000", "detail-type": events.DETAIL_TYPE,
            "source": "aws.rds", "account": ACCOUNT, "time": "2026-12-07T10:00:05Z", "region": region,
            "resources": [], "detail": detail}


SCHEDULE = {"version": "0", "id": "x", "detail-type": events.SCHEDULED, "source": "aws.events", "account": ACCOUNT,
            "time": "2026-12-07T00:00:00Z", "region": "us-east-1", "resources": []}


def _active(region="us-east-1") -> dict[str, list[dict]]:
    by_resource: dict[str, list[dict]] = {}
    for page in boto("securityhub", region).get_paginator("get_findings").paginate():
        for f in page["Findings"]:
            if f.get("RecordState", "ACTIVE") == "ACTIVE":
                by_resource.setdefault(f["Resources"][0]["Id"], []).append(f)
    return by_resource


def _arn(instance, region="us-east-1"):
    return f"arn:aws:rds:{region}:{ACCOUNT}:db:{instance}"


@pytest.fixture
def estate(aws):
    seed([("graph", [("graph-w", True, {}), ("graph-r", True, {})]),
          ("legacy", [("legacy-w", False, {"aws:cloudformation:stack-name": "legacy",
                                           "aws:cloudformation:logical-id": "Writer"})])])
    boto("rds").create_db_instance(DBInstanceIdentifier="mysql-1", Engine="mysql", DBInstanceClass="db.t3.micro",
                                   MasterUsername="admin", MasterUserPassword="password123", AllocatedStorage=20)
    return boto("rds")


def test_a_modify_that_turns_it_off_is_found_with_who_and_the_same_finding_as_a_scan(estate, capsys):
    estate.modify_db_instance(DBInstanceIdentifier="graph-r", AutoMinorVersionUpgrade=False, ApplyImmediately=True)
    out = handler.handler(cloudtrail("ModifyDBInstance",
                                     {"dBInstanceIdentifier": "graph-r", "autoMinorVersionUpgrade": False,
                                      "applyImmediately": True},
                                     {"dBInstanceIdentifier": "graph-r", "engine": "neptune"}))
    [decided] = [d for d in out["findings"] if d["instance_id"] == "graph-r"]
    assert decided["result"] == "FAIL" and decided["who"] == ALICE["arn"]
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    judged = [x for x in lines if x.get("decision") == "judged" and x["instance_id"] == "graph-r"]
    assert judged and judged[0]["event"] == "ModifyDBInstance" and judged[0]["who"].endswith("/alice")
    # the finding Security Hub holds is the one `scan --security-hub` would send: same Id, same verdict
    held = _active()[_arn("graph-r")]
    batch = api.scan(api.ScanOptions(regions=["us-east-1"]))
    [same] = [f for f in asff_findings(batch) if f["Resources"][0]["Id"] == _arn("graph-r")]
    assert [h["Id"] for h in held] == [same["Id"]] and held[0]["Compliance"]["Status"] == "FAILED"


def test_a_failed_call_and_another_engine_are_skipped_without_a_scan(estate, capsys):
    failed = handler.handler(cloudtrail("ModifyDBInstance", {"dBInstanceIdentifier": "graph-w"},
                                        error="AccessDenied"))
    other = handler.handler(cloudtrail("ModifyDBInstance", {"dBInstanceIdentifier": "mysql-1",
                                                            "autoMinorVersionUpgrade": False}))
    assert failed["decision"] == other["decision"] == "skipped"
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["why"] for x in lines] == ["the call failed (AccessDenied)", "not Neptune"]
    assert _active() == {}, "nothing sent"


@pytest.mark.parametrize("event", [
    cloudtrail("CreateDBInstance", {"dBInstanceIdentifier": "graph-r", "dBClusterIdentifier": "graph",
                                    "engine": "neptune", "dBInstanceClass": "db.r6g.large"},
               {"dBInstanceIdentifier": "graph-r", "engine": "neptune"}),
    cloudtrail("ModifyDBCluster", {"dBClusterIdentifier": "graph", "engineVersion": "1.4.1.0"}),
    cloudtrail("FailoverDBCluster", {"dBClusterIdentifier": "graph", "targetDBInstanceIdentifier": "graph-r"}),
    cloudtrail("AddTagsToResource", {"resourceName": _arn("graph-r"), "tags": [{"key": "team", "value": "g"}]}),
    SCHEDULE,
], ids=["create", "modify-cluster", "failover", "tags", "schedule"])
def test_each_event_kind_judges_the_instances_it_touches(estate, event):
    out = handler.handler(event)
    touched = {d["instance_id"] for d in out["findings"]}
    want = {"graph-w", "graph-r", "legacy-w"} if event is SCHEDULE else \
        {"graph-r"} if event["detail"]["eventName"] == "AddTagsToResource" else \
        {"graph-w", "graph-r"}  # a cluster named: each of its members (a new member can change who decides)
    assert touched == want
    assert set(_active()) == {_arn(i) for i in want}, "what it touched is sent (the schedule sends the region)"


def test_a_deletion_archives_its_finding_at_once(estate):
    handler.handler(SCHEDULE)
    assert _arn("graph-r") in _active()
    # AWS answers DeleteDBInstance at once and shows the instance as "deleting" for minutes (moto removes it)
    estate.delete_db_instance(DBInstanceIdentifier="graph-r", SkipFinalSnapshot=True)
    handler.handler(cloudtrail("DeleteDBInstance", {"dBInstanceIdentifier": "graph-r", "skipFinalSnapshot": True},
                               {"dBInstanceIdentifier": "graph-r", "engine": "neptune",
                                "dBInstanceStatus": "deleting"}))
    assert _arn("graph-r") not in _active() and _arn("graph-w") in _active()


def test_batch_then_event_then_batch_keep_one_active_finding_per_instance(estate):
    api.send_to_security_hub(api.scan(api.ScanOptions(regions=["us-east-1"])))
    created = {arn: fs[0]["CreatedAt"] for arn, fs in _active().items()}
    estate.modify_db_instance(DBInstanceIdentifier="graph-w", AutoMinorVersionUpgrade=False, ApplyImmediately=True)
    handler.handler(cloudtrail("ModifyDBInstance", {"dBInstanceIdentifier": "graph-w",
                                                    "autoMinorVersionUpgrade": False}))
    handler.handler(cloudtrail("ModifyDBInstance", {"dBInstanceIdentifier": "graph-w",
                                                    "autoMinorVersionUpgrade": False}))  # redelivered
    api.send_to_security_hub(api.scan(api.ScanOptions(regions=["us-east-1"])))
    active = _active()
    assert {arn: len(fs) for arn, fs in active.items()} == {arn: 1 for arn in created}
    assert {arn: fs[0]["CreatedAt"] for arn, fs in active.items()} == created, "first seen is kept"
    assert active[_arn("graph-w")][0]["Compliance"]["Status"] == "FAILED"


def test_auto_remediation_turns_it_back_on_only_where_no_code_owns_the_instance(estate, monkeypatch, capsys):
    monkeypatch.setenv(config.ENV_AUTO_REMEDIATE, "true")
    estate.modify_db_instance(DBInstanceIdentifier="graph-r", AutoMinorVersionUpgrade=False, ApplyImmediately=True)
    out = handler.handler(cloudtrail("ModifyDBInstance", {"dBInstanceIdentifier": "graph-r"}))
    owned = handler.handler(cloudtrail("ModifyDBInstance", {"dBInstanceIdentifier": "legacy-w"}))
    settings = {d["DBInstanceIdentifier"]: d["AutoMinorVersionUpgrade"]
                for d in estate.describe_db_instances()["DBInstances"]}
    assert settings["graph-r"] is True and settings["legacy-w"] is False, "CloudFormation's instance left alone"
    assert [d["remediated"] for d in out["findings"]] == [True]
    assert [d["result"] for d in out["findings"]] == ["PASS"], "the finding says what is after the change"
    assert [d["result"] for d in owned["findings"]] == ["FAIL"]
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert any(x["decision"] == "remediated" and x["instance_id"] == "graph-r" and x["who"].endswith("/alice")
               for x in lines)
    assert any(x["decision"] == "not remediated" and x["instance_id"] == "legacy-w" for x in lines)


def test_exceptions_come_from_the_ssm_parameter_the_template_names(estate, monkeypatch):
    boto("ssm").put_parameter(Name="/neptune-audit/exceptions", Type="String", Value=yaml.safe_dump(
        {"exceptions": [{"instance": "legacy-w", "reason": "retired in Q1", "expires": "2099-01-01"}]}))
    monkeypatch.setenv(config.ENV_EXCEPTIONS, "ssm:/neptune-audit/exceptions")
    out = handler.handler(cloudtrail("ModifyDBInstance", {"dBInstanceIdentifier": "legacy-w"}))
    assert [d["result"] for d in out["findings"]] == ["EXCEPTED"]


def test_every_call_the_handler_makes_is_granted_by_the_template(estate, monkeypatch):
    """The role's policy comes from the permission registry; a call the handler makes that it does not grant fails
    here (the calls are recorded below botocore's client, the IAM action taken from the registry)."""
    import botocore.client

    from neptune_audit.aws import permissions

    made = set()
    real = botocore.client.BaseClient._make_api_call

    def record(self, operation, params):
        made.add(f"{self.meta.service_model.endpoint_prefix}.{operation}")
        return real(self, operation, params)

    boto("ssm").put_parameter(Name="/x", Type="String", Value="exceptions: []\n")
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    monkeypatch.setenv(config.ENV_EXCEPTIONS, "ssm:/x")
    monkeypatch.setenv(config.ENV_AUTO_REMEDIATE, "true")
    estate.modify_db_instance(DBInstanceIdentifier="graph-r", AutoMinorVersionUpgrade=False, ApplyImmediately=True)
    for event in (SCHEDULE, cloudtrail("ModifyDBInstance", {"dBInstanceIdentifier": "graph-r"})):
        handler.handler(event)
    declared = api.declared_needs()
    granted = {a for st in template.template(auto_remediate=True)["Resources"]["Role"]["Properties"]["Policies"][0][
        "PolicyDocument"]["Statement"] for a in _actions(st)}
    for call in sorted(made):
        if call == "sts.GetCallerIdentity":
            continue  # no IAM action (AWS: any principal may call it)
        assert permissions.covers(declared, *call.split(".")), f"{call} is declared nowhere"
        action = next(n.calls[call] for n in declared if call in n.calls)
        assert action in granted, f"{call} ({action}) is not granted by the template"
    assert all("*" not in a for a in granted), "no wildcard actions"


def _actions(statement) -> list[str]:
    if "Fn::If" in statement:
        statement = statement["Fn::If"][1]
    return statement["Action"]


def test_the_template_passes_cfn_lint_and_every_variant_is_well_formed(tmp_path):
    from cfnlint.api import lint_all

    for kw in ({}, {"organization": True}, {"auto_remediate": True,
                                             "sns_topic": f"arn:aws:sns:us-east-1:{ACCOUNT}:neptune"}):
        text = template.dump(template.template(**kw))
        matches = lint_all(text)
        assert not [m for m in matches if m.rule.id.startswith("E")], [str(m) for m in matches]
        assert not [m for m in matches if m.rule.id.startswith("W")], [str(m) for m in matches]
        doc = yaml.safe_load(text)
        rule = doc["Resources"]["ChangeRule"]["Properties"]["EventPattern"]
        assert rule["source"] == ["aws.rds"] and "ModifyDBInstance" in rule["detail"]["eventName"]
        assert doc["Resources"]["Function"]["Properties"]["Runtime"] == "python3.12"
        assert doc["Resources"]["LogGroup"]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_the_template_creates_in_moto_cloudformation(aws):
    """moto's CloudFormation creates the queue, the log group, the role and the rules (it knows those types)."""
    boto("s3").create_bucket(Bucket="code")
    boto("s3").put_object(Bucket="code", Key="neptune-audit/function.zip", Body=b"PK\x05\x06" + b"\0" * 18)
    cfn = boto("cloudformation")
    cfn.create_stack(StackName="neptune-audit-continuous", TemplateBody=template.dump(template.template()),
                     Parameters=[{"ParameterKey": "CodeBucket", "ParameterValue": "code"}],
                     Capabilities=["CAPABILITY_IAM"])
    stack = cfn.describe_stacks(StackName="neptune-audit-continuous")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    types = {r["ResourceType"] for r in cfn.list_stack_resources(StackName="neptune-audit-continuous")[
        "StackResourceSummaries"]}
    assert {"AWS::SQS::Queue", "AWS::IAM::Role", "AWS::Events::Rule", "AWS::Logs::LogGroup"} <= types


def test_cli_template_writes_yaml_and_refuses_bad_input(tmp_path, capsys):
    from neptune_audit import cli

    assert cli.main(["continuous", "template", "--organization", "-o", str(tmp_path / "stack.yaml")]) == 0
    doc = yaml.safe_load((tmp_path / "stack.yaml").read_text())
    assert "CodeBucketPrefix" in doc["Parameters"] and "StackSet" in doc["Description"]
    assert cli.main(["continuous", "template", "--sns-topic", "not-an-arn"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not an SNS topic ARN" in err


def test_a_broken_exceptions_file_is_one_error_line_naming_where_it_came_from(estate, monkeypatch, capsys):
    """The event is not lost: the function fails, so Lambda retries it and then keeps it in the dead-letter queue."""
    boto("ssm").put_parameter(Name="/bad", Type="String", Value="exceptions: [{instance: x}]\n")
    monkeypatch.setenv(config.ENV_EXCEPTIONS, "ssm:/bad")
    with pytest.raises(InputError):
        handler.handler(cloudtrail("ModifyDBInstance", {"dBInstanceIdentifier": "graph-w"}))
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert line["decision"] == "error" and "ssm:/bad" in line["why"] and "/tmp/" not in line["why"]
    assert _active() == {}


def test_auto_remediation_leaves_the_outage_case_to_a_person(estate, monkeypatch, capsys):
    """AWS: turning the setting on while the maintenance window is open, with a newer minor version that Neptune
    auto-patches to, starts that upgrade at once (ModifyDBInstance API reference): the function does not."""
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    start, end = now - timedelta(minutes=10), now + timedelta(minutes=50)
    window = f"{days[start.weekday()]}:{start:%H:%M}-{days[end.weekday()]}:{end:%H:%M}"
    estate.modify_db_cluster(DBClusterIdentifier="graph", PreferredMaintenanceWindow=window, ApplyImmediately=True)
    estate.modify_db_instance(DBInstanceIdentifier="graph-w", AutoMinorVersionUpgrade=False, ApplyImmediately=True)
    monkeypatch.setenv(config.ENV_AUTO_REMEDIATE, "true")
    out = handler.handler(cloudtrail("ModifyDBInstance", {"dBInstanceIdentifier": "graph-w"}))
    assert [(d["instance_id"], d["result"], d["remediated"]) for d in out["findings"]
            if d["instance_id"] == "graph-w"] == [("graph-w", "FAIL", False)]
    assert estate.describe_db_instances(DBInstanceIdentifier="graph-w")["DBInstances"][0][
        "AutoMinorVersionUpgrade"] is False
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    [held] = [x for x in lines if x["decision"] == "not remediated"]
    assert "maintenance window" in held["why"] and "restarts" in held["why"]


def test_deploy_uploads_the_package_and_creates_then_updates_the_stack(aws, tmp_path, capsys):
    """`continuous deploy` against moto's S3 and CloudFormation: the package lands under the bucket, the stack is
    created, a second deploy updates it; the one-line outcome is on stderr."""
    from neptune_audit import cli

    package = tmp_path / "function.zip"
    package.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    boto("s3").create_bucket(Bucket="code-us-east-1")
    args = ["continuous", "deploy", "--bucket", "code-us-east-1", "--package", str(package), "--region", "us-east-1"]
    assert cli.main(args) == 0
    assert "stack neptune-audit-continuous created in us-east-1" in capsys.readouterr().err
    assert boto("s3").head_object(Bucket="code-us-east-1", Key="neptune-audit/function.zip")["ContentLength"] == 22
    stack = boto("cloudformation").describe_stacks(StackName="neptune-audit-continuous")["Stacks"][0]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["CodeBucket"] == "code-us-east-1"
    assert cli.main([*args, "--auto-remediate"]) == 0
    assert "updated" in capsys.readouterr().err
    assert cli.main([*args[:-4], "--package", str(tmp_path / "missing.zip"), "--region", "us-east-1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such file" in err
