"""Terraform as Terraform evaluates it: the kit's verdicts on HCL equal its verdicts on the real `terraform plan` of
the same configuration (tests/fixtures/terraform-oracle: the plan JSON is committed, made by terraform itself), and
module graphs that loop or fan out end in bounded time, saying what was cut."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from neptune_audit import cli
from neptune_audit.code.scan import scan

from .conftest import ROOT

ORACLE = ROOT / "tests" / "fixtures" / "terraform-oracle"
CASES = ["patterns", "chain", "initialised"]  # initialised: modules fetched by `terraform init`


@pytest.mark.parametrize("case", CASES)
def test_hcl_verdicts_equal_the_verdicts_on_terraforms_own_plan(case):
    planned = {f["resource"]: f["result"] for f in scan([ORACLE / "plans" / f"{case}.json"]).findings}
    from_hcl = {f["resource"]: f["result"] for f in scan([ORACLE / case]).findings}
    assert planned, "the plan holds Neptune instances"
    assert {k: from_hcl.get(k) for k in planned} == planned


def test_the_patterns_public_modules_use_are_each_judged():
    got = {f["resource"]: f for f in scan([ORACLE / "patterns"]).findings}
    # for_each over {a = true, b = false}: one verdict per instance, addressed as Terraform does
    assert got['aws_neptune_cluster_instance.each["a"]']["result"] == "PASS"
    assert got['aws_neptune_cluster_instance.each["b"]']["result"] == "FAIL"
    assert got["aws_neptune_cluster_instance.counted[1]"]["result"] == "FAIL"
    nullvar = got["aws_neptune_cluster_instance.nullvar"]
    assert nullvar["result"] == "PASS" and "default null: unset" in nullvar["reason"]
    for f in got.values():  # no Python in messages
        assert not any(word in f["reason"] for word in ("None", "False", "True", "It is not one line")), f["reason"]


def test_a_module_chain_names_the_line_that_decides():
    got = {f["resource"]: f for f in scan([ORACLE / "chain"]).findings}
    off = got["module.graph_off.aws_neptune_cluster_instance.this"]
    main = str(ORACLE / "chain" / "main.tf")
    assert off["result"] == "FAIL" and f"set at {main}:1" in off["reason"], "var.off's one-line default decides"
    # the called module, judged on its own with its defaults, beside each caller's chain
    assert got["aws_neptune_cluster_instance.this"]["result"] == "PASS"
    assert got['module.graph_each["blue"].aws_neptune_cluster_instance.this']["result"] == "PASS"


def test_a_folder_that_names_itself_as_a_source_is_still_judged(tmp_path, capsys):
    (tmp_path / "main.tf").write_text(
        'resource "aws_neptune_cluster_instance" "x" {\n  cluster_identifier = "c"\n  instance_class = "db.r6g.large"\n'
        '  auto_minor_version_upgrade = false\n}\nmodule "self" {\n  source = "./"\n}\n')
    assert cli.main(["iac", str(tmp_path)]) == 1, "its FAIL never disappears"
    assert "aws_neptune_cluster_instance.x" in capsys.readouterr().out


def test_a_module_graph_that_fans_out_ends_in_bounded_time_and_says_what_was_cut(tmp_path, capsys):
    levels = 16  # each module calls the next twice: 2**16 instances of the last
    for i in range(levels):
        folder = tmp_path / f"m{i}"
        folder.mkdir()
        calls = "" if i == levels - 1 else "".join(
            f'module "c{k}" {{\n  source = "../m{i + 1}"\n}}\n' for k in range(2))
        (folder / "main.tf").write_text(
            'resource "aws_neptune_cluster_instance" "x" {\n  cluster_identifier = "c"\n  instance_class = "db.r6g.large"\n}\n'
            + calls)
    started = time.monotonic()
    code = cli.main(["iac", str(tmp_path), "--format", "json"])  # every folder: each is a root too
    took = time.monotonic() - started
    out = capsys.readouterr().out
    assert code == 3 and "module calls cut" in out, "never a pass with part of the graph unjudged"
    assert took < 60, took


def test_a_module_outside_the_scanned_tree_is_listed_never_read_silently(tmp_path, capsys):
    (tmp_path / "modules" / "graph").mkdir(parents=True)
    (tmp_path / "modules" / "graph" / "main.tf").write_text(
        'resource "aws_neptune_cluster_instance" "x" {\n  cluster_identifier = "c"\n'
        '  auto_minor_version_upgrade = false\n}\n')
    (tmp_path / "live").mkdir()
    (tmp_path / "live" / "main.tf").write_text('module "graph" {\n  source = "../modules/graph"\n}\n')
    code = cli.main(["iac", str(tmp_path / "live")])
    out = capsys.readouterr().out
    assert code == 3 and "outside the scanned tree" in " ".join(out.split()), out
    assert cli.main(["iac", str(tmp_path)]) == 1, "scanned together, its FAIL is found"


@pytest.mark.parametrize("where", ["terraform.tfvars", "--var-file"])
def test_a_value_from_a_var_file_is_fixed_in_that_file(tmp_path, capsys, where):
    import subprocess

    (tmp_path / "main.tf").write_text('variable "amvu" {\n  type    = bool\n  default = true\n}\n\n'
                                      'resource "aws_neptune_cluster_instance" "x" {\n  cluster_identifier = "c"\n'
                                      '  auto_minor_version_upgrade = var.amvu\n}\n')
    var_file = tmp_path / ("terraform.tfvars" if where == "terraform.tfvars" else "prod.tfvars")
    var_file.write_text('region = "us-east-1"\namvu   = false\n')
    args = ["iac", str(tmp_path), "--fix-diff", str(tmp_path.parent / "fix.diff")]
    if where == "--var-file":
        args += ["--var-file", str(var_file)]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert cli.main(args) == 1
    capsys.readouterr()
    diff = (tmp_path.parent / "fix.diff").read_text()
    assert f"+++ b/{var_file.name}" in diff and "+amvu   = true" in diff, diff
    subprocess.run(["git", "apply", str(tmp_path.parent / "fix.diff")], cwd=tmp_path, check=True)
    args = args[:2] + (["--var-file", str(var_file)] if where == "--var-file" else [])
    assert cli.main(args) == 0, "fixed where the value is set"


def test_for_expressions_evaluate_as_terraform_does():
    """for_each = {for i in var.instances : i.name => i if var.create}: each kept entry is one instance; an empty
    list (the module's default) is no instance, never a FAIL that "only a plan knows"."""
    from neptune_audit.code import hclexpr

    scope = hclexpr.Scope({"instances": [{"name": "a", "amvu": False}, {"name": "b"}], "create": True})
    assert hclexpr.evaluate('${{for i in var.instances : i.name => lookup(i, "amvu", true) if var.create}}',
                            scope) == {"a": False, "b": True}
    assert hclexpr.evaluate("${[for i in var.instances : i.name]}", scope) == ["a", "b"]
    assert hclexpr.evaluate("${{for i in var.instances : i.name => i if false}}", scope) == {}
    assert hclexpr.evaluate("${[for i in data.x.y : i]}", scope) is hclexpr.UNKNOWN


def test_windows_line_ends_are_terraform_too(tmp_path):
    """Terraform reads CRLF files (public modules are committed that way); python-hcl2 8.1.0 fails on a CRLF after a
    quoted string unless the line ends are read as LF, which keeps every line number."""
    from neptune_audit.code.scan import scan

    (tmp_path / "main.tf").write_bytes(
        b'resource "aws_iam_group" "g" {\r\n  name = "x"\r\n  path = "/"\r\n}\r\n'
        b'resource "aws_neptune_cluster_instance" "db" {\r\n  cluster_identifier = "c"\r\n'
        b'  instance_class     = "db.r6g.large"\r\n  auto_minor_version_upgrade = false\r\n}\r\n')
    result = scan([tmp_path])
    assert [(f["resource"], f["result"], f["line"]) for f in result.findings] == [
        ("aws_neptune_cluster_instance.db", "FAIL", 8)]
    assert all(f["state"] == "scanned" for f in result.files)


def _initialised(tmp_path: Path) -> Path:
    import shutil

    root = tmp_path / "live"
    shutil.copytree(ORACLE / "initialised", root)
    return root


def test_modules_terraform_init_fetched_are_read_whatever_their_source_says(tmp_path):
    """A registry module's address need not name Neptune: the root is judged when what init fetched for it does."""
    root = _initialised(tmp_path)
    main = root / "main.tf"
    main.write_text(main.read_text().replace("example-corp/neptune/aws", "example-corp/graph/aws")
                    .replace("neptune-legacy.git", "graph-legacy.git"))
    manifest = root / ".terraform" / "modules" / "modules.json"
    manifest.write_text(manifest.read_text().replace("example-corp/neptune/aws", "example-corp/graph/aws")
                        .replace("neptune-legacy.git", "graph-legacy.git"))
    got = {f["resource"]: f["result"] for f in scan([root]).findings}
    assert got["module.neptune.module.replica.aws_neptune_cluster_instance.reader"] == "FAIL"
    assert got["module.upgraded.aws_neptune_cluster_instance.writer"] == "PASS"
    assert got["module.legacy.aws_neptune_cluster_instance.old"] == "FAIL"


def test_a_module_fetched_before_its_source_changed_is_listed_not_read(tmp_path, capsys):
    """Terraform refuses to plan until init runs again; the kit never judges the old module in its place."""
    root = _initialised(tmp_path)
    main = root / "main.tf"
    main.write_text(main.read_text().replace("neptune-legacy.git?ref=v1.4.0", "neptune-legacy.git?ref=v2.0.0"))
    code = cli.main(["iac", str(root), "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and not any(f["resource"].startswith("module.legacy.") for f in doc["findings"])
    unread = [f for f in doc["files"] if f.get("error")]
    assert [Path(f["file"]).name for f in unread] == ["main.tf"]
    assert "module.legacy calls" in unread[0]["error"] and "terraform init" in unread[0]["error"]


def test_a_manifest_never_sends_the_scan_outside_the_roots_own_terraform_folder(tmp_path):
    root = _initialised(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "main.tf").write_text(
        'resource "aws_neptune_cluster_instance" "x" {\n  cluster_identifier = "c"\n'
        '  auto_minor_version_upgrade = false\n}\n')
    manifest = root / ".terraform" / "modules" / "modules.json"
    manifest.write_text(manifest.read_text().replace('"Dir":".terraform/modules/legacy"', '"Dir":"../elsewhere"'))
    got = {f["resource"] for f in scan([root]).findings}
    assert not any(r.startswith("module.legacy.") for r in got)


@pytest.mark.parametrize("constraint, read", [("~> 2.1", True), (">= 2.0, <= 2.1.3, != 2.1.2", True),
                                              ("~> 3.0", False), (">= 2.0, < 2.1.3", False)])
def test_a_registry_module_is_read_only_while_its_version_still_meets_the_call(tmp_path, capsys, constraint, read):
    """What `terraform plan` does with the same folder (checked with terraform 1.11.4): it plans from the fetched
    2.1.3 while the call's constraint admits it, else refuses ("Module version requirements have changed")."""
    root = _initialised(tmp_path)
    main = root / "main.tf"
    main.write_text(main.read_text().replace('version = "~> 2.1"', f'version = "{constraint}"', 1))
    code = cli.main(["iac", str(root), "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    judged = {f["resource"] for f in doc["findings"]}
    assert ("module.neptune.aws_neptune_cluster_instance.writer" in judged) is read
    unread = [f["error"] for f in doc["files"] if f.get("error")]
    assert code == 1 and len(unread) == (0 if read else 1)
    if not read:
        assert f"module.neptune calls example-corp/neptune/aws {constraint}" in unread[0] and "2.1.3" in unread[0]


def test_a_stale_module_that_is_not_neptunes_is_not_listed(tmp_path, capsys):
    root = _initialised(tmp_path)
    (root / ".terraform" / "modules" / "vpc").mkdir()
    (root / ".terraform" / "modules" / "vpc" / "main.tf").write_text('resource "aws_vpc" "this" {\n}\n')
    manifest = root / ".terraform" / "modules" / "modules.json"
    manifest.write_text(manifest.read_text().replace(
        '{"Key":"","Source":"","Dir":"."}', '{"Key":"","Source":"","Dir":"."},{"Key":"vpc","Source":'
        '"registry.terraform.io/example-corp/vpc/aws","Version":"1.0.0","Dir":".terraform/modules/vpc"}'))
    main = root / "main.tf"
    main.write_text(main.read_text() + '\nmodule "vpc" {\n  source  = "example-corp/vpc/aws"\n  version = "~> 2.0"\n}\n')
    cli.main(["iac", str(root), "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert not [f for f in doc["files"] if f.get("error")], "a VPC module is not ours to list"


@pytest.mark.parametrize("constraint, version, allowed", [
    ("~> 2.1", "2.1.3", True), ("~> 2.1", "2.9.0", True), ("~> 2.1", "3.0.0", False), ("~> 2.1", "2.0.9", False),
    ("~> 2.1.0", "2.1.9", True), ("~> 2.1.0", "2.2.0", False), ("2.1.3", "2.1.3", True), ("= 2.1.3", "2.1.4", False),
    ("!= 2.1.3", "2.1.3", False), ("> 2.1", "2.1.0", False), (">= 2.1", "2.1.0", True),
    (">= 2.0, < 2.1.3", "2.1.3", False), (">= 1.0", "2.0.0-beta1", False), ("2.0.0-beta1", "2.0.0-beta1", True),
    ("whatever!", "1.0.0", None)])
def test_version_constraints_read_as_terraform_reads_them(constraint, version, allowed):
    """Terraform language docs, "Version constraints": ~> lets only the rightmost given part grow; a pre-release
    is chosen only by its exact number."""
    from neptune_audit.code.terraform import version_allows

    assert version_allows(constraint, version) is allowed
