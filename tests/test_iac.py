"""`neptune-audit iac`: the rule on CloudFormation, CDK assemblies, Terraform HCL and plan JSON, before deploy.

The fixtures under tests/fixtures/iac were written for these tests; each expected verdict and line below was
written by hand from reading the file.  AWS: Neptune's CreateDBInstance says AutoMinorVersionUpgrade "Default: true",
so an omitted property passes; only AWS::Neptune::DBInstance and aws_neptune_cluster_instance are Neptune.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from neptune_audit import cli
from neptune_audit.code import output
from neptune_audit.code.scan import scan

from .conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "iac"

# (file relative to FIXTURES, resource): (result, line, auto_minor_version_upgrade, source)
EXPECTED = {
    ("cfn/graph.yaml", "WriterOff"): ("FAIL", 29, False, "cloudformation"),
    ("cfn/graph.yaml", "ReaderOn"): ("PASS", 35, True, "cloudformation"),
    ("cfn/graph.yaml", "ReaderDefault"): ("PASS", 37, None, "cloudformation"),       # omitted: the resource's line
    ("cfn/graph.yaml", "ByParameter"): ("FAIL", 46, False, "cloudformation"),        # Default "false"
    ("cfn/graph.yaml", "ByCondition"): ("FAIL", 52, None, "cloudformation"),         # !If: could be false
    ("cfn/graph.yaml", "Suppressed"): ("EXCEPTED", 64, False, "cloudformation"),
    ("cfn/graph.yaml", "SuppressionExpired"): ("FAIL", 76, False, "cloudformation"),
    ("cfn/graph.yaml", "LegacyWriter"): ("PASS", 82, True, "cloudformation"),        # on, but engine 1.2.1.0
    ("cfn/nested/replica.json", "ReplicaInstance"): ("FAIL", 9, False, "cloudformation"),  # "False", nested stack
    ("cdk.out/GraphStack.template.json", "GraphInstance1D4E5F"): ("FAIL", 13, False, "cdk"),
    ("cdk.out/GraphStack.template.json", "GraphInstance2A7B8C"): ("PASS", 17, None, "cdk"),
    ("tf/main.tf", "aws_neptune_cluster_instance.writer"): ("FAIL", 21, False, "terraform"),
    # count and for_each: one verdict per instance, addressed as Terraform addresses them
    ("tf/main.tf", "aws_neptune_cluster_instance.readers[0]"): ("FAIL", 28, None, "terraform"),  # var default false
    ("tf/main.tf", "aws_neptune_cluster_instance.readers[1]"): ("FAIL", 28, None, "terraform"),
    ("tf/main.tf", 'aws_neptune_cluster_instance.default["a"]'): ("PASS", 31, None, "terraform"),
    ("tf/main.tf", 'aws_neptune_cluster_instance.default["b"]'): ("PASS", 31, None, "terraform"),
    # var.env defaults to "prod": the condition's operands are known, and it is true
    ("tf/main.tf", "aws_neptune_cluster_instance.conditional"): ("PASS", 40, None, "terraform"),
    ("tf/main.tf", "aws_neptune_cluster_instance.vendor"): ("EXCEPTED", 47, False, "terraform"),
    ("tf/modules/neptune/main.tf", "module.analytics.aws_neptune_cluster_instance.this"): ("FAIL", 9, False,
                                                                                           "terraform"),
    # the called module, judged on its own too (its default: true)
    ("tf/modules/neptune/main.tf", "aws_neptune_cluster_instance.this"): ("PASS", 9, True, "terraform"),
    ("plan/plan.json", "aws_neptune_cluster_instance.writer"): ("FAIL", None, False, "terraform-plan"),
    ("plan/plan.json", "module.analytics.aws_neptune_cluster_instance.this[0]"): ("PASS", None, True,
                                                                                  "terraform-plan"),
}


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A copy of the fixtures, the working folder (so paths read as a repository's)."""
    shutil.copytree(FIXTURES, tmp_path / "infra")
    monkeypatch.chdir(tmp_path)
    return Path("infra")


