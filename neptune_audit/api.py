"""The public functions the CLI and the notebooks call: scan, scan_or_load, load."""
from __future__ import annotations

import os
from datetime import date

from neptune_audit.errors import UsageError
from neptune_audit.options import ScanOptions


def scan(options: ScanOptions | None = None, *, progress: bool = False, today: date | None = None,
         connection=None, frames: bool = True, **fields):
    """Audit every Neptune instance in the targets for Auto Minor Version Upgrade (Neptune-001).

    Pass a :class:`ScanOptions`, or its fields as keywords (``regions="all"``, ``organization=True``,
    ``exceptions_file=...``, ``demo=True`` for the built-in simulated account).  Bad input raises
    :class:`UsageError` (a bad file: :class:`InputError`), refused or missing credentials :class:`AwsError`,
    all of them :class:`NeptuneAuditError`; faults in one account or region are recorded in ``scope`` and
    never stop the others.  ``connection`` (an ``aws.targets.Connection``) overrides how clients are made
    (endpoint, retries, event hooks).  ``frames=False``: only the contract's records will be read (JSON, CSV),
    so pandas is not loaded ahead (the DataFrames are still built if asked for).  Returns an :class:`AuditResult`.
    """
    from neptune_audit import core
    from neptune_audit.aws.targets import Connection

    if options is None:
        options = ScanOptions.from_fields(**fields)
    elif fields:
        raise UsageError("pass either a ScanOptions or its fields as keywords, not both")
    if connection is not None and options.demo:
        raise UsageError("pass either demo=True or a connection, not both")
    if options.demo:
        from neptune_audit.simulate.server import demo_connection

        connection = demo_connection(max_workers=options.max_workers)
    elif connection is None:
        connection = Connection(max_workers=options.max_workers)
    return core.run(options, connection, progress=progress, today=today, frames=frames)


def load(paths):
    """Saved scans (JSON, or a report or notebook holding one; several = shards of one audit) as one
    :class:`AuditResult`, checked as they are read."""
    from neptune_audit.contract.saved import load as load_saved

    return load_saved(paths)


def scan_or_load(options: ScanOptions | None = None, results_files=(), signer: dict | None = None, **kw):
    """Load ``results_files`` when given, else scan with ``options``.  ``signer``: the key the report being made
    will be signed with, recorded in the run (``report --sign``)."""
    if list(results_files or ()) == ["embedded"]:
        # the evidence embedded in this very notebook (`report --notebook`): JupyterLab's server tells its kernel
        # which notebook it runs for (JPY_SESSION_NAME)
        path = os.environ.get("JPY_SESSION_NAME")
        if not path or not path.endswith(".ipynb"):
            raise UsageError("results_files = ['embedded'] re-renders the evidence embedded in this notebook: open "
                             "it in JupyterLab, or set results_files to the notebook's path")
        results_files = [path]
    result = load(results_files) if results_files else scan(options, **kw)
    result.signature = signer
    return result


def declared_needs() -> tuple:
    """Every AWS call the kit can make and the IAM action it needs, as each module declares them."""
    from neptune_audit.act import remediate, securityhub
    from neptune_audit.aws import inventory, targets
    from neptune_audit.contract import signing

    return (*targets.NEEDS, *inventory.NEEDS, *remediate.NEEDS, *securityhub.NEEDS, *signing.NEEDS)


def policy(kind: str, **kw) -> dict:
    """The least-privilege IAM policy for ``audit`` or ``remediate`` (``organization``, ``role_name``,
    ``security_hub``, ``kms_key`` as for ``neptune-audit policy``), derived from the declared calls."""
    from neptune_audit.aws import permissions

    return permissions.document(kind, declared_needs(), **kw)
