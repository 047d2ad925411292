"""Exports: the contract's JSON (``neptune-audit/1``), CSV, OCSF Compliance Findings, ASFF; atomic writes.

The terminal table (``table``) is drawn by ``present.terminal``."""
from __future__ import annotations

import csv
import io
import json
import os
import secrets
import stat
import sys
from pathlib import Path

from neptune_audit import __version__
from neptune_audit.rule import model
from neptune_audit.vocabulary import CLUSTER_FIELDS, EXCEPTED, FAIL, FINDING_FIELDS, FORMATS, PASS, SCHEMA, SCOPE_FIELDS
from neptune_audit.records import iso, terminal_text
from neptune_audit.errors import UsageError


def to_contract(result) -> dict:
    """The ``--format json`` object, exactly as the command-line contract specifies it."""
    return {
        "schema": SCHEMA,
        "rule": model.header(),
        "generated_at": iso(result.generated_at),
        "tool_version": __version__,
        "scope": result.rows("scope", SCOPE_FIELDS),
        "findings": result.rows("findings", FINDING_FIELDS),
        "clusters": result.rows("clusters", CLUSTER_FIELDS),
        "summary": dict(result.summary),
        **({"run": dict(result.run)} if result.run else {}),
        **({"engine_calendar": dict(result.engine_calendar)} if result.engine_calendar else {}),
    }


def dumps(doc: dict) -> str:
    """A contract document as text, the one way every writer of it (scan, history, evidence) writes it.

    Written chunk by chunk into one buffer: ``json.dumps`` with an indent first lists every chunk (a million
    small strings for a 1,000-account Organization, ~50 MB at the run's peak) before joining them.
    """
    out = io.StringIO()
    for chunk in json.JSONEncoder(indent=2, default=str).iterencode(doc):
        out.write(chunk)
    out.write("\n")
    return out.getvalue()


def to_json(result) -> str:
    return dumps(to_contract(result))


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """Neutralise spreadsheet formulas (OWASP, CSV injection): text starting with = + - @ tab or CR gets a ';
    control characters (ESC among them) and bidi or line-separator marks are dropped, as on the terminal."""
    if isinstance(value, str):
        shown = terminal_text(value)
        if value.startswith(_FORMULA_START) or shown.startswith(_FORMULA_START):
            return "'" + shown
        return shown
    return value


_AS_JSON = ("pending_modifications", "tags", "exception", "pending_maintenance")


