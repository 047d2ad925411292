"""The rule's declarative metadata (``rule.yaml``), validated into a typed model once, at first use."""
from __future__ import annotations

import functools
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field


class Rule(BaseModel):
    """Neptune-001 as data: a typo or a missing field in ``rule.yaml`` fails here, not in a report."""

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


@functools.lru_cache(maxsize=1)
def metadata() -> Rule:
    """Neptune-001's metadata: id, title, risk, standards, rationale, remediation."""
    text = resources.files(__package__).joinpath("rule.yaml").read_text(encoding="utf-8")
    return Rule.model_validate(yaml.safe_load(text))


def header() -> dict:
    """The rule as the JSON contract names it."""
    m = metadata()
    return {"id": m.id, "title": m.title, "risk": m.risk, "standards": list(m.standards)}
