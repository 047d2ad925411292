"""The public functions the CLI and the notebooks call: scan, scan_or_load, load, iac, policy, send_to_security_hub."""
from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from neptune_audit.defaults import DEFAULT_ROLE_NAME
from neptune_audit.errors import OptionError, UsageError
from neptune_audit.options import PathText, ScanOptions

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from neptune_audit.act.securityhub import ImportReport
    from neptune_audit.aws.inventory import Progress
    from neptune_audit.aws.connection import Connection
    from neptune_audit.code.scan import IacResult
    from neptune_audit.contract.result import AuditResult

PathLike = str | os.PathLike
PolicyKind = Literal["audit", "remediate"]


class ScanFields(TypedDict, total=False):
    """[`ScanOptions`][neptune_audit.options.ScanOptions]' parameters as keywords of [`scan()`][neptune_audit.api.scan]
    (deprecated: pass a ``ScanOptions``)."""

    regions: str | Sequence[str] | None
    profiles: str | Sequence[str]
    role_arns: str | Sequence[str]
    organization: bool
    role_name: str
    exceptions_file: PathText | None
    demo: bool
    max_workers: int | None
    accounts: str | Sequence[str]
    shard: str | None
    engine_calendar: PathText | None
    iac_paths: PathText | Sequence[PathText]
    managed_by_tag: str | None


def scan(options: ScanOptions | None = None, *, progress: bool | Progress = False, today: date | None = None,
         connection: Connection | None = None, session: Any = None, frames: bool = True,
         **fields: Unpack[ScanFields]) -> AuditResult:
    """Audit every Neptune instance in the targets for Auto Minor Version Upgrade (Neptune-001).

    Faults in one account or region never stop the others: they are recorded in the result's ``scope``.

    Args:
        options: the targets and how to scan them, a [`ScanOptions`][neptune_audit.options.ScanOptions]
            (``ScanOptions(organization=True)``,
            ``ScanOptions(demo=True)`` for the built-in simulated account); default: every enabled region of the
            caller's account.  Its fields as keywords of ``scan`` still work, deprecated.
        progress: show a progress bar (a widget in a notebook, text on a terminal); or your own object with the
            ``aws.inventory.Progress`` methods (``start``, ``listed_account``, ``done``, ``close``).
        today: the day exceptions and end-of-life dates are judged on (default: the run's own day).
        connection: how clients are made (endpoint, retries, event hooks); default: the standard AWS chain.
        session: your own ``boto3.Session`` (or botocore ``Session``): its credentials and region are the base,
            instead of the standard chain.  The kit builds its own sessions from it and never changes yours.
        frames: ``False`` when only the contract's records will be read (JSON, CSV), so pandas is not loaded
            ahead (the DataFrames are still built if asked for).
        **fields: deprecated: [`ScanOptions`][neptune_audit.options.ScanOptions]' fields, when ``options`` is not given.

    Returns:
        The [`AuditResult`][neptune_audit.contract.result.AuditResult]: findings, clusters and scope as DataFrames, the summary,
        the exit code.

    Raises:
        OptionError: a parameter's value is wrong, or its name is not a scan option.
        InputError: a file named by the options (exceptions, calendar, code) cannot be believed.
        AwsError: the base credentials are refused, or AWS cannot be reached, before anything is scanned.
    """
    if fields:
        if options is not None:
            raise UsageError("pass either a ScanOptions or its fields as keywords, not both")
        import warnings

        warnings.warn("scan(**fields) is deprecated: pass scan(ScanOptions(...)) (the same names, checked by type "
                      "checkers)", DeprecationWarning, stacklevel=2)
        options = ScanOptions.from_fields(**fields)
    options = options if options is not None else ScanOptions()
    from neptune_audit import core
    from neptune_audit.aws.connection import Connection

    given = [name for name, value in (("demo", options.demo), ("connection", connection), ("session", session))
             if value]
    if len(given) > 1:
        raise OptionError(given[1], f"cannot be combined with {{{given[0]}}}")
    if session is not None and options.profiles:
        raise OptionError("profiles", "cannot be combined with session (the session is the credentials)")
    if options.demo:
        from neptune_audit.simulate.server import demo_connection

        connection = demo_connection(max_workers=options.max_workers)
    elif connection is None:
        connection = Connection(max_workers=options.max_workers, session=session)
    if progress is True:
        from neptune_audit.present.progress import ScanProgress

        progress = ScanProgress()
    return core.run(options, connection, progress=progress or None, today=today, frames=frames)


def load(paths: PathLike | Iterable[PathLike]) -> AuditResult:
    """Read saved scans back as one result, checked as they are read.

    Args:
        paths: a ``scan --format json`` file, or a report or notebook holding one; several are shards of one
            audit (their scopes must not overlap).

    Returns:
        The [`AuditResult`][neptune_audit.contract.result.AuditResult] (without AWS sessions: it cannot remediate).

    Raises:
        InputError: a file is unreadable, damaged, of another schema, or its labels disagree with its facts.
    """
    from neptune_audit.contract.saved import load as load_saved

    return load_saved(paths)


