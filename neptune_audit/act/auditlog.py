"""The remediation audit log: append-only JSON lines, an *intent* before each change and an *outcome* after.

Each line is flushed and fsynced before the AWS call it announces, so a run killed midway leaves
intents without outcomes, which ``dangling()`` finds.  Credentials never enter the log: only
the caller's ARN.  It is the one file written on every change, so it is never opened through a
symbolic link, and a damaged line is reported (file and line) before anything is changed.
"""
from __future__ import annotations

import json
import os
import logging
import stat
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path

from neptune_audit.errors import InputError, UsageError

log = logging.getLogger(__name__)

EVENTS = ("intent", "outcome")


def default_path() -> Path:
    """``audit-log.jsonl`` in the user's data folder (e.g. ~/.local/share/neptune-audit)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("neptune-audit", appauthor=False)) / "audit-log.jsonl"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


MAX_BYTES = 256 * 1024 * 1024  # years of changes; more means a wrong file


def _open(path: Path, flags: int):
    """Open without following a symbolic link (O_NOFOLLOW) or blocking on a FIFO (O_NONBLOCK): the log must be the
    regular file it names (``/dev/null`` would lose every record, ``/dev/full`` reads zeros forever)."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode) and not stat.S_ISLNK(os.lstat(path).st_mode):
            raise UsageError(f"the audit log {path} is not a regular file: give a file's path")
    except FileNotFoundError:
        pass
    try:
        fd = os.open(path, flags | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
                     | getattr(os, "O_NONBLOCK", 0), 0o600)
    except OSError as exc:
        if path.is_symlink():
            raise UsageError(f"the audit log {path} is a symbolic link: give the real file's path") from None
        raise UsageError(f"cannot write the audit log {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UsageError(f"the audit log {path} is not a regular file: give a file's path")
    return fd


class AuditLog:
    """Append-only writer; safe to share between threads.  Opening it checks the existing lines."""

    def __init__(self, path=None):
        self.path = Path(path) if path else default_path()
        self.run_id = uuid.uuid4().hex
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot write the audit log {self.path}: {exc.strerror or exc}") from None
        os.close(_open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT))
        read(self.path)  # a damaged log is refused now, not after a change

    def lock(self) -> None:
        """Hold the log for this run (``fcntl.flock``): concurrent runs on one log wait for each other, so none
        counts another's in-flight intents as "from an earlier run", and no instance is changed twice."""
        if getattr(self, "_lock_fd", None) is not None:
            return
        try:
            import fcntl
        except ImportError:  # not POSIX: no advisory locks
            return
        fd = _open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("waiting for another remediation run that holds %s", self.path)
            fcntl.flock(fd, fcntl.LOCK_EX)
        self._lock_fd = fd

    def unlock(self) -> None:
        fd, self._lock_fd = getattr(self, "_lock_fd", None), None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the lock

    def resolve(self, intents: list[dict], note: str) -> None:
        """Close intents an earlier run left open (that run was killed): this run has re-read those instances."""
        for r in intents:
            change = {k: r.get(k) for k in ("account_id", "region", "instance_id")}
            self.outcome(r["change_id"], change, "unknown", error=None, note=note)

    def _append(self, record: dict) -> None:
        line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode("utf-8")
        with self._lock:
            fd = _open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)

    def intent(self, change: dict) -> str:
        """Record a change about to be attempted; returns its id for the outcome line."""
        change_id = uuid.uuid4().hex
        self._append({"event": "intent", "time": _now(), "run_id": self.run_id, "change_id": change_id, **change})
        return change_id

    def outcome(self, change_id: str, change: dict, outcome: str, error: str | None = None, **extra) -> None:
        self._append({"event": "outcome", "time": _now(), "run_id": self.run_id, "change_id": change_id,
                      **change, "outcome": outcome, "error": error, **extra})


def _record(line: str) -> dict:
    record = json.loads(line)
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    if record.get("event") not in EVENTS:
        raise ValueError(f"'event' must be one of {', '.join(EVENTS)}")
    if not isinstance(record.get("change_id"), str) or not record["change_id"]:
        raise ValueError("no 'change_id'")
    return record


def read(path) -> list[dict]:
    """Every record of a log.  A torn last line (a run killed mid-write) is skipped; any other bad line is an error."""
    p = Path(path)
    if not p.exists() and not p.is_symlink():
        return []
    try:
        try:
            fd = _open(p, os.O_RDONLY)
        except UsageError as exc:  # a folder or a link where the log should be: the file given cannot be read
            raise InputError(str(exc)) from None
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise InputError(f"the audit log {p} is larger than {MAX_BYTES // 2**20} MB: move it aside")
    except OSError as exc:
        raise InputError(f"cannot read the audit log {p}: {exc.strerror or exc}") from None
    lines = data.split(b"\n")
    records = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            records.append(_record(raw.decode("utf-8")))
        except (UnicodeDecodeError, ValueError) as exc:
            if number == len(lines):  # no newline after it: the last write was cut short
                continue
            what = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else str(exc).splitlines()[0]
            raise InputError(f"the audit log {p} is damaged at line {number}: {what} "
                             "(move it aside or repair that line)") from None
    return records


def dangling(path) -> list[dict]:
    """Intents with no outcome: changes whose result is unknown (the run was killed)."""
    records = read(path)
    done = {r["change_id"] for r in records if r["event"] == "outcome"}
    return [r for r in records if r["event"] == "intent" and r["change_id"] not in done]
