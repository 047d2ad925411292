"""Least-privilege IAM policies, derived from what each module declares beside its AWS calls.

A module that calls AWS holds a ``NEEDS`` tuple of :class:`Needs`: each botocore operation it calls and the IAM
action it takes.  ``api.policy`` gathers them and :func:`document` turns them into the ``audit`` or
``remediate`` policy.  A test watches every call the test suite makes (botocore's ``before-call`` event) and
fails on one no declaration covers, so a new call cannot be forgotten in the policy.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from neptune_audit.defaults import DEFAULT_ROLE_NAME, POLICY_KINDS as KINDS


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


def document(kind: str, declared, organization: bool = False, role_name: str = DEFAULT_ROLE_NAME,
             kms_key: str | None = None, security_hub: bool = False) -> dict:
    """The IAM policy document for ``audit`` or ``remediate`` from the ``declared`` needs, one statement per sid
    in the order first declared (``kms_key``: also signing reports with it)."""
    wanted = {"organization": organization, "security_hub": security_hub, "kms_key": bool(kms_key)}
    statements: dict[str, dict] = {}
    for needs in declared:
        if kind not in needs.kinds or (needs.when and not wanted[needs.when]) or not needs.actions():
            continue
        st = statements.setdefault(needs.sid, {"Sid": needs.sid, "Effect": "Allow", "Action": [],
                                               **(_kms_resource(kms_key) if needs.when == "kms_key" else
                                                  {"Resource": needs.resource.format(role_name=role_name)})})
        st["Action"] += [a for a in needs.actions() if a not in st["Action"]]
    return {"Version": "2012-10-17", "Statement": list(statements.values())}


def to_json(kind: str, declared, **kw) -> str:
    return json.dumps(document(kind, declared, **kw), indent=2) + "\n"
