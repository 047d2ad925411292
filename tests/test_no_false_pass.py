"""A compliance verdict is never "pass" when nothing was checked; a broken answer costs one region, not the run;
a bug is told apart from bad input (exit 4, not 2)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from neptune_audit import lab as lab_setup


from neptune_audit.simulate import server as sim_server
from benchmarks.proxy import LatencyProxy

from .conftest import run_cli, seed


def test_organization_that_lists_no_account_is_bad_input(moto_server):
    # moto without an Organization answers ListAccounts with nothing; real AWS raises
    # AWSOrganizationsNotInUseException.  Either way nothing can be scanned as asked: exit 2, one line.
    proc = run_cli(["scan", "--organization"], moto_server.env())
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert "Organization" in proc.stderr and proc.stdout == ""


def test_nothing_scanned_is_never_exit_0(moto_server):
    # ap-east-1 is an opt-in region the simulated account has not enabled: nothing can be scanned there.
    proc = run_cli(["scan", "--regions", "ap-east-1"], moto_server.env())
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "NOTHING WAS SCANNED" in proc.stdout and "0 account-regions scanned" in proc.stdout
    doc = json.loads(run_cli(["scan", "--regions", "ap-east-1", "--format", "json"], moto_server.env()).stdout)
    assert doc["summary"]["targets_scanned"] == 0 and doc["scope"][0]["state"] == "not-enabled"


def test_management_account_is_always_in_scope(moto_server):
    manifest = moto_server.seed()
    doc = json.loads(run_cli(["scan", "--organization", "--regions", "us-east-1", "--format", "json"],
                             moto_server.env()).stdout)
    assert manifest.accounts["management"] in {s["account_id"] for s in doc["scope"] if s["state"] == "scanned"}
    assert {s["account_id"] for s in doc["scope"]} == set(manifest.accounts.values())


def test_an_unparseable_answer_costs_one_region_not_the_run(moto_server):
    seed([("a", [("a-1", True, {})])], endpoint_url=moto_server.url)
    seed([("b", [("b-1", True, {})])], region="eu-west-1", endpoint_url=moto_server.url)
    proxy = LatencyProxy(moto_server.port)
    proxy.garble = {("DescribeDBInstances", "eu-west-1")}
    try:
        proc = run_cli(["scan", "--regions", "us-east-1,eu-west-1", "--format", "json"],
                       moto_server.env(AWS_ENDPOINT_URL=proxy.url))
    finally:
        proxy.stop()
    assert proc.returncode == 3, proc.stderr  # no FAIL, but a region was not scanned
    # the CLI logs each region it could not scan as one warning line; no XML, no traceback
    assert proc.stderr.splitlines() == [
        "neptune-audit: account 123456789012 region eu-west-1 not scanned: error "
        "(ResponseParserError: AWS's answer could not be parsed (malformed or cut short))"], proc.stderr
    doc = json.loads(proc.stdout)
    scope = {s["region"]: s for s in doc["scope"]}
    assert scope["us-east-1"]["state"] == "scanned" and [f["instance_id"] for f in doc["findings"]] == ["a-1"]
    assert scope["eu-west-1"]["state"] == "error" and "ResponseParserError" in scope["eu-west-1"]["error"]
    assert "\n" not in scope["eu-west-1"]["error"] and len(scope["eu-west-1"]["error"]) < 300


@pytest.mark.slow
def test_a_bug_is_exit_4_with_one_line_and_a_hint():
    probe = ("import sys\nfrom neptune_audit import api, cli\n"
             "def boom(*args, **kw):\n    raise KeyError('internal state')\n"
             "api.policy = boom\nsys.exit(cli.main(['policy', 'audit']))\n")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 4
    assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr
    assert "internal error" in proc.stderr and "KeyError" in proc.stderr and "NEPTUNE_AUDIT_DEBUG=1" in proc.stderr


@pytest.mark.parametrize("args", [["demo", "--serve", "--port", "-5"], ["demo", "--serve", "--port", "99999"],
                                  ["demo", "--serve", "--port", "http"]])
@pytest.mark.slow
def test_demo_port_out_of_range_is_bad_input(args):
    proc = run_cli(args, env=None, timeout=30)
    assert proc.returncode == 2 and "1 to 65535" in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_lab_as_root_allows_root_and_says_so(monkeypatch, tmp_path):
    url = "http://127.0.0.1:1"
    monkeypatch.setattr(sim_server.os, "geteuid", lambda: 0)
    command, env, note = lab_setup.lab_command(url, tmp_path / "lab")
    assert "--allow-root" in command and "root" in note and env["AWS_ENDPOINT_URL"] == url
    monkeypatch.setattr(sim_server.os, "geteuid", lambda: 1000)
    command, _, note = lab_setup.lab_command(url, tmp_path / "lab")
    settings = json.loads((tmp_path / "lab" / ".jupyterlab-settings").joinpath(*lab_setup.WIDGET_SETTINGS).read_text())
    assert settings == {"saveState": True} and env["JUPYTERLAB_SETTINGS_DIR"].startswith(str(tmp_path))
    assert "--allow-root" not in command and note is None
