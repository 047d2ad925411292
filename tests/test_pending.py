"""Run All in a notebook: the scan runs in a thread of its own, every later cell returns at once and shows the scan's
progress in its own place, and is filled by display id when the result is there; the last cell waits.  Driven here
under plain pytest with IPython's display replaced by a recorder of outputs by display id."""
from __future__ import annotations

import threading

import pytest

import neptune_audit
from neptune_audit import present
from neptune_audit.present import pending

from .conftest import seed


class Outputs:
    """What a front end would show: each output by its display id, as last updated."""

    def __init__(self):
        self.by_id: dict[int, dict] = {}

    def display(self, obj=None, **kw):
        n = len(self.by_id)
        self.by_id[n] = obj if kw.get("raw") else {"text/html": getattr(obj, "data", str(obj))}
        outputs = self

        class Handle:
            def update(self, new, **kw2):
                outputs.by_id[n] = new if kw2.get("raw") else {"text/html": getattr(new, "data", str(new))}

        return Handle() if kw.get("display_id") else None

    def text(self) -> str:
        return " ".join(str(b.get("text/html") or b.get("text/plain") or "") for b in self.by_id.values())


@pytest.fixture
def outputs(monkeypatch):
    import IPython.display

    monkeypatch.setenv("JPY_SESSION_NAME", "audit.ipynb")  # a kernel JupyterLab runs for a person

    rec = Outputs()
    monkeypatch.setattr(IPython.display, "display", rec.display)
    return rec


def test_run_all_shows_progress_in_every_later_cell_and_fills_them_when_the_scan_is_done(aws, outputs, monkeypatch):
    seed([("graph", [("graph-w", False, {}), ("graph-r", True, {})])])
    gate = threading.Event()
    real = neptune_audit.api.scan_or_load

    def slow(*args, **kwargs):  # the scan holds until the cells below have run, as a real one would
        gate.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(neptune_audit.api, "scan_or_load", slow)
    options = neptune_audit.ScanOptions(regions="us-east-1")
    result = present.start(neptune_audit.api.scan_or_load, options, (), live=True)
    assert isinstance(result, pending.Pending)
    present.header(result)
    present.summary(result)
    explorer = present.Explorer(result, live=True)
    explorer.filter_bar()
    explorer.section(present.findings_table)
    present.coverage(result)
    # every cell above has returned, each with the scan's progress in its place
    shown = outputs.text()
    assert shown.count("na-progress") >= 4 and "graph-w" not in shown
    gate.set()
    done = present.finish(result)
    assert isinstance(done, neptune_audit.AuditResult)
    shown = outputs.text()
    assert "na-progress" not in shown, "no placeholder left once the scan is done"
    assert "graph-w" in shown and "Neptune-001" in shown, "the findings and the header filled in their places"
    assert any("application/vnd.jupyter.widget-view+json" in b for b in outputs.by_id.values()), "the filter bar"


def test_a_failed_scan_says_so_in_every_place_and_raises_where_the_notebook_waits(aws, outputs, monkeypatch):
    gate = threading.Event()

    def broken(*args, **kwargs):
        gate.wait(30)
        raise neptune_audit.UsageError("no credentials found")

    monkeypatch.setattr(neptune_audit.api, "scan_or_load", broken)
    result = present.start(neptune_audit.api.scan_or_load, neptune_audit.ScanOptions(regions="us-east-1"), (), live=True)
    present.summary(result)
    gate.set()
    with pytest.raises(neptune_audit.UsageError, match="no credentials"):
        present.finish(result)
    assert "The scan failed: no credentials found" in outputs.text()


def test_the_report_and_papermill_scan_first(aws, outputs, monkeypatch):
    """papermill records only the outputs sent while a cell runs: there the scan runs in its cell, as before."""
    seed([("graph", [("graph-w", False, {})])])
    monkeypatch.delenv("JPY_SESSION_NAME")
    scanned = present.start(neptune_audit.api.scan_or_load, neptune_audit.ScanOptions(regions="us-east-1"), (),
                            live=True)
    assert isinstance(scanned, neptune_audit.AuditResult)


def test_the_report_scans_first(aws, outputs):
    seed([("graph", [("graph-w", False, {})])])
    result = present.start(neptune_audit.api.scan_or_load, neptune_audit.ScanOptions(regions="us-east-1"), (), live=False)
    assert isinstance(result, neptune_audit.AuditResult) and present.finish(result) is result
