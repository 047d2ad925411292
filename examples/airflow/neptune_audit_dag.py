"""neptune-audit on Apache Airflow 3: scan an AWS Organization in N shards (one mapped task each), then render
one HTML report from the shards.

Deployment settings (environment of the DAG processor and workers, never a run-time param):
``NEPTUNE_AUDIT_BIN`` — the kit's command, from the environment the kit is installed in (default
``neptune-audit`` on PATH); ``NEPTUNE_AUDIT_SCHEDULE`` (default ``@daily``).

Run params (typed and validated, overridable per run with ``--conf``): ``shards`` (1-64), ``role_name`` (an IAM
role name), ``exceptions_file`` and ``output_dir`` (absolute paths), ``fail_on_findings`` (default true).
Each run writes to ``output_dir/<logical date>/`` (a manual run without a logical date: ``output_dir/<run
id>/``) and adds itself to ``output_dir/history``.  ``output_dir`` must be one folder that every worker sees
(a shared volume): the shards are written by one worker and read by another.

Why argv and not ``@task.bash``: Airflow renders a bash task's returned command as a Jinja template, so a
param holding ``{{ ... }}`` would end any shell quoting and run code on the worker.  Here every task is
Python and calls the kit with an argument list (no shell, no template), and the program is fixed at
deployment.

Outcomes: a shard that finds failures (exit 1) or incomplete scope (exit 3) succeeds — the report shows them.
The report task fails (visibly red, no retry) when the run found FAIL findings or incomplete scope, unless
``fail_on_findings`` is false; bad input or credentials (2) and internal errors (4) always fail.

The last step is the kit's own ``neptune-audit report --from``, not ``PapermillOperator``: it refuses shards
that overlap or are of another schema before a kernel starts, exports the executed notebook to one offline
HTML file with the run's JSON embedded and hashed (``neptune-audit evidence``), and adds the run to the
history only once the report is written.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import datetime

from airflow.sdk import Param, dag, task
from airflow.sdk.exceptions import AirflowFailException

KIT = os.environ.get("NEPTUNE_AUDIT_BIN") or shutil.which("neptune-audit") or "neptune-audit"
RESULTS = {0: "PASS", 1: "FAIL findings", 3: "incomplete scope"}  # the kit's exit codes that are results
ABSOLUTE_PATH = r"^/[^\x00]*$"


def _folder(path: str, what: str) -> str:
    """An absolute path without `..`; the Param pattern checks the form, this the meaning."""
    if not os.path.isabs(path) or ".." in path.split("/"):
        raise AirflowFailException(f"{what} must be an absolute path without '..': {path!r}")
    return path


def _kit(args: list[str]) -> int:
    """Run the kit with an argument list; return its result code, fail the task on any other."""
    rc = subprocess.run([KIT, *args], check=False).returncode
    if rc not in RESULTS:
        raise AirflowFailException(f"neptune-audit {args[0]} exited {rc}")
    return rc


@dag(dag_id="neptune_audit", schedule=os.environ.get("NEPTUNE_AUDIT_SCHEDULE", "@daily"),
     start_date=datetime(2026, 1, 1), catchup=False, max_active_runs=1, tags=["compliance", "neptune"],
     params={
         "shards": Param(4, type="integer", minimum=1, maximum=64, description="scan shards (mapped tasks)"),
         # IAM role names: https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
         "role_name": Param("OrganizationAccountAccessRole", type="string", pattern=r"^[\w+=,.@-]{1,64}$"),
         "exceptions_file": Param("", type="string", pattern=r"^(|/[^\x00]*)$",
                                  description="absolute path of the reviewed-exceptions YAML, or empty"),
         "output_dir": Param("/var/lib/neptune-audit", type="string", pattern=ABSOLUTE_PATH,
                             description="absolute path shared by every worker"),
         "fail_on_findings": Param(True, type="boolean",
                                   description="fail the report task when the run found FAIL or incomplete scope"),
     })
def neptune_audit():
    @task
    def plan(params=None, dag_run=None, logical_date=None) -> list[dict]:
        out = _folder(params["output_dir"], "output_dir")
        if params["exceptions_file"]:
            _folder(params["exceptions_file"], "exceptions_file")
        # Airflow 3 gives a manual trigger no logical date: name its folder by the run id instead
        name = logical_date.strftime("%Y-%m-%d") if logical_date else re.sub(r"[^\w.-]", "_", dag_run.run_id)
        # Airflow's run id pattern allows "..": a name of dots would be the parent folder, or this one
        name = re.sub(r"^\.+", lambda m: "_" * len(m.group()), name)
        folder = os.path.join(out, name)
        os.makedirs(folder, exist_ok=True)
        n = params["shards"]
        return [{"k": k, "n": n, "folder": folder} for k in range(1, n + 1)]

    @task
    def scan_shard(shard: dict, params=None) -> str:
        path = os.path.join(shard["folder"], f"shard-{shard['k']}-of-{shard['n']}.json")
        args = ["scan", "--organization", "--role-name", params["role_name"], "--shard",
                f"{shard['k']}/{shard['n']}", "--format", "json", "-o", path]
        if params["exceptions_file"]:
            args += ["--exceptions", params["exceptions_file"]]
        _kit(args)
        return path

    @task
    def report(paths: list[str], params=None) -> str:
        paths = sorted(paths)
        folder = os.path.dirname(paths[0])
        html = os.path.join(folder, "neptune-audit-report.html")
        rc = _kit(["report", "--from", *paths, "--history", os.path.join(params["output_dir"], "history"),
                   "-o", html])
        if rc and params["fail_on_findings"]:
            raise AirflowFailException(f"neptune-audit found {RESULTS[rc]}: {html}")
        return html

    report(scan_shard.expand(shard=plan()))


neptune_audit()
