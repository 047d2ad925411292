"""Hostile inputs and hostile places, round three: devices and FIFOs, modes, secrets in URLs, YAML coercion,
invisible characters, concurrent runs on one audit log, signals.  Each is one clear line and exit 2, or works."""
from __future__ import annotations

from neptune_audit.present.terminal import to_table

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from neptune_audit.present import charts
from neptune_audit import cli
from neptune_audit.rule import allowlist
from neptune_audit.contract import export, files
from neptune_audit.contract import history
from neptune_audit.act import remediate
from neptune_audit.errors import UsageError, one_line

from .conftest import seed


def _main(args, capsys):
    code = cli.main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def estate(aws):
    seed([("c1", [("w1", False, {"env": "sand\u202ebox"}), ("r1", True, {})])])


@pytest.mark.skipif(os.geteuid() != 0, reason="replacing /dev/null needs root, as the attack did")
def test_output_to_dev_null_writes_through_and_never_replaces_the_device(estate, capsys):
    code, _, err = _main(["scan", "--regions", "us-east-1", "--format", "json", "-o", "/dev/null"], capsys)
    assert code == 1, err
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode), "/dev/null is still the device"


def test_output_dash_is_standard_output(estate, capfd):
    code = cli.main(["scan", "--regions", "us-east-1", "--format", "json", "-o", "-"])
    out = capfd.readouterr().out
    assert code == 1 and json.loads(out)["summary"]["instances"] == 2
    assert not Path("-").exists()


def test_output_keeps_the_mode_of_the_file_it_replaces_and_follows_a_link(tmp_path):
    target = tmp_path / "private.json"
    target.write_text("old")
    target.chmod(0o600)
    files.write_atomic(target, "new")
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o600
    link = tmp_path / "link.json"
    link.symlink_to(target)
    files.write_atomic(link, "newer")
    assert link.is_symlink() and target.read_text() == "newer", "the link still points at the file it named"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")], "no temporary file left"


def test_writing_to_a_full_device_is_one_line():
    with pytest.raises(UsageError, match="cannot write /dev/full"):
        files.write_atomic("/dev/full", "x" * 100_000)