def _by_key(findings):
    return {(str(Path(f["file"]).relative_to("infra")), f["resource"]): f for f in findings}


def test_every_instance_gets_its_verdict_and_line(tree):
    result = scan([tree])
    got = _by_key(result.findings)
    assert set(got) == set(EXPECTED), "exactly the Neptune instances: no RDS, DocumentDB or cluster"
    for key, (res, line, setting, source) in EXPECTED.items():
        f = got[key]
        assert (f["result"], f["line"], f["auto_minor_version_upgrade"], f["source"]) == (res, line, setting,
                                                                                         source), key
    assert result.exit_code == 1 and result.summary["files_in_error"] == 0


def test_reasons_say_what_decides(tree):
    got = _by_key(scan([tree]).findings)
    assert "AWS's default (true) applies" in got[("cfn/graph.yaml", "ReaderDefault")]["reason"]
    assert "CreateDBInstance" in got[("cfn/graph.yaml", "ReaderDefault")]["reason"]
    by_param = got[("cfn/graph.yaml", "ByParameter")]
    assert 'parameter AutoUpgrade, default "false"' in by_param["reason"] and "AutoUpgrade=true would pass" in \
        by_param["reason"] and by_param["decided_by"] == "AutoUpgrade"
    assert "depends on condition IsProd" in got[("cfn/graph.yaml", "ByCondition")]["reason"]
    assert "expired on 2020-01-31" in got[("cfn/graph.yaml", "SuppressionExpired")]["reason"]
    legacy = got[("cfn/graph.yaml", "LegacyWriter")]["reason"]
    assert "pinned to engine 1.2.1.0, older than 1.3.0.0" in legacy and "end of life on 2026-11-30" in legacy
    cdk = got[("cdk.out/GraphStack.template.json", "GraphInstance1D4E5F")]
    assert cdk["construct_path"] == "GraphStack/Graph/Instance1" and cdk["stack"] == "GraphStack"
    assert got[("tf/main.tf", "aws_neptune_cluster_instance.writer")]["identifier"] == "graph-writer"
    module = got[("tf/modules/neptune/main.tf", "module.analytics.aws_neptune_cluster_instance.this")]
    assert "given false by its module call" in module["reason"]


def test_parameters_and_var_files_change_the_verdict(tree):
    got = _by_key(scan([tree], parameters=["AutoUpgrade=true"], var_files=[tree / "tf" / "prod.tfvars"]).findings)
    by_param = got[("cfn/graph.yaml", "ByParameter")]
    assert by_param["result"] == "PASS" and 'given "true" from outside the file' in by_param["reason"]
    assert "with AutoUpgrade=false it would fail" in by_param["reason"], "never a silent pass"
    assert got[("tf/main.tf", "aws_neptune_cluster_instance.readers[0]")]["result"] == "PASS"
    assert got[("tf/main.tf", "aws_neptune_cluster_instance.readers[1]")]["result"] == "PASS"


def test_a_parameter_without_default_is_never_a_silent_pass(tmp_path):
    t = tmp_path / "t.yaml"
    t.write_text("Parameters:\n  Amvu: {Type: String}\nResources:\n  I:\n    Type: AWS::Neptune::DBInstance\n"
                 "    Properties:\n      DBInstanceClass: db.r6g.large\n      AutoMinorVersionUpgrade: !Ref Amvu\n")
    f = scan([t]).findings[0]
    assert f["result"] == "FAIL" and "has no default" in f["reason"] and f["line"] == 8


