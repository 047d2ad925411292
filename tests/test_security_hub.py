"""AWS Security Hub: `--format asff` checked against AWS's own API model, and `scan --security-hub` against
moto's Security Hub (BatchImportFindings, GetFindings).  moto does not apply GetFindings filters and does not
check that the caller's account is the finding's AwsAccountId; real Security Hub does both (API reference,
BatchImportFindings), which is why the kit imports each account's findings with that account's credentials
and filters what GetFindings returns again itself."""
from __future__ import annotations

import json

import botocore.session
import pytest
from botocore.validate import ParamValidator

import neptune_audit
from neptune_audit import api
from neptune_audit.contract import asff
from tests.conftest import boto, seed

REQUIRED = {"AwsAccountId", "CreatedAt", "Description", "GeneratorId", "Id", "ProductArn", "Resources",
            "SchemaVersion", "Severity", "Title", "Types", "UpdatedAt"}


def _input_shape():
    model = botocore.session.get_session().get_service_model("securityhub")
    return model.operation_model("BatchImportFindings").input_shape


def _hub(region="us-east-1"):
    return boto("securityhub", region)


def _all_findings(region="us-east-1"):
    return [f for page in _hub(region).get_paginator("get_findings").paginate() for f in page["Findings"]]


@pytest.fixture
def estate(aws):
    seed([("held", [("held-w", False, {"team": "graph"}), ("held-r", True, {})]),
          ("good", [("good-w", True, {})])])
    seed([("eu", [("eu-w", False, {})])], region="eu-west-1")


