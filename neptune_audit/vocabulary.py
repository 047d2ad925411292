"""The output contract ``neptune-audit/1``: fields, states, results and exit codes, in one place.

Every room reads these words (the base of the layout, with ``errors`` and ``inputs``).  The JSON Schema shipped
in ``contract/`` (``neptune-audit-1.schema.json``, printed by ``neptune-audit schema``) is the one source: the
field lists below are read from it, so the DataFrames, the exports and the tests cannot drift from what is
published.
"""
from __future__ import annotations

import functools
from typing import TypedDict

SCHEMA = "neptune-audit/1"
FORMATS = ("table", "csv", "json", "ocsf", "asff")  # scan --format
SCHEMA_FILE = "neptune-audit-1.schema.json"


def schema_text() -> str:
    """The published JSON Schema, as shipped."""
    from pathlib import Path

    # the contract's own folder (the wheel installs the package as files; importlib.resources costs ~20 ms to import)
    return (Path(__file__).parent / "contract" / SCHEMA_FILE).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def schema() -> dict:
    import json

    return json.loads(schema_text())


def _fields(name: str) -> tuple[str, ...]:
    return tuple(schema()["$defs"][name]["properties"])


def enum(name: str, field: str) -> tuple[str, ...]:
    """The values the schema allows for one field (tests hold the constants below to them)."""
    return tuple(schema()["$defs"][name]["properties"][field]["enum"])


# The field lists are read from the schema when first asked for (PEP 562), so `--help`, which needs only the
# states and results below, reads no JSON.
_FIELD_LISTS = {"RULE_FIELDS": "rule", "SCOPE_FIELDS": "scope", "FINDING_FIELDS": "finding",
                "CLUSTER_FIELDS": "cluster", "SUMMARY_FIELDS": "summary"}


def __getattr__(name: str):
    if name == "TOP_FIELDS":
        value = tuple(schema()["properties"])
    elif name in _FIELD_LISTS:
        value = _fields(_FIELD_LISTS[name])
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


# The schema's enums, spelled out (tests/test_contract.py fails when they differ from the schema's).
SCANNED = "scanned"
NOT_ENABLED = "not-enabled"
NOT_SCANNED = ("denied", "error")                # the states that make a run incomplete
SCOPE_STATES = (SCANNED, NOT_ENABLED, *NOT_SCANNED)
RESULTS = ("PASS", "FAIL", "EXCEPTED")
PASS, FAIL, EXCEPTED = RESULTS
RESULT_ORDER = (FAIL, EXCEPTED, PASS)            # how every table and file lists findings: failing first
EXPOSURES = ("current", "behind", "not-covered", "unknown")
CURRENT, BEHIND, NOT_COVERED, UNKNOWN = EXPOSURES
EXPOSURE_ORDER = (NOT_COVERED, BEHIND, UNKNOWN, CURRENT)   # worst first
assert set(RESULT_ORDER) == set(RESULTS) and set(EXPOSURE_ORDER) == set(EXPOSURES)


# The contract's ``summary`` block: instances by result, account-regions by state ("pass" is a Python keyword, so
# the functional form spells the keys as the contract does).
Summary = TypedDict("Summary", {"instances": int, "pass": int, "fail": int, "excepted": int, "targets_scanned": int,
                                "targets_not_scanned": int})


def summary(results, states) -> Summary:
    """The contract's summary block from the findings' results and the scope's states (any iterables)."""
    results, states = list(results), list(states)
    return {"instances": len(results), "pass": results.count(PASS), "fail": results.count(FAIL),
            "excepted": results.count(EXCEPTED), "targets_scanned": states.count(SCANNED),
            # not-enabled regions hold nothing to scan: they are in scope, but not "incomplete"
            "targets_not_scanned": sum(s in NOT_SCANNED for s in states)}

# Exit codes, shared by every command.
EXIT_OK = 0           # every instance passes (or is excepted) and every target was scanned
EXIT_FAIL = 1         # at least one FAIL
EXIT_USAGE = 2        # bad input, bad credentials or usage
EXIT_INCOMPLETE = 3   # no FAIL, but some scope was not scanned, or nothing at all was
EXIT_INTERNAL = 4     # a bug in the kit
EXIT_MEANING = {
    EXIT_OK: "every instance passes or is excepted, and every target was scanned",
    EXIT_FAIL: "at least one instance fails",
    EXIT_USAGE: "bad input, bad credentials or usage",
    EXIT_INCOMPLETE: "no failures, but some scope was not scanned",
    EXIT_INTERNAL: "internal error",
}


def exit_code(summary: Summary | dict) -> int:
    """1 any FAIL; 3 no FAIL but some scope not scanned, or nothing scanned at all; else 0."""
    if summary["fail"]:
        return EXIT_FAIL
    if summary["targets_not_scanned"] or not summary["targets_scanned"]:
        return EXIT_INCOMPLETE
    return EXIT_OK


def summary_line(summary: Summary | dict) -> str:
    """The summary block in one line, as the terminal, the report command and ``repr`` say it."""
    s = summary
    return (f"{s['instances']} instances: {s['pass']} pass, {s['fail']} fail, {s['excepted']} excepted; "
            f"{s['targets_scanned']} account-regions scanned, {s['targets_not_scanned']} not scanned")


@functools.lru_cache(maxsize=1)
def _checker():
    import jsonschema_rs

    return jsonschema_rs.validator_for(schema(), validate_formats=True)


def validate(doc: dict) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``doc`` is a valid ``neptune-audit/1`` document.

    jsonschema-rs decides (a 10,000-instance scan in 9 ms; jsonschema takes 4.5 s); jsonschema says where and why
    when it is not valid, and decides alone wherever jsonschema-rs cannot (not installed, a value it cannot read).
    """
    try:
        if _checker().is_valid(doc):
            return
    except (ImportError, ValueError, TypeError):
        pass
    import jsonschema

    jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.FormatChecker()).validate(doc)
