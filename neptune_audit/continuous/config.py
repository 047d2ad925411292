"""The function's configuration: environment variables the template sets, and the files they point at.

``NEPTUNE_AUDIT_EXCEPTIONS`` and ``NEPTUNE_AUDIT_CALENDAR``: ``s3://BUCKET/KEY`` or ``ssm:/PARAMETER`` (empty: none, the
calendar in the package); ``NEPTUNE_AUDIT_MANAGED_BY_TAG``: ``KEY`` or ``KEY=VALUE``; ``NEPTUNE_AUDIT_AUTO_REMEDIATE``:
``true`` to turn the setting back on for instances no code owns; ``NEPTUNE_AUDIT_SNS_TOPIC``: an ARN that hears of each
FAIL an event causes.
"""
from __future__ import annotations

import os
import tempfile

from neptune_audit.aws.permissions import Needs

ENV_EXCEPTIONS = "NEPTUNE_AUDIT_EXCEPTIONS"
ENV_CALENDAR = "NEPTUNE_AUDIT_CALENDAR"
ENV_MANAGED_BY = "NEPTUNE_AUDIT_MANAGED_BY_TAG"
ENV_AUTO_REMEDIATE = "NEPTUNE_AUDIT_AUTO_REMEDIATE"
ENV_SNS = "NEPTUNE_AUDIT_SNS_TOPIC"

# The function's calls beside a scan, an import and a remediation (those declare their own): reading its
# configuration here, telling the topic (handler._notify).  The template scopes each to the one object, parameter or
# topic it names.
NEEDS = (
    Needs("ReadConfigurationObject", {"s3.GetObject": "s3:GetObject"}, when="continuous"),
    Needs("ReadConfigurationParameter", {"ssm.GetParameter": "ssm:GetParameter"}, when="continuous"),
    Needs("PublishFailures", {"sns.Publish": "sns:Publish"}, when="continuous"),
)


def fetch(where: str | None, session, region: str) -> str | None:
    """A configuration file from S3 or SSM, written to the function's /tmp; its path."""
    if not where:
        return None
    if where.startswith("s3://"):
        bucket, _, key = where[5:].partition("/")
        body = session.client("s3", region_name=region).get_object(Bucket=bucket, Key=key)["Body"].read()
    elif where.startswith("ssm:"):
        body = session.client("ssm", region_name=region).get_parameter(
            Name=where[4:], WithDecryption=True)["Parameter"]["Value"].encode("utf-8")
    else:
        raise ValueError(f"{where!r} is neither s3://BUCKET/KEY nor ssm:/PARAMETER")
    fd, path = tempfile.mkstemp(prefix="neptune-audit-", suffix=".yml")
    with os.fdopen(fd, "wb") as out:
        out.write(body)
    return path
