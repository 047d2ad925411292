"""The CLI as a user runs it: a separate process against a moto server through AWS_ENDPOINT_URL."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

from neptune_audit import vocabulary
from neptune_audit.simulate import estate as sim_estate

from .conftest import run_cli, seed

def check_contract(doc: dict) -> None:
    """Validate a `--format json` document against the published JSON Schema, then what a schema cannot say."""
    vocabulary.validate(doc)
    assert doc["rule"]["id"] == "Neptune-001" and doc["rule"]["risk"] == "Medium"
    assert doc["rule"]["standards"] == ["APRA", "MAS", "NIST4"]
    for f in doc["findings"]:
        assert isinstance(f["is_writer"], bool), "every seeded instance is in a cluster"
        if f["result"] == "EXCEPTED":
            assert f["exception"] and not f["exception"]["expired"]
        elif f["exception"]:
            assert f["result"] == "FAIL" and f["exception"]["expired"]
    s = doc["summary"]
    assert s["instances"] == len(doc["findings"]) == s["pass"] + s["fail"] + s["excepted"]
    assert s["targets_scanned"] == sum(x["state"] == "scanned" for x in doc["scope"])
    assert s["targets_not_scanned"] == sum(x["state"] in vocabulary.NOT_SCANNED for x in doc["scope"])


@pytest.fixture
def estate(moto_server):
    """The demo Organization, seeded into the moto server."""
    return moto_server.seed()


def test_json_matches_contract_and_the_estate(moto_server, estate):
    proc = run_cli(["scan", "--organization", "--format", "json"], moto_server.env())
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == "", "no progress bar or noise when stderr is not a terminal"
    doc = json.loads(proc.stdout)
    check_contract(doc)
    expected = {(m["account_id"], m["instance_id"]): ("PASS" if m["auto_minor_version_upgrade"] else "FAIL")
                for m in estate.instances}
    assert {(f["account_id"], f["instance_id"]): f["result"] for f in doc["findings"]} == expected
    decoys = {d["instance_id"] for d in estate.decoys}
    assert not decoys & {f["instance_id"] for f in doc["findings"]}
    assert {s["account_id"] for s in doc["scope"]} == set(estate.accounts.values())


def test_exit_zero_when_everything_passes(moto_server):
    seed([("ok", [("ok-1", True, {})])], endpoint_url=moto_server.url)
    proc = run_cli(["scan", "--regions", "us-east-1"], moto_server.env())
    assert proc.returncode == 0, proc.stderr
    assert "ok-1" in proc.stdout and "1 instances: 1 pass, 0 fail" in proc.stdout


def test_exit_zero_when_failures_are_excepted(moto_server, tmp_path):
    seed([("x", [("x-1", False, {})])], endpoint_url=moto_server.url)
    (tmp_path / "e.yml").write_text("- {instance: x-1, reason: pinned by vendor}\n")
    proc = run_cli(["scan", "--regions", "us-east-1", "--exceptions", str(tmp_path / "e.yml")], moto_server.env())
    assert proc.returncode == 0, proc.stderr
    assert "EXCEPTED" in proc.stdout and "pinned by vendor" in proc.stdout


def test_csv_and_output_file(moto_server, estate, tmp_path):
    out = tmp_path / "findings.csv"
    proc = run_cli(["scan", "--organization", "--format", "csv", "-o", str(out)], moto_server.env())
    assert proc.returncode == 1 and proc.stdout == ""
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == len(estate.instances)
    assert list(rows[0]) == list(vocabulary.FINDING_FIELDS)
    assert rows[0]["result"] == "FAIL", "failing first"
    assert all(isinstance(json.loads(r["tags"]), dict) for r in rows)
    # counts are written as the JSON writes them ("3", not pandas' "3.0" of a column holding a null)
    behind = [r["minor_versions_behind"] for r in rows]
    assert any(behind) and all(v == "" or v.isdigit() for v in behind), behind


@pytest.mark.parametrize("fmt, loads_pandas", [("json", False), ("csv", False), ("table", True)])
def test_a_scan_to_json_or_csv_never_loads_pandas(moto_server, fmt, loads_pandas, tmp_path):
    """Start-up cost: the contract's records are written from rows; only the terminal table reads DataFrames
    (and then pandas loads on a side thread while the requests are in flight)."""
    seed([("c", [("c-1", False, {}), ("c-2", True, {})])], endpoint_url=moto_server.url)
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "neptune_audit", "scan", "--regions",
                           "us-east-1", "--format", fmt, "-o", str(tmp_path / "out")], env=moto_server.env(),
                          capture_output=True, text=True, timeout=120)
    # (top-level packages: a side thread's "pandas" line may be cut by the exit, its submodules' lines are not)
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert proc.returncode == 1, proc.stderr[-500:]
    assert ("pandas" in imported) is loads_pandas
    assert "boto3" not in imported, "the kit's sessions are botocore's own"
    assert "c-1" in (tmp_path / "out").read_text()


def test_ocsf_parses_back_into_compliance_findings(moto_server, estate):
    from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding

    proc = run_cli(["scan", "--organization", "--format", "ocsf", "--exceptions",
                    str(_example())], moto_server.env())
    events = [ComplianceFinding.model_validate(e) for e in json.loads(proc.stdout)]
    assert len(events) == len(estate.instances)
    assert {e.class_uid for e in events} == {2003}
    assert {e.compliance.control for e in events} == {"Neptune-001"}
    assert all(e.compliance.standards == ["APRA", "MAS", "NIST4"] for e in events)
    codes = [e.status_code for e in events]
    doc = json.loads(run_cli(["scan", "--organization", "--format", "json", "--exceptions", str(_example())],
                             moto_server.env()).stdout)
    excepted = sum(f["result"] == "EXCEPTED" for f in doc["findings"])
    assert excepted >= 1 and codes.count("EXCEPTED") == excepted
    assert {e.status for e in events if e.status_code == "EXCEPTED"} == {"Suppressed"}
    assert {e.resources[0].region for e in events} == {m["region"] for m in estate.instances}


def _example():
    from neptune_audit.simulate.estate import example_exceptions

    return example_exceptions()


def test_role_arns_from_the_command_line(moto_server):
    creds = sim_estate.assume_credentials(moto_server.url, "111111111111")
    seed([("g", [("g-1", False, {})])], endpoint_url=moto_server.url, creds=creds, account_id="111111111111")
    proc = run_cli(["scan", "--regions", "us-east-1", "--format", "json",
                    "--role-arn", "arn:aws:iam::111111111111:role/Audit"], moto_server.env())
    doc = json.loads(proc.stdout)
    assert [(f["account_id"], f["result"]) for f in doc["findings"]] == [("111111111111", "FAIL")]


@pytest.mark.slow
def test_demo_command_runs_without_credentials(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AWS_EC2_METADATA_DISABLED": "true"}
    proc = run_cli(["demo"], env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = tmp_path / proc.stdout.split(" ")[0]
    assert report.parent == tmp_path / "reports" and report.name.startswith("neptune-audit-demo-")
    html = report.read_text()
    assert "Neptune-001" in html and "kg-legacy-writer" in html and "orders-mysql" not in html
    assert len(list((tmp_path / "reports" / "history").glob("*.json"))) == 1


def test_missing_credentials_is_exit_2(moto_server):
    env = moto_server.env(AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None)
    env = {k: v for k, v in env.items() if v is not None}
    env.pop("AWS_ACCESS_KEY_ID", None)
    env.pop("AWS_SECRET_ACCESS_KEY", None)
    proc = run_cli(["scan", "--regions", "us-east-1"], env)
    assert proc.returncode == 2 and "no AWS credentials found" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1


def test_help_lists_the_commands():
    proc = run_cli(["--help"], {"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0 and "scan" in proc.stdout and "demo" in proc.stdout


@pytest.mark.slow
def test_demo_serve_prints_a_working_endpoint(tmp_path):
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "neptune_audit", "demo", "--serve", "--port", str(port)],
                              stdout=subprocess.PIPE, text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    try:
        lines = []
        while not any(line.strip().startswith("neptune-audit scan") for line in lines):
            line = server.stdout.readline()
            assert line, "the server exited early"
            lines.append(line)
        exports = dict(part.split("=", 1) for line in lines if line.strip().startswith("export ")
                       for part in line.split()[1:])
        assert exports["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{port}"
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AWS_EC2_METADATA_DISABLED": "true", **exports}
        proc = run_cli(["scan", "--organization", "--format", "json"], env)
        doc = json.loads(proc.stdout)
        assert proc.returncode == 1 and len({f["account_id"] for f in doc["findings"]}) == 3
    finally:
        server.terminate()
        server.wait(10)


def test_scan_to_json_does_not_load_the_report_stack(moto_server, estate, tmp_path):
    """A scheduled `scan --format json` pays for boto3 and pandas only: not plotly, papermill, nbconvert, widgets."""
    out = tmp_path / "f.json"
    probe = ("import sys\nfrom neptune_audit.cli import main\n"
             f"code = main(['scan', '--organization', '--format', 'json', '-o', {str(out)!r}])\n"
             "print(code, sorted(m for m in ('plotly', 'papermill', 'nbconvert', 'ipywidgets', 'itables', 'nbformat')"
             " if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", probe], env=moto_server.env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.stdout.split(None, 1) == ["1", "[]\n"], proc.stderr[-2000:]
    check_contract(json.loads(out.read_text()))


def _serve(port: int, home) -> subprocess.Popen:
    import sys

    return subprocess.Popen([sys.executable, "-m", "neptune_audit", "demo", "--serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(home)})


def _instances(port: int, home) -> set[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    proc = run_cli(["scan", "--organization", "--format", "json"], env)
    doc = json.loads(proc.stdout)
    assert doc["scope"] and {s["state"] for s in doc["scope"]} <= {"scanned", "not-enabled"}, doc["scope"]
    return {f["arn"] for f in doc["findings"]}


@pytest.mark.slow
def test_demo_serve_is_whole_when_it_answers_guards_its_state_and_restarts_on_its_port(tmp_path):
    import socket
    import time

    import requests

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = _serve(port, tmp_path)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # a scan the moment the port answers, as a script polling it would
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert server.poll() is None, server.stderr.read()
            time.sleep(0.02)
        first = _instances(port, tmp_path)
        assert server.stdout.readline().startswith("Simulated AWS account running")
        assert first and first == _instances(port, tmp_path), "the whole Organization from the first answer"

        url = f"http://127.0.0.1:{port}/moto-api"
        for path in ("/reset", "/seed?a=1", "/reset-auth"):
            assert requests.post(url + path, timeout=10).status_code == 403, path
        assert requests.post(url + "/reset", headers={"X-Neptune-Audit-Token": "guess"}, timeout=10).status_code == 403
        assert requests.get(url + "/", timeout=10).status_code == 200, "moto's dashboard still reads"
        assert _instances(port, tmp_path) == first, "nothing was emptied"
    finally:
        server.terminate()
        server.wait(10)
    again = _serve(port, tmp_path)  # the scans left connections in TIME_WAIT on this port
    try:
        line = again.stdout.readline()
        assert line.startswith("Simulated AWS account running"), line + again.stderr.read()
        assert _instances(port, tmp_path) == first
    finally:
        again.terminate()
        again.wait(10)
