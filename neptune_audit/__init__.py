"""neptune-audit: audit Amazon Neptune instances for Auto Minor Version Upgrade (Neptune-001).

Data flows one way: ``targets`` -> ``collect`` -> ``evaluate`` -> ``export`` / ``charts`` /
``report``, and ``remediate`` acts on the findings.  ``scan()`` is the one entry point
that the CLI and the notebooks call.
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "scan", "UsageError"]

from .errors import UsageError


def __getattr__(name):
    # Keep `import neptune_audit` cheap: boto3 and pandas load only when a scan is asked for.
    if name == "scan":
        from .audit import scan

        return scan
    raise AttributeError(name)
