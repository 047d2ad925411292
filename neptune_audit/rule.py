"""The rule's declarative metadata (``rule.yaml``), loaded once."""
from __future__ import annotations

import functools
from importlib import resources

import yaml


@functools.lru_cache(maxsize=1)
def metadata() -> dict:
    """Return Neptune-001's metadata: id, title, risk, standards, rationale, remediation."""
    text = resources.files(__package__).joinpath("rule.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def header() -> dict:
    """The rule as the JSON contract names it."""
    m = metadata()
    return {"id": m["id"], "title": m["title"], "risk": m["risk"], "standards": list(m["standards"])}
