"""Hostile or careless files and values: the exceptions file, the remediation script, the audit log,
terminal and spreadsheet output, credentials in an endpoint URL."""
from __future__ import annotations

import os

import pandas as pd
import pytest

import neptune_audit
from neptune_audit import UsageError
from neptune_audit.act import auditlog
from neptune_audit.act import remediate
from neptune_audit.rule import allowlist as ex
from neptune_audit.contract.export import to_csv

from .conftest import run_cli, seed

LAUGHS = "\n".join(["- instance: db-1", "  reason: x", "  approved_by: &a0 [lol, lol, lol, lol, lol, lol, lol, lol]"]
                   + [f"  x{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]"
                      for i in range(1, 12)])


@pytest.mark.parametrize("text, message", [
    (LAUGHS, "anchors and aliases"),
    ("- {instance: db-1, reason: &r why}\n- {instance: db-2, reason: *r}", "anchors and aliases"),
    ("- {instance: [a, b], reason: x}", "instance must be text, not list"),
    ("- {instance: a, account: {id: 1}, reason: x}", "account must be text, not dict"),
    ("- {instance: a, region: [eu-west-1], reason: x}", "region must be text"),
    ("- {instance: a, reason: x, approved_by: {name: bob}}", "approved_by must be text"),
    ("- {instance: a, reason: [x]}", "reason must be text, not list"),
    ("- {tag: {env: [a, b]}, reason: x}", "tag's key and value must be text"),
    ("- instance: a\n  reason: first\n  instance: b\n", "(line 3): duplicate key 'instance'"),
])
def test_exceptions_file_refuses_hostile_or_mistyped_entries(text, message):
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(UsageError) as err:
            ex.parse(text, "e.yml")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert message in str(err.value) and "\n" not in str(err.value)
    assert peak < 16 * 2**20, "refused before anything expands (an alias bomb would take gigabytes)"


