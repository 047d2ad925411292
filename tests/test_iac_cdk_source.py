"""CDK apps read where people write them, Python and TypeScript: each Neptune construct judged with its own default
(DatabaseCluster: false), at the property's line or the construct call's, named by its construct id; other
libraries' constructs of the same name (aws_rds.DatabaseCluster) are never Neptune."""
from __future__ import annotations

import subprocess

import pytest

from neptune_audit import cli
from neptune_audit.code.scan import scan

from .conftest import ROOT

SOURCE = ROOT / "tests" / "fixtures" / "cdk-source"
# (file, construct id): (result, line)
EXPECTED = {
    ("python/app.py", "DefaultCluster"): ("FAIL", 11),   # DatabaseCluster, unset: CDK writes false
    ("python/app.py", "OnCluster"): ("PASS", 13),        # a constant of the file, true (the property's line)
    ("python/app.py", "Replica"): ("PASS", 14),          # DatabaseInstance, unset: left out, AWS's default
    ("python/app.py", "L1Off"): ("FAIL", 15),            # CfnDBInstance, false
    ("typescript/stack.ts", "Default"): ("FAIL", 11),
    ("typescript/stack.ts", "Flagged"): ("FAIL", 14),    # a const of the file, false
    ("typescript/stack.ts", "L1"): ("PASS", 16),
}


def _found():
    return {(str(f["file"]).split("cdk-source/")[1], f["resource"]): f for f in scan([SOURCE]).findings}


def test_each_construct_is_judged_with_its_own_default():
    got = _found()
    assert {k: (f["result"], f["line"]) for k, f in got.items()} == EXPECTED, "no RDS construct, none missed"
    assert "defaults to false (CDK API reference, DatabaseClusterProps)" in got[("python/app.py", "DefaultCluster")][
        "reason"]
    assert got[("typescript/stack.ts", "Flagged")]["source"] == "cdk"
    assert "stack.ts:6" in got[("typescript/stack.ts", "Flagged")]["reason"], "the const that decides, named"


@pytest.mark.parametrize("name", ["python/app.py", "typescript/stack.ts"])
def test_a_named_source_file_is_read_file_by_file(name, capsys):
    code = cli.main(["iac", str(SOURCE / name)])
    out = capsys.readouterr().out
    assert code == 1 and "1 file(s) read" in out


def test_the_fix_is_made_in_the_source(tmp_path, monkeypatch, capsys):
    import shutil

    shutil.copytree(SOURCE, tmp_path / "app")
    monkeypatch.chdir(tmp_path)
    subprocess.run(["git", "init", "-q"], check=True)
    assert cli.main(["iac", "app", "--fix-diff", str(tmp_path / "fix.diff")]) == 1
    err = capsys.readouterr().err
    subprocess.run(["git", "apply", str(tmp_path / "fix.diff")], check=True)
    after = {(str(f["file"]).split("app/")[1], f["resource"]): f["result"] for f in scan(["app"]).findings}
    assert after[("python/app.py", "L1Off")] == "PASS" and after[("typescript/stack.ts", "Flagged")] == "PASS"
    # an unset DatabaseCluster has no line to flip: the note says what to add, and where
    assert after[("python/app.py", "DefaultCluster")] == "FAIL"
    assert "add autoMinorVersionUpgrade: true" in err and "app/python/app.py:11" in err


APP = ROOT / "tests" / "fixtures" / "cdk-app"


def test_source_verdicts_equal_the_verdicts_on_what_cdk_synth_wrote():
    """The app's source read, against its cloud assembly as the real `cdk synth` wrote it: every synthesized
    instance (its construct path's first part under the stack is the construct id) has its construct's verdict."""
    source = {f["resource"]: f["result"] for f in scan([APP / "bin"]).findings}
    synth = scan([APP / "cdk.out"]).findings
    assert set(source) == {"DefaultCluster", "OnCluster", "Replica", "L1Default", "L1Off"}
    assert len(synth) == 5 and all(f["source"] == "cdk" for f in synth)
    for f in synth:
        construct = f["construct_path"].split("/")[1]
        assert source[construct] == f["result"], (construct, f["reason"])
    assert source["DefaultCluster"] == "FAIL", "CDK wrote AutoMinorVersionUpgrade: false for the unset cluster"


def test_a_synthesized_instance_names_the_construct_that_made_it():
    got = {f["construct_path"]: f for f in scan([APP]).findings if f["file"].endswith(".json")}
    default = got["GraphStack/DefaultCluster/Instance1"]
    assert f"written at {APP / 'bin' / 'app.js'}:13; change it there" in default["reason"]
    assert "written at" in got["GraphStack/L1Off"]["reason"]


