"""History: each run's JSON kept in a folder; the trend, and what changed since the previous run."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from neptune_audit.vocabulary import EXCEPTED, FAIL, PASS, SCHEMA, SUMMARY_FIELDS
from neptune_audit.errors import UsageError, one_line
from neptune_audit.contract.export import dumps, to_contract, to_json
from neptune_audit.contract.files import write_atomic
from neptune_audit.inputs import read_bytes, strict_json

PREFIX = "neptune-audit-"
MAX_BYTES = 256 * 1024 * 1024
_UTC_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
CHANGE_COLUMNS = ["change", "account_id", "region", "cluster_id", "instance_id", "before", "after"]


@dataclass
class History:
    trend: pd.DataFrame          # one row per run: generated_at, instances, pass, fail, excepted
    changes: pd.DataFrame        # newly failing / newly fixed / newly excepted since the previous run
    previous_at: str | None      # when the previous run was generated
    skipped: list[str]           # files in the folder that are not readable runs


def check_folder(directory) -> Path:
    """The history folder, created if needed; a file, or a folder we cannot write, is bad input."""
    import os

    p = _folder(directory)
    if not os.access(p, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write to the history folder {p}")
    return p


def _folder(directory) -> Path:
    p = Path(directory)
    if p.exists() and not p.is_dir():
        raise UsageError(f"history folder is a file: {p}")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create history folder {p}: {exc.strerror or exc}") from None
    return p


def load(directory) -> tuple[list[dict], list[str]]:
    """Past runs in the folder, oldest first, and the names of files that could not be read as runs."""
    found, skipped = [], []
    for path in sorted(Path(directory).glob(f"{PREFIX}*.json")):
        try:
            doc = strict_json(read_bytes(path, MAX_BYTES, "history file"), path.name)
            _check_run(doc)
            found.append((doc["generated_at"], path.stat().st_mtime_ns, doc))
        except (OSError, ValueError) as exc:  # UsageError is a ValueError
            skipped.append(f"{path.name}: {one_line(exc, limit=120)}")
    # two runs of one second: the one written last is the later
    found.sort(key=lambda t: t[:2])
    return [doc for *_, doc in found], skipped


def _check_run(doc) -> None:
    """What the trend and the comparison read from a past run; anything else is not trusted."""
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ValueError(f"not a {SCHEMA} document")
    if not isinstance(doc.get("generated_at"), str) or not _UTC_TIME.fullmatch(doc["generated_at"]):
        raise ValueError("no generated_at time (YYYY-MM-DDThh:mm:ssZ)")
    try:
        datetime.strptime(doc["generated_at"], "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise ValueError(f"generated_at {doc['generated_at']} is not a real time") from None
    summary = doc.get("summary")
    if not isinstance(summary, dict) or not all(isinstance(summary.get(k), int) for k in SUMMARY_FIELDS):
        raise ValueError("no valid summary")
    findings = doc.get("findings")
    keys = ("account_id", "region", "instance_id", "result")
    if not isinstance(findings, list) or not all(isinstance(f, dict) and all(k in f for k in keys) for f in findings):
        raise ValueError("no valid findings")


def record(result, directory, enabled: bool = True) -> Path | None:
    """Save this run's JSON in the folder (name sortable by time); ``directory=None`` does nothing."""
    if not enabled or directory is None or str(directory) == "":
        return None
    folder = _folder(directory)
    stamp = result.generated_at.strftime("%Y%m%dT%H%M%SZ")
    return write_atomic(_claim(folder, stamp), to_json(result))


def record_document(document: dict, directory) -> Path:
    """Save a run's contract JSON (as read back from an executed notebook) in the folder."""
    stamp = document["generated_at"].replace("-", "").replace(":", "")
    return write_atomic(_claim(_folder(directory), stamp), dumps(document))


def _claim(folder: Path, stamp: str) -> Path:
    """A name of its own for this run: two runs in one second (or two processes) never overwrite each other."""
    import os

    for n in range(1, 10_000):
        path = folder / f"{PREFIX}{stamp}{'' if n == 1 else f'-{n}'}.json"
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            return path
        except FileExistsError:
            continue
        except OSError as exc:
            raise UsageError(f"cannot write in history folder {folder}: {exc.strerror or exc}") from None
    raise UsageError(f"history folder {folder} holds 10,000 runs of one second: refused")


def trend(runs: list[dict]) -> pd.DataFrame:
    rows = [{"generated_at": pd.Timestamp(d["generated_at"]), **{k: d["summary"][k] for k in
             ("instances", "pass", "fail", "excepted")}} for d in runs]
    return pd.DataFrame(rows, columns=["generated_at", "instances", "pass", "fail", "excepted"])


def changes(previous: dict, current: dict) -> pd.DataFrame:
    """Instances whose result changed.  An instance missing now is not 'fixed': it may be out of scope."""
    key = lambda f: (f["account_id"], f["region"], f["instance_id"])  # noqa: E731
    before = {key(f): f for f in previous["findings"]}
    rows = []
    for f in current["findings"]:
        old = before.get(key(f))
        was = old["result"] if old else None
        now = f["result"]
        if now == FAIL and was != FAIL:
            change = "newly failing"
        elif was == FAIL and now == PASS:
            change = "newly fixed"
        elif was == FAIL and now == EXCEPTED:
            change = "newly excepted"
        else:
            continue
        rows.append({"change": change, "account_id": f["account_id"], "region": f["region"],
                     "cluster_id": f["cluster_id"], "instance_id": f["instance_id"],
                     "before": was or "(not seen)", "after": now})
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)


def compare(result, directory) -> History | None:
    """This run against the folder's runs (recording nothing); ``directory=None`` gives None."""
    if directory is None or str(directory) == "":
        return None
    runs, skipped = load(_folder(directory))
    current = to_contract(result)
    previous = runs[-1] if runs else None
    diff = changes(previous, current) if previous else pd.DataFrame(columns=CHANGE_COLUMNS)
    return History(trend=trend(runs + [current]), changes=diff,
                   previous_at=previous["generated_at"] if previous else None, skipped=skipped)


def update(result, directory) -> History | None:
    """Compare this run with the folder's runs, then record it."""
    hist = compare(result, directory)
    record(result, directory)
    return hist