def test_no_umask_change_at_import():
    code = ("import os; before = os.umask(0o077); os.umask(before); import neptune_audit.contract.export, neptune_audit.cli; "
            "after = os.umask(0o022); os.umask(after); print(before == after)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "True", proc.stderr


def test_query_strings_and_fragments_never_reach_a_message():
    text = one_line('Could not connect to the endpoint URL: "http://u:pw@127.0.0.1:9/x?X-Amz-Security-Token=SECRET#f"')
    assert "SECRET" not in text and "pw" not in text and "http://127.0.0.1:9/x" in text


def test_endpoint_token_in_a_scope_error_is_dropped(aws, monkeypatch):
    import neptune_audit
    from neptune_audit.aws.connection import Connection

    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS", "http://127.0.0.1:9/?X-Amz-Security-Token=SECRET")
    r = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"), connection=Connection(max_attempts=1))
    doc = json.dumps(r.to_dict())
    assert "SECRET" not in doc and r.scope.iloc[0]["state"] == "error"


def test_history_skips_a_run_with_an_impossible_time_and_two_runs_a_second_both_stay(tmp_path):
    import neptune_audit

    bad = tmp_path / "neptune-audit-20261201T000000Z.json"
    bad.write_text(json.dumps({"schema": "neptune-audit/1", "generated_at": "yesterday", "summary": {},
                               "findings": []}))
    doc = {"schema": "neptune-audit/1", "generated_at": "2026-12-01T10:00:00Z"}
    first = history._claim(tmp_path, "20261201T100000Z")
    second = history._claim(tmp_path, "20261201T100000Z")
    assert first != second and first.exists() and second.exists()
    runs, skipped = history.load(tmp_path)
    assert any("generated_at" in s or "not a real time" in s for s in skipped), skipped
    assert doc and neptune_audit  # the folder stays usable: no exception above


def test_exceptions_keep_account_ids_and_tag_values_as_written(tmp_path):
    rules = allowlist.parse("exceptions:\n"
                             "  - instance: a\n    account: 001234567012\n    reason: r\n"
                             "  - tag: {ver: 1.10}\n    reason: r\n"
                             "  - tag: {code: 017}\n    reason: r\n"
                             "  - tag: {ok: yes}\n    reason: r\n")
    assert rules[0].account == "001234567012"
    assert [r.tag for r in rules[1:]] == [("ver", "1.10"), ("code", "017"), ("ok", "yes")]
    for bad in ("1234567890123", "12345"):
        with pytest.raises(UsageError, match="12-digit"):
            allowlist.parse(f"- instance: a\n  account: {bad}\n  reason: r\n")


@pytest.mark.parametrize("args", [["scan", "--demo", "--exceptions", "/dev/zero"],
                                  ["merge", "/dev/zero", "-o", "OUT"],
                                  ["report", "--from", "/dev/zero", "-o", "OUT"]])
def test_devices_where_a_file_is_meant_are_refused(args, tmp_path, capsys):
    args = [str(tmp_path / "o.json") if a == "OUT" else a for a in args]
    code, _, err = _main(args, capsys)
    assert code == 2 and "not a regular file" in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("place", ["/dev/null", "/dev/full", "fifo"])
def test_the_audit_log_must_be_a_regular_file(place, tmp_path):
    from neptune_audit.act.auditlog import AuditLog

    if place == "fifo":
        place = tmp_path / "log.fifo"
        os.mkfifo(place)
    with pytest.raises(UsageError, match="not a regular file"):
        AuditLog(place)


def test_bidi_and_line_separators_reach_no_terminal_csv_or_script(estate):
    import neptune_audit

    r = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"))
    text = to_table(r) + r.write("csv")
    for ch in ("\u202e", "\u2028", "\u2029", "\x1b"):
        assert ch not in text
    assert export.csv_cell("\x1b=1+1") == "'=1+1", "the escape goes, and what it hid is neutralised"
    plan = remediate.plan(r.findings)
    hostile = plan.assign(instance_id=["-h"] * len(plan))
    with pytest.raises(UsageError, match="AWS would not accept"):
        remediate.to_script(hostile)


def test_chart_labels_are_text_never_links():
    f = pd.DataFrame([{"account_id": "123456789012", "region": '<a href="https://x">All instances PASS</a>',
                       "cluster_id": "c", "instance_id": "i", "result": "FAIL", "engine_version": "1.3.0.0"}])
    html = charts.compliance_by_region(f).to_html(include_plotlyjs=False)
    assert '<a href=\\"https://x\\"' not in html and "&lt;a href" in html


def test_two_remediations_on_one_log_take_turns_and_leave_no_open_intent(estate, tmp_path):
    import fcntl

    import neptune_audit
    from neptune_audit.act import auditlog

    log = tmp_path / "audit.jsonl"
    r = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"))
    first = remediate.Remediation(r, audit_log=log)
    first.prepare()
    with open(log, "rb") as other:
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a second run waits for this one
    # an earlier run killed mid-change left an intent open
    first.log.intent({"account_id": "123456789012", "region": "us-east-1", "instance_id": "w1"})
    first.dangling = auditlog.dangling(log)
    first.run(wait_seconds=0)
    assert auditlog.dangling(log) == [], "this run re-read the instances: the note does not repeat"
    with open(log, "rb") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released after the run


@pytest.mark.parametrize("args, words", [
    (["scan", "--demo", "--organization", "--shard", "1/" + "9" * 5000], "--shard takes K/N"),
])
def test_input_faults_are_exit_2_not_4(args, words, capsys):
    code, _, err = _main(args, capsys)
    assert code == 2 and words in err, err


def test_an_impossible_time_in_a_saved_scan_is_exit_2(tmp_path, capsys):
    import neptune_audit

    with_aws = None  # a valid document, then its time made impossible
    from moto import mock_aws

    with mock_aws():
        seed([("c", [("w", True, {})])])
        with_aws = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1")).to_dict()
    with_aws["generated_at"] = "2026-02-30T25:61:61Z"
    path = tmp_path / "s.json"
    path.write_text(json.dumps(with_aws))
    for args in (["report", "--from", str(path), "-o", str(tmp_path / "r.html")],
                 ["merge", str(path), "-o", str(tmp_path / "m.json")]):
        code, _, err = _main(args, capsys)
        assert code == 2 and "not a real time" in err, err


def test_a_report_too_large_to_open_is_refused_up_front(tmp_path, capsys, monkeypatch):
    import neptune_audit
    from moto import mock_aws

    from neptune_audit.present import report

    with mock_aws():
        seed([("c", [("w", True, {}), ("r", True, {})])])
        neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1")).write("json", tmp_path / "s.json")
    monkeypatch.setattr(report, "MAX_REPORT_INSTANCES", 1)
    code, _, err = _main(["report", "--from", str(tmp_path / "s.json"), "-o", str(tmp_path / "r.html")], capsys)
    assert code == 2 and "neptune-audit merge" in err and not (tmp_path / "r.html").exists()


def test_demo_serve_on_a_busy_port_is_one_line(capsys):
    import socket

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        code, _, err = _main(["demo", "--serve", "--port", str(busy.getsockname()[1])], capsys)
    finally:
        busy.close()
    assert code == 2 and "cannot listen on port" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_sigterm_during_a_report_removes_its_private_folder(tmp_path):
    import glob

    import tempfile

    # the report's own temporary folder, apart from any other run's on this machine (short: its kernel's sockets live
    # there, and a Unix socket's name has at most 108 bytes)
    temp = Path(tempfile.mkdtemp(prefix="sigterm-", dir="/tmp" if os.path.isdir("/tmp") else None))
    pattern = str(temp / "neptune-audit-*")
    proc = subprocess.Popen([sys.executable, "-m", "neptune_audit", "report", "--demo", "-o", str(tmp_path / "r.html")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(temp)})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not glob.glob(pattern):
        time.sleep(0.2)
    assert glob.glob(pattern), "the report made its private folder"
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "terminated" in err, err
    assert glob.glob(pattern) == []
    temp.rmdir()  # empty: nothing else was left in it either
