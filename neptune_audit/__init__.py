"""neptune-audit: audit Amazon Neptune instances for Auto Minor Version Upgrade (Neptune-001).

Data flows one way: ``targets`` -> ``collect`` -> ``evaluate`` -> ``export`` / ``charts`` /
``report``, and ``remediate`` acts on the findings.  ``scan()`` is the one entry point
that the CLI and the notebooks call; it returns an :class:`AuditResult`.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import AwsError, InputError, NeptuneAuditError, NotebookFailed, UsageError
from .options import ScanOptions

# Public names that load boto3 and pandas: imported on first use, so `import neptune_audit` stays cheap.
_LAZY = {"scan": "audit", "scan_or_load": "audit", "AuditResult": "audit", "load": "saved"}
__all__ = ["__version__", "AuditResult", "AwsError", "InputError", "NeptuneAuditError", "NotebookFailed",
           "ScanOptions", "UsageError", "load", "scan", "scan_or_load"]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
