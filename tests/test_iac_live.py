"""Live <-> code: each live instance linked to the code that defines it, and remediation that fixes the code first.

The simulated Organization has a CloudFormation-managed cluster (orders-graph: its instances carry the
aws:cloudformation:* tags CloudFormation puts on what it creates) and a Terraform-managed one (events-graph:
Terraform tags nothing, so it is linked by the identifier its HCL writes), with their code in examples/iac.
moto has no DetectStackResourceDrift: it is answered below in the API reference's shape (StackResourceDrift).
"""
from __future__ import annotations

import html as html_lib

from neptune_audit.present.terminal import to_table

import shutil
import subprocess
from pathlib import Path

import pytest

import neptune_audit
from neptune_audit.act import remediate
from neptune_audit.aws.connection import Connection
from neptune_audit.errors import UsageError
from neptune_audit.simulate import estate as sim_estate

from .conftest import ROOT
from .faults import answer

CODE = ROOT / "examples" / "iac"
DRIFT = {"StackResourceDrift": {
    "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/graph-stack/6a7b8c90",
    "LogicalResourceId": "OrdersGraphWriter", "PhysicalResourceId": "orders-graph-1",
    "ResourceType": "AWS::Neptune::DBInstance", "StackResourceDriftStatus": "MODIFIED",
    "PropertyDifferences": [{"PropertyPath": "/AutoMinorVersionUpgrade", "ExpectedValue": "false",
                             "ActualValue": "true", "DifferenceType": "NOT_EQUAL"}],
    "Timestamp": "2026-12-07T10:00:00Z"}}


@pytest.fixture
def demo(aws, tmp_path, monkeypatch):
    sim_estate.seed()
    shutil.copytree(CODE, tmp_path / "iac")
    monkeypatch.chdir(tmp_path)
    return Path("iac")


def _scan(code, hooks=()):
    return neptune_audit.scan(neptune_audit.ScanOptions(organization=True, regions="us-east-1,eu-west-1", iac_paths=[code]),
                              connection=Connection(hooks=list(hooks)))


def test_each_live_instance_names_the_file_and_line_that_defines_it(demo):
    result = _scan(demo)
    f = {r["instance_id"]: r for r in result.to_dict()["findings"]}
    assert f["orders-graph-1"]["managed_by"] == {
        "tool": "cloudformation", "stack": "graph-stack", "logical_id": "OrdersGraphWriter", "address": None,
        "file": "iac/cloudformation/graph-stack.yaml", "line": 22}
    assert f["events-graph-1"]["managed_by"] == {
        "tool": "terraform", "stack": None, "logical_id": None, "address": "aws_neptune_cluster_instance.events_writer",
        "file": "iac/terraform/main.tf", "line": 20}
    assert f["graph-prod-3"]["managed_by"] is None, "nothing says code owns it"
    table = to_table(result, columns=160)
    assert "defined in iac/cloudformation/graph-stack.yaml:22" in " ".join(table.split())


def test_tags_alone_say_the_stack_without_code(aws):
    sim_estate.seed()
    f = {r["instance_id"]: r for r in neptune_audit.scan(neptune_audit.ScanOptions(organization=True,
                                                                                   regions="us-east-1")).to_dict()["findings"]}
    assert f["orders-graph-1"]["managed_by"] == {"tool": "cloudformation", "stack": "graph-stack",
                                                 "logical_id": "OrdersGraphWriter", "address": None, "file": None,
                                                 "line": None}


def test_the_plan_says_an_api_change_is_drift_and_refuses_it_unless_allowed(demo, tmp_path):
    result = _scan(demo, hooks=[answer("DetectStackResourceDrift", DRIFT, service="cloudformation")])
    rem = remediate.Remediation(result, ["orders-graph-1", "events-graph-1", "graph-prod-3"],
                                audit_log=tmp_path / "log.jsonl")
    plan = rem.plan.set_index("instance_id")
    warning = " ".join(plan.loc["orders-graph-1", "warnings"])
    assert "defined in iac/cloudformation/graph-stack.yaml:22" in warning and "drift" in warning
    assert "terraform apply" in " ".join(plan.loc["events-graph-1", "warnings"])
    assert len(rem.code_owned) == 2
    with pytest.raises(UsageError, match="2 planned instance"):
        rem.run(wait_seconds=0)
    assert not (tmp_path / "log.jsonl").exists() or "intent" not in (tmp_path / "log.jsonl").read_text(), \
        "nothing was attempted"
    allowed = remediate.Remediation(result, ["orders-graph-1"], audit_log=tmp_path / "log.jsonl", allow_drift=True)
    out = allowed.run(wait_seconds=0).set_index("instance_id")
    assert out.loc["orders-graph-1", "outcome"] == "changed" and out.loc["orders-graph-1", "verified"] is True
    assert out.loc["orders-graph-1", "drift"].startswith("MODIFIED: stack graph-stack now differs")


def test_the_code_fix_comes_first_and_applies(demo, tmp_path, capsys):
    subprocess.run(["git", "init", "-q"], check=True)
    result = _scan(demo)
    rem = remediate.Remediation(result, ["orders-graph-1", "events-graph-1"])
    diff, notes = rem.code_fix()
    assert "-      AutoMinorVersionUpgrade: false" in diff and "+      AutoMinorVersionUpgrade: true" in diff
    assert "-  default     = false" in diff and "+  default     = true" in diff, "the variable's default decides"
    Path("fix.diff").write_text(diff)
    subprocess.run(["git", "apply", "fix.diff"], check=True)
    from neptune_audit.code.scan import scan as scan_code

    after = {f["resource"]: f["result"] for f in scan_code([demo]).findings}
    assert after["OrdersGraphWriter"] == after["aws_neptune_cluster_instance.events_writer"] == "PASS"
    again = remediate.Remediation(_scan(demo), ["orders-graph-1"]).code_fix()
    assert again[0] == "" and "already passes in code" in again[1][0], "the live value drifted from the code"


