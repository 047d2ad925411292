"""The one core function: ``run()`` audits the targets, aws -> rule, and returns an AuditResult.

It takes its connection (endpoint, credentials, retries) from the caller: the public ``api.scan`` gives it the
simulated account for ``demo=True``, or the standard AWS chain.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from datetime import date, datetime, timezone

from neptune_audit.aws import inventory
from neptune_audit.aws.accounts import resolve_accounts
from neptune_audit.aws.connection import Connection
from neptune_audit.aws.faults import redact_url
from neptune_audit.aws.regions import DEFAULT_REGIONS
from neptune_audit.aws.tuning import fewer_gc_passes, load_models
from neptune_audit.contract.result import AuditResult
from neptune_audit.errors import UsageError
from neptune_audit.options import ScanOptions, parse_owner_tag
from neptune_audit.records import records
from neptune_audit.vocabulary import NOT_SCANNED, summary_line
from neptune_audit.rule import allowlist, calendars, outlook

log = logging.getLogger(__name__)


def _preload(sent: threading.Event, frames: bool, exposure, threads: int) -> None:
    # the main thread builds its ec2 and sts clients and sends the first requests meanwhile; then rds's model
    # loads while they are in flight, and the exposure pool's threads start
    sent.wait(timeout=1.0)
    load_models(("rds",))
    inventory.start_threads(exposure, threads)
    from neptune_audit.rule import evaluate, model  # noqa: F401  # imported here, off the path to the first request

    outlook.shipped_calendar()  # parsed once (PyYAML, ~20 ms), off the path to the first request
    model.metadata()  # every writer's header
    if frames:
        import pandas  # noqa: F401  # loaded while the first requests are in flight


def _first_wave(options: ScanOptions) -> int:
    """The exposure calls of the first account's regions (three each), which start within one round trip."""
    try:
        regions = options.region_list
    except UsageError:
        regions = None  # read_inputs says what is wrong with them
    return 3 * len(regions or DEFAULT_REGIONS)


def read_inputs(options: ScanOptions) -> tuple[list, outlook.Calendar | None]:
    """The options checked, and the two files they name read: the allow-list of reviewed instances and the
    engine calendar (None: the shipped one, read while the first requests are in flight).  Bad input fails here,
    before any AWS call (or any kernel, for a report)."""
    options.validate()
    calendar = outlook.load_calendar(options.engine_calendar) if options.engine_calendar else None
    return allowlist.load(options.exceptions_file), calendar


def read_code(options: ScanOptions):
    """The code under ``iac_paths`` (``scan --iac``), read before any AWS call: a bad path fails first."""
    if not options.iac_paths:
        return None
    from neptune_audit.code.scan import scan as scan_code

    return scan_code(options.iac_paths)


def run(options: ScanOptions, connection: Connection, *, progress: inventory.Progress | None = None,
        today: date | None = None, frames: bool = True) -> AuditResult:
    """Audit every Neptune instance the options target, through ``connection``.  Faults in one account or region
    are recorded in the result's ``scope`` and never stop the others.

    ``frames``: the caller will read the result's DataFrames (a notebook, a table, a report), so pandas loads
    while the first requests are in flight; without it (JSON, CSV) pandas is never loaded."""
    # Service models (and pandas) take longer to load than the first round trips: load them while those are in flight.
    exposure = inventory.exposure_pool()
    threading.Thread(target=_preload, args=(connection.first_requests_sent, frames, exposure, _first_wave(options)),
                     daemon=True).start()
    try:
        rules, calendar = read_inputs(options)
        code = read_code(options)
        generated_at = datetime.now(timezone.utc).replace(microsecond=0)
        started, calls_before = time.monotonic(), connection.api_calls
        with fewer_gc_passes():
            accounts = resolve_accounts(connection, options.profiles, options.role_arns,
                                                options.organization, options.role_name, only=options.accounts,
                                                shard=options.shard_numbers, regions=options.region_list)
            inv = inventory.collect(accounts, options.region_list, max_workers=options.max_workers,
                                    progress=progress, exposure=exposure)
    finally:
        exposure.shutdown(wait=False)  # a failed region's calls still in flight need not hold the scan
    from neptune_audit.rule import evaluate

    calendar = calendar or calendars.default_calendar()
    today = today or generated_at.date()
    findings = evaluate.finding_rows(inv.instances, rules, today, clusters=inv.clusters, calendar=calendar,
                                     owner_tag=parse_owner_tag(options.managed_by_tag))
    if code is not None:  # scan --iac: each live instance linked to the file and line that define it
        from neptune_audit.code import link

        link.attach(findings, code.resources)
    clusters = evaluate.cluster_rows(findings, inv.clusters, calendar=calendar, today=today)
    params = {**options.describe(),
              "endpoint_url": redact_url(connection.endpoint_url or os.environ.get("AWS_ENDPOINT_URL"))}
    callers = [{"account_id": a.account_id, "label": a.label, "caller_arn": a.caller_arn} for a in accounts]
    summary = evaluate.summarize(findings, inv.scope)
    for row in records(inv.scope, ("account_id", "region", "state", "error")):
        if row["state"] in NOT_SCANNED:  # recorded in the scope either way; a record for whoever watches the run
            log.warning("account %s region %s not scanned: %s (%s)", row["account_id"], row["region"], row["state"],
                        row["error"] or "no detail")
    log.info("scanned %d account(s), %d account-region(s) in %.1f s with %d AWS calls: %s", len(accounts),
             len(inv.scope), time.monotonic() - started, connection.api_calls - calls_before, summary_line(summary))
    return AuditResult(findings=findings, clusters=clusters, scope=inv.scope,
                       summary=summary, generated_at=generated_at,
                       options=options, parameters=params, callers=callers, exceptions=rules,
                       api_calls=connection.api_calls - calls_before, accounts=accounts,
                       duration_seconds=time.monotonic() - started,
                       engine_calendar=calendar.describe(today))
