"""The kit against real public code written by others (tests/fixtures/corpus, origins and licences in SOURCES.md):
every Neptune DB instance's verdict equals the truth written by hand in truth.yaml, in one run over the whole tree
and file by file; no file that defines no instance yields one; registry modules not on disk are said, never
passed."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from neptune_audit import cli
from neptune_audit.code.scan import scan

from .conftest import ROOT

CORPUS = ROOT / "tests" / "fixtures" / "corpus"
TRUTH = yaml.safe_load((CORPUS / "truth.yaml").read_text(encoding="utf-8"))
EXPECTED = {(e["file"], e["resource"]): e["result"] for e in TRUTH["instances"]}


def _verdicts(result) -> dict:
    return {(Path(f["file"]).resolve().relative_to(CORPUS.resolve()).as_posix(), f["resource"]): f["result"]
            for f in result.findings}


def test_tree_run_agrees_on_every_instance():
    result = scan([CORPUS])
    got = _verdicts(result)
    wrong = {k: (got.get(k), v) for k, v in EXPECTED.items() if got.get(k) != v}
    extra = sorted(set(got) - set(EXPECTED))
    assert not wrong and not extra, f"(kit, truth) where they differ: {wrong}; found beyond the truth: {extra}"
    assert len(EXPECTED) >= 30 and sum(v == "FAIL" for v in EXPECTED.values()) >= 4


def test_tree_run_names_what_it_could_not_read():
    files = {Path(f["file"]).resolve().relative_to(CORPUS.resolve()).as_posix(): f for f in scan([CORPUS]).files}
    for name in TRUTH["not_read"]:
        assert files[name]["state"] == "error" and "not on disk" in files[name]["error"], name
    errors = {k for k, f in files.items() if f["state"] == "error"}
    assert errors == set(TRUTH["not_read"]), "nothing else is unread, nothing unread is hidden"


@pytest.mark.parametrize("name", sorted({e["file"] for e in TRUTH["instances"]}
                                        | {e["file"] for e in TRUTH["files_without_instances"]}))
def test_file_by_file(name):
    """Named alone, each file gets the same verdicts (a Terraform file brings its folder's module, not its callers:
    the addresses under module.… come only with the caller)."""
    got = _verdicts(scan([CORPUS / name]))
    want = {k: v for k, v in EXPECTED.items() if k[0] == name and not k[1].startswith("module.")}
    assert got == want


def test_cli_exit_and_summary_on_the_corpus(capsys):
    code = cli.main(["iac", str(CORPUS)])
    out = capsys.readouterr().out
    fails = sum(v == "FAIL" for v in EXPECTED.values())
    assert code == 1
    assert f"{len(EXPECTED)} Neptune DB instance(s) in code: {len(EXPECTED) - fails} pass, {fails} fail" in out
    assert f"{len(TRUTH['not_read'])} not read" in out