def scan_or_load(options: ScanOptions | None = None, results_files: Sequence[PathLike] = (), *,
                 progress: bool | Progress = False, today: date | None = None) -> AuditResult:
    """Load ``results_files`` when given, else [`scan()`][neptune_audit.api.scan] with ``options`` (the audit notebook's first
    step).

    Args:
        options: as for [`scan()`][neptune_audit.api.scan].
        results_files: saved scans to load instead of scanning; ``["embedded"]`` is the evidence embedded in the
            notebook JupyterLab runs this kernel for (a ``report --notebook`` deliverable).
        progress: as for [`scan()`][neptune_audit.api.scan].
        today: as for [`scan()`][neptune_audit.api.scan].

    Returns:
        The [`AuditResult`][neptune_audit.contract.result.AuditResult].
    """
    if list(results_files or ()) == ["embedded"]:
        # the evidence embedded in this very notebook (`report --notebook`): JupyterLab's server tells its kernel
        # which notebook it runs for (JPY_SESSION_NAME)
        path = os.environ.get("JPY_SESSION_NAME")
        if not path or not path.endswith(".ipynb"):
            raise UsageError("results_files = ['embedded'] re-renders the evidence embedded in this notebook: open "
                             "it in JupyterLab, or set results_files to the notebook's path")
        results_files = [path]
    return load(results_files) if results_files else scan(options, progress=progress, today=today)


def iac(paths: Sequence[PathLike], *, parameters: Sequence[str] = (), var_files: Sequence[PathLike] = (),
        exceptions_file: PathLike | None = None, today: date | None = None) -> IacResult:
    """Check the rule where it is written: CloudFormation (YAML/JSON, CDK's synthesized templates) and
    Terraform (HCL, plan or state JSON), before anything is deployed.

    Args:
        paths: files or folders (folders are walked; unrelated files are passed over).
        parameters: CloudFormation ``KEY=VALUE`` parameter values that decide the setting.
        var_files: Terraform ``.tfvars`` files.
        exceptions_file: the same reviewed exceptions as the live scan (by logical id or address).
        today: the day exceptions are judged on.

    Returns:
        The [`IacResult`][neptune_audit.code.scan.IacResult]: a finding per Neptune instance resource, with file, line
        and the deciding value.

    Raises:
        InputError: a path, var file or exceptions file cannot be read.
    """
    from neptune_audit.code.scan import scan as scan_code

    return scan_code([os.fspath(p) for p in paths], parameters=parameters,
                     var_files=[os.fspath(v) for v in var_files],
                     exceptions_file=os.fspath(exceptions_file) if exceptions_file else None, today=today)


def send_to_security_hub(result: AuditResult, region: str | None = None,
                         instances: Collection[str] | None = None) -> ImportReport:
    """Import every finding into AWS Security Hub (ASFF), update those already there, archive the gone.

    Args:
        result: a scan of this process (its sessions make the calls).
        region: one aggregation region for every account; default: each finding's own region.
        instances: only these instance ids: their findings imported, theirs archived if they are gone (what one
            change touched); default: every instance of the scanned account-regions.

    Returns:
        The import's report (``.line()`` says what was sent, updated, archived, and what failed where).
    """
    from neptune_audit.act.securityhub import import_findings

    return import_findings(result, region=region, instances=instances)


def declared_needs() -> tuple:
    """Every AWS call the kit can make and the IAM action it needs, as each module declares them."""
    from neptune_audit.act import remediate, securityhub
    from neptune_audit.aws import accounts, inventory, kms, regions
    from neptune_audit.continuous import config

    return (*regions.NEEDS, *accounts.NEEDS, *inventory.NEEDS, *remediate.NEEDS, *securityhub.NEEDS, *kms.NEEDS,
            *config.NEEDS)


def policy(kind: PolicyKind, *, organization: bool = False, role_name: str = DEFAULT_ROLE_NAME,
           security_hub: bool = False, kms_key: str | None = None, iac: bool = False) -> dict:
    """The least-privilege IAM policy document, derived from the calls the kit declares.

    Args:
        kind: ``"audit"`` or ``"remediate"``.
        organization: add listing the Organization's accounts and assuming ``role_name`` in each.
        role_name: the member role assumed with ``organization``.
        security_hub: add what ``scan --security-hub`` needs.
        kms_key: add signing reports with this KMS key (key id, ARN or ``alias/NAME``).
        iac: add what ``remediate --iac --allow-drift`` needs to check a stack's drift.

    Returns:
        An IAM policy document (``Version``, ``Statement``).
    """
    from neptune_audit.aws import permissions

    if kind not in ("audit", "remediate"):
        raise OptionError("kind", f"is 'audit' or 'remediate', not {kind!r}")
    return permissions.document(kind, declared_needs(), organization=organization, role_name=role_name,
                                kms_key=kms_key, security_hub=security_hub, iac=iac)
