"""What a person sees: the notebook's sections (tables, charts), the filter (explore), the HTML report, the
terminal table.  The names below are what the audit notebook calls (``present.header(result)``)."""
from __future__ import annotations

# Section name -> module: imported on first use, so the CLI's report command does not load pandas for nothing.
_SECTIONS = {name: "neptune_audit.present.tables" for name in (
    "setup", "header", "summary", "coverage", "exceptions_table", "history_section", "machine_summary",
    "upgrades_ahead", "upgrade_exposure", "compliance_chart", "failing_chart", "rollup_chart", "clusters_table",
    "engines_chart", "findings_table")} | {"Explorer": "neptune_audit.present.explore"}
__all__ = sorted(_SECTIONS)


def __getattr__(name):
    if name in _SECTIONS:
        import importlib

        return getattr(importlib.import_module(_SECTIONS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
