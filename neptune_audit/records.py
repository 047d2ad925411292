"""Values as the contract writes them: rows of a DataFrame as JSON records, times in ISO 8601, missing values
as null, and text from AWS made safe to show (no control or bidi characters) or clipped to a length."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import overload


def missing(v) -> bool:
    """None, NaN, NaT or pandas' NA: what the contract writes as null (pandas itself is not imported)."""
    if v is None:
        return True
    if isinstance(v, (dict, list, tuple, str, bool)):
        return False
    try:
        return bool(v != v)
    except (TypeError, ValueError):
        return type(v).__name__ == "NAType"  # pandas.NA: its comparisons are NA, and bool(NA) raises


def records(table, keys) -> list[dict]:
    """The rows of ``table`` (a DataFrame, or a list of dicts) as dicts of Python values, in ``keys`` order,
    missing values None."""
    rows = table if isinstance(table, list) else table[list(keys)].to_dict("records")
    return [{k: _value(row.get(k)) for k in keys} for row in rows]


def _value(v):
    return None if missing(v) else v


# AWS's timestamps as the kit's sessions keep them (text: aws/tuning/sessions.py): 2026-12-07T10:15:00.123Z
_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]00:?00)?$")


@overload
def iso(value: None) -> None: ...
@overload
def iso(value: datetime | str) -> str: ...
def iso(value):
    """A time as the contract writes it, ``YYYY-MM-DDTHH:MM:SSZ`` in UTC: a datetime (naive ones are UTC), or AWS's
    timestamp text; text with another offset is converted, anything else kept as it is; None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        m = _TIMESTAMP.match(value.strip())
        if m:
            return f"{m.group(1)}T{m.group(2)}Z"
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return value
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


# C0/C1 controls (ANSI escapes), and the marks that reorder or break what a reader sees: bidi embeddings,
# overrides and isolates (U+202A-U+202E, U+2066-U+2069, the Trojan Source characters), LRM/RLM/ALM and the
# line and paragraph separators U+2028/U+2029.
from neptune_audit.errors import CONTROL as _CONTROL  # noqa: E402 - one set of characters for every line printed


def terminal_text(value) -> str:
    """Text safe to print on a terminal: control characters (ANSI escapes among them) and bidi or line-separator
    marks are dropped."""
    return _CONTROL.sub("", "" if value is None else str(value))


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
