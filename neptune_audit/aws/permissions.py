"""Least-privilege IAM policies for the audit and for remediation, as data.

The audit needs five read actions per account (plus, for ``--organization``, listing the
Organization's accounts and assuming the member role).  Remediation adds exactly one write
action, limited to DB instances.  ``sts:GetCallerIdentity`` needs no permission.
"""
from __future__ import annotations

import json

from neptune_audit.options import DEFAULT_ROLE_NAME

AUDIT_ACTIONS = ["ec2:DescribeRegions", "rds:DescribeDBClusters", "rds:DescribeDBInstances",
                 # upgrade exposure: what each engine version can move to, and what maintenance is waiting
                 "rds:DescribeDBEngineVersions", "rds:DescribePendingMaintenanceActions"]
# The policy before upgrade exposure: a scan with it still produces every finding (exposure unknown, warned).
AUDIT_ACTIONS_WITHOUT_EXPOSURE = AUDIT_ACTIONS[:3]
ORGANIZATION_ACTIONS = ["organizations:ListAccounts"]
REMEDIATE_ACTIONS = ["rds:ModifyDBInstance"]
KMS_SIGN_ACTIONS = ["kms:GetPublicKey", "kms:Sign"]  # report --sign kms:KEY (signing.py)
# scan --security-hub (securityhub.py): import, and find what the last run sent to archive the gone
SECURITY_HUB_ACTIONS = ["securityhub:BatchImportFindings", "securityhub:GetFindings"]
KINDS = ("audit", "remediate")


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


def document(kind: str, organization: bool = False, role_name: str = DEFAULT_ROLE_NAME,
             kms_key: str | None = None, security_hub: bool = False) -> dict:
    """The IAM policy document for ``audit`` or ``remediate`` (``kms_key``: also signing reports with it)."""
    statements = [{"Sid": "NeptuneAuditRead", "Effect": "Allow", "Action": list(AUDIT_ACTIONS), "Resource": "*"}]
    if organization:
        statements += [
            {"Sid": "ListOrganizationAccounts", "Effect": "Allow", "Action": list(ORGANIZATION_ACTIONS),
             "Resource": "*"},
            {"Sid": "AssumeMemberAuditRole", "Effect": "Allow", "Action": ["sts:AssumeRole"],
             "Resource": f"arn:aws:iam::*:role/{role_name}"},
        ]
    if kind == "remediate":
        statements.append({"Sid": "NeptuneEnableAutoMinorVersionUpgrade", "Effect": "Allow",
                           "Action": list(REMEDIATE_ACTIONS), "Resource": "arn:aws:rds:*:*:db:*"})
    if security_hub:
        # Resource "*": Security Hub decides which product a finding goes to from its ProductArn, and the
        # calling account must be the finding's account (API_BatchImportFindings); nothing broader is granted.
        statements.append({"Sid": "ImportFindingsToSecurityHub", "Effect": "Allow",
                           "Action": list(SECURITY_HUB_ACTIONS), "Resource": "*"})
    if kms_key:
        statements.append({"Sid": "SignReportsWithKms", "Effect": "Allow", "Action": list(KMS_SIGN_ACTIONS),
                           **_kms_resource(kms_key)})
    return {"Version": "2012-10-17", "Statement": statements}


def to_json(kind: str, **kw) -> str:
    return json.dumps(document(kind, **kw), indent=2) + "\n"
