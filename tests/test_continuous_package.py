"""`continuous package`: the zip Lambda runs, built, unzipped and run in a virtualenv that holds boto3 alone (as
Lambda's Python runtime does), against the simulated account's server."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile

import pytest

from .conftest import run_cli, seed

pytestmark = pytest.mark.slow

EVENT = {"version": "0", "detail-type": "AWS API Call via CloudTrail", "source": "aws.rds",
         "account": "123456789012", "region": "us-east-1",
         "detail": {"eventSource": "rds.amazonaws.com", "eventName": "ModifyDBInstance", "awsRegion": "us-east-1",
                    "recipientAccountId": "123456789012",
                    "userIdentity": {"arn": "arn:aws:sts::123456789012:assumed-role/Admin/alice"},
                    "requestParameters": {"dBInstanceIdentifier": "pkg-w", "autoMinorVersionUpgrade": False}}}
RUN = ("import json, sys, time\n"
       "t = time.monotonic()\n"
       "from neptune_audit.continuous import handler\n"
       "imported = time.monotonic() - t\n"
       "mods = sorted({m.split('.')[0] for m in sys.modules})\n"
       "out = handler.handler(json.loads(sys.argv[1]), None)\n"
       "print(json.dumps({'imported': imported, 'modules': mods, 'out': out}), file=sys.stderr)\n")


def test_the_package_runs_where_only_boto3_is_installed(tmp_path, moto_server):
    zip_path = tmp_path / "function.zip"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    proc = run_cli(["continuous", "package", "-o", str(zip_path), "--python-version", version], moto_server.env(),
                   timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert "MB zipped" in proc.stderr
    assert zip_path.stat().st_size < 50 * 1024 * 1024
    with zipfile.ZipFile(zip_path) as z:
        names = z.namelist()
        assert sum(i.file_size for i in z.infolist()) < 250 * 1024 * 1024
        z.extractall(tmp_path / "task")
    tops = {n.split("/")[0] for n in names}
    assert not tops & {"plotly", "papermill", "nbconvert", "jupyter_client", "ipykernel", "tree_sitter", "boto3"}
    assert not any(n.startswith(("neptune_audit/present/", "neptune_audit/code/")) for n in names)

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    installed = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "boto3"],
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr

    seed([("pkg", [("pkg-w", False, {})])], endpoint_url=moto_server.url)
    env = moto_server.env(PYTHONPATH=str(tmp_path / "task"), HOME=str(tmp_path))
    env.pop("VIRTUAL_ENV", None)
    ran = subprocess.run([python, "-c", RUN, json.dumps(EVENT)], env=env, capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr[-3000:]
    result = json.loads([x for x in ran.stderr.splitlines() if x.startswith("{")][-1])
    assert result["imported"] < 1.5, "Lambda's cold start budget for the import"
    assert not set(result["modules"]) & {"plotly", "papermill", "nbconvert", "IPython"}
    assert [(d["instance_id"], d["result"]) for d in result["out"]["findings"]] == [("pkg-w", "FAIL")]
    assert result["out"]["imported"] == 1
    judged = [json.loads(x) for x in ran.stdout.splitlines() if '"judged"' in x]
    assert judged and judged[0]["who"].endswith("/alice")
    assert os.path.getsize(zip_path) < 35 * 1024 * 1024, "far below Lambda's 50 MB"
