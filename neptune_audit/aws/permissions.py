"""Least-privilege IAM policies, derived from what each module declares beside its AWS calls.

A module that calls AWS holds a ``NEEDS`` tuple of `Needs`: each botocore operation it calls and the IAM
action it takes.  ``api.policy`` gathers them and `document()` turns them into the ``audit`` or
``remediate`` policy.  A test watches every call the test suite makes (botocore's ``before-call`` event) and
fails on one no declaration covers, so a new call cannot be forgotten in the policy.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from neptune_audit.defaults import DEFAULT_ROLE_NAME, POLICY_KINDS as KINDS, ROLE_NAME
from neptune_audit.errors import UsageError, one_line


@dataclass(frozen=True)
class Needs:
    """One policy statement's worth of calls.  ``calls``: botocore's ``service.Operation`` -> the IAM action
    (``""`` where AWS requires none).  ``when``: the option that adds it (``organization``, ``security_hub``,
    ``kms_key``); ``kinds``: the policies that hold it."""

    sid: str
    calls: dict
    resource: str = "*"
    when: str | None = None
    kinds: tuple = KINDS
    note: str = ""  # why, for the reader of the code (AWS documentation the resource or action relies on)

    def actions(self) -> list[str]:
        return [a for a in dict.fromkeys(self.calls.values()) if a]


def covers(declared, service: str, operation: str) -> bool:
    """Whether some declaration names the call (``service`` as botocore's endpoint prefix, e.g. ``rds``)."""
    return any(f"{service}.{operation}" in n.calls for n in declared)


def _kms_resource(key: str) -> dict:
    """Where ``kms:Sign`` may act: the key's ARN; for an alias, any key behind that alias (KMS developer guide,
    "Using aliases to control access to KMS keys": condition ``kms:ResourceAliases``)."""
    if key.startswith("arn:") and ":alias/" not in key:
        return {"Resource": key}
    if key.startswith("alias/") or ":alias/" in key:
        alias = key[key.index("alias/"):]
        return {"Resource": "arn:aws:kms:*:*:key/*",
                "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": alias}}}
    return {"Resource": f"arn:aws:kms:*:*:key/{key}"}


# A KMS key as `report --sign kms:KEY` names it: a key id (or multi-Region mrk- id), a key or alias ARN, or
# alias/NAME; never a wildcard, which a policy would read as "every key".
_KMS_KEY = re.compile(r"^(mrk-)?[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$|^(mrk-)?[0-9a-f]{32}$"
                      r"|^alias/[A-Za-z0-9/_-]{1,250}$|^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key/[A-Za-z0-9-]+"
                      r"|alias/[A-Za-z0-9/_-]+)$")


def document(kind: str, declared, organization: bool = False, role_name: str = DEFAULT_ROLE_NAME,
             kms_key: str | None = None, security_hub: bool = False, iac: bool = False,
             continuous: bool = False) -> dict:
    """The IAM policy document for ``audit`` or ``remediate`` from the ``declared`` needs, one statement per sid
    in the order first declared (``kms_key``: also signing reports with it).  A role name or key with a wildcard
    is refused: in a policy it would grant every role or every key."""
    if not isinstance(role_name, str) or not re.match(ROLE_NAME, role_name):
        raise UsageError(f"not an IAM role name: {one_line(role_name, limit=80)!r} (letters, digits and +=,.@_-)")
    if kms_key is not None and not _KMS_KEY.match(str(kms_key)):
        raise UsageError(f"not a KMS key id, key ARN or alias/NAME: {one_line(kms_key, limit=80)!r}")
    wanted = {"organization": organization, "security_hub": security_hub, "kms_key": bool(kms_key), "iac": iac,
              "continuous": continuous}
    statements: dict[str, dict] = {}
    for needs in declared:
        if kind not in needs.kinds or (needs.when and not wanted[needs.when]) or not needs.actions():
            continue
        st = statements.setdefault(needs.sid, {"Sid": needs.sid, "Effect": "Allow", "Action": [],
                                               **(_kms_resource(str(kms_key)) if needs.when == "kms_key" else
                                                  {"Resource": needs.resource.format(role_name=role_name)})})
        st["Action"] += [a for a in needs.actions() if a not in st["Action"]]
    return {"Version": "2012-10-17", "Statement": list(statements.values())}