CLUSTER_TS = ("import * as neptune from '@aws-cdk/aws-neptune';\n"
              "export class S { constructor() { new neptune.DatabaseCluster(this, 'Db', { vpc }); } }\n")


@pytest.mark.parametrize("manifest, lock, result, says", [
    ({"@aws-cdk/aws-neptune": "1.97.0"}, None, "PASS", "older than 1.140.0, writes nothing"),
    ({"@aws-cdk/aws-neptune": "~1.139.0"}, None, "PASS", "writes nothing"),
    ({"@aws-cdk/aws-neptune": "1.140.0"}, None, "FAIL", "which writes false"),
    ({"@aws-cdk/aws-neptune": "^1.97.0"}, None, "FAIL", "the installed version decides"),
    ({"@aws-cdk/aws-neptune": "^1.97.0"}, "1.120.0", "PASS", "installed at 1.120.0"),   # the lock file decides
    ({"@aws-cdk/aws-neptune": "^1.97.0"}, "1.204.0", "FAIL", "installed at 1.204.0"),
    (None, None, "FAIL", "defaults to false"),                                          # no manifest: today's CDK
])
def test_an_unset_cluster_is_judged_by_the_construct_library_the_app_builds_with(tmp_path, manifest, lock, result,
                                                                                  says):
    """DatabaseCluster writes false only from @aws-cdk/aws-neptune 1.140.0 / aws-neptune-alpha 2.9.0-alpha.0 (read in
    the published packages' lib/cluster.js: 1.139.0 and 2.8.0-alpha.0 write no AutoMinorVersionUpgrade at all)."""
    import json

    app = tmp_path / "app"
    (app / "lib").mkdir(parents=True)
    (app / "lib" / "stack.ts").write_text(CLUSTER_TS)
    (app / "cdk.json").write_text("{}")
    if manifest is not None:
        (app / "package.json").write_text(json.dumps({"dependencies": manifest}))
    if lock is not None:
        (app / "package-lock.json").write_text(json.dumps(
            {"packages": {"node_modules/@aws-cdk/aws-neptune": {"version": lock}}}))
    [finding] = scan([app]).findings
    assert finding["result"] == result and says in finding["reason"], finding["reason"]


def test_python_pins_in_requirements_decide_too(tmp_path):
    (tmp_path / "requirements.txt").write_text("aws-cdk-lib==2.8.0\naws-cdk.aws-neptune-alpha==2.8.0a0\n")
    (tmp_path / "app.py").write_text("import aws_cdk.aws_neptune_alpha as neptune\n"
                                     "neptune.DatabaseCluster(stack, 'Db', vpc=vpc)\n")
    [finding] = scan([tmp_path / "app.py"]).findings
    assert finding["result"] == "PASS" and "2.8.0a0, older than 2.9.0a0" in finding["reason"]


def test_l1_set_after_construction_counts(tmp_path):
    """db.autoMinorVersionUpgrade = false after new CfnDBInstance(...) is what synth writes (last one wins)."""
    (tmp_path / "s.ts").write_text(
        "import { aws_neptune as neptune } from 'aws-cdk-lib';\n"
        "const db = new neptune.CfnDBInstance(this, 'Db', { dbInstanceClass: 'db.r5.large' });\n"
        "db.autoMinorVersionUpgrade = true;\n"
        "db.autoMinorVersionUpgrade = false;\n")
    (tmp_path / "s.py").write_text(
        "from aws_cdk import aws_neptune\n"
        "db = aws_neptune.CfnDBInstance(self, 'PyDb', db_instance_class='db.r5.large', "
        "auto_minor_version_upgrade=True)\n"
        "db.auto_minor_version_upgrade = False\n")
    got = {(f["resource"], f["result"], f["line"]) for f in scan([tmp_path]).findings}
    assert got == {("Db", "FAIL", 4), ("PyDb", "FAIL", 3)}


def test_cdk_app_names_the_source_of_an_assembly_scanned_alone(capsys, tmp_path):
    """`iac cdk.out --cdk-app DIR`: the assembly's findings name the construct in the app's source (the source's
    constructs are not findings of their own); the fix is said to belong there; a DIR that is not a folder is exit 2."""
    app = ROOT / "tests" / "fixtures" / "cdk-app"
    code = cli.main(["iac", str(app / "cdk.out"), "--cdk-app", str(app), "--format", "json",
                     "--fix-diff", str(tmp_path / "fix.diff")])
    import json

    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert code == 1 and all(f["file"].endswith(".template.json") for f in doc["findings"])
    [default] = [f for f in doc["findings"] if f["resource"].startswith("DefaultCluster")]
    assert "bin/app.js:13; change it there" in default["reason"]
    assert "written at" in captured.err and "bin/app.js:13" in captured.err
    assert cli.main(["iac", str(app / "cdk.out"), "--cdk-app", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a folder" in err