def test_exceptions_file_size_and_entry_limits(tmp_path, monkeypatch):
    monkeypatch.setattr(ex, "MAX_ENTRIES", 50)  # the check, not YAML's speed at 10,000 entries
    big = tmp_path / "big.yml"
    big.write_text("- {instance: db, reason: x}\n" * (ex.MAX_BYTES // 20))
    with pytest.raises(UsageError, match="larger than the 2 MB"):
        ex.load(big)
    many = "\n".join("- {instance: i%d, reason: x}" % i for i in range(ex.MAX_ENTRIES + 1))
    with pytest.raises(UsageError, match=f"more than the {ex.MAX_ENTRIES} allowed"):
        ex.parse(many)


def _plan_row(**over):
    row = {"account_id": "111122223333", "region": "us-east-1", "cluster_id": "c", "instance_id": "db-1",
           "arn": "arn:aws:rds:us-east-1:111122223333:db:db-1", "role": "writer", "status": "available",
           "result": "FAIL", "current": False, "change": "", "pending_modifications": {},
           "maintenance_window": None, "warnings": []}
    return pd.DataFrame([{**row, **over}], columns=remediate.PLAN_COLUMNS)


def test_remediation_script_cannot_be_injected_into(tmp_path):
    import subprocess

    evil = "c\ntouch INJECTED #"
    with pytest.raises(UsageError, match="AWS would not accept"):  # an id AWS never returns: no script at all
        remediate.to_script(_plan_row(instance_id="db-1; touch INJECTED2"))
    script = remediate.to_script(_plan_row(cluster_id=evil, instance_id="db-1",
                                           warnings=["pending\n touch INJECTED3"]))
    assert all(line.startswith(("#", "aws ", "set -eu")) or not line for line in script.splitlines())
    (tmp_path / "bin").mkdir()
    fake_aws = tmp_path / "bin" / "aws"
    fake_aws.write_text("#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$ARGS_OUT\"\n")
    fake_aws.chmod(0o755)
    (tmp_path / "fix.sh").write_text(script)
    env = dict(os.environ, PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}", ARGS_OUT=str(tmp_path / "args"))
    subprocess.run(["sh", str(tmp_path / "fix.sh")], cwd=tmp_path, env=env, check=True, timeout=30)
    assert not list(tmp_path.glob("INJECTED*")), "no identifier ran as a command"
    assert "db-1" in (tmp_path / "args").read_text().splitlines(), "passed as one argument"


@pytest.mark.parametrize("content, line", [
    (b'[1, 2]\n', 1),
    (b'{"event": "intent"}\n', 1),
    (b'{"event": "intent", "change_id": "a"}\n{"event": "outcome", "change_id": "a"}\n\xff\xfe oops\n{}\n', 3),
    (b'{"event": "intent", "change_id": "a"}\nnot json\n{"event": "outcome", "change_id": "a"}\n', 2),
])
def test_damaged_audit_log_names_the_file_and_line(tmp_path, content, line):
    log = tmp_path / "audit.jsonl"
    log.write_bytes(content)
    with pytest.raises(UsageError, match=f"audit log {log} is damaged at line {line}:"):
        auditlog.AuditLog(log)


def test_torn_last_line_is_tolerated(tmp_path):
    log = tmp_path / "audit.jsonl"
    log.write_bytes(b'{"event": "intent", "change_id": "a", "instance_id": "x"}\n{"event": "outc')
    assert [r["instance_id"] for r in auditlog.dangling(log)] == ["x"]


def test_audit_log_is_never_written_through_a_symlink(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("precious\n")
    link = tmp_path / "audit.jsonl"
    link.symlink_to(target)
    with pytest.raises(UsageError, match="symbolic link"):
        auditlog.AuditLog(link)
    assert target.read_text() == "precious\n"


def test_csv_cells_cannot_become_spreadsheet_formulas(aws):
    seed([("c", [("w", False, {"note": "=HYPERLINK(\"http://x\")"})])])
    result = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"))
    for value in ("=1+2", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        result.findings.loc[0, "cluster_id"] = value
        cell = to_csv(result).splitlines()[1].split(",")[2].strip('"')
        assert cell.startswith("'"), cell
    result.findings.loc[0, "cluster_id"] = "graph-prod"
    assert ",graph-prod," in to_csv(result)


def test_terminal_table_strips_control_characters(moto_server, tmp_path):
    # AWS allows no control character in ids or tags; an exceptions file can hold any (YAML escapes).
    seed([("c", [("db-1", False, {})])], endpoint_url=moto_server.url)
    (tmp_path / "e.yml").write_text('- {instance: db-1, reason: "\\e[31mred\\e[0m and a bell\\a, \\x9b2J"}\n')
    proc = run_cli(["scan", "--regions", "us-east-1", "--exceptions", str(tmp_path / "e.yml")], moto_server.env())
    assert proc.returncode == 0, proc.stderr
    assert "red" in proc.stdout and "and a bell" in proc.stdout
    assert not any(ch in proc.stdout for ch in "\x1b\x07\x9b"), "no escape sequence reaches the terminal"


@pytest.mark.parametrize("command", [["scan", "--format", "json"], ["report"]])
def test_output_never_overwrites_the_exceptions_file(moto_server, tmp_path, command):
    exc = tmp_path / "e.yml"
    exc.write_text("- {instance: db-1, reason: x}\n")
    proc = run_cli([*command, "--regions", "us-east-1", "--exceptions", str(exc), "-o", str(exc)], moto_server.env(),
                   cwd=tmp_path)
    assert proc.returncode == 2 and "is the --exceptions file" in proc.stderr
    assert exc.read_text() == "- {instance: db-1, reason: x}\n"


def test_script_never_overwrites_the_audit_log(moto_server, tmp_path):
    log = tmp_path / "a.jsonl"
    log.write_text("")
    proc = run_cli(["remediate", "--regions", "us-east-1", "--audit-log", str(log), "--script", str(log)],
                   moto_server.env())
    assert proc.returncode == 2 and "is the --audit-log file" in proc.stderr


def test_credentials_in_the_endpoint_url_are_never_recorded(moto_server, tmp_path):
    seed([("c", [("db-1", True, {})])], endpoint_url=moto_server.url)
    url = moto_server.url.replace("http://", "http://admin:hunter2@")
    env = moto_server.env(AWS_ENDPOINT_URL=url)
    proc = run_cli(["report", "--regions", "us-east-1", "-o", str(tmp_path / "r.html"), "--keep-notebook",
                    str(tmp_path / "r.ipynb")], env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for path in (tmp_path / "r.html", tmp_path / "r.ipynb"):
        text = path.read_text()
        assert "hunter2" not in text and "admin:" not in text
    assert moto_server.url.split("//")[1] in (tmp_path / "r.html").read_text(), "the endpoint itself is shown"
