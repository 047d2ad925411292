"""pyproject.toml is the one source of dependencies; the conda files mirror it, bound for bound, and the wheel a
plain `pip install` gets carries no simulated cloud and no JupyterLab."""
from __future__ import annotations

import re
import tomllib

import yaml

from .conftest import ROOT

CONDA_NAMES = {"playwright": "playwright-python"}  # conda-forge's name for Playwright for Python


def _requirement(text: str) -> tuple[str, str]:
    m = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(.*?)\s*", text)
    assert m, text
    return m.group(1).lower().replace("_", "-"), m.group(3).replace(" ", "")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _conda(name: str) -> dict[str, str]:
    doc = yaml.safe_load((ROOT / name).read_text())
    out = {}
    for dep in doc["dependencies"]:
        for text in (dep["pip"] if isinstance(dep, dict) else [dep]):
            if text.startswith("-e") or text.split(">")[0].split("=")[0] in ("python", "pip"):
                continue
            out.__setitem__(*_requirement(text))
    return out


def _wanted(*extras: str) -> dict[str, str]:
    project = _pyproject()
    reqs = list(project["dependencies"]) + [r for e in extras for r in project["optional-dependencies"][e]]
    out = {}
    for text in reqs:
        name, bound = _requirement(text)
        out[CONDA_NAMES.get(name, name)] = bound
    return out


def test_environment_yml_mirrors_the_base_demo_and_lab_dependencies():
    conda = _conda("environment.yml")
    wanted = _wanted("demo", "lab")
    assert {k: conda.get(k) for k in wanted} == wanted
    assert set(conda) <= set(wanted), f"not in pyproject.toml: {set(conda) - set(wanted)}"


def test_environment_dev_yml_adds_the_test_extra():
    conda = _conda("environment-dev.yml")
    wanted = _wanted("demo", "lab", "test")
    assert {k: conda.get(k) for k in wanted} == wanted
    assert set(conda) <= set(wanted), f"not in pyproject.toml: {set(conda) - set(wanted)}"


def test_the_lowest_constraints_pin_every_dependency_at_its_floor():
    """`make test-lowest` tests what pyproject.toml claims: each base, demo and lab dependency at its lowest allowed
    version, none left to float to its newest."""
    from packaging.version import Version

    pins = {}
    for line in (ROOT / ".ci" / "constraints-lowest.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower().replace("_", "-")] = Version(version)
    project = _pyproject()
    for text in list(project["dependencies"]) + [r for e in ("demo", "lab") for r in project["optional-dependencies"][e]]:
        name, bound = _requirement(text)
        floor = re.fullmatch(r">=([0-9.]+)", bound)
        assert floor, f"{text}: a floor (>=) and nothing else"
        assert pins.get(name) == Version(floor.group(1)), f"{name}: floor {floor.group(1)}, pinned {pins.get(name)}"


def test_a_plain_install_carries_no_simulated_cloud_and_no_jupyterlab():
    base = {_requirement(r)[0] for r in _pyproject()["dependencies"]}
    assert not base & {"moto", "flask", "flask-cors", "jupyterlab", "pytest"}
    assert {"moto", "flask", "flask-cors"} <= {_requirement(r)[0] for r in _pyproject()["optional-dependencies"]["demo"]}


def test_demo_without_the_demo_extra_says_what_to_install_in_one_line(monkeypatch, capsys, tmp_path):
    from neptune_audit import cli, simulate
    from neptune_audit.simulate import server

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(server, "_demo", None)
    monkeypatch.setattr(simulate, "moto_missing", lambda: True)  # as where `pip install neptune-audit` is all there is
    for argv in (["scan", "--demo"], ["demo", "--serve", "--port", "8999"], ["demo", "-o", "x.html"]):
        code = cli.main(argv)
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and "pip install 'neptune-audit[demo]'" in err, (argv, err)
    assert not list(tmp_path.iterdir()), "nothing written"


def test_a_demo_scan_leaves_the_users_process_as_it_was():
    """`scan(demo=True)` in a user's process (a kernel): the simulated account runs in a process of its own, so
    no moto module is imported here and no class of it patched."""
    import subprocess
    import sys

    code = ("import sys, neptune_audit; r = neptune_audit.scan(demo=True, regions='us-east-1'); "
            "print(len(r.findings), sorted(m for m in sys.modules if m.split('.')[0] in ('moto', 'flask', 'werkzeug')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    count, modules = proc.stdout.split(" ", 1)
    assert int(count) > 0 and modules.strip() == "[]"