def to_csv(result, statuses=None) -> str:
    """The findings (those in ``statuses``), one row each, structured fields as JSON; missing values empty."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FINDING_FIELDS)
    for f in result.rows("findings", FINDING_FIELDS):
        if statuses and f["result"] not in statuses:
            continue
        for col in _AS_JSON:
            f[col] = None if f[col] is None else json.dumps(f[col], sort_keys=True, default=str)
        writer.writerow(["" if f[k] is None else csv_cell(f[k]) for k in FINDING_FIELDS])
    return out.getvalue()


def ocsf_findings(result) -> list[dict]:
    """One OCSF 1.5 Compliance Finding (class 2003) per instance, built with py-ocsf-models, with the cloud
    and datetime profiles applied (``cloud.account.uid`` / ``cloud.region`` are where a SIEM looks) and times in
    milliseconds (OCSF ``timestamp_t``).  tests/test_ocsf.py validates every event against the schema."""
    import uuid

    from py_ocsf_models.events.base_event import SeverityID
    from py_ocsf_models.events.findings.activity_id import ActivityID
    from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding
    from py_ocsf_models.events.findings.compliance_finding_type_id import ComplianceFindingTypeID
    from py_ocsf_models.events.findings.status_id import StatusID
    from py_ocsf_models.objects.account import Account, TypeID as AccountTypeID
    from py_ocsf_models.objects.check import Check
    from py_ocsf_models.objects.cloud import Cloud
    from py_ocsf_models.objects.compliance import Compliance
    from py_ocsf_models.objects.compliance_status import StatusID as ComplianceStatusID
    from py_ocsf_models.objects.finding_info import FindingInformation
    from py_ocsf_models.objects.metadata import Metadata
    from py_ocsf_models.objects.product import Product
    from py_ocsf_models.objects.remediation import Remediation
    from py_ocsf_models.objects.resource_details import ResourceDetails

    meta = model.metadata()
    when = int(result.generated_at.timestamp()) * 1000
    product = Product(name="neptune-audit", vendor_name="neptune-audit", version=__version__)
    # an excepted instance still has the setting off: Warning, as ASFF's WARNING, with the reason beside it
    compliance_status = {PASS: ComplianceStatusID.Pass, FAIL: ComplianceStatusID.Fail,
                         EXCEPTED: ComplianceStatusID.Warning}
    status_name = {ComplianceStatusID.Pass: "Pass", ComplianceStatusID.Fail: "Fail",
                   ComplianceStatusID.Warning: "Warning"}
    labels = {a.account_id: a.label for a in result.accounts if a.label}
    run = uuid.uuid4().hex  # metadata.uid: this event, this run (finding_info.uid is the finding across runs)
    out: list[dict] = []
    for f in result.rows("findings", FINDING_FIELDS):
        excepted = f["result"] == EXCEPTED
        cstatus = compliance_status[f["result"]]
        event = ComplianceFinding(
            activity_id=ActivityID.Create,
            activity_name="Create",
            class_name="Compliance Finding",
            type_uid=ComplianceFindingTypeID.Create,
            type_name="Compliance Finding: Create",
            time=when,
            time_dt=result.generated_at,
            severity_id=SeverityID.Medium,
            severity=meta.risk,
            status_id=StatusID.Suppressed if excepted else StatusID.New,
            status="Suppressed" if excepted else "New",
            status_code=f["result"],
            status_detail=f["reason"],
            message=f"{meta.id} {f['result']}: {f['instance_id']}",
            metadata=Metadata(product=product, event_code=meta.id, uid=f"{run}-{len(out)}",
                              profiles=["cloud", "datetime"]),
            finding_info=FindingInformation(uid=f"{meta.id}-{f['arn']}", title=meta.title,
                                            desc=meta.rationale, created_time=when,
                                            types=["Software and Configuration Checks"]),
            compliance=Compliance(
                control=meta.id, standards=list(meta.standards), desc=meta.title, status_id=cstatus,
                requirements=[f"{meta.publisher} {meta.id}: {meta.title}"],
                checks=[Check(uid=meta.id, name=meta.title, standards=list(meta.standards),
                              severity=meta.risk, severity_id=SeverityID.Medium,
                              status=status_name[cstatus], status_id=cstatus)]),
            remediation=Remediation(desc=meta.remediation, references=[meta.reference]),
            resources=[ResourceDetails(
                uid=f["arn"], name=f["instance_id"], type=meta.resource_type, region=f["region"],
                cloud_partition=(f["arn"] or "arn:aws").split(":")[1],
                labels=[f"{k}:{v}" for k, v in f["tags"].items()] or None,
                data={k: f[k] for k in ("account_id", "cluster_id", "is_writer", "auto_minor_version_upgrade",
                                         "engine_version", "instance_class", "status", "maintenance_window",
                                         "pending_modifications", "exception", "amvu_effective",
                                         "latest_minor_version", "minor_versions_behind", "pending_maintenance")},
            )],
        )
        doc = event.model_dump(mode="json", exclude_none=True)
        # py-ocsf-models' Compliance Finding has no cloud attribute and its Compliance no status text: both are
        # in the schema (the cloud profile; compliance.status), so they are added to the validated event here
        doc["cloud"] = Cloud(provider="AWS", region=f["region"],
                             account=Account(uid=f["account_id"], name=labels.get(f["account_id"], f["account_id"]),
                                             type_id=AccountTypeID.AWS_Account,
                                             type="AWS Account")).model_dump(mode="json", exclude_none=True)
        doc["compliance"]["status"] = status_name[cstatus]
        doc["time_dt"] = iso(result.generated_at)
        out.append(doc)
    return out


def to_ocsf(result) -> str:
    return json.dumps(ocsf_findings(result), indent=2) + "\n"


def to_asff(result) -> str:
    from neptune_audit.contract.asff import to_asff

    return to_asff(result)


RENDERERS = {"csv": to_csv, "json": to_json, "ocsf": to_ocsf, "asff": to_asff}
# file names with --output-dir: one per format, the same every run (a pipeline picks them up by name)
FILE_NAMES = {"table": "neptune-audit.txt", "csv": "neptune-audit.csv", "json": "neptune-audit.json",
              "ocsf": "neptune-audit.ocsf.json", "asff": "neptune-audit.asff.json"}


def render(result, fmt: str, *, statuses=None) -> str:
    """``fmt`` (a format but ``table``) as text.  ``statuses`` (PASS/FAIL/EXCEPTED) narrows the rows of ``table``
    and ``csv`` only: the
    machine formats always hold the whole run, since their summary and Security Hub's archive depend on it."""
    if fmt not in RENDERERS:
        if fmt == "table":
            raise UsageError("the table is drawn by neptune_audit.present.terminal.to_table (or AuditResult.write)")
        raise UsageError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    if fmt == "csv":
        return to_csv(result, statuses=statuses)
    return RENDERERS[fmt](result)