def test_every_asff_finding_is_valid_input_to_batch_import_findings(estate):
    result = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1,eu-west-1"))
    findings = asff.asff_findings(result)
    assert len(findings) == len(result.findings) == 4
    report = ParamValidator().validate({"Findings": findings}, _input_shape())
    assert not report.has_errors(), report.generate_report()
    by_instance = {f["Resources"][0]["Details"]["AwsRdsDbInstance"]["DBInstanceIdentifier"]: f for f in findings}
    held = by_instance["held-w"]
    assert REQUIRED <= set(held)
    assert held["Compliance"]["Status"] == "FAILED" and by_instance["good-w"]["Compliance"]["Status"] == "PASSED"
    assert held["Severity"]["Label"] == "MEDIUM" and held["Resources"][0]["Type"] == "AwsRdsDbInstance"
    assert held["ProductArn"] == "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default"
    assert by_instance["eu-w"]["ProductArn"].split(":")[3] == "eu-west-1", "each in its own region by default"
    assert {"APRA", "MAS", "NIST4"} <= set(held["Compliance"]["RelatedRequirements"])
    assert held["Resources"][0]["Tags"] == {"team": "graph"}
    assert held["Resources"][0]["Details"]["AwsRdsDbInstance"]["AutoMinorVersionUpgrade"] is False
    assert held["Remediation"]["Recommendation"]["Text"] and len(held["Title"]) <= 256
    again = asff.asff_findings(neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1,eu-west-1")))
    assert sorted(f["Id"] for f in again) == sorted(f["Id"] for f in findings), "the Id is stable per instance"


def test_an_excepted_instance_is_a_warning_with_its_reason(estate, tmp_path):
    allow = tmp_path / "exceptions.yml"
    allow.write_text("exceptions:\n  - instance: held-w\n    account: '123456789012'\n"
                     "    reason: vendor pins the engine\n    approved_by: sec@example.com\n    expires: 2099-01-01\n")
    result = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1", exceptions_file=str(allow)))
    f = next(x for x in asff.asff_findings(result) if x["Id"].endswith(":db:held-w"))
    assert f["Compliance"]["Status"] == "WARNING"
    assert "vendor pins the engine" in f["Compliance"]["StatusReasons"][0]["Description"]
    assert "vendor pins the engine" in f["ProductFields"]["neptune-audit/Reason"]


def test_a_second_run_updates_instead_of_duplicating_and_gone_instances_are_archived(estate):
    first = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1,eu-west-1"))
    sent = neptune_audit.send_to_security_hub(first)
    assert (sent.imported, sent.archived, sent.failed) == (4, 0, [])
    assert len(_all_findings()) == 3 and len(_all_findings("eu-west-1")) == 1
    second = neptune_audit.send_to_security_hub(neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1,eu-west-1")))
    assert (second.imported, second.archived) == (4, 0)
    assert len(_all_findings()) == 3, "same Ids: updated, not added"
    boto("rds").delete_db_instance(DBInstanceIdentifier="good-w", SkipFinalSnapshot=True)
    third = neptune_audit.send_to_security_hub(neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1,eu-west-1")))
    assert (third.imported, third.archived) == (3, 1)
    states = {f["Resources"][0]["Id"].rsplit(":", 1)[1]: f["RecordState"] for f in _all_findings()}
    assert states == {"held-w": "ACTIVE", "held-r": "ACTIVE", "good-w": "ARCHIVED"}


def test_a_region_not_scanned_keeps_its_findings(estate):
    neptune_audit.send_to_security_hub(neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1,eu-west-1")))
    # eu-west-1 not scanned this time: its finding is not "gone", it is unknown, so it stays active
    report = neptune_audit.send_to_security_hub(neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1")))
    assert report.archived == 0
    assert [f["RecordState"] for f in _all_findings("eu-west-1")] == ["ACTIVE"]


def test_one_aggregation_region_takes_every_finding(estate):
    report = neptune_audit.send_to_security_hub(neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1,eu-west-1")),
                                                region="eu-west-1")
    assert report.imported == 4
    there = _all_findings("eu-west-1")
    assert len(there) == 4 and {f["Resources"][0]["Region"] for f in there} == {"us-east-1", "eu-west-1"}
    assert all(":eu-west-1:" in f["ProductArn"] for f in there)


def _active_copies():
    """instance -> [(hub region, CreatedAt)] of every ACTIVE finding in either region's hub."""
    out = {}
    for hub in ("us-east-1", "eu-west-1"):
        for f in _all_findings(hub):
            if f["RecordState"] == "ACTIVE":
                out.setdefault(f["Resources"][0]["Id"].rsplit(":", 1)[1], []).append((hub, f["CreatedAt"]))
    return out


def _run(day, region=None):
    import dataclasses
    from datetime import datetime, timezone

    result = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1,eu-west-1"))
    result = dataclasses.replace(result, generated_at=datetime(2026, 12, day, 9, 0, tzinfo=timezone.utc))
    sent = neptune_audit.send_to_security_hub(result, region=region)
    assert sent.failed == []
    return sent


def test_a_mode_switch_and_reruns_leave_one_active_finding_per_instance(estate):
    """Each finding lives in one place, whatever mode the last run used: a switch to an aggregation region archives
    the per-region copies, a switch back archives the aggregated ones (real Security Hub indexes a finding by
    ProductArn + Id, and the ProductArn names the region it was imported into)."""
    _run(1)
    first = _active_copies()
    assert first == {"held-w": [("us-east-1", "2026-12-01T09:00:00.000Z")],
                     "held-r": [("us-east-1", "2026-12-01T09:00:00.000Z")],
                     "good-w": [("us-east-1", "2026-12-01T09:00:00.000Z")],
                     "eu-w": [("eu-west-1", "2026-12-01T09:00:00.000Z")]}
    aggregated = _run(2, region="eu-west-1")
    assert aggregated.archived == 3, "the us-east-1 hub's own copies"
    assert _active_copies() == {k: [("eu-west-1", "2026-12-01T09:00:00.000Z")] for k in first}, \
        "one ACTIVE copy each, now in the aggregation region, first detected on the 1st"
    back = _run(3)
    assert back.archived == 3, "the aggregated copies of us-east-1's instances"
    assert _active_copies() == first, "back where they were, CreatedAt kept"
    _run(4)
    assert _active_copies() == first, "a rerun changes nothing"


def test_passed_findings_are_informational_and_updates_keep_what_providers_may_not_change(estate):
    result = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1,eu-west-1"))
    made = {f["Resources"][0]["Id"].rsplit(":", 1)[1]: f for f in asff.asff_findings(result)}
    assert made["good-w"]["Severity"]["Label"] == "INFORMATIONAL", "ASFF: INFORMATIONAL means no issue was found"
    assert made["good-w"]["FindingProviderFields"]["Severity"]["Label"] == "INFORMATIONAL"
    assert made["held-w"]["Severity"]["Label"] == "MEDIUM"
    _run(1)
    sent = []
    client = result.accounts[0].client("securityhub", "us-east-1")
    client.meta.events.register("provide-client-params.securityhub.BatchImportFindings",
                                lambda params, **_: sent.extend(params["Findings"]))
    neptune_audit.send_to_security_hub(result)
    updates = [f for f in sent if f.get("RecordState") == "ACTIVE"]
    assert len(updates) == 3
    for f in updates:
        # BatchImportFindings: Workflow, Note, UserDefinedFields, VerificationState cannot be updated; Severity
        # and Types go through FindingProviderFields after creation
        assert not {"Workflow", "Note", "UserDefinedFields", "VerificationState", "Severity", "Types"} & set(f)
        assert f["FindingProviderFields"]["Types"] and f["CreatedAt"] == "2026-12-01T09:00:00.000Z"
    report = ParamValidator().validate({"Findings": updates}, _input_shape())
    assert not report.has_errors(), report.generate_report()


def test_refused_findings_are_scope_warnings_and_the_rest_still_go(estate):
    result = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1,eu-west-1"))
    refused_id = asff.finding_id(result.findings.set_index("instance_id").loc["held-r", "arn"])
    client = next(a for a in result.accounts).client("securityhub", "us-east-1")

    class Http:
        status_code = 200

    def partly(params, **_):
        # real Security Hub answers 200 with the refused ones in FailedFindings (API_BatchImportFindings)
        ids = [f["Id"] for f in json.loads(params["body"])["Findings"]]
        return Http(), {"FailedCount": 1, "SuccessCount": len(ids) - 1,
                        "FailedFindings": [{"Id": refused_id, "ErrorCode": "InvalidInput",
                                            "ErrorMessage": "Finding does not adhere to ASFF"}],
                        "ResponseMetadata": {"HTTPStatusCode": 200}}

    client.meta.events.register_first("before-call.securityhub.BatchImportFindings", partly)
    report = neptune_audit.send_to_security_hub(result)
    assert report.imported == 3 and len(report.failed) == 1 and report.failed[0]["id"] == refused_id
    scope = result.scope.set_index("region")
    assert any("InvalidInput" in w for w in scope.loc["us-east-1", "warnings"])
    doc = json.loads(result.write("json"))
    assert any("refused" in w for s in doc["scope"] for w in s["warnings"]), "the JSON records it"


def test_policy_grants_security_hub_only_when_asked():
    plain = json.dumps(api.policy("audit"))
    with_hub = api.policy("audit", security_hub=True)
    actions = {a for s in with_hub["Statement"] for a in s["Action"]}
    assert "securityhub" not in plain
    assert {"securityhub:BatchImportFindings", "securityhub:GetFindings"} <= actions
