"""What a person sees: the notebook's sections (sections, built from display, datatable and charts), the
filter (explore), the progress bar, the HTML report, the terminal table.  The names below are what the audit
notebook calls (``present.header(result)``)."""
from __future__ import annotations

# The sections (present.sections; setup is present.display's) and the Explorer, imported on first use, so the
# CLI's report command does not load pandas for nothing: real imports, inside __getattr__, which the layout test
# sees.
_SECTIONS = ("setup", "header", "summary", "coverage", "exceptions_table", "history_section", "machine_summary",
             "upgrades_ahead", "upgrade_exposure", "compliance_chart", "failing_chart", "rollup_chart",
             "clusters_table", "engines_chart", "findings_table", "history")
# the sections a notebook calls with the result itself: shown later, in their place, while the scan still runs
_DEFERRABLE = ("header", "summary", "coverage", "exceptions_table", "machine_summary", "history")
__all__ = sorted((*_SECTIONS, "Explorer", "start", "finish"))


def __getattr__(name):
    if name == "Explorer":
        from neptune_audit.present.explore import Explorer

        return Explorer
    if name == "setup":
        from neptune_audit.present.display import setup

        return setup
    if name in ("start", "finish"):
        from neptune_audit.present import pending

        return getattr(pending, name)
    if name in _SECTIONS:
        from neptune_audit.present import pending, sections

        found = getattr(sections, name)
        return pending.deferrable(found) if name in _DEFERRABLE else found
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
