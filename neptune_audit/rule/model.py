"""The rule's declarative metadata (``rule.yaml``): read once, at first use, into a frozen dataclass.

The shipped file is validated against a typed pydantic model by the tests (``validate()``), not on every scan:
pydantic costs ~55 ms of import time, a third of what a one-region scan spends before its first request.
"""
from __future__ import annotations

import functools
import shlex
from dataclasses import dataclass, fields
from pathlib import Path

from neptune_audit.vocabulary import EXCEPTED
from neptune_audit.inputs import safe_yaml


@dataclass(frozen=True)
class Rule:
    """Neptune-001 as data."""

    id: str
    title: str
    risk: str
    standards: tuple[str, ...]
    publisher: str
    reference: str
    resource_type: str
    rationale: str
    remediation: str


@functools.lru_cache(maxsize=1)
def model():
    """The typed model ``rule.yaml`` must satisfy: a typo or a missing field fails here, not in a report."""
    from typing import Literal

    from pydantic import BaseModel, ConfigDict, Field

    class RuleModel(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        id: str = Field(pattern=r"^Neptune-\d{3}$")
        title: str = Field(min_length=10)
        risk: Literal["Low", "Medium", "High", "Very High", "Extreme"]
        standards: tuple[str, ...] = Field(min_length=1)
        publisher: str
        reference: str = Field(pattern=r"^https://\S+$")
        resource_type: str = Field(pattern=r"^AWS::\w+::\w+$")
        rationale: str = Field(min_length=40)
        remediation: str = Field(min_length=40)

    return RuleModel


def validate(data: dict) -> Rule:
    """``data`` checked against :func:`model` (raises pydantic's ValidationError), as a :class:`Rule`."""
    checked = model().model_validate(data)
    return Rule(**{f.name: getattr(checked, f.name) for f in fields(Rule)})


def raw() -> dict:
    return safe_yaml((Path(__file__).parent / "rule.yaml").read_text(encoding="utf-8"))  # beside this module


@functools.lru_cache(maxsize=1)
def metadata() -> Rule:
    """Neptune-001's metadata: id, title, risk, standards, rationale, remediation."""
    data = raw()
    return Rule(**{**data, "standards": tuple(data["standards"])})


def header() -> dict:
    """The rule as the JSON contract names it."""
    m = metadata()
    return {"id": m.id, "title": m.title, "risk": m.risk, "standards": list(m.standards)}


# How to fix one finding: what the findings table, the plan and the script all say.
def command(region: str, instance_id: str) -> str:
    """The AWS CLI call that fixes one instance (the same as ``to_script`` writes)."""
    return (f"aws neptune modify-db-instance --region {shlex.quote(str(region))} "
            f"--db-instance-identifier {shlex.quote(str(instance_id))} "
            "--auto-minor-version-upgrade --no-apply-immediately")


# A release before 1.3.0.0 needs a manual engine upgrade, and every release the setting can act on is in another
# major version (1.2 -> 1.3/1.4): the API reference requires AllowMajorVersionUpgrade whenever EngineVersion is in
# a different major version than the cluster's (ModifyDBCluster, ModifyGlobalCluster), and the 1.4.x release notes'
# own command carries --allow-major-version-upgrade.  Those notes allow the upgrade "from engine release 1.2.0.0 or
# above": one step, to a release the region lists in ValidUpgradeTarget (outlook.manual_target names it).  Only
# the CloudFormation route upgrades one major version at a time (user guide, cfn-engine-update.html).  AWS
# recommends testing major upgrades on a blue-green copy (user guide, engine-updates-manually.html).
MANUAL_UPGRADE = ("upgrade the engine of cluster {cluster} by hand to {target} (a major version upgrade; AWS "
                  "recommends testing it on a blue-green copy first): aws neptune modify-db-cluster --region {region} "
                  "--db-cluster-identifier {cluster} --engine-version {version} --allow-major-version-upgrade "
                  "--no-apply-immediately")


def manual_upgrade(region: str, cluster, target) -> str:
    """The manual major upgrade of a cluster before 1.3.0.0, to ``target`` (None: one the region offers)."""
    version = shlex.quote(str(target)) if target else "VERSION"
    named = (str(target) if target else
             "a 1.3.0.0-or-later release from `aws neptune describe-db-engine-versions --engine neptune "
             "--engine-version CURRENT` (ValidUpgradeTarget)")
    return MANUAL_UPGRADE.format(cluster=shlex.quote(str(cluster or "CLUSTER")), region=shlex.quote(str(region)),
                                 target=named, version=version)


def fix(finding: dict) -> str:
    """What fixes one finding: the setting's CLI call where it is off, and the manual engine upgrade where the
    setting cannot help (a release before 1.3.0.0).  Empty for an instance with nothing to do."""
    steps = []
    if finding.get("auto_minor_version_upgrade") is False and finding.get("result") != EXCEPTED:
        steps.append(command(finding["region"], finding["instance_id"]))
    if finding.get("amvu_effective") is False:
        steps.append(manual_upgrade(finding["region"], finding.get("cluster_id"),
                                    finding.get("manual_upgrade_target")))
    return "; then ".join(steps)
