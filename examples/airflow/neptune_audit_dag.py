"""neptune-audit on Apache Airflow 3: scan an AWS Organization in N shards (one mapped task each), then render
one HTML report from the shards.

Parameters (DAG params, overridable per run with `--conf`): ``shards`` (N), ``role_name``, ``exceptions_file``,
``output_dir`` (each run writes to ``output_dir/<logical date>/``; history in ``output_dir/history``),
``neptune_audit`` (the kit's command, from the environment the kit is installed in). The schedule is
``NEPTUNE_AUDIT_SCHEDULE`` (default ``@daily``).

The last step is the kit's own ``neptune-audit report --from``, not ``PapermillOperator``: it refuses shards
that overlap or are of another schema before a kernel starts, exports the executed notebook to one offline
HTML file with the run's JSON embedded and hashed (``neptune-audit evidence``), and adds the run to the
history only once the report is written.  PapermillOperator would only execute the notebook (it can: pass
``results_files``) and leave export, evidence and history to other tasks.  The kit also stays out of
Airflow's environment: tasks call its command, so the two never share dependencies.

Exit codes: a shard or report that finds failures (1) or incomplete scope (3) is a *successful* task — the
report shows them; bad input or credentials (2) and internal errors (4) fail the task.
"""
from __future__ import annotations

import os
import shlex
from datetime import datetime

from airflow.sdk import dag, task

OK_CODES = "0|1|3"  # FAIL findings and incomplete scope are results, shown in the report, not task failures


def _run(command: list[str]) -> str:
    """A bash line that runs ``command`` and turns the kit's result codes into task success."""
    return (f"{shlex.join(command)}; rc=$?; case $rc in {OK_CODES}) exit 0 ;; *) "
            "echo \"neptune-audit exited $rc\" >&2; exit $rc ;; esac")


@dag(dag_id="neptune_audit", schedule=os.environ.get("NEPTUNE_AUDIT_SCHEDULE", "@daily"),
     start_date=datetime(2026, 1, 1), catchup=False, tags=["compliance", "neptune"],
     params={"shards": 4, "role_name": "OrganizationAccountAccessRole", "exceptions_file": "",
             "output_dir": "/var/lib/neptune-audit", "neptune_audit": "neptune-audit"})
def neptune_audit():
    @task
    def shard_numbers(params=None) -> list[int]:
        return list(range(1, int(params["shards"]) + 1))

    @task.bash
    def scan_shard(k: int, params=None, ds=None) -> str:
        out = os.path.join(params["output_dir"], ds)
        command = [params["neptune_audit"], "scan", "--organization", "--role-name", params["role_name"],
                   "--shard", f"{k}/{params['shards']}", "--format", "json", "-o",
                   os.path.join(out, f"shard-{k}-of-{params['shards']}.json")]
        if params["exceptions_file"]:
            command += ["--exceptions", params["exceptions_file"]]
        return f"mkdir -p {shlex.quote(out)} && " + _run(command)

    @task.bash
    def report(params=None, ds=None) -> str:
        out = os.path.join(params["output_dir"], ds)
        shards = [os.path.join(out, f"shard-{k}-of-{params['shards']}.json")
                  for k in range(1, int(params["shards"]) + 1)]
        return _run([params["neptune_audit"], "report", "--from", *shards, "--history",
                     os.path.join(params["output_dir"], "history"), "-o",
                     os.path.join(out, "neptune-audit-report.html")])

    scan_shard.expand(k=shard_numbers()) >> report()


neptune_audit()
