"""The one core function: ``scan()`` runs targets -> collect -> evaluate and returns an AuditResult."""
from __future__ import annotations

import importlib
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING

from . import collect, contract, rule, targets
from .botocore_tuning import fewer_gc_passes, load_models
from .errors import UsageError
from .options import ScanOptions

if TYPE_CHECKING:
    import pandas as pd


@dataclass(repr=False)
class AuditResult:
    """Findings, clusters and scope as DataFrames, the summary, and what produced them."""

    findings: pd.DataFrame
    clusters: pd.DataFrame
    scope: pd.DataFrame
    summary: dict
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
        from .outlook import stale_note

        c = self.engine_calendar
        return stale_note(c["as_of"]) if c and c.get("stale") else None

    @property
    def rule(self) -> dict:
        return rule.header()

    @property
    def exit_code(self) -> int:
        return contract.exit_code(self.summary)

    def to_dict(self) -> dict:
        from .export import to_contract

        return to_contract(self)

    def write(self, fmt: str, path=None, **view) -> str:
        """Render as ``table``, ``csv``, ``json``, ``ocsf`` or ``asff``; write atomically to ``path`` if given.
        ``view``: ``statuses`` (rows of table/csv), ``color`` (table)."""
        from .export import render, write_atomic

        text = render(self, fmt, **view)
        if path is not None:
            write_atomic(path, text)
        return text

    def send_to_security_hub(self, region: str | None = None):
        """Import every finding into AWS Security Hub (``securityhub.import_findings``); returns its report."""
        from .securityhub import import_findings

        return import_findings(self, region=region)

    def __repr__(self) -> str:
        return (f"<AuditResult {rule.metadata().id} {self.generated_at:%Y-%m-%dT%H:%M:%SZ}: "
                f"{contract.summary_line(self.summary)}; exit code {self.exit_code}>")

    def _repr_html_(self) -> str:
        from . import present

        return present.result_html(self)


def _preload() -> None:
    load_models()
    importlib.import_module(f"{__package__}.evaluate")


def scan(options: ScanOptions | None = None, *, progress: bool = False, today: date | None = None,
         connection: targets.Connection | None = None, **fields) -> AuditResult:
    """Audit every Neptune instance in the targets for Auto Minor Version Upgrade (Neptune-001).

    Pass a :class:`ScanOptions`, or its fields as keywords (``regions="all"``, ``organization=True``,
    ``exceptions_file=...``, ``demo=True`` for the built-in simulated account).  Bad input raises
    :class:`UsageError` (a bad file: :class:`InputError`), refused or missing credentials :class:`AwsError`,
    all of them :class:`NeptuneAuditError`; faults in one account or region are recorded in ``scope`` and
    never stop the others.  ``connection`` overrides how clients are made (endpoint, retries, event hooks).
    """
    if options is None:
        options = ScanOptions(**fields)
    elif fields:
        raise UsageError("pass either a ScanOptions or its fields as keywords, not both")
    # Service models and pandas take longer to load than the first round trips: load them while those are in flight.
    threading.Thread(target=_preload, daemon=True).start()
    rules = options.validate().exception_rules
    if connection is not None and options.demo:
        raise UsageError("pass either demo=True or a connection, not both")
    if options.demo:
        from . import simulate

        connection = simulate.demo_connection(max_workers=options.max_workers)
    elif connection is None:
        connection = targets.Connection(max_workers=options.max_workers)
    generated_at = datetime.now(timezone.utc).replace(microsecond=0)
    started = time.monotonic()
    with fewer_gc_passes():
        accounts = targets.resolve_accounts(connection, options.profiles, options.role_arns, options.organization,
                                            options.role_name, only=options.accounts, shard=options.shard_numbers)
        inv = collect.collect(accounts, options.region_list, max_workers=options.max_workers, progress=progress)
    from . import evaluate

    today = today or generated_at.date()
    calendar = options.calendar
    findings = evaluate.evaluate_instances(inv.instances, rules, today, clusters=inv.clusters, calendar=calendar)
    clusters = evaluate.roll_up_clusters(findings, inv.clusters, calendar=calendar, today=today)
    params = {**options.describe(),
              "endpoint_url": targets.redact_url(connection.endpoint_url or os.environ.get("AWS_ENDPOINT_URL"))}
    callers = [{"account_id": a.account_id, "label": a.label, "caller_arn": a.caller_arn} for a in accounts]
    return AuditResult(findings=findings, clusters=clusters, scope=inv.scope,
                       summary=evaluate.summarize(findings, inv.scope), generated_at=generated_at,
                       options=options, parameters=params, callers=callers, exceptions=rules,
                       api_calls=inv.api_calls, accounts=accounts, duration_seconds=time.monotonic() - started,
                       engine_calendar=calendar.describe(today))


def scan_or_load(options: ScanOptions | None = None, results_files=(), signer: dict | None = None,
                 **kw) -> AuditResult:
    """Load ``results_files`` (saved scans; several = shards of one audit) when given, else scan with ``options``.
    ``signer``: the key the report being made will be signed with, recorded in the run (``report --sign``)."""
    if list(results_files or ()) == ["embedded"]:
        # the evidence embedded in this very notebook (`report --notebook`): JupyterLab's server tells its kernel
        # which notebook it runs for (JPY_SESSION_NAME)
        path = os.environ.get("JPY_SESSION_NAME")
        if not path or not path.endswith(".ipynb"):
            raise UsageError("results_files = ['embedded'] re-renders the evidence embedded in this notebook: open "
                             "it in JupyterLab, or set results_files to the notebook's path")
        results_files = [path]
    if results_files:
        from .saved import load

        result = load(results_files)
    else:
        result = scan(options, **kw)
    result.signature = signer
    return result
