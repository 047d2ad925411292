"""What a person at a terminal gets from `scan`: a table fitted to the width, colours only where they belong,
the conventions of Prowler and Custodian (--status, -q, --output-dir), completion, and the commands that
copy the kit's notebooks out of the wheel."""
from __future__ import annotations

import io
import json
import re

import pytest

from neptune_audit import cli
from neptune_audit.present import terminal

from .conftest import ROOT

ANSI = re.compile(r"\x1b\[[0-9;]*m")
pytestmark = pytest.mark.usefixtures("demo_account", "scan_once")


@pytest.fixture(scope="module")
def scan_once(demo_account):
    """Each distinct scan of the module runs once (Custodian's placebo idea): these tests are about what the CLI
    makes of a result (widths, colours, --status, -q, --output-dir), and the simulated account does not change
    between them.  The first CLI run of each set of options scans for real; the result is kept by its options
    (the CLI only reads it; a test that changes one takes a copy, as ``demo_result`` does)."""
    from neptune_audit import api

    real, kept = api.scan, {}

    def scan(options=None, **kw):
        if options is None or kw.keys() - {"progress", "frames"}:
            return real(options, **kw)
        if options not in kept:  # ScanOptions is frozen: its own key
            kept[options] = real(options, **kw)
        return kept[options]

    mp = pytest.MonkeyPatch()
    mp.setattr(api, "scan", scan)
    yield kept
    mp.undo()


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_cli_fits_the_table_to_the_terminal(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run(capsys, "scan", "--demo", "--organization")
    assert code == 1
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any(line.startswith("FAIL ") for line in lines), "results are left-aligned at the start of the row"
    assert not ANSI.search(out), "no colour when standard output is not a terminal"


@pytest.mark.parametrize("columns", [72, 100, 160])
def test_no_line_is_wider_than_the_terminal(org_result, columns):
    lines = terminal.to_table(org_result, columns=columns).splitlines()
    assert max(len(line) for line in lines) <= columns
    assert any(line.startswith("FAIL ") for line in lines)


def test_notes_are_wrapped_not_cut(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    _, out, _ = run(capsys, "scan", "--demo")
    flat = " ".join(out.split())
    assert "1.2.1.0: not covered before 1.3.0.0" in flat, "the whole note is there, over several lines"
    assert "…" not in out


def test_colours_on_a_terminal_and_never_with_no_color(demo_result, monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert terminal.use_color(Tty()) and not terminal.use_color(io.StringIO())
    assert not terminal.use_color(Tty(), no_color=True)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not terminal.use_color(Tty())
    coloured = terminal.to_table(demo_result, color=True, columns=120)
    red = [line for line in coloured.splitlines() if "\x1b[1;31mFAIL" in line]
    green = [line for line in coloured.splitlines() if "\x1b[32mPASS" in line]
    assert red and green
    assert ANSI.sub("", coloured).split() == terminal.to_table(demo_result, columns=120).split()


def test_names_from_aws_cannot_inject_markup_or_escapes(demo_result):
    f = demo_result.findings
    f.loc[f.index[0], "why"] = "[bold red]fake[/] \x1b[2J cleared"
    text = terminal.to_table(demo_result, columns=200)
    assert "[bold red]fake[/]" in text and "\x1b" not in text


def test_status_narrows_table_and_csv_but_never_json(capsys, demo_result):
    _, table, _ = run(capsys, "scan", "--demo", "--status", "FAIL")
    rows = [line.split()[0] for line in table.splitlines() if line.split()[:1] in (["FAIL"], ["PASS"])]
    assert rows and set(rows) == {"FAIL"}
    csv = demo_result.write("csv", statuses=["PASS", "EXCEPTED"])  # what --format csv --status ... prints
    assert {line.split(",")[0] for line in csv.splitlines()[1:]} and "FAIL" not in csv.split("\n", 1)[1]
    js = demo_result.write("json", statuses=["PASS"])
    assert {f["result"] for f in json.loads(js)["findings"]} >= {"PASS", "FAIL"}


def test_quiet_is_one_line(capsys):
    code, out, err = run(capsys, "scan", "--demo", "-q")
    assert code == 1 and len(out.splitlines()) == 1 and "instances:" in out and err == ""


def test_output_dir_writes_every_format_of_one_scan(capsys, tmp_path):
    code, out, _ = run(capsys, "scan", "--demo", "--output-dir", str(tmp_path), "--format", "json,csv,ocsf,asff")
    assert code == 1 and out == ""
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["neptune-audit.asff.json", "neptune-audit.csv", "neptune-audit.json",
                     "neptune-audit.ocsf.json"]
    doc = json.loads((tmp_path / "neptune-audit.json").read_text())
    asff = json.loads((tmp_path / "neptune-audit.asff.json").read_text())
    ocsf = json.loads((tmp_path / "neptune-audit.ocsf.json").read_text())
    assert len(doc["findings"]) == len(asff) == len(ocsf)
    assert (tmp_path / "neptune-audit.csv").read_text().count("\n") == len(doc["findings"]) + 1


@pytest.mark.parametrize("argv, says", [
    (["scan", "--demo", "--format", "json,csv"], "--output-dir"),
    (["scan", "--demo", "--format", "json,xml", "--output-dir", "."], "unknown format xml"),
    (["scan", "--demo", "--output-dir", "/nonexistent/x", "--format", "json"], "does not exist"),
    (["scan", "--demo", "--status", "MAYBE"], "invalid choice"),
    (["scan", "--demo", "--security-hub-region", "us-east-1"], "goes with --security-hub"),
    (["scan", "--demo", "--security-hub", "--security-hub-region", "nowhere"], "region"),
])
def test_bad_combinations_are_one_line_and_exit_2(capsys, argv, says):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and says in err, err


def test_demo_lab_without_jupyterlab_says_what_to_install_and_writes_nothing(capsys, monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "jupyterlab" else real(name, *a))
    code, out, err = run(capsys, "demo", "--lab", "--lab-dir", str(tmp_path / "lab"))
    assert code == 2 and "pip install 'neptune-audit[lab]'" in err and len(err.splitlines()) == 1
    assert out == "" and not (tmp_path / "lab").exists()


def test_notebooks_copies_what_the_wheel_ships_and_keeps_the_users_files(capsys, tmp_path):
    code, out, _ = run(capsys, "notebooks", str(tmp_path))
    from neptune_audit.lab import SHIPPED

    written = out.split()
    assert code == 0 and len(written) == sum(len(names) for names in SHIPPED.values())
    assert (tmp_path / "examples" / "iac" / "terraform" / "main.tf").is_file(), "the demo's code"
    assert (tmp_path / "notebooks" / "audit.ipynb").is_file()
    assert (tmp_path / "examples" / "airflow" / "neptune_audit_dag.py").is_file()
    (tmp_path / "examples" / "exceptions.yml").write_text("mine\n")
    code, out, _ = run(capsys, "notebooks", str(tmp_path))
    assert code == 0 and out == "" and (tmp_path / "examples" / "exceptions.yml").read_text() == "mine\n"


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_prints_a_script_for_the_shell(capsys, shell):
    code, out, _ = run(capsys, "completion", shell)
    assert code == 0 and "neptune-audit" in out and "_ARGCOMPLETE" in out


@pytest.fixture(scope="module")
def _demo_result(demo_account, scan_once):
    from neptune_audit import api
    from neptune_audit.options import ScanOptions

    return api.scan(ScanOptions(demo=True))


@pytest.fixture
def demo_result(_demo_result):
    """The demo account's scan (one per module), its findings a copy each test may change."""
    import dataclasses

    return dataclasses.replace(_demo_result, findings=_demo_result.findings.copy())


@pytest.fixture(scope="module")
def org_result(demo_account, scan_once):
    from neptune_audit import api
    from neptune_audit.options import ScanOptions

    return api.scan(ScanOptions(demo=True, organization=True))


@pytest.mark.parametrize("columns", [60, 80, 100, 120])
def test_nothing_is_ever_cut_or_dropped_at_any_width_from_60(columns, demo_account, monkeypatch, capsys):
    """COLUMNS=60/80/100/120 scan --demo --organization: every instance with its id whole on one line, every note
    whole (wrapped between words), no line wider than the terminal; below the width a table needs, one record per
    instance."""
    from neptune_audit import cli

    monkeypatch.setenv("COLUMNS", str(columns))
    code = cli.main(["scan", "--demo", "--organization", "--regions", "us-east-1,eu-west-1,ap-southeast-2",
                     "--status", "FAIL", "--status", "PASS", "--status", "EXCEPTED", "--iac",
                     str(ROOT / "examples" / "iac"), "--exceptions", str(ROOT / "examples" / "exceptions.yml")])
    out = capsys.readouterr().out
    import neptune_audit

    result = neptune_audit.scan(neptune_audit.ScanOptions(demo=True, organization=True,
                                                          regions="us-east-1,eu-west-1,ap-southeast-2",
                                                          iac_paths=[str(ROOT / "examples" / "iac")],
                                                          exceptions_file=str(ROOT / "examples" / "exceptions.yml")))
    assert (result.findings["result"] == "EXCEPTED").any(), "the records show every result"
    lines = out.splitlines()
    # a FILE:LINE is never broken: its line may be wider than the terminal (which wraps it on screen, and copies it
    # whole); every other line fits
    wide = [line for line in lines if len(line) > columns]
    assert code == 1 and all("defined in " in line and line.rstrip().endswith(tuple("0123456789")) for line in wide), wide
    flat = " ".join(out.split())
    for r in result.findings.itertuples():
        assert any(r.instance_id in line.replace(":", " ").split() for line in lines), f"{r.instance_id} broken"
        if r.result != "PASS":
            assert " ".join(r.why.split()) in flat, f"note of {r.instance_id} cut: {r.why}"
        if r.managed_by and r.managed_by.get("file"):
            where = f"{r.managed_by['file']}:{r.managed_by['line']}"
            assert any(where in line for line in lines), f"{where} broken across lines"
    for result_word in ("EXCEPTED", "FAIL", "PASS"):
        assert not any(line.startswith(result_word) and line[len(result_word):len(result_word) + 1] not in (" ", "")
                       for line in lines), f"{result_word} touches the next word"


def test_the_progress_bar_gives_no_time_estimate_until_a_fifth_is_done(capsys):
    """The first account-regions carry credential and client set-up: an estimate from them is wild (48 s said
    for a 1 s scan), so the bar shows counts and elapsed time first, and "about … left" once a fifth is done."""
    from neptune_audit.present.progress import ScanProgress

    bar = ScanProgress()
    bar.start(accounts=2, per_account=10)
    shown = []
    for _ in range(20):
        bar.done()
        shown.append(str(bar.bar))
    bar.close()
    assert not any("left" in s for s in shown[:3]) and all("left" in s for s in shown[4:])
    assert shown[0].startswith("Scanning:") and "1/20 account-regions" in shown[0]
