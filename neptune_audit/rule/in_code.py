"""The rule on code: one Neptune DB instance as code defines it (``Resource``, how its setting is written:
``Value``, the suppressions beside it), and the verdict on it (``judge``), with the same exceptions, expiry and
engine calendar as a live scan.  ``code/`` turns files into resources; this judges them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from neptune_audit.errors import one_line
from neptune_audit.vocabulary import EXCEPTED, FAIL, PASS

# Only these are Neptune DB instances (AWS::RDS::DBInstance, aws_db_instance and DocumentDB never are)
CFN_TYPE = "AWS::Neptune::DBInstance"
TF_TYPE = "aws_neptune_cluster_instance"


@dataclass
class Value:
    """How ``AutoMinorVersionUpgrade`` is written.

    ``kind``: ``literal`` (``value`` is True/False), ``omitted`` (AWS's default applies), ``parameter`` (``name``
    decides: ``default``, ``allowed``, ``given`` from --parameter / --var-file), ``choice`` (``options``: the values
    a condition picks between, ``name`` the condition), ``unresolved`` (``text``: from outside the file)."""

    kind: str
    value: bool | None = None
    name: str | None = None
    default: object = None
    has_default: bool = False
    allowed: tuple | None = None
    given: object = None
    options: tuple = ()
    text: str | None = None
    # where a fix goes: (file, line) of the literal, or of the parameter's / variable's default
    fix_at: tuple | None = None


@dataclass
class Suppression:
    """An inline suppression beside the code it excuses (template Metadata, or an HCL comment)."""

    reason: str
    expires: str | None = None   # YYYY-MM-DD
    line: int | None = None


@dataclass
class Resource:
    """One Neptune DB instance in code."""

    file: str
    line: int | None          # the resource's line
    resource: str             # logical id, or Terraform address
    type: str
    source: str               # cloudformation, cdk, terraform or terraform-plan
    value: Value
    prop_line: int | None = None
    suppressions: list = field(default_factory=list)
    construct_path: str | None = None   # CDK: aws:cdk:path
    written_at: tuple | None = None     # CDK assembly: (file, line) of the construct in the app's source, when read
    engine_version: str | None = None   # the cluster's EngineVersion / engine_version when written literally
    identifier: str | None = None       # DBInstanceIdentifier / identifier when literal (links live instances)
    stack: str | None = None            # CDK: the stack the template belongs to
    arn: str | None = None              # Terraform plan or state JSON: the instance's ARN, once it exists

    @property
    def where(self) -> int | None:
        return self.prop_line or self.line



DEFAULT_SOURCE = ("Neptune API reference, CreateDBInstance: AutoMinorVersionUpgrade, Default: true")
# what the reason says where only a plan knows a Terraform value
PLAN_ROUTE = ("only a plan knows it: run `terraform plan -out plan.out && terraform show -json plan.out > plan.json` "
              "and scan plan.json")


def as_bool(value) -> bool | None:
    """A written value as the boolean Terraform and CloudFormation take it (true/false, "true"/"false"), else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().strip('"').lower() in ("true", "false"):
        return value.strip().strip('"').lower() == "true"
    return None


# ---- the verdict ----

def _under(v: Value, value) -> bool | None:
    return value if isinstance(value, bool) else as_bool(value)


def _shown(value, as_bool, label: str) -> str:
    """A value as the reason quotes it, in the code's own words: a boolean bare (python-hcl2 8.1.0 hands some over
    as "false"), null as null, any other value as quoted text."""
    if isinstance(value, bool) or (label == "variable" and as_bool is not None):
        return str(as_bool if as_bool is not None else value).lower()
    if value is None:
        return "null"
    return '"' + one_line(value, limit=20).replace('"', '\\"') + '"'


