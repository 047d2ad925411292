"""Faults survived and secrets never leaked."""
from __future__ import annotations

import itertools
import re
import threading

import pytest
from botocore.exceptions import EndpointConnectionError

import neptune_audit
from neptune_audit.present import display, sections
from neptune_audit.simulate import estate as sim_estate
from neptune_audit.aws.connection import Connection

from .conftest import run_cli
from .faults import fail_call, in_region

REGIONS = "us-east-1,eu-west-1,ap-southeast-2"

# the demo estate holds a cluster code defines (drift) and one whose window is open now (a restart): an unattended
# apply over all of it says it accepts both, as --yes alone no longer does
UNATTENDED = ("--allow-drift", "--accept-restart")


@pytest.fixture
def org(aws):
    return sim_estate.seed()


def _key(r):
    return sorted(zip(r.findings["account_id"], r.findings["instance_id"], r.findings["result"]))


@pytest.mark.slow
def test_throttling_storm_gives_identical_results(org):
    calm = neptune_audit.scan(neptune_audit.ScanOptions(organization=True, regions=REGIONS))
    lock, counter = threading.Lock(), itertools.count()
    throttled = []

    def storm(request, **_):
        # Real AWS answers HTTP 400 `Throttling` when a caller exceeds its request rate.
        with lock:
            n = next(counter)
        if n % 2 == 0:  # every other request, across every account and region
            throttled.append(n)
            from .faults import _Raw
            from botocore.awsrequest import AWSResponse

            body = (b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded"
                    b"</Message></Error><RequestId>x</RequestId></ErrorResponse>")
            return AWSResponse(request.url, 400, {}, _Raw(body))
        return None

    stormy = neptune_audit.scan(neptune_audit.ScanOptions(organization=True, regions=REGIONS), connection=Connection(
        hooks=[("before-send.rds.DescribeDBInstances", storm), ("before-send.rds.DescribeDBClusters", storm)],
        retry_mode="standard"))
    assert len(throttled) >= 9
    assert _key(stormy) == _key(calm)
    assert set(stormy.scope["state"]) == {"scanned"}


def test_connection_errors_to_one_region_are_confined(org):
    def unreachable(request, **_):
        if "eu-west-1" in request.url or getattr(request, "context", {}).get("client_region") == "eu-west-1":
            raise EndpointConnectionError(endpoint_url=request.url)
        return None

    r = neptune_audit.scan(neptune_audit.ScanOptions(organization=True, regions=REGIONS), connection=Connection(
        hooks=[("before-send.rds.DescribeDBInstances", unreachable)], max_attempts=2, retry_mode="standard"))
    bad = r.scope[r.scope["region"] == "eu-west-1"]
    assert set(bad["state"]) == {"error"} and bad["error"].str.contains("Could not connect").all()
    assert set(r.scope[r.scope["region"] != "eu-west-1"]["state"]) == {"scanned"}
    expected = {(m["account_id"], m["instance_id"]) for m in org.instances if m["region"] != "eu-west-1"}
    assert set(zip(r.findings["account_id"], r.findings["instance_id"])) == expected
    assert r.exit_code == 1


def test_not_enabled_region_and_denied_region_shown_in_coverage(org, monkeypatch):
    shown = []
    monkeypatch.setattr(display, "show_html", shown.append)
    monkeypatch.setattr(sections, "table", lambda df, caption=None, **_: shown.append(df.to_string()))
    deny = fail_call("rds", "DescribeDBInstances", "AccessDenied", "explicit deny in a service control policy",
                     status=403, when=in_region("ap-southeast-2"))
    r = neptune_audit.scan(neptune_audit.ScanOptions(organization=True, regions=REGIONS + ",ap-east-1"),
                           connection=Connection(hooks=[deny]))
    sections.coverage(r)
    text = "\n".join(shown)
    assert "service control policy" in text and "denied" in text
    assert "ap-east-1" in text and "not-enabled" in text
    assert f"{len(org.accounts)} denied" in text
    assert r.exit_code == 1 and r.summary["targets_not_scanned"] == len(org.accounts)


def test_credentials_never_reach_any_output(moto_server, tmp_path):
    moto_server.seed()
    # Distinctive values, built at run time so that no key-shaped string sits in the repository.
    key_id = "AKIA" + "NEPTUNEAUDITLEAK"
    secret = "leak" + "S3cr3t/" * 5 + "xyz"
    token = "leakToken" + "Z" * 40
    env = moto_server.env(AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY=secret, AWS_SESSION_TOKEN=token)
    runs = [
        ["scan", "--organization", "--format", "json", "-o", str(tmp_path / "f.json")],
        ["scan", "--organization", "--format", "csv", "-o", str(tmp_path / "f.csv")],
        ["scan", "--organization", "--format", "ocsf", "-o", str(tmp_path / "f.ocsf.json")],
        ["scan", "--organization"],
        ["scan", "--profile", "nope"],
        ["remediate", "--organization", "--script", str(tmp_path / "fix.sh")],
        ["remediate", "--regions", "us-east-1", "--apply", "--yes", *UNATTENDED, "--audit-log", str(tmp_path / "audit.jsonl")],
        ["report", "--regions", "us-east-1,eu-west-1", "-o", str(tmp_path / "r.html"),
         "--keep-notebook", str(tmp_path / "r.ipynb")],
    ]
    texts = []
    for args in runs:
        proc = run_cli(args, env, cwd=tmp_path)
        texts += [proc.stdout, proc.stderr]
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"f.json", "f.csv", "f.ocsf.json", "fix.sh", "audit.jsonl", "r.html", "r.ipynb"}
    texts += [p.read_text(errors="replace") for p in files]
    blob = "\n".join(texts)
    for value in (key_id, secret, token):
        assert value not in blob
    assert not re.search(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b", blob), "no access key id of any kind"
    assert not re.search(r"aws_secret_access_key|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN", blob)


def test_killed_remediation_leaves_intents_and_a_rerun_completes(moto_server, tmp_path):
    import subprocess
    import sys
    import time
    from collections import Counter

    from benchmarks.proxy import LatencyProxy
    from neptune_audit.act import auditlog

    estate = moto_server.seed()
    proxy = LatencyProxy(moto_server.port, rtt=0.4)  # slow enough to kill the process mid-run
    env = moto_server.env(AWS_ENDPOINT_URL=proxy.url)
    log = tmp_path / "audit.jsonl"
    args = ["remediate", "--organization", "--regions", REGIONS, "--apply", "--yes", *UNATTENDED, "--audit-log", str(log)]
    proc = subprocess.Popen([sys.executable, "-m", "neptune_audit", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not auditlog.dangling(log) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.kill()  # SIGKILL: no chance to write anything more
    proc.wait()
    stuck = auditlog.dangling(log)
    assert stuck, "the log shows changes that were announced but never concluded"
    proxy.reset(rtt=0)
    rerun = run_cli(args, env)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    changed = Counter(r["instance_id"] + "@" + r["account_id"] for r in auditlog.read(log)
                      if r["event"] == "outcome" and r["outcome"] == "changed")
    assert max(changed.values()) == 1, "no instance was changed twice"
    final = run_cli(["scan", "--organization", "--regions", REGIONS, "--format", "json"], env)
    assert final.returncode == 0 and '"fail": 0' in final.stdout
    failing = sum(not m["auto_minor_version_upgrade"] for m in estate.instances)
    assert len(changed) + len(stuck) >= failing
    proxy.stop()
