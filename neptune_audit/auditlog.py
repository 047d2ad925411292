"""The remediation audit log: append-only JSON lines, an *intent* before each change and an *outcome* after.

Each line is flushed and fsynced before the AWS call it announces, so a run killed midway leaves
intents without outcomes, which ``dangling()`` finds.  Credentials never enter the log: only
the caller's ARN.
"""
from __future__ import annotations

import json
import os
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path

from .errors import UsageError


def default_path() -> Path:
    """``audit-log.jsonl`` in the user's data folder (e.g. ~/.local/share/neptune-audit)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("neptune-audit", appauthor=False)) / "audit-log.jsonl"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AuditLog:
    """Append-only writer; safe to share between threads."""

    def __init__(self, path=None):
        self.path = Path(path) if path else default_path()
        self.run_id = uuid.uuid4().hex
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8"):
                pass
        except OSError as exc:
            raise UsageError(f"cannot write the audit log {self.path}: {exc.strerror or exc}") from None

    def _append(self, record: dict) -> None:
        line = json.dumps(record, sort_keys=True, default=str) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def intent(self, change: dict) -> str:
        """Record a change about to be attempted; returns its id for the outcome line."""
        change_id = uuid.uuid4().hex
        self._append({"event": "intent", "time": _now(), "run_id": self.run_id, "change_id": change_id, **change})
        return change_id

    def outcome(self, change_id: str, change: dict, outcome: str, error: str | None = None, **extra) -> None:
        self._append({"event": "outcome", "time": _now(), "run_id": self.run_id, "change_id": change_id,
                      **change, "outcome": outcome, "error": error, **extra})


def read(path) -> list[dict]:
    """Every record of a log (unparseable lines, e.g. a torn last line, are skipped)."""
    records = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def dangling(path) -> list[dict]:
    """Intents with no outcome: changes whose result is unknown (the run was killed)."""
    records = read(path)
    done = {r["change_id"] for r in records if r.get("event") == "outcome"}
    return [r for r in records if r.get("event") == "intent" and r["change_id"] not in done]
