"""`--format ocsf` validated against the OCSF 1.5 schema (tests/ocsf-schema-1.5.0, the official files trimmed)
with the cloud and datetime profiles: py-ocsf-models alone accepted events the schema refuses."""
from __future__ import annotations

import copy
import json

import pytest

import neptune_audit
from neptune_audit.contract import export
from tests.conftest import seed
from tests.ocsf_schema import Schema

SCHEMA = Schema()


@pytest.fixture(scope="module")
def events(aws_module):
    seed([("held", [("held-w", False, {"env": "prod"}), ("held-r", True, {})])])
    seed([("eu", [("eu-w", True, {})])], region="eu-west-1", account_id="123456789012")
    result = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1,eu-west-1"))
    return result, export.ocsf_findings(result)


def test_every_event_is_a_valid_compliance_finding_with_the_cloud_profile(events):
    result, docs = events
    assert len(docs) == len(result.findings) == 3
    for doc in docs:
        assert SCHEMA.validate_event(doc, "compliance_finding") == [], doc["finding_info"]["uid"]
        assert {"cloud", "datetime"} <= set(doc["metadata"]["profiles"])
        assert doc["cloud"]["account"]["uid"] == "123456789012"
        assert doc["cloud"]["region"] == doc["resources"][0]["region"]
        assert doc["time"] == int(result.generated_at.timestamp()) * 1000, "milliseconds"
        assert doc["class_name"] == "Compliance Finding" and doc["class_uid"] == 2003
        assert doc["compliance"]["status"] in {"Pass", "Fail", "Warning"} and doc["compliance"]["checks"]
        assert doc["compliance"]["standards"] == ["APRA", "MAS", "NIST4"]
    by_instance = {d["resources"][0]["name"]: d for d in docs}
    assert by_instance["held-w"]["compliance"]["status"] == "Fail"
    assert by_instance["eu-w"]["compliance"]["status"] == "Pass"


def test_event_uids_are_new_each_run_and_finding_uids_are_stable(events):
    result, first = events
    second = export.ocsf_findings(result)
    assert {d["finding_info"]["uid"] for d in first} == {d["finding_info"]["uid"] for d in second}
    assert not {d["metadata"]["uid"] for d in first} & {d["metadata"]["uid"] for d in second}
    assert len({d["metadata"]["uid"] for d in first}) == len(first)


@pytest.mark.parametrize("break_it, complaint", [
    (lambda d: d.pop("cloud"), "required by the cloud profile"),
    (lambda d: d.update(time=d["time"] // 1000), "not milliseconds"),
    (lambda d: d.update(class_name="ComplianceFinding"), "class_name"),
    (lambda d: d["metadata"].update(profiles=[]), "not in metadata.profiles"),
    (lambda d: d["compliance"].update(status_id=7), "not one of"),
    (lambda d: d.update(colour="red"), "not an attribute"),
    (lambda d: d["cloud"].pop("provider"), "cloud.provider: required"),
])
def test_the_validator_catches_what_was_wrong_before(events, break_it, complaint):
    doc = copy.deepcopy(events[1][0])
    break_it(doc)
    assert any(complaint in e for e in SCHEMA.validate_event(doc, "compliance_finding")), complaint


def test_the_trimmed_schema_is_the_released_1_5_0():
    assert json.loads((SCHEMA.root / "version.json").read_text())["version"] in {"1.5.0", "1.6.0-dev"}
    assert "78bf68a24b38c0d6441ddd13b9028c1b1eb53f07" in (SCHEMA.root / "README.md").read_text()
