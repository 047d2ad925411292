"""`iac` where teams run it: the pre-commit hook (run by pre-commit itself, through `try-repo`) and the example GitHub
Actions workflow (its own command, run as the workflow runs it, and the SARIF it hands to upload-sarif)."""
from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT

BIN = Path(sys.executable).parent
FALSE = ("Resources:\n  Graph:\n    Type: AWS::Neptune::DBInstance\n    Properties:\n"
         "      DBInstanceClass: db.r6g.large\n      AutoMinorVersionUpgrade: false\n")


def _env(tmp_path):
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}


def test_the_hook_manifest_is_valid():
    proc = subprocess.run([str(BIN / "pre-commit"), "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_the_pre_commit_hook_fails_a_commit_that_turns_the_setting_off(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "work"
    repo.mkdir()
    env = _env(tmp_path)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, env=env)
    (repo / "graph.yaml").write_text(FALSE)
    (repo / "notes.yaml").write_text("just: notes\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True, env=env)
    run = [str(BIN / "pre-commit"), "try-repo", str(ROOT), "neptune-audit-iac-system", "--files", "graph.yaml",
           "notes.yaml"]
    proc = subprocess.run(run, cwd=repo, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "graph.yaml:6" in proc.stdout and "Failed" in proc.stdout
    (repo / "graph.yaml").write_text(FALSE.replace("false", "true"))
    proc = subprocess.run(run, cwd=repo, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0 and "Passed" in proc.stdout, proc.stdout + proc.stderr


def test_the_github_workflow_writes_the_sarif_it_uploads(tmp_path):
    flow = yaml.safe_load((ROOT / "examples" / "github-actions" / "neptune-audit-iac.yml").read_text())
    steps = flow["jobs"]["neptune-001"]["steps"]
    check = next(s for s in steps if s.get("id") == "iac")
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("github/codeql-action/upload-sarif"))
    assert flow["permissions"]["security-events"] == "write"
    checkout, runner_temp = tmp_path / "checkout", tmp_path / "runner-temp"
    checkout.mkdir()
    runner_temp.mkdir()
    (checkout / "graph.yaml").write_text(FALSE)
    # as the runner does: a shell, with RUNNER_TEMP set; the upload step's ${{ runner.temp }} is the same folder
    proc = subprocess.run(["bash", "-c", check["run"]], cwd=checkout, capture_output=True, text=True,
                          env={**_env(tmp_path), "RUNNER_TEMP": str(runner_temp)}, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert [p.name for p in checkout.iterdir()] == ["graph.yaml"], "nothing written into the checkout"
    sarif = json.loads(Path(upload["with"]["sarif_file"].replace("${{ runner.temp }}", str(runner_temp))).read_text())
    result = sarif["runs"][0]["results"][0]
    assert result["ruleId"] == "Neptune-001"
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "graph.yaml"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 6


@pytest.mark.slow
def test_the_github_workflow_installs_the_kit_from_a_pinned_reference(tmp_path):
    """The install step, as the workflow runs it, against a clone of this repository standing in for GitHub: the
    requirement names the project's own repository, pinned to the release tag of the version it ships."""
    import tomllib

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    flow = yaml.safe_load((ROOT / "examples" / "github-actions" / "neptune-audit-iac.yml").read_text())
    step = next(s for s in flow["jobs"]["neptune-001"]["steps"] if s.get("name") == "Install neptune-audit")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    ref = step["env"]["NEPTUNE_AUDIT_REF"]
    from neptune_audit._version import __version__

    assert ref == f"v{__version__}", "pinned to the release of the version the example ships with"
    source = project["urls"]["Source"]
    assert f"git+{source}@${{NEPTUNE_AUDIT_REF}}" in step["run"], step["run"]
    assert step["run"].startswith("pip install ")

    clone = tmp_path / "repo"
    env = _env(tmp_path)
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, env=env)
    subprocess.run(["git", "-C", str(clone), "tag", ref], check=True, env=env)
    command = step["run"].replace(source, clone.as_uri()).replace(
        "pip install ", f"{shlex.quote(sys.executable)} -m pip install -q --no-deps --target {tmp_path / 'site'} ", 1)
    proc = subprocess.run(["bash", "-c", command], env={**env, **step["env"]}, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "site" / "neptune_audit" / "__init__.py").is_file()
