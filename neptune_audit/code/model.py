"""What the parsers hand the verdict: one Neptune DB instance as code defines it.  The model lives with the rule
that judges it (``rule.in_code``); the parsers import it from here."""
from __future__ import annotations

from neptune_audit.rule.in_code import CFN_TYPE, TF_TYPE, Resource, Suppression, Value

__all__ = ["CFN_TYPE", "TF_TYPE", "Resource", "Suppression", "Value"]
