"""Errors the CLI turns into one line on stderr and exit code 2, and how any message becomes one line."""
from __future__ import annotations

import re

_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/\s@\"']+@", re.IGNORECASE)
_QUERY = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s\"'?#]*)[?#][^\s\"']*", re.IGNORECASE)


class UsageError(ValueError):
    """Bad input, bad credentials or bad usage: the user must change something."""


def one_line(text, limit: int | None = 300) -> str:
    """A message as the kit shows or records it: one line, at most ``limit`` characters (None: any), with any
    URL's user:password, query string and fragment removed (any of them can hold a secret, such as a token)."""
    text = _QUERY.sub(r"\1", _USERINFO.sub(r"\1", " ".join(str(text).split())))
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"