def test_remediate_cli_writes_the_code_fix_and_refuses_the_api_change(demo, tmp_path, capsys):
    from neptune_audit import cli

    code = cli.main(["remediate", "--organization", "--regions", "us-east-1,eu-west-1", "--iac", str(demo),
                     "--instance", "orders-graph-1", "--fix-diff", "code.diff"])
    out = capsys.readouterr().out
    assert code == 0 and "Wrote code.diff" in out and "AutoMinorVersionUpgrade: true" in Path("code.diff").read_text()
    code = cli.main(["remediate", "--organization", "--regions", "us-east-1", "--iac", str(demo),
                     "--instance", "orders-graph-1", "--apply", "--yes", "--audit-log", str(tmp_path / "a.jsonl")])
    err = capsys.readouterr().err
    assert code == 2 and "--allow-drift" in err and len(err.strip().splitlines()) == 1


def test_the_panel_shows_where_each_candidate_is_written_and_offers_the_code_fix(demo, tmp_path):
    result = _scan(demo)
    panel = neptune_audit.RemediationPanel(result, apply_enabled=True, audit_log=tmp_path / "log.jsonl")
    panel.instances.value = tuple(v for label, v in panel.instances.options if "orders-graph-1" in str(label))
    panel.review.click()
    html = panel.plan_view.value
    assert "written in" in html and "graph-stack.yaml:22" in html and "Download the code fix" in html
    assert panel.apply_button.disabled, "the plan warns (drift): Apply waits until the warnings are read"
    panel.acknowledge.value = True
    assert not panel.apply_button.disabled
    panel.apply_button.click()
    assert "Nothing was changed" in panel.status.value and "--allow-drift" not in panel.status.value
    assert panel.allow_drift.description in html_lib.unescape(panel.status.value), "the panel's own box, named"
    panel.allow_drift.value = True
    panel.apply_button.click()
    assert "verified" in panel.status.value


def test_a_tag_the_user_names_marks_terraform_ownership_without_iac(aws, tmp_path, capsys):
    """Terraform tags nothing by itself; teams often do (ManagedBy=terraform).  With --managed-by-tag the kit knows
    the instance is code's without --iac, and remediate --apply refuses to drift it, whatever told the kit."""
    import json

    from neptune_audit import cli

    from .conftest import boto, seed

    seed([("tf", [("tf-1", False, {"ManagedBy": "terraform"})]), ("free", [("free-1", False, {"ManagedBy": "hand"})])])
    code = cli.main(["scan", "--regions", "us-east-1", "--managed-by-tag", "ManagedBy=terraform", "--format", "json"])
    owners = {f["instance_id"]: f["managed_by"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert code == 1 and owners["free-1"] is None
    assert owners["tf-1"] == {"tool": "terraform", "stack": None, "logical_id": None, "address": None, "file": None,
                              "line": None}
    cli.main(["scan", "--regions", "us-east-1", "--managed-by-tag", "ManagedBy", "--format", "json"])
    assert all(f["managed_by"] for f in json.loads(capsys.readouterr().out)["findings"]), "KEY alone: any value"

    log = str(tmp_path / "a.jsonl")
    code = cli.main(["remediate", "--regions", "us-east-1", "--managed-by-tag", "ManagedBy=terraform", "--apply",
                     "--yes", "--audit-log", log])
    err = capsys.readouterr().err
    assert code == 2 and "--allow-drift" in err and "owned by Terraform" in err and len(err.strip().splitlines()) == 1
    state = {d["DBInstanceIdentifier"]: d["AutoMinorVersionUpgrade"] for d in boto("rds").describe_db_instances()["DBInstances"]}
    assert state == {"tf-1": False, "free-1": False}, "nothing changed"
    code = cli.main(["remediate", "--regions", "us-east-1", "--managed-by-tag", "ManagedBy=terraform", "--instance",
                     "free-1", "--apply", "--yes", "--audit-log", log])
    assert code == 0, capsys.readouterr().err
    state = {d["DBInstanceIdentifier"]: d["AutoMinorVersionUpgrade"] for d in boto("rds").describe_db_instances()["DBInstances"]}
    assert state == {"tf-1": False, "free-1": True}


@pytest.mark.parametrize("value", ["=terraform", "", "  "])
def test_a_malformed_managed_by_tag_is_one_line(aws, capsys, value):
    from neptune_audit import cli

    code = cli.main(["scan", "--regions", "us-east-1", "--managed-by-tag", value])
    err = capsys.readouterr().err
    assert code == 2 and "--managed-by-tag takes KEY or KEY=VALUE" in err and len(err.strip().splitlines()) == 1


def test_the_drift_warning_reads_as_a_sentence(demo):
    plan = remediate.Remediation(_scan(demo), ["orders-graph-1", "events-graph-1"]).plan
    warned = " ".join(w for ws in plan["warnings"] for w in ws)
    assert "which the next stack update may revert" in warned and "which the next terraform apply may revert" in warned
    assert "next a " not in warned and "the box to change instances code defines" in warned