def test_the_allow_list_file_names_logical_ids_and_addresses(tree, tmp_path):
    allow = tmp_path / "allow.yml"
    allow.write_text("exceptions:\n  - instance: WriterOff\n    reason: reviewed in RISK-7\n    expires: 2099-01-01\n"
                     "  - instance: aws_neptune_cluster_instance.writer\n    reason: old\n    expires: 2020-01-01\n")
    got = _by_key(scan([tree], exceptions_file=allow).findings)
    assert got[("cfn/graph.yaml", "WriterOff")]["result"] == "EXCEPTED"
    tf_writer = got[("tf/main.tf", "aws_neptune_cluster_instance.writer")]
    assert tf_writer["result"] == "FAIL" and "expired on 2020-01-01" in tf_writer["reason"]


def test_json_is_valid_against_its_published_schema(tree, capsys):
    code = cli.main(["iac", str(tree), "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator(json.loads(output.schema_text())).validate(doc)
    assert code == 1 and doc["schema"] == "neptune-audit-iac/1" and doc["summary"]["resources"] == len(EXPECTED)


def _sarif_schema():
    """The official SARIF 2.1.0 schema (OASIS), where the steering repo's shared/ holds it; else None."""
    for candidate in (ROOT.parent / "shared" / "schemas" / "sarif-schema-2.1.0.json",
                      ROOT.parent / "shared" / "sarif-schema-2.1.0.json"):
        if candidate.is_file():
            return json.loads(candidate.read_text())
    return None


def test_sarif_is_what_code_scanning_reads(tree, capsys):
    code = cli.main(["iac", str(tree), "--format", "sarif"])
    doc = json.loads(capsys.readouterr().out)
    official = _sarif_schema()
    if official is not None:  # OASIS's schema is draft-04: the validator its $schema names
        jsonschema.validators.validator_for(official)(official).validate(doc)
    from sarif_pydantic import Sarif

    Sarif.model_validate(doc)  # the object model generated from the official schema
    run = doc["runs"][0]
    assert doc["version"] == "2.1.0" and run["tool"]["driver"]["rules"][0]["id"] == "Neptune-001"
    results = run["results"]
    fails = {(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
              r["locations"][0]["logicalLocations"][0]["name"]): r for r in results}
    writer = fails[("infra/cfn/graph.yaml", "WriterOff")]
    assert writer["locations"][0]["physicalLocation"]["region"]["startLine"] == 29
    assert writer["level"] == "warning" and "suppressions" not in writer
    assert fails[("infra/cfn/graph.yaml", "Suppressed")]["suppressions"][0]["kind"] == "inSource"
    assert ("infra/cfn/graph.yaml", "ReaderOn") not in fails, "passing resources are not alerts"
    again = json.loads((cli.main(["iac", str(tree), "--format", "sarif"]), capsys.readouterr().out)[1])
    assert [r["partialFingerprints"] for r in again["runs"][0]["results"]] == \
        [r["partialFingerprints"] for r in results], "a stable fingerprint per resource"
    assert code == 1


def test_fix_diff_applies_cleanly_and_a_rerun_passes(tree, capsys):
    subprocess.run(["git", "init", "-q"], check=True)
    code = cli.main(["iac", str(tree), "--fix-diff", "fix.diff"])
    err = capsys.readouterr().err
    diff = Path("fix.diff").read_text()
    assert code == 1 and diff.startswith("--- a/infra/")
    # only the deciding lines change: every removed line holds "false"/"False", every added one the same with true
    removed = [line for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert len(removed) == len(added) and all(
        a[1:] == r[1:].replace("false", "true").replace("False", "True") for r, a in zip(removed, added))
    assert "# the team's choice, to be reviewed" in diff, "comments and formatting kept"
    proc = subprocess.run(["git", "apply", "--check", "fix.diff"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    subprocess.run(["git", "apply", "fix.diff"], check=True)
    after = _by_key(scan([tree]).findings)
    still = {k for k, f in after.items() if f["result"] == "FAIL"}
    # a condition and a plan are not one line, and a CDK assembly is written again by cdk synth: the diff says so
    assert still == {("cfn/graph.yaml", "ByCondition"), ("plan/plan.json", "aws_neptune_cluster_instance.writer"),
                     ("cdk.out/GraphStack.template.json", "GraphInstance1D4E5F")}
    assert "ByCondition" in err and "not in the diff" in err
    assert "cdk.out" not in diff and "written again by every cdk synth" in err and "GraphStack/Graph/Instance1" in err
    assert after[("cfn/graph.yaml", "ByParameter")]["result"] == "PASS", "the parameter's default was changed"


def test_exit_codes_as_scan(tmp_path, capsys):
    good = tmp_path / "ok"
    good.mkdir()
    (good / "t.yaml").write_text("Resources:\n  I:\n    Type: AWS::Neptune::DBInstance\n    Properties:\n"
                                 "      AutoMinorVersionUpgrade: true\n")
    assert cli.main(["iac", str(good)]) == 0
    (good / "broken.yaml").write_text("AWSTemplateFormatVersion: '2010-09-09'\nResources: [\n")
    code = cli.main(["iac", str(good)])
    out = capsys.readouterr().out
    assert code == 3 and "NOT READ" in out and "broken.yaml" in out, "never a pass with something unread"
    (good / "notes.yaml").write_text("just: a list\n- of things\n")  # not a template: passed over, not an error
    assert cli.main(["iac", str(good / "notes.yaml")]) == 0
    code = cli.main(["iac", str(tmp_path / "missing")])
    err = capsys.readouterr().err
    assert code == 2 and "no such file or folder" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("width", [60, 80, 120])
def test_the_table_never_cuts(tree, width):
    result = scan([tree])
    text = output.to_table(result, width)
    assert all(len(line) <= width for line in text.splitlines())
    flat = " ".join(text.split())
    for f in result.findings:
        assert " ".join(f["reason"].split()) in flat and f["resource"] in flat


def test_hostile_templates_are_refused_per_file(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("AWSTemplateFormatVersion: '2010-09-09'\na: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\n"
                    "c: [*b, *b, *b, *b]\nResources: {}\n")
    dup = tmp_path / "dup.yaml"
    dup.write_text("AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  I:\n    Type: AWS::Neptune::DBInstance\n"
                   "  I:\n    Type: AWS::Neptune::DBInstance\n")
    result = scan([tmp_path])
    states = {Path(f["file"]).name: f for f in result.files}
    assert states["bomb.yaml"]["state"] == "error" and "aliases" in states["bomb.yaml"]["error"]
    assert states["dup.yaml"]["state"] == "error" and "duplicate" in states["dup.yaml"]["error"]
    assert result.exit_code == 3


@pytest.mark.parametrize("name, newline", [("graph.yaml", "\n"), ("my graph é.yaml", "\n"), ("crlf.yaml", "\r\n")])
def test_fix_diff_applies_from_the_repository_root_whatever_the_path(tmp_path, monkeypatch, capsys, name, newline):
    """Given an absolute path or one with ../ from elsewhere, the diff names the file as git does from the root of
    its repository (quoted where git quotes), and a CRLF file stays CRLF."""
    repo = tmp_path / "repo"
    (repo / "infra").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    template = ("Resources:\n  Graph:\n    Type: AWS::Neptune::DBInstance\n    Properties:\n"
                "      DBInstanceClass: db.r6g.large\n      AutoMinorVersionUpgrade: false\n").replace("\n", newline)
    (repo / "infra" / name).write_bytes(template.encode())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code = cli.main(["iac", str(repo / "infra"), "--fix-diff", str(elsewhere / "fix.diff")])
    assert code == 1, capsys.readouterr().err
    diff = (elsewhere / "fix.diff").read_bytes().decode("utf-8")
    assert "/repo/" not in diff and str(tmp_path) not in diff, "relative to the repository root"
    proc = subprocess.run(["git", "apply", str(elsewhere / "fix.diff")], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr + diff
    fixed = (repo / "infra" / name).read_bytes().decode()
    assert fixed == template.replace("false", "true"), "that line changed, the file's line endings kept"


def test_the_fix_changes_the_setting_not_another_key_on_its_line(tmp_path, monkeypatch, capsys):
    """One-line JSON holding another key's "false": the diff flips the setting, never Note."""
    monkeypatch.chdir(tmp_path)
    doc = {"Resources": {"Graph": {"Type": "AWS::Neptune::DBInstance", "Properties": {
        "Note": "false", "DBInstanceClass": "db.r6g.large", "AutoMinorVersionUpgrade": False}}}}
    Path("t.json").write_text(json.dumps(doc))
    assert cli.main(["iac", "t.json", "--fix-diff", "fix.diff"]) == 1
    subprocess.run(["git", "init", "-q"], check=True)
    subprocess.run(["git", "apply", "fix.diff"], check=True)
    fixed = json.loads(Path("t.json").read_text())["Resources"]["Graph"]["Properties"]
    assert fixed["AutoMinorVersionUpgrade"] is True and fixed["Note"] == "false"


TEMPLATE = ("Resources:\n  G:\n    Type: AWS::Neptune::DBInstance\n    Properties:\n"
            "      AutoMinorVersionUpgrade: false\n")


def _file(name: str, text: str):
    def make(folder: Path) -> Path:
        (folder / name).write_text(text)
        return folder / name
    return make


def _fifo(folder: Path) -> Path:
    os.mkfifo(folder / "pipe")
    return folder / "pipe"


@pytest.mark.parametrize("make, words", [
    (_file("App.java", "new DatabaseCluster(this, \"Db\");\n"), "in this language is not read"),
    (_file("main.go", "package main\n"), "npx cdk synth"),
    (_file("README.md", "# infra\n"), "not a kind of file the kit reads"),
    (_fifo, "not a regular file"),
    (lambda folder: Path("/dev/null"), "not a regular file"),
], ids=["java", "go", "markdown", "fifo", "device"])
def test_a_named_path_that_yields_no_file_read_is_exit_2(tmp_path, capsys, make, words):
    from .conftest import one_line_2

    named = make(tmp_path)
    code = cli.main(["iac", str(named)])
    captured = capsys.readouterr()
    one_line_2(code, captured.err, words)
    assert captured.out == ""


def test_a_cdk_app_in_a_language_not_read_without_its_assembly_is_never_a_pass(tmp_path, capsys):
    app = tmp_path / "app"
    app.mkdir()
    (app / "cdk.json").write_text('{"app": "mvn -e -q compile exec:java"}\n')
    (app / "GraphStack.java").write_text("new DatabaseCluster(this, \"Db\", props);\n")
    code = cli.main(["iac", str(app)])
    out = capsys.readouterr().out
    assert code == 3 and "NOT READ" in out and "npx cdk synth" in out


@pytest.mark.parametrize("flag, name", [("-o", "out.json"), ("--fix-diff", "fix.diff"), ("-o", "t.yaml")])
def test_outputs_never_land_on_scanned_code(tmp_path, capsys, flag, name):
    code_dir = tmp_path / "infra"
    code_dir.mkdir()
    (code_dir / "t.yaml").write_text(TEMPLATE)
    before = sorted(p.name for p in code_dir.iterdir())
    code = cli.main(["iac", str(code_dir), flag, str(code_dir / name)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "inside" in err and "nothing was written" in err
    assert sorted(p.name for p in code_dir.iterdir()) == before and (code_dir / "t.yaml").read_text() == TEMPLATE


def test_remediate_fix_diff_never_lands_on_scanned_code(aws, tmp_path, capsys):
    code_dir = tmp_path / "infra"
    code_dir.mkdir()
    (code_dir / "t.yaml").write_text(TEMPLATE)
    code = cli.main(["remediate", "--regions", "us-east-1", "--iac", str(code_dir), "--fix-diff",
                     str(code_dir / "fix.diff")])
    err = capsys.readouterr().err
    assert code == 2 and "inside" in err and not (code_dir / "fix.diff").exists()


HOSTILE = {
    "deep.json": '{"Resources": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "merge.yaml": ("base: &b\n  Type: AWS::Neptune::DBInstance\nResources:\n  G:\n    <<: *b\n    Properties:\n"
                   "      AutoMinorVersionUpgrade: false\n"),
    "tag.yaml": ("Resources:\n  G:\n    Type: AWS::Neptune::DBInstance\n    Properties:\n"
                 "      AutoMinorVersionUpgrade: !Bogus false\n"),
    "bignum.json": ('{"Resources": {"G": {"Type": "AWS::Neptune::DBInstance", "Properties": '
                    '{"AutoMinorVersionUpgrade": ' + "9" * 5000 + "}}}}"),
    "manifest.json": ('{"version": "36.0.0", "artifacts": {"S": {"type": "aws:cloudformation:stack", '
                      '"properties": {"templateFile": 42}}}}'),
    "plan.json": ('{"format_version": "1.2", "planned_values": {"root_module": {"resources": '
                  '[{"type": "aws_neptune_cluster_instance", "address": 5, "values": []}]}}}'),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_file_is_that_files_error_never_the_runs(tmp_path, capsys, name):
    """Exit 3 with the file listed as not read, never exit 4 (a traceback's exit) and never a pass."""
    (tmp_path / name).write_text(HOSTILE[name])
    code = cli.main(["iac", str(tmp_path / name)])
    captured = capsys.readouterr()
    assert code == 3 and "NOT READ" in captured.out and captured.err == "", captured
    assert not any(word in captured.out for word in ("{'", "None", "Traceback")), "no Python in messages"


def test_a_huge_tf_file_is_refused_quickly_with_the_plan_route(tmp_path, capsys):
    import time

    body = "".join(f'variable "v{i}" {{\n  default = "{"x" * 40}"\n}}\n' for i in range(6000))  # ~400 KB
    (tmp_path / "big.tf").write_text(body + 'resource "aws_neptune_cluster_instance" "x" {\n  cluster_identifier = "c"\n}\n')
    started = time.monotonic()
    code = cli.main(["iac", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 3 and "NOT READ" in out and "terraform show -json" in out
    assert time.monotonic() - started < 5


def test_sarif_names_files_from_the_source_root_never_the_machine(tmp_path, monkeypatch, capsys):
    """A path given as ../x, a space in a name, a module chain: every URI is relative to %SRCROOT% and
    percent-encoded, and the value that decides (a variable's default) is a related location."""
    from sarif_pydantic import Sarif

    code_dir = tmp_path / "my infra"
    code_dir.mkdir()
    (code_dir / "main.tf").write_text('variable "off" { default = false }\n\nresource "aws_neptune_cluster_instance" "x" '
                                      '{\n  cluster_identifier = "c"\n  auto_minor_version_upgrade = var.off\n}\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert cli.main(["iac", "../my infra", "--format", "sarif"]) == 1
    text = capsys.readouterr().out
    doc = json.loads(text)
    Sarif.model_validate(doc)
    official = _sarif_schema()
    if official is not None:
        jsonschema.validators.validator_for(official)(official).validate(doc)
    assert "file:" not in text and str(tmp_path) not in text
    result = doc["runs"][0]["results"][0]
    place = result["locations"][0]["physicalLocation"]["artifactLocation"]
    assert place == {"uri": "../my%20infra/main.tf", "uriBaseId": "%SRCROOT%"}
    related = result["relatedLocations"][0]["physicalLocation"]
    assert related["artifactLocation"]["uri"] == "../my%20infra/main.tf" and related["region"]["startLine"] == 1
    assert "%SRCROOT%" in doc["runs"][0]["originalUriBaseIds"]


CFN_SKIP = ("Resources:\n  G:\n    Type: AWS::Neptune::DBInstance\n    Metadata:\n      neptune-audit:\n        skip:\n"
            "          - {{id: Neptune-001, reason: reviewed, expires: {expires}}}\n    Properties:\n"
            "      AutoMinorVersionUpgrade: false\n")
TF_SKIP = ('# neptune-audit:skip=Neptune-001 expires={expires} reviewed\nresource "aws_neptune_cluster_instance" "g" {{\n'
           '  cluster_identifier = "c"\n  auto_minor_version_upgrade = false\n}}\n')


@pytest.mark.parametrize("template, name", [(CFN_SKIP, "t.yaml"), (TF_SKIP, "main.tf")], ids=["cfn", "terraform"])
@pytest.mark.parametrize("expires", ["2026-13-45", "never", "[2099-01-01]", "20991231"])
def test_a_malformed_expiry_never_excepts(tmp_path, capsys, template, name, expires):
    if name == "main.tf" and expires.startswith("["):
        expires = "2099-01-01,2099-02-01"
    (tmp_path / name).write_text(template.format(expires=expires))
    code = cli.main(["iac", str(tmp_path), "--format", "json"])
    f = json.loads(capsys.readouterr().out)["findings"][0]
    assert code == 1 and f["result"] == "FAIL" and f["exception"] is None
    assert "not a date (YYYY-MM-DD): it excepts nothing" in f["reason"]


@pytest.mark.parametrize("body", [
    '  description = "# neptune-audit:skip=Neptune-001 sneaky"\n',
    '  user_data = <<EOF\n# neptune-audit:skip=Neptune-001 sneaky\nEOF\n',
], ids=["string", "heredoc"])
def test_a_marker_inside_a_string_or_heredoc_is_no_suppression(tmp_path, capsys, body):
    (tmp_path / "main.tf").write_text('resource "aws_neptune_cluster_instance" "g" {\n  cluster_identifier = "c"\n'
                                      + body + "  auto_minor_version_upgrade = false\n}\n")
    code = cli.main(["iac", str(tmp_path), "--format", "json"])
    f = json.loads(capsys.readouterr().out)["findings"][0]
    assert code == 1 and f["result"] == "FAIL" and f["exception"] is None


def test_a_nested_stack_outside_the_scanned_tree_or_at_a_url_is_said_never_read_behind_the_users_back(tmp_path, capsys):
    """Named alone, a parent whose nested stack is a file outside what was named (or an S3 URL that names Neptune)
    says so and exits 3; named with it, the child is read and judged."""
    (tmp_path / "scan").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "scan" / "parent.yaml").write_text(
        "Resources:\n  Graph:\n    Type: AWS::CloudFormation::Stack\n    Properties:\n"
        "      TemplateURL: ../other/child.yaml\n  Base:\n    Type: AWS::CloudFormation::Stack\n    Properties:\n"
        "      TemplateURL: https://s3.amazonaws.com/b/neptune-base-stack.json\n  Vpc:\n"
        "    Type: AWS::CloudFormation::Stack\n    Properties:\n      TemplateURL: https://s3.amazonaws.com/b/vpc.json\n")
    (tmp_path / "other" / "child.yaml").write_text(
        "Resources:\n  Db:\n    Type: AWS::Neptune::DBInstance\n    Properties:\n      DBInstanceClass: db.r6g.large\n"
        "      AutoMinorVersionUpgrade: false\n")
    assert cli.main(["iac", str(tmp_path / "scan")]) == 3
    out = capsys.readouterr().out
    assert "nested stack Graph names ../other/child.yaml, outside the scanned tree: not read" in " ".join(out.split())
    assert "nested stack Base" in out and "Vpc" not in out, "a URL that says nothing of Neptune is not listed"
    assert cli.main(["iac", str(tmp_path / "scan"), str(tmp_path / "other")]) == 1
    assert "Db (cloudformation)" in capsys.readouterr().out
