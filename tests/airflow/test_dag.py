"""`make test-airflow`: run the DAG once, end to end, with Apache Airflow (its own virtualenv) against the
simulated Organization, and check that the report merged from its shards holds exactly the findings of one
`neptune-audit scan --organization` of the same estate.

Run with the kit's Python (pytest); ``NEPTUNE_AUDIT_AIRFLOW`` is the `airflow` command of Airflow's virtualenv.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from neptune_audit import evidence, simulate

HERE = Path(__file__).resolve().parent
AIRFLOW = os.environ.get("NEPTUNE_AUDIT_AIRFLOW", "")
SHARDS = 3


@pytest.mark.skipif(not Path(AIRFLOW).is_file(), reason="run through `make test-airflow` (Airflow's own venv)")
def test_dag_shards_and_merges_to_the_single_run(tmp_path):
    server = simulate.DemoServer()
    try:
        kit = shutil.which("neptune-audit", path=str(Path(sys.executable).parent)) or "neptune-audit"
        env = {**server.client_env(), "AIRFLOW_HOME": str(tmp_path / "airflow"),
               "AIRFLOW__CORE__DAGS_FOLDER": str(HERE), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
               "AIRFLOW__CORE__UNIT_TEST_MODE": "False", "NEPTUNE_AUDIT_SCHEDULE": "@daily"}
        subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=600)
        out = tmp_path / "out"
        conf = {"shards": SHARDS, "output_dir": str(out), "neptune_audit": kit,
                "exceptions_file": simulate.example_exceptions(), "role_name": simulate.MEMBER_ROLE}
        run = subprocess.run([AIRFLOW, "dags", "test", "neptune_audit", "2026-11-27", "--conf", json.dumps(conf)],
                             env=env, capture_output=True, text=True, timeout=900)
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
        shards = sorted(out.glob("2026-11-27/shard-*.json"))
        assert len(shards) == SHARDS, "one mapped task per shard"
        report = out / "2026-11-27" / "neptune-audit-report.html"
        merged = evidence.extract(report.read_text(), str(report))
        single = subprocess.run([kit, "scan", "--organization", "--exceptions", simulate.example_exceptions(),
                                 "--format", "json"], env=server.client_env(), capture_output=True, text=True,
                                timeout=300)
        whole = json.loads(single.stdout)
        key = lambda doc: sorted((f["account_id"], f["region"], f["instance_id"], f["result"])  # noqa: E731
                                 for f in doc["findings"])
        assert key(merged) == key(whole) and merged["summary"] == whole["summary"]
        assert {s["account_id"] for s in merged["scope"]} == set(server.manifest.accounts.values())
        assert list((out / "history").glob("neptune-audit-*.json")), "the run is in the history"
    finally:
        server.stop()
