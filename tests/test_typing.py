"""The public API as a type checker sees it: scripts in tests/typing, checked by `mypy --strict` as a user's own
code would be.  `pass_*.py` must check clean; in `fail_*.py` each line marked `# error: CODE` must be reported
with that code, and nothing else may be."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from .conftest import ROOT

HERE = ROOT / "tests" / "typing"
MARK = re.compile(r"#\s*error:\s*([a-z-]+)")
REPORTED = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): error: .*\[(?P<code>[a-z-]+)\]$")


def test_user_scripts_pass_and_fail_mypy_strict_as_marked(tmp_path):
    pytest.importorskip("mypy")
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nstrict = True\n")  # a user's settings, not this project's
    scripts = sorted(HERE.glob("*.py"))
    assert any(p.name.startswith("pass_") for p in scripts) and any(p.name.startswith("fail_") for p in scripts)
    proc = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(config), "--cache-dir",
                           str(tmp_path / "cache"), *map(str, scripts)], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)
    reported = {(m["file"].replace("\\", "/").rsplit("/", 1)[-1], int(m["line"]), m["code"])
                for line in proc.stdout.splitlines() if (m := REPORTED.match(line))}
    wanted = {(p.name, n, m.group(1)) for p in scripts for n, text in enumerate(p.read_text().splitlines(), 1)
              if (m := MARK.search(text))}
    assert wanted, "the failing scripts mark what they expect"
    assert reported == wanted, proc.stdout
