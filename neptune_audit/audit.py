"""The one core function: ``scan()`` runs targets -> collect -> evaluate and returns an AuditResult."""
from __future__ import annotations

import contextlib
import gc
import importlib
import os
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING

from . import collect, exceptions, rule, targets

if TYPE_CHECKING:
    import pandas as pd

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3


def exit_code(summary: dict) -> int:
    """0 all pass (or excepted) and complete; 1 any FAIL; 3 no FAIL but some scope not scanned."""
    if summary["fail"]:
        return EXIT_FAIL
    if summary["targets_not_scanned"]:
        return EXIT_INCOMPLETE
    return EXIT_OK


@dataclass
class AuditResult:
    """Findings, clusters and scope as DataFrames, the summary, and what produced them."""

    findings: pd.DataFrame
    clusters: pd.DataFrame
    scope: pd.DataFrame
    summary: dict
    generated_at: datetime
    parameters: dict = field(default_factory=dict)
    callers: list[dict] = field(default_factory=list)
    exceptions: list = field(default_factory=list)
    api_calls: int = 0
    accounts: list = field(default_factory=list, repr=False)

    @property
    def rule(self) -> dict:
        return rule.header()

    @property
    def exit_code(self) -> int:
        return exit_code(self.summary)

    def to_dict(self) -> dict:
        from .export import to_contract

        return to_contract(self)

    def write(self, fmt: str, path=None) -> str:
        """Render as ``table``, ``csv``, ``json`` or ``ocsf``; write atomically to ``path`` if given."""
        from .export import render, write_atomic

        text = render(self, fmt)
        if path is not None:
            write_atomic(path, text)
        return text


@contextlib.contextmanager
def _fewer_gc_passes():
    """Collect cyclic garbage less often while responses are parsed into many small objects.

    With the default threshold (700 allocations) a whole-region sweep spent ~0.4 s, a fifth of its CPU, in
    full collections walking the loaded service models.  Young cycles (dropped clients) are still collected.
    """
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], 20_000), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def check_max_workers(max_workers: int) -> None:
    if max_workers < 1:
        raise targets.UsageError("--max-workers must be at least 1")


def _preload() -> None:
    targets.load_models()
    importlib.import_module(f"{__package__}.evaluate")


def scan(regions: str | list[str] | None = "all", profiles=(), role_arns=(), organization: bool = False,
         role_name: str = targets.DEFAULT_ROLE_NAME, exceptions_file=None, demo: bool = False,
         max_workers: int = 16, progress: bool = False, today: date | None = None,
         connection: targets.Connection | None = None) -> AuditResult:
    """Audit every Neptune instance in the targets for Auto Minor Version Upgrade (Neptune-001).

    ``regions``: ``"all"`` (every enabled region), ``"R1,R2"`` or a list.  ``demo=True`` scans the
    built-in simulated account instead of AWS.  Bad input raises :class:`UsageError`; faults in
    one account or region are recorded in ``scope`` and never stop the others.  ``connection``
    overrides how clients are made (endpoint, retries, event hooks).
    """
    # Service models and pandas take longer to load than the first round trips: load them while those are in flight.
    threading.Thread(target=_preload, daemon=True).start()
    region_list = targets.parse_regions(",".join(regions) if isinstance(regions, (list, tuple)) else regions)
    rules = exceptions.load(exceptions_file)
    if isinstance(profiles, str):
        profiles = [profiles]
    if isinstance(role_arns, str):
        role_arns = [role_arns]
    check_max_workers(max_workers)
    if connection is None:
        connection = targets.Connection(max_workers=max_workers)
    elif demo:
        raise targets.UsageError("pass either demo=True or a connection, not both")
    if demo:
        from . import simulate

        connection = simulate.demo_connection(max_workers=max_workers)
    generated_at = datetime.now(timezone.utc).replace(microsecond=0)
    with _fewer_gc_passes():
        accounts = targets.resolve_accounts(connection, profiles, role_arns, organization, role_name)
        inv = collect.collect(accounts, region_list, max_workers=max_workers, progress=progress)
    from . import evaluate

    findings = evaluate.evaluate_instances(inv.instances, rules, today)
    clusters = evaluate.roll_up_clusters(findings, inv.clusters)
    params = {
        "regions": "all" if region_list is None else ",".join(region_list),
        "profiles": list(profiles), "role_arns": list(role_arns), "organization": organization,
        "role_name": role_name if organization else None,
        "exceptions_file": os.fspath(exceptions_file) if exceptions_file else None, "demo": demo,
        "endpoint_url": connection.endpoint_url or os.environ.get("AWS_ENDPOINT_URL"),
    }
    callers = [{"account_id": a.account_id, "label": a.label, "caller_arn": a.caller_arn} for a in accounts]
    return AuditResult(findings=findings, clusters=clusters, scope=inv.scope,
                       summary=evaluate.summarize(findings, inv.scope), generated_at=generated_at,
                       parameters=params, callers=callers, exceptions=rules, api_calls=inv.api_calls,
                       accounts=accounts)