def _decide(v: Value) -> tuple[bool | None, str]:
    """(passes?, why) for one way of writing the setting; None: it cannot be shown either way."""
    if v.kind == "literal":
        return v.value, f"set to {str(v.value).lower()}"
    if v.kind == "omitted":
        why = f"{v.text}, so " if v.text else ""
        return True, f"not set: {why}AWS's default (true) applies ({DEFAULT_SOURCE})"
    if v.kind == "parameter":
        label = "variable" if (v.name or "").startswith("var.") else "parameter"
        options = [x for x in (v.allowed or (True, False))]
        alts = sorted({str(o).lower() for o in options if _under(v, o) is False})
        if v.given is not None:
            b = _under(v, v.given)
            shown = _shown(v.given, b, label)
            by = ("by its module call" if v.text == "caller" else
                  f"in {v.fix_at[0]}:{v.fix_at[1]}" if v.text == "tfvars" and v.fix_at else "from outside the file")
            where = f"{label} {v.name}, given {shown} {by}"
        elif v.has_default:
            if v.default is None and label == "variable":  # null: the argument is unset, as if not written
                return True, (f"decided by variable {v.name}, default null: unset, so AWS's default (true) applies "
                              f"({DEFAULT_SOURCE})")
            b = _under(v, v.default)
            shown = _shown(v.default, b, label)
            where = f"{label} {v.name}, default {shown}"
        else:
            return None, (f"decided by {label} {v.name}, which has no default: the value is chosen at deploy time "
                          f"(pass --{'var-file' if label == 'variable' else 'parameter'} to judge it)")
        if b is None:
            return None, f"{where}: not true or false"
        goods = sorted({str(o).lower() for o in options if _under(v, o) is True})
        tail = (f"; with {v.name}={alts[0]} it would fail" if b and alts else
                f"; {v.name}={goods[0]} would pass" if b is False and goods else "")
        return b, f"decided by {where}{tail}"
    if v.kind == "construct-default":
        return False, v.text or "not set: the construct's default (false) applies"
    if v.kind == "evaluated":
        via = f" (from {v.name}" + (f", set at {v.fix_at[0]}:{v.fix_at[1]}" if v.fix_at and v.fix_at[1] else "") + ")" \
            if v.name else ""
        if v.value is None:
            return True, f"set to {v.text}, which is null{via}: unset, so AWS's default (true) applies ({DEFAULT_SOURCE})"
        return v.value, f"set to {v.text}, which is {str(v.value).lower()}{via}"
    if v.kind == "choice":
        outcomes = [_decide(o) for o in v.options]
        if all(o[0] is True for o in outcomes):
            return True, f"every branch of condition {v.name} sets it true"
        return None, (f"depends on condition {v.name}: " + ", ".join(
            f"{'true' if i == 0 else 'false'} branch {why}" for i, (_, why) in enumerate(outcomes)))
    if v.text and "only a plan knows" in v.text:
        return None, v.text
    return None, f"comes from outside the file ({v.text}): {PLAN_ROUTE}"


def _engine_note(r: Resource, today: date, calendar) -> str:
    from neptune_audit.rule import outlook
    from neptune_audit.rule.calendars import default_calendar

    if not r.engine_version or outlook.amvu_effective(r.engine_version) is not False:
        return ""
    cal = calendar or default_calendar()
    eol, state = outlook.end_of_life(cal, r.engine_version, today)
    when = {"past": f"; it reached end of life on {eol}", "within-180-days": f"; it reaches end of life on {eol}",
            "later": f"; end of life {eol}"}.get(state, "")
    return (f" Its cluster is pinned to engine {r.engine_version}, older than 1.3.0.0: the setting governs no minor "
            f"upgrades there whatever it says; upgrade the engine (a major version upgrade){when}.")


def _suppression(r: Resource, today: date) -> tuple[dict | None, str]:
    notes = ""
    for s in r.suppressions:
        if not s.reason:
            notes += f" An inline suppression at line {s.line} has no reason and is ignored."
            continue
        if s.expires is not None and not _is_date(s.expires):
            # as the exceptions file: an expiry that is not a date excepts nothing (never "no expiry")
            notes += (f" An inline suppression at line {s.line} has the expiry {one_line(s.expires, limit=30)}, not a "
                      "date (YYYY-MM-DD): it excepts nothing.")
            continue
        expired = bool(s.expires) and date.fromisoformat(s.expires) < today
        exc = {"match": f"inline suppression at {r.file}:{s.line}", "reason": s.reason, "expires": s.expires,
               "approved_by": None, "expired": expired}
        return exc, notes
    return None, notes


def _is_date(text) -> bool:
    """YYYY-MM-DD and a day that exists (as the exceptions file's expiry)."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(text)):
        return False
    try:
        date.fromisoformat(str(text))
        return True
    except ValueError:
        return False


def judge(r: Resource, rules, today: date, calendar=None) -> dict:
    """One finding row of the ``neptune-audit-iac/1`` document."""
    from neptune_audit.rule import allowlist

    passes, why = _decide(r.value)
    at = f" ({r.file}:{r.where})" if r.where else ""
    reason = f"AutoMinorVersionUpgrade {why}{at}." + _engine_note(r, today, calendar)
    if r.written_at:  # a synthesized template: the fix belongs in the app's source, which synth turns into it
        reason += (f" Its construct is written at {r.written_at[0]}:{r.written_at[1]}; change it there (cdk synth "
                   "writes this template again).")
    result = PASS if passes else FAIL
    exception = None
    if result == FAIL:
        inline, notes = _suppression(r, today)
        reason += notes
        rule = allowlist.find(rules, {"instance_id": r.resource, "arn": r.resource, "tags": {}, "account_id": "",
                                      "region": ""}, today)
        exception = inline if inline and not inline["expired"] else (rule.as_dict(today) if rule else inline)
        if exception and not exception["expired"]:
            result = EXCEPTED
            until = f" until {exception['expires']}" if exception["expires"] else ""
            reason = f"Excepted{until} ({exception['match']}): {exception['reason']}. {reason}"
        elif exception:
            reason += f" Its exception ({exception['match']}) expired on {exception['expires']}."
    # true/false as written or as the parameter resolves it; null when omitted or when it cannot be shown
    setting = r.value.value if r.value.kind == "literal" else (passes if r.value.kind == "parameter" else None)
    return {"file": r.file, "line": r.where, "resource": r.resource, "type": r.type, "source": r.source,
            "auto_minor_version_upgrade": setting, "result": result, "reason": reason, "exception": exception,
            "construct_path": r.construct_path, "stack": r.stack, "identifier": r.identifier,
            "decided_by": r.value.name if r.value.kind in ("parameter", "choice") else None}