def check_writable(path, inputs: dict | None = None) -> Path:
    """Fail before any work if ``path`` cannot be written (so nothing is half done), or if it is one of the
    run's ``inputs`` (``{"--exceptions": path, ...}``), which writing would destroy."""
    if str(path) == "-":
        return Path("-")
    p = Path(path)
    for flag, given in (inputs or {}).items():
        if given and str(given) != "-" and Path(given).resolve() == p.resolve():
            raise UsageError(f"the output file is the {flag} file ({given}): choose another output path")
    if p.is_dir():
        raise UsageError(f"output path is a directory: {p}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"output folder does not exist: {parent}")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise UsageError(f"cannot write output file: {p}")
    return p


SIG = ".sig"  # contract.signing.SUFFIX, spelled here so that a check before any work imports no cryptography


def _identity(path) -> tuple:
    """What makes two names one file: the resolved path, and the device and inode when it exists."""
    real = os.path.realpath(path)
    try:
        info = os.stat(real)
        return ("inode", info.st_dev, info.st_ino)
    except OSError:
        return ("path", real)


def guard_outputs(outputs: dict, inputs: dict | None = None, signed=(), stdout_ok=()) -> dict:
    """The one rule for every command: no output may be an input, another output, or the ``.sig`` of either.

    ``outputs`` and ``inputs`` map a label (the flag a user typed: ``-o``, ``--notebook``, ``--sign``) to a path
    (None: not given); ``signed``: the labels of outputs that get a ``FILE.sig`` beside them (outputs too);
    ``stdout_ok``: the labels for which ``-`` means standard output (anywhere else ``-`` is refused).  Paths are
    compared resolved, and by device and inode where they exist (a hard link, ``./x`` and ``x`` are one file).
    Returns ``{label: Path}`` of the outputs given, each checked writable."""
    protected: dict[tuple, str] = {}
    for label, given in (inputs or {}).items():
        if given is None or str(given) == "-":
            continue
        protected.setdefault(_identity(given), f"the {label} file ({given})")
        protected.setdefault(_identity(f"{given}{SIG}"), f"the signature of the {label} file ({given}{SIG})")
    checked = {}
    for label, given in outputs.items():
        if given is None:
            continue
        if str(given) == "-":
            if label not in stdout_ok:
                raise UsageError(f"{label} - (standard output) is not offered here: give a file name")
            checked[label] = Path("-")
            continue
        names = [(label, Path(given))] + ([(f"the signature of {label}", Path(f"{given}{SIG}"))]
                                          if label in signed else [])
        for what, path in names:
            if what != label and os.path.islink(path):  # the kit names FILE.sig itself: never through a link
                raise UsageError(f"{path} is a symbolic link: refused (the kit names this file itself and never "
                                 "writes through a link)")
            key = _identity(path)
            if key in protected:
                raise UsageError(f"{what} ({path}) is {protected[key]}: choose another path, nothing was written")
            protected[key] = f"the {what} output ({path})" if what == label else f"{what} ({path})"
        # an input's or earlier output's signature named as this output is caught above; so is this output's
        # signature named as a later output
        protected.setdefault(_identity(f"{given}{SIG}"), f"the signature of the {label} output ({given}{SIG})")
        checked[label] = check_writable(given)
    return checked


def write_atomic(path, data: str | bytes, follow_links: bool = True) -> Path:
    """Write ``data`` so that a reader never sees half of it, and it survives a crash once this returns.

    A regular file (or none yet) is written to a temporary file beside it, flushed to disk, given the old file's
    mode (a new one gets the user's umask, applied by the kernel: the process's umask is never touched) and
    renamed over it, then the folder is flushed; a symbolic link keeps pointing where it did, at the new file.
    ``-`` is standard output.  A device, a FIFO or a terminal (``/dev/null``, ``/dev/stdout``) is written
    through: nothing is ever renamed over something that is not a regular file.  ``follow_links=False``, for a
    name the kit picks itself (``FILE.sig``, ``--output-dir``'s files): a symbolic link there is refused, never
    written through (a planted link would send the write elsewhere).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if str(path) == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(raw)
        sys.stdout.flush()
        return Path("-")
    p = check_writable(path)
    if not follow_links and os.path.islink(p):
        raise UsageError(f"{p} is a symbolic link: refused (the kit names this file itself and never writes "
                         "through a link)")
    try:
        info = os.stat(p)  # through links: /proc/self/fd/1 is the pipe or terminal it names, not a folder entry
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise UsageError(f"cannot write {p}: {exc.strerror or exc}") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        try:
            with open(p, "wb") as fh:
                fh.write(raw)
        except OSError as exc:
            raise UsageError(f"cannot write {p}: {exc.strerror or exc}") from None
        return p
    target = Path(os.path.realpath(p))
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
            if info is not None:
                os.fchmod(fh.fileno(), stat.S_IMODE(info.st_mode))
        os.replace(tmp, target)
    except OSError as exc:  # a full disk (ENOSPC), a quota, a folder gone read-only: the old file is untouched
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {p}: {exc.strerror or exc}; the file was left as it was") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(target.parent)
    return p


def write_set(files: dict) -> None:
    """Write several files as one: every one, or none (``--output-dir``).  All are written to temporary files and
    flushed first; only then renamed into place, so a full disk or a refusal leaves the folder as it was.  The
    names are the kit's own: a symbolic link there is refused."""
    staged = []
    try:
        for path, data in files.items():
            p = Path(path)
            if os.path.islink(p):
                raise UsageError(f"{p} is a symbolic link: refused (the kit names this file itself and never "
                                 "writes through a link)")
            if os.path.lexists(p) and not os.path.isfile(p):
                raise UsageError(f"{p} is not a regular file: refused")
            raw = data.encode("utf-8") if isinstance(data, str) else data
            tmp = p.with_name(f".{p.name}.{secrets.token_hex(6)}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
                         | getattr(os, "O_NOFOLLOW", 0), 0o666)
            staged.append((tmp, p))
            with os.fdopen(fd, "wb") as fh:
                fh.write(raw)
                fh.flush()
                os.fsync(fh.fileno())
    except OSError as exc:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {staged[-1][1] if staged else 'the output folder'}: "
                         f"{exc.strerror or exc}; nothing was written") from None
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, p in staged:
        os.replace(tmp, p)
    if staged:
        _fsync_folder(staged[0][1].parent)


def _fsync_folder(folder: Path) -> None:
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass  # some file systems cannot flush a folder; the file itself is on disk
    finally:
        os.close(dfd)
