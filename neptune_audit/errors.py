"""The kit's one exception tree, and how any message becomes one line.

``NeptuneAuditError`` is what a caller catches; each class carries the exit code the CLI returns for it (the
CLI reads ``exit_code``, never a message or a class name):

    NeptuneAuditError        4  (a fault of the kit)
    +-- UsageError           2  bad input, bad usage: the user must change something
    |   +-- InputError       2  a file handed to the kit is unreadable, too big, not what it claims
    |   +-- OptionError      2  a parameter's value (named as the library spells it; the CLI shows its flag)
    +-- AwsError             2  AWS refused the credentials or cannot be reached before anything is scanned
    +-- NotebookFailed       4  the audit notebook raised something other than bad input (kept for diagnosis)
    +-- Interrupted        130  the run was stopped (Ctrl-C, SIGTERM) while a report's kernel was starting
    +-- FindingsFailed     1/3  asked to fail on findings (fail_on_findings), the run found a FAIL / unscanned scope

Faults in one account or region are never raised: they are recorded in the scope.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/\s@\"']+@", re.IGNORECASE)
# What a terminal would obey rather than show: C0/C1 controls (ANSI escapes among them), bidi marks, overrides and
# isolates, and the line separators (records.terminal_text keeps tables to the same set)
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_QUERY = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s\"'?#]*)[?#][^\s\"']*", re.IGNORECASE)


class NeptuneAuditError(Exception):
    """Anything the kit raises on purpose."""

    exit_code = 4


class UsageError(NeptuneAuditError, ValueError):
    """Bad input or bad usage: the user must change something (a ValueError, as it always was)."""

    exit_code = 2


class InputError(UsageError):
    """A file handed to the kit (saved scan, report, exceptions, key, calendar) cannot be believed."""


_OTHER_PARAM = re.compile(r"\{(\w+)\}")


class OptionError(UsageError):
    """A parameter's value is wrong: the message names the parameter as the library spells it (``max_workers``);
    ``for_flags`` says the same for the command line (``--max-workers``)."""

    def __init__(self, param: str, text: str):
        # other parameters the text names are written {name}, so that the CLI can show them as flags too
        super().__init__(param + " " + _OTHER_PARAM.sub(r"\1", text))
        self.param, self.text = param, text

    def for_flags(self, flags: Mapping[str, str]) -> str:
        """The message with this and every other parameter it names spelt as ``flags`` maps them."""
        text = _OTHER_PARAM.sub(lambda m: flags.get(m[1], m[1]), self.text)
        return f"{flags.get(self.param, self.param)} {text}"


class FindingsFailed(NeptuneAuditError):
    """A run asked to fail on findings (the audit notebook's ``fail_on_findings``) found a FAIL (exit 1) or scope it
    could not scan (exit 3): a scheduler's task goes red as the CLI's exit code would."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class AwsError(NeptuneAuditError):
    """AWS refused the base credentials, or cannot be reached, before anything could be scanned."""

    exit_code = 2


class NotebookFailed(NeptuneAuditError, RuntimeError):
    """The audit notebook raised something other than bad input: a fault of the kit, kept for diagnosis."""

    exit_code = 4


class Interrupted(NeptuneAuditError):
    """The run was stopped (Ctrl-C, SIGTERM) while a report's kernel was being started: nothing was written."""

    exit_code = 130


def by_name(name: str) -> type[NeptuneAuditError] | None:
    """The class of the tree called ``name``: a kernel (another process) reports an exception by its name only."""
    todo, seen = [NeptuneAuditError], {}
    while todo:
        cls = todo.pop()
        seen[cls.__name__] = cls
        todo += cls.__subclasses__()
    return seen.get(name)


def one_line(text, limit: int | None = 300) -> str:
    """A message as the kit shows or records it: one line, at most ``limit`` characters (None: any), with any
    URL's user:password, query string and fragment removed (any of them can hold a secret, such as a token), and
    no control character (a hostile file's escape codes could erase the error prefix and print a verdict)."""
    text = CONTROL.sub("", _QUERY.sub(r"\1", _USERINFO.sub(r"\1", " ".join(str(text).split()))))
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"
