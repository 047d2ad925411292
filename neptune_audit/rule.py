"""The rule's declarative metadata (``rule.yaml``): read once, at first use, into a frozen dataclass.

The shipped file is validated against a typed pydantic model by the tests (``validate()``), not on every scan:
pydantic costs ~55 ms of import time, a third of what a one-region scan spends before its first request.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from importlib import resources

import yaml


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
    return yaml.safe_load(resources.files(__package__).joinpath("rule.yaml").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def metadata() -> Rule:
    """Neptune-001's metadata: id, title, risk, standards, rationale, remediation."""
    data = raw()
    return Rule(**{**data, "standards": tuple(data["standards"])})


def header() -> dict:
    """The rule as the JSON contract names it."""
    m = metadata()
    return {"id": m.id, "title": m.title, "risk": m.risk, "standards": list(m.standards)}
