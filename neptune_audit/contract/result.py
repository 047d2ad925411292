"""The result of one audit, in memory: the contract's findings, clusters and scope as DataFrames.

A scan (``core``) makes one from rows; a saved scan (``saved``) is read back into one from DataFrames.  A table
given as rows becomes a DataFrame when first read, so a scan that only writes JSON or CSV never loads pandas.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from neptune_audit import vocabulary
from neptune_audit.records import records
from neptune_audit.options import ScanOptions
from neptune_audit.rule import model

if TYPE_CHECKING:
    import pandas as pd

class _Table:
    """A table of the result: given as rows (a list of dicts) or a DataFrame; read as a DataFrame, built from the
    rows once, when first asked for."""

    def __init__(self, frame: str):
        self.frame = frame  # the evaluate function that builds the DataFrame from rows

    def install(self, owner, name: str) -> None:
        # set on the class after the dataclass is made (as a class attribute before, it would be a default),
        # so the dataclass's __init__ stores the tables through __set__
        self.name = name
        setattr(owner, name, self)

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name]
        if isinstance(value, list):
            from neptune_audit.rule import evaluate

            value = obj.__dict__[self.name] = getattr(evaluate, self.frame)(value)
        return value

    def __set__(self, obj, value):
        obj.__dict__[self.name] = value


@dataclass(repr=False)
class AuditResult:
    """Findings, clusters and scope as DataFrames, the summary, and what produced them."""

    findings: pd.DataFrame
    clusters: pd.DataFrame
    scope: pd.DataFrame
    summary: vocabulary.Summary
    generated_at: datetime
    options: ScanOptions = field(default_factory=ScanOptions)
    parameters: dict = field(default_factory=dict)
    callers: list[dict] = field(default_factory=list)
    exceptions: list = field(default_factory=list)
    api_calls: int = 0
    accounts: list = field(default_factory=list)
    sources: list[dict] = field(default_factory=list)  # saved scans this was loaded from (file, generated_at, sha256)
    duration_seconds: float | None = None  # wall time of the scan
    signature: dict | None = None  # the key the report or notebook holding this run is signed with (signing.Signer)
    engine_calendar: dict | None = None  # the calendar the end-of-life dates came from (Calendar.describe)

    @property
    def run(self) -> dict | None:
        """The contract's optional ``run`` record: wall time and API calls (None when not known)."""
        if self.duration_seconds is None:
            return None
        return {"duration_seconds": round(self.duration_seconds, 3), "api_calls": int(self.api_calls),
                **({"signature": dict(self.signature)} if self.signature else {})}

    @property
    def calendar_note(self) -> str | None:
        """One line when the engine calendar is old enough that its dates may have changed."""
        from neptune_audit.rule.outlook import stale_note

        c = self.engine_calendar
        return stale_note(c["as_of"]) if c and c.get("stale") else None

    @property
    def rule(self) -> dict:
        return model.header()

    @property
    def exit_code(self) -> int:
        return vocabulary.exit_code(self.summary)

    def rows(self, table: str, keys) -> list[dict]:
        """The rows of ``findings``, ``clusters`` or ``scope`` as the contract writes them: ``keys`` in order,
        missing values None; from the rows when the DataFrame was never built."""
        return records(self.__dict__[table], keys)

    def to_dict(self) -> dict:
        from neptune_audit.contract.export import to_contract

        return to_contract(self)

    def write(self, fmt: str, path=None, statuses=None) -> str:
        """Render as ``csv``, ``json``, ``ocsf`` or ``asff`` (``statuses``: the results CSV keeps); write atomically
        to ``path`` if given.  The terminal table is presentation: ``present.terminal.to_table(result)``."""
        from neptune_audit.contract.export import render
        from neptune_audit.contract.files import write_atomic

        text = render(self, fmt, statuses=statuses)
        if path is not None:
            write_atomic(path, text)
        return text

    def raise_on_failure(self, enabled: bool = True) -> None:
        """Raise [`FindingsFailed`][neptune_audit.errors.FindingsFailed] (exit 1 or 3, as the CLI's) when the run is not a pass
        and ``enabled``: the
        audit notebook's ``fail_on_findings``, so a scheduled papermill run (PapermillOperator) fails on findings."""
        if enabled and self.exit_code:
            from neptune_audit.errors import FindingsFailed

            raise FindingsFailed(f"Neptune-001 not met: {vocabulary.summary_line(self.summary)} "
                                 f"(exit code {self.exit_code}; fail_on_findings is set)", self.exit_code)

    def __repr__(self) -> str:
        return (f"<AuditResult {model.metadata().id} {self.generated_at:%Y-%m-%dT%H:%M:%SZ}: "
                f"{vocabulary.summary_line(self.summary)}; exit code {self.exit_code}>")

    def _repr_html_(self) -> str:
        """How a result shows itself in JupyterLab: the rule, the verdict, the counts and what was scanned (the
        audit notebook's sections draw the rest)."""
        meta, s = model.metadata(), self.summary
        counts = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in (
            ("instances", s["instances"]), ("fail", s["fail"]), ("pass", s["pass"]), ("excepted", s["excepted"]),
            ("account-regions scanned", s["targets_scanned"]), ("not scanned", s["targets_not_scanned"])))
        note = f"<p>{html.escape(self.calendar_note)}</p>" if self.calendar_note else ""
        return (f"<div><p><b>{html.escape(meta.id)}</b> &mdash; {html.escape(meta.title)} "
                f"<small>({self.generated_at:%Y-%m-%dT%H:%M:%SZ}, exit code {self.exit_code}: "
                f"{html.escape(vocabulary.EXIT_MEANING[self.exit_code])})</small></p>"
                f"<table>{counts}</table>{note}</div>")

    def __getstate__(self) -> dict:
        # Pickled (Airflow's XCom, multiprocessing, a cache): the data travels, the AWS sessions do not. They hold
        # credentials, locks and connection pools; ``callers`` still says who scanned what.
        state = dict(self.__dict__)
        state["accounts"] = []
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


for _name, _frame in (("findings", "findings_frame"), ("clusters", "clusters_frame"), ("scope", "scope_frame")):
    _Table(_frame).install(AuditResult, _name)
