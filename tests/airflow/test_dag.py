"""`make test-airflow`: run the DAG (examples/airflow) with Apache Airflow in its own virtualenv against the
simulated Organization.  Checks that the report merged from its shards holds exactly the findings of one
`neptune-audit scan --organization`, that a param built to break out of shell quoting is inert, that a run
without a logical date (a manual trigger in Airflow 3) works, and that a FAIL turns the report task red.

Run with the kit's Python (pytest); ``NEPTUNE_AUDIT_AIRFLOW`` is the `airflow` command of Airflow's virtualenv.
It lives outside the DAG folder, so Airflow never tries to import it as a DAG, and outside the wheel.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from neptune_audit.contract import evidence
from neptune_audit.simulate import estate as sim_estate
from neptune_audit.simulate import server as sim_server

DAGS = Path(__file__).resolve().parents[2] / "examples" / "airflow"
AIRFLOW = os.environ.get("NEPTUNE_AUDIT_AIRFLOW", "")
SHARDS = 3
pytestmark = pytest.mark.skipif(not Path(AIRFLOW).is_file(),
                                reason="run through `make test-airflow` (Airflow's own venv)")

# Run the DAG once as a manual trigger does in Airflow 3: no logical date.  `airflow dags test` always sets one
# (it defaults to now), DAG.test(logical_date=None) does not.  Prints each task's final state.
MANUAL_RUN = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
dag = DagBag(dag_folder=sys.argv[1]).get_dag("neptune_audit")
run = dag.test(logical_date=None, run_conf=json.loads(sys.argv[2]))
print(json.dumps({"run_id": run.run_id, "state": str(run.state),
                  "tasks": {ti.task_id: str(ti.state) for ti in run.get_task_instances()}}))
"""


@pytest.fixture(scope="module")
def server():
    s = sim_server.DemoServer()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def airflow_env(server, tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow")
    kit = shutil.which("neptune-audit", path=str(Path(sys.executable).parent)) or "neptune-audit"
    env = {**server.client_env(), "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
           "NEPTUNE_AUDIT_SCHEDULE": "@daily", "NEPTUNE_AUDIT_BIN": kit}
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=600)
    return env


def _conf(out: Path, **kw) -> dict:
    return {"shards": SHARDS, "output_dir": str(out), "exceptions_file": sim_estate.example_exceptions(),
            "role_name": sim_estate.MEMBER_ROLE, **kw}


def test_dag_shards_and_merges_to_the_single_run_and_a_quote_breaking_param_is_inert(server, airflow_env,
                                                                                     tmp_path):
    # Rendered as Jinja inside a bash command, this path ends the quoting and runs `touch` (issue 24).
    planted = tmp_path / "PWNED"
    out = tmp_path / ("out/x{{ \"\\x27\" }}; touch " + str(planted) + "; echo {{ \"\\x27\" }}")
    conf = _conf(out, fail_on_findings=False, neptune_audit="/bin/false")  # the old executable param: ignored
    run = subprocess.run([AIRFLOW, "dags", "test", "neptune_audit", "2026-11-27", "--conf", json.dumps(conf)],
                         env=airflow_env, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert not planted.exists(), "the param ran as shell code"
    shards = sorted(out.glob("2026-11-27/shard-*.json"))
    assert len(shards) == SHARDS, "one mapped task per shard, in the folder named literally as given"
    report = out / "2026-11-27" / "neptune-audit-report.html"
    merged = evidence.extract(report.read_text(), str(report))
    single = subprocess.run([airflow_env["NEPTUNE_AUDIT_BIN"], "scan", "--organization", "--exceptions",
                             sim_estate.example_exceptions(), "--format", "json"], env=airflow_env,
                            capture_output=True, text=True, timeout=300)
    whole = json.loads(single.stdout)
    key = lambda doc: sorted((f["account_id"], f["region"], f["instance_id"], f["result"])  # noqa: E731
                             for f in doc["findings"])
    assert key(merged) == key(whole) and merged["summary"] == whole["summary"]
    assert {s["account_id"] for s in merged["scope"]} == set(server.manifest.accounts.values())
    assert list((out / "history").glob("neptune-audit-*.json")), "the run is in the history"


def test_a_manual_run_without_logical_date_works_and_a_fail_is_red(airflow_env, tmp_path):
    out = tmp_path / "out"
    python = str(Path(AIRFLOW).with_name("python"))
    run = subprocess.run([python, "-c", MANUAL_RUN, str(DAGS), json.dumps(_conf(out, shards=2))],
                         env=airflow_env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    tasks = outcome["tasks"]
    assert tasks["plan"].endswith("success") and tasks["scan_shard"].endswith("success"), tasks
    assert tasks["report"].endswith("failed"), "the demo estate has FAIL findings: the report task shows it"
    assert outcome["state"].endswith("failed")
    folders = [p for p in out.iterdir() if p.is_dir() and p.name != "history"]
    assert len(folders) == 1 and folders[0].name.startswith("manual"), "named by the run id, not a date"
    assert (folders[0] / "neptune-audit-report.html").is_file(), "the report is written before the task fails"


def test_a_param_outside_its_type_is_refused_before_any_task(airflow_env, tmp_path):
    out = tmp_path / "out"
    for bad in ({"role_name": "Audit; touch /tmp/x"}, {"shards": 0}, {"output_dir": "relative/path"}):
        conf = {**_conf(out), **bad}
        run = subprocess.run([AIRFLOW, "dags", "test", "neptune_audit", "2026-11-28", "--conf", json.dumps(conf)],
                             env=airflow_env, capture_output=True, text=True, timeout=300)
        assert run.returncode != 0, bad
        assert not out.exists(), f"{bad}: nothing ran"
