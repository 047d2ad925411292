"""neptune-audit: audit Amazon Neptune instances for Auto Minor Version Upgrade (Neptune-001).

Data flows one way, one folder per stage: ``aws`` (which accounts and regions, what is there) -> ``rule``
(the verdict) -> ``present`` (tables, charts, reports) and ``act`` (remediation, Security Hub), with
``contract`` (the JSON a run hands to others) beside them.  ``scan()`` is the entry point the CLI and the
notebooks call; it returns an [`AuditResult`][neptune_audit.contract.result.AuditResult].
"""
from __future__ import annotations

from neptune_audit._version import __version__

import logging as _logging
from typing import TYPE_CHECKING

# The kit's diagnostics are records of the "neptune_audit" logger: silent unless the host application (or the
# CLI, with -v) configures logging. A NullHandler on our own logger is all the kit sets; it never touches the root.
_logging.getLogger(__name__).addHandler(_logging.NullHandler())

from neptune_audit.errors import (AwsError, FindingsFailed, InputError, NeptuneAuditError, NotebookFailed, OptionError,
                                  UsageError)

# Public names imported on first use, so `import neptune_audit` (and `--help`) stays cheap: boto3, pandas and
# ipywidgets behind them, and dataclasses behind ScanOptions.
_LAZY = {"scan": "neptune_audit.api", "scan_or_load": "neptune_audit.api", "load": "neptune_audit.api",
         "iac": "neptune_audit.api", "policy": "neptune_audit.api", "send_to_security_hub": "neptune_audit.api",
         "AuditResult": "neptune_audit.contract.result", "RemediationPanel": "neptune_audit.act.panel",
         "Remediation": "neptune_audit.act.remediate", "ScanOptions": "neptune_audit.options",
         "IacResult": "neptune_audit.code.scan", "Connection": "neptune_audit.aws.connection"}
# modules: remediate's plan/apply/verify, and what the audit notebook keeps between runs
_MODULES = {"history": "neptune_audit.contract.history", "remediate": "neptune_audit.act.remediate"}
__all__ = ["__version__", "AuditResult", "AwsError", "Connection", "FindingsFailed", "IacResult", "InputError",
           "NeptuneAuditError", "NotebookFailed", "OptionError", "Remediation", "RemediationPanel", "ScanOptions",
           "UsageError", "history", "iac", "load", "policy", "remediate", "scan", "scan_or_load",
           "send_to_security_hub"]

if TYPE_CHECKING:  # what the lazy names are, for type checkers and editors
    from neptune_audit.act import remediate
    from neptune_audit.act.panel import RemediationPanel
    from neptune_audit.act.remediate import Remediation
    from neptune_audit.api import iac, load, policy, scan, scan_or_load, send_to_security_hub
    from neptune_audit.aws.connection import Connection
    from neptune_audit.code.scan import IacResult
    from neptune_audit.contract import history
    from neptune_audit.contract.result import AuditResult
    from neptune_audit.options import ScanOptions


def __getattr__(name):
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _MODULES:
        return importlib.import_module(_MODULES[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
