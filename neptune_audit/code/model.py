"""What the parsers hand the verdict: one Neptune DB instance as code defines it, and how its setting is written."""
from __future__ import annotations

from dataclasses import dataclass, field

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
    engine_version: str | None = None   # the cluster's EngineVersion / engine_version when written literally
    identifier: str | None = None       # DBInstanceIdentifier / identifier when literal (links live instances)
    stack: str | None = None            # CDK: the stack the template belongs to
    arn: str | None = None              # Terraform plan or state JSON: the instance's ARN, once it exists

    @property
    def where(self) -> int | None:
        return self.prop_line or self.line
