"""`neptune-audit remediate` as a subprocess against a moto server."""
from __future__ import annotations

import json

import pytest

from neptune_audit.act import auditlog
from neptune_audit.simulate import estate as sim_estate

from .conftest import boto, run_cli

# the demo estate holds a cluster code defines (drift) and one whose window is open now (a restart): an unattended
# apply over all of it says it accepts both, as --yes alone no longer does
UNATTENDED = ("--allow-drift", "--accept-restart")


def amvu_state(url: str, accounts: dict) -> dict:
    """(account, instance) -> AutoMinorVersionUpgrade for every instance of every engine."""
    state = {}
    for acct in accounts.values():
        creds = None if acct == accounts["management"] else sim_estate.assume_credentials(url, acct)
        for region in ("us-east-1", "eu-west-1", "ap-southeast-2"):
            for db in boto("rds", region, url, creds).describe_db_instances()["DBInstances"]:
                state[(acct, db["DBInstanceIdentifier"], db["Engine"])] = db["AutoMinorVersionUpgrade"]
    return state


@pytest.fixture
def estate(moto_server):
    return moto_server.seed()


def test_dry_run_changes_nothing(moto_server, estate):
    before = amvu_state(moto_server.url, estate.accounts)
    proc = run_cli(["remediate", "--organization"], moto_server.env())
    assert proc.returncode == 0, proc.stderr
    failing = [m for m in estate.instances if not m["auto_minor_version_upgrade"]]
    assert f"for {len(failing)} instance(s)" in proc.stdout and "Dry run: nothing was changed" in proc.stdout
    assert amvu_state(moto_server.url, estate.accounts) == before


def test_script_is_written_and_nothing_changes(moto_server, estate, tmp_path):
    before = amvu_state(moto_server.url, estate.accounts)
    script = tmp_path / "fix.sh"
    proc = run_cli(["remediate", "--regions", "us-east-1", "--script", str(script)], moto_server.env())
    assert proc.returncode == 0, proc.stderr
    cmds = [l for l in script.read_text().splitlines() if l.startswith("aws ")]
    expected = sorted(m["instance_id"] for m in estate.instances if not m["auto_minor_version_upgrade"]
                      and m["account_id"] == estate.accounts["management"] and m["region"] == "us-east-1")
    assert sorted(c.split("--db-instance-identifier ")[1].split()[0] for c in cmds) == expected
    assert all(c.endswith("--auto-minor-version-upgrade --no-apply-immediately") for c in cmds)
    assert not script.stat().st_mode & 0o111, "not executable: the reviewer runs it deliberately (sh fix.sh)"
    assert amvu_state(moto_server.url, estate.accounts) == before


def test_apply_yes_fixes_exactly_the_failing_neptune_instances(moto_server, estate, tmp_path):
    before = amvu_state(moto_server.url, estate.accounts)
    log = tmp_path / "audit.jsonl"
    proc = run_cli(["remediate", "--organization", "--apply", "--yes", *UNATTENDED, "--audit-log", str(log)], moto_server.env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = amvu_state(moto_server.url, estate.accounts)
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {(m["account_id"], m["instance_id"], "neptune") for m in estate.instances
                       if not m["auto_minor_version_upgrade"]}
    assert all(not v for (a, i, engine), v in after.items() if engine != "neptune"), "decoys untouched"
    records = auditlog.read(log)
    intents = {r["change_id"] for r in records if r["event"] == "intent"}
    outcomes = {r["change_id"]: r["outcome"] for r in records if r["event"] == "outcome"}
    assert intents == set(outcomes) and len(intents) == len(changed)
    assert set(outcomes.values()) == {"changed"}
    assert "testing" not in log.read_text(), "no credentials in the audit log"
    # A second run finds nothing left to do.
    again = run_cli(["remediate", "--organization", "--apply", "--yes", *UNATTENDED, "--audit-log", str(log)], moto_server.env())
    assert again.returncode == 0 and "Nothing to remediate" in again.stdout
    scan = run_cli(["scan", "--organization", "--format", "json"], moto_server.env())
    assert scan.returncode == 0 and json.loads(scan.stdout)["summary"]["fail"] == 0


def test_one_instance_only(moto_server, estate, tmp_path):
    proc = run_cli(["remediate", "--regions", "us-east-1", "--instance", "fraud-detect-1", "--apply", "--yes", *UNATTENDED,
                    "--audit-log", str(tmp_path / "a.jsonl")], moto_server.env())
    assert proc.returncode == 0, proc.stderr
    state = amvu_state(moto_server.url, estate.accounts)
    mgmt = estate.accounts["management"]
    assert state[(mgmt, "fraud-detect-1", "neptune")] and not state[(mgmt, "graph-prod-3", "neptune")]


@pytest.mark.parametrize("args, message", [
    (["--instance", "nope"], "unknown instance 'nope'"),
    (["--instance", "orders-mysql"], "unknown instance 'orders-mysql'"),
    (["--apply"], "add --yes to run unattended"),
    (["--apply-immediately"], "--apply-immediately goes with --apply"),
    (["--script", "/nonexistent/x.sh"], "output folder does not exist"),
])
def test_bad_input(moto_server, estate, args, message):
    before = amvu_state(moto_server.url, estate.accounts)
    proc = run_cli(["remediate", "--regions", "us-east-1", *args], moto_server.env(), input="")
    assert proc.returncode == 2 and message in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert amvu_state(moto_server.url, estate.accounts) == before


def test_named_excepted_instance_is_left_alone_unless_asked(moto_server, estate, tmp_path):
    from neptune_audit.simulate.estate import example_exceptions

    mgmt = estate.accounts["management"]
    args = ["remediate", "--regions", "us-east-1", "--exceptions", example_exceptions(), "--instance",
            "kg-legacy-writer", "--apply", "--yes", *UNATTENDED, "--audit-log", str(tmp_path / "a.jsonl")]
    proc = run_cli(args, moto_server.env())
    assert proc.returncode == 0, proc.stderr
    assert "Left alone: kg-legacy-writer" in proc.stdout and "excepted" in proc.stdout
    assert "Nothing to remediate" in proc.stdout
    assert not amvu_state(moto_server.url, estate.accounts)[(mgmt, "kg-legacy-writer", "neptune")]
    proc = run_cli([*args, "--include-excepted"], moto_server.env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert amvu_state(moto_server.url, estate.accounts)[(mgmt, "kg-legacy-writer", "neptune")]


def test_damaged_audit_log_stops_before_anything_changes(moto_server, estate, tmp_path):
    before = amvu_state(moto_server.url, estate.accounts)
    log = tmp_path / "a.jsonl"
    log.write_text('{"event": "intent", "change_id": "x"}\n[1, 2]\n{"event": "outcome", "change_id": "x"}\n')
    proc = run_cli(["remediate", "--regions", "us-east-1", "--apply", "--yes", *UNATTENDED, "--audit-log", str(log)],
                   moto_server.env())
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert f"{log} is damaged at line 2" in proc.stderr
    assert amvu_state(moto_server.url, estate.accounts) == before
