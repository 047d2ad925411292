"""Exports: the contract's JSON (``neptune-audit/1``), CSV, OCSF Compliance Findings, ASFF; atomic writes.

The terminal table (``table``) is drawn by ``present.terminal``."""
from __future__ import annotations

import csv
import io
import json

from neptune_audit._version import __version__
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
