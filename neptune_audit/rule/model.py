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
    """``data`` checked against `model()` (raises pydantic's ValidationError), as a `Rule`."""
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
# A major upgrade changes the parameter group family (neptune1 -> neptune1.2 -> neptune1.3 ...): where the cluster
# or its instances use custom groups, AWS says to name them in the same command (user guide, "Installing updates to
# your Neptune engine manually": --db-cluster-parameter-group-name, --db-instance-parameter-group-name).
MANUAL_UPGRADE = ("upgrade the engine of cluster {cluster} by hand to {target} (a major version upgrade; AWS "
                  "recommends testing it on a blue-green copy first; where the cluster or its instances use custom "
                  "parameter groups, also pass --db-cluster-parameter-group-name and --db-instance-parameter-group-name "
                  "naming groups of family {family}){ended}: aws neptune modify-db-cluster --region {region} "
                  "--db-cluster-identifier {cluster} --engine-version {version} --allow-major-version-upgrade "
                  "--no-apply-immediately")

def family(version) -> str:
    """The parameter group family of an engine release: neptune1 before 1.2.0.0, then neptune1.2, neptune1.3, ..."""
    parts = str(version).split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        return "of the new version"
    return "neptune1" if (int(parts[0]), int(parts[1])) < (1, 2) else f"neptune{parts[0]}.{parts[1]}"


def manual_upgrade(region: str, cluster, target, target_ended: str | None = None) -> str:
    """The manual major upgrade of a cluster before 1.3.0.0, to ``target`` (None: one the region offers).
    ``target_ended``: the date the target itself reached end of life, when it has: the step is then said to be one
    step, with more to come."""
    version = shlex.quote(str(target)) if target else "VERSION"
    named = (str(target) if target else
             "a 1.3.0.0-or-later release from `aws neptune describe-db-engine-versions --engine neptune "
             "--engine-version CURRENT` (ValidUpgradeTarget)")
    ended = (f"; {target} itself reached end of life on {target_ended}, so it is only a step, and another upgrade "
             "must follow" if target and target_ended else "")
    return MANUAL_UPGRADE.format(cluster=shlex.quote(str(cluster or "CLUSTER")), region=shlex.quote(str(region)),
                                 target=named, version=version, ended=ended,
                                 family=family(target) if target else "of the new version")


def _ended(version) -> str | None:
    """The end-of-life date of a release that has reached it (by the calendar in use), else None."""
    if not version:
        return None
    from datetime import date

    from neptune_audit.rule.calendars import default_calendar
    from neptune_audit.rule.outlook import end_of_life

    eol, state = end_of_life(default_calendar(), version, date.today())
    return eol if state == "past" else None


def fix(finding: dict) -> str:
    """What fixes one finding: the setting's CLI call where it is off, and the manual engine upgrade where the
    setting cannot help (a release before 1.3.0.0).  Empty for an instance with nothing to do."""
    steps = []
    if finding.get("auto_minor_version_upgrade") is False and finding.get("result") != EXCEPTED:
        steps.append(command(finding["region"], finding["instance_id"]))
    if finding.get("amvu_effective") is False:
        target = finding.get("manual_upgrade_target")
        steps.append(manual_upgrade(finding["region"], finding.get("cluster_id"), target, _ended(target)))
    return "; then ".join(steps)
