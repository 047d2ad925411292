"""The folder is the architecture: data flows one way, and no module imports its way back up.

Every import counts, function-level ones included (they hid the old loops); only ``if TYPE_CHECKING:`` blocks,
which never run, are left out.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "neptune_audit"

# Lowest first.  A module may import its own room and the rooms below it, never one above.
ROOMS = [
    ("base", ("neptune_audit.errors", "neptune_audit.defaults", "neptune_audit.inputs", "neptune_audit.vocabulary",
              "neptune_audit.records", "neptune_audit._version")),
    ("options", ("neptune_audit.options",)),
    ("aws", ("neptune_audit.aws",)),
    ("rule", ("neptune_audit.rule",)),
    ("contract", ("neptune_audit.contract",)),
    ("code", ("neptune_audit.code",)),
    ("core", ("neptune_audit.core",)),
    ("present", ("neptune_audit.present",)),
    ("act", ("neptune_audit.act",)),
    ("simulate", ("neptune_audit.simulate",)),
    ("entry", ("neptune_audit.api", "neptune_audit.lab", "neptune_audit.cli", "neptune_audit.__main__",
               "neptune_audit")),
]


def room_of(module: str) -> int:
    best = max(((len(p), i) for i, (_, prefixes) in enumerate(ROOMS) for p in prefixes
                if module == p or module.startswith(p + ".")), default=None)
    assert best is not None, f"{module} is in no room: add it to ROOMS (and to the README's tree)"
    return best[1]


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path, modules: set[str]) -> set[str]:
    """The package's modules that ``path`` imports, anywhere in it."""
    me = module_name(path, root)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    found = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else base)
    root_name = root.name
    return {m for m in found if m == root_name or m.startswith(root_name + ".")} - {me}


def graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    paths = sorted(root.rglob("*.py"))
    modules = {module_name(p, root) for p in paths}
    return {module_name(p, root): imports_of(p, root, modules) for p in paths}


def arrows_against_the_flow(g: dict[str, set[str]]) -> list[str]:
    return sorted(f"{a} -> {b} ({ROOMS[room_of(a)][0]} imports {ROOMS[room_of(b)][0]})"
                  for a, deps in g.items() for b in deps if room_of(b) > room_of(a))


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in g:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_anywhere():
    assert cycles(graph()) == []


def test_data_flows_one_way():
    assert arrows_against_the_flow(graph()) == []


def test_every_module_has_a_room():
    for module in graph():
        room_of(module)


def test_the_checker_sees_a_function_level_loop_and_an_arrow_upwards(tmp_path):
    root = tmp_path / "neptune_audit"
    (root / "aws").mkdir(parents=True)
    (root / "present").mkdir()
    for init in (root, root / "aws", root / "present"):
        (init / "__init__.py").write_text("")
    (root / "aws" / "accounts.py").write_text("def f():\n    from neptune_audit.present import tables\n")
    (root / "present" / "tables.py").write_text("from neptune_audit.aws import accounts\n")
    (root / "options.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                     "    from neptune_audit.present import tables\n")
    g = graph(root)
    assert cycles(g) == [["neptune_audit.aws.accounts", "neptune_audit.present.tables"]]
    assert arrows_against_the_flow(g) == [
        "neptune_audit.aws.accounts -> neptune_audit.present.tables (aws imports present)"]
    assert g["neptune_audit.options"] == set(), "what runs only under TYPE_CHECKING is no import"


@pytest.mark.parametrize("room", ["aws", "rule"])
def test_aws_and_rule_reach_nothing_that_presents_acts_simulates_or_parses_arguments(room):
    above = {"present", "act", "simulate", "entry"} | ({"rule"} if room == "aws" else set())
    g = graph()
    bad = [f"{a} -> {b}" for a, deps in g.items() if ROOMS[room_of(a)][0] == room
           for b in deps if ROOMS[room_of(b)][0] in above]
    assert bad == []


def test_no_kit_module_is_imported_by_name():
    """An import hidden in a string (importlib.import_module("neptune_audit...")) is an edge this test cannot see;
    only the package's own entry (``neptune_audit/__init__.py``, the top room, lazily naming its public API) may."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(
                    r"neptune_audit(\.\w+)+(:\w+)?", node.value):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {node.value}")
    assert found == []


def test_docstrings_cross_reference_as_the_api_page_renders_them():
    """mkdocstrings renders Markdown cross-references ([`X`][path]); a reST role (:class:`X`) would show raw."""
    raw = [f"{p.relative_to(PACKAGE)}:{n}" for p in sorted(PACKAGE.rglob("*.py"))
           for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
           if re.search(r":(class|func|meth|data|attr|mod):`", line)]
    assert raw == []
