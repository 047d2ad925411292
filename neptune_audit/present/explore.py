"""Explore: narrow a result to one account, region, cluster, result, tag or exposure, and redraw in place.

``narrow()`` is the filtering, on the DataFrames only.  ``FilterBar`` is its ipywidgets form (its child
widgets are attributes: set ``.value`` in tests).  ``Explorer`` shows the notebook's sections either
statically (the HTML report) or in output widgets that the filter bar redraws (a live kernel).
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, fields
from typing import Callable

import pandas as pd

from neptune_audit.vocabulary import EXPOSURE_ORDER, RESULT_ORDER
from neptune_audit.present import widgets
from neptune_audit.present.names import account_names

_ANY = "*"  # the dropdowns' "all" (a Dropdown shows the value None as no selection at all)


@dataclass(frozen=True)
class Filter:
    """What to keep; ``None`` keeps everything.  ``cluster`` is (account_id, region, cluster_id): cluster
    identifiers repeat across accounts.  ``tag`` is ``key=value``, or ``key`` for any value."""

    account: str | None = None
    region: str | None = None
    cluster: tuple[str, str, str] | None = None
    result: str | None = None
    tag: str | None = None
    exposure: str | None = None

    def describe(self, names: dict | None = None) -> str:
        """What the filter keeps, in words; ``names``: account id -> name, so an account reads as its name and id,
        and a cluster as its id with its account and region (cluster ids repeat across accounts)."""
        names = names or {}
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if not value:
                continue
            if f.name == "account":
                value = f"{names[value]} ({value})" if names.get(value) else value
            elif f.name == "cluster":
                acct, region, cluster = value
                value = f"{cluster} ({names.get(acct) or acct}, {region})"
            parts.append(f"{f.name} {value}")
        return ", ".join(parts)


@dataclass(frozen=True)
class View:
    """The part of a result a filter keeps; the sections draw from it as they would from the whole result."""

    findings: pd.DataFrame
    clusters: pd.DataFrame
    scope: pd.DataFrame
    engine_calendar: dict | None = None   # the whole result's: a filter narrows rows, not where dates came from
    calendar_note: str | None = None
    generated_at: object = None           # the run's time: "overdue" is judged on the day of the run
    # the result this view narrows: a table renders the whole result's rows once and takes the view's from them
    whole: object = field(default=None, repr=False, compare=False)


def _has_tag(tags, key: str, value: str | None) -> bool:
    return isinstance(tags, dict) and key in tags and (value is None or str(tags[key]) == value)


def narrow(result, flt: Filter) -> View:
    """The findings, clusters and scope rows that ``flt`` keeps.

    Findings and clusters are kept together: a cluster stays when one of its kept instances does, and for
    ``exposure`` and ``result`` (PASS, FAIL) only when its own value is the one asked for; scope keeps the
    account-regions still in view.
    """
    f, c, s = result.findings, result.clusters, result.scope
    for column, value in (("account_id", flt.account), ("region", flt.region)):
        if value is not None:
            f, c, s = f[f[column] == value], c[c[column] == value], s[s[column] == value]
    if flt.cluster is not None:
        acct, region, cluster = flt.cluster
        f = f[(f["account_id"] == acct) & (f["region"] == region) & (f["cluster_id"] == cluster)]
        c = c[(c["account_id"] == acct) & (c["region"] == region) & (c["cluster_id"] == cluster)]
        s = s[(s["account_id"] == acct) & (s["region"] == region)]
    if flt.result is not None:
        f = f[f["result"] == flt.result]
    if flt.exposure is not None:
        c = c[c["exposure"] == flt.exposure]
        f = f[f["exposure"] == flt.exposure]
    if flt.tag:
        key, sep, value = flt.tag.partition("=")
        key, value = key.strip(), (value.strip() if sep else None)
        f = f[f["tags"].map(lambda t: _has_tag(t, key, value))]
    if flt.result is not None or flt.tag:
        kept = set(zip(f["account_id"], f["region"], f["cluster_id"]))
        c = c[[k in kept for k in zip(c["account_id"], c["region"], c["cluster_id"])]]
    if flt.result in ("PASS", "FAIL"):
        # a cluster has a result of its own: Result = PASS never lists a failing cluster (one with a passing
        # reader, say), Result = FAIL every failing one; EXCEPTED, which no cluster is, keeps those of its instances
        c = c[c["result"] == flt.result]
    return View(findings=f, clusters=c, scope=s, engine_calendar=result.engine_calendar,
                calendar_note=result.calendar_note, generated_at=getattr(result, "generated_at", None),
                whole=getattr(result, "whole", None) or result)


def choices(result) -> dict[str, list]:
    """The options each filter offers: what occurs in the result, sorted."""
    f, c = result.findings, result.clusters
    names = account_names(result)
    clusters = sorted(set(zip(c["account_id"], c["region"], c["cluster_id"])))
    tags = sorted({f"{k}={v}" for t in f["tags"] if isinstance(t, dict) for k, v in t.items()})
    return {
        "account": [(f"{names[a]} ({a})" if names.get(a) else a, a) for a in sorted(set(result.scope["account_id"]))],
        "region": sorted(set(f["region"]) | set(c["region"])),
        "cluster": [(f"{cl} ({names.get(acct) or acct}, {region})", (acct, region, cl))
                    for acct, region, cl in clusters],
        "result": [r for r in RESULT_ORDER if r in set(f["result"])],
        "exposure": [x for x in EXPOSURE_ORDER if x in set(c["exposure"])],
        "tag": tags,
    }


OFFLINE = ("This filter bar needs the notebook's kernel, and none is running it here: run the notebook "
           "(Run > Run All Cells) to filter again. The sections below show the view the notebook was saved with.")


class FilterBar:
    """Dropdowns for account, region, cluster, result, exposure and a ``key=value`` tag box; ``view`` is the
    narrowed result and ``on_change`` callbacks run after any change."""

    def __init__(self, result):
        import ipywidgets as w

        self.result = result
        opts = choices(result)
        row = w.Layout(width="auto", min_width="11em")

        def dropdown(label: str, values) -> w.Dropdown:
            pairs = [(v, v) if not isinstance(v, tuple) else v for v in values]
            return w.Dropdown(options=[("all", _ANY), *pairs], value=_ANY, description=label, layout=row,
                              style={"description_width": "initial"})

        self.account = dropdown("Account", opts["account"])
        self.region = dropdown("Region", opts["region"])
        self.cluster = dropdown("Cluster", opts["cluster"])
        self.result_filter = dropdown("Result", opts["result"])
        self.exposure = dropdown("Exposure", opts["exposure"])
        self.tag = w.Combobox(options=opts["tag"], placeholder="tag key=value", ensure_option=False,
                              continuous_update=False, description="Tag", layout=row,
                              style={"description_width": "initial"})
        self.reset = w.Button(description="Show all", layout=w.Layout(width="auto"))
        self.summary = w.HTML()
        rows = [w.HBox([self.account, self.region, self.cluster], layout=w.Layout(flex_flow="row wrap")),
                w.HBox([self.result_filter, self.exposure, self.tag, self.reset], layout=w.Layout(flex_flow="row wrap"))]
        self.widget = widgets.live(w.VBox([*rows, self.summary]), rows, OFFLINE)
        self.widget.add_class("na-filter-bar")
        self._callbacks: list[Callable[[View], None]] = []
        self._resetting = False
        for child in self.controls:
            child.observe(self._changed, names="value")
        self.reset.on_click(self._reset)
        self.view = narrow(result, Filter())
        self._describe()

    @property
    def controls(self) -> list:
        return [self.account, self.region, self.cluster, self.result_filter, self.exposure, self.tag]

    @property
    def filter(self) -> Filter:
        def value(dropdown):
            return None if dropdown.value == _ANY else dropdown.value

        return Filter(account=value(self.account), region=value(self.region), cluster=value(self.cluster),
                      result=value(self.result_filter), exposure=value(self.exposure), tag=self.tag.value.strip() or None)

    def on_change(self, callback: Callable[[View], None]) -> None:
        self._callbacks.append(callback)

    def _changed(self, _change=None) -> None:
        if self._resetting:
            return
        self.view = narrow(self.result, self.filter)
        self._describe()
        for callback in self._callbacks:
            callback(self.view)

    def _reset(self, _button=None) -> None:
        self._resetting = True
        try:
            for child in self.controls:
                child.value = "" if child is self.tag else _ANY
        finally:
            self._resetting = False
        self._changed()

    def _describe(self) -> None:
        from neptune_audit.present.display import escape

        flt = self.filter.describe(account_names(self.result))
        total, kept = len(self.result.findings), len(self.view.findings)
        self.summary.value = (f"<b>{kept}</b> of {total} instances, <b>{len(self.view.clusters)}</b> of "
                              f"{len(self.result.clusters)} clusters" + (f" &mdash; {escape(flt)}" if flt else
                                                                       " &mdash; no filter"))


class Explorer:
    """Shows each section once: statically (``live=False``, the HTML report) or in an output widget that the
    filter bar redraws in place (``live=True``, a notebook in JupyterLab)."""

    def __init__(self, result, live: bool):
        from neptune_audit.present.pending import Pending

        self.live = live
        self.bar: FilterBar | None = None
        self.sections: list[tuple[object, Callable]] = []
        self._bar_slot = None
        self._charted: set[int] = set()    # sections whose chart slot a plotly renderer is drawing
        self._chart_keys = uuid.uuid4().hex[:12]  # this explorer's, in figure meta
        self._shown: dict[int, dict] = {}  # what each slot shows (id of its display handle -> its data)
        if isinstance(result, Pending):  # a scan still running: the bar and the sections come when it is done
            self.result = None
            result.when_done(self._ready)
            self._pending: Pending | None = result
        else:
            self._pending = None
            self._ready(result)

    def _ready(self, result) -> None:
        self.result = result
        if self.live:
            self.bar = FilterBar(result)
            self.bar.on_change(self._redraw)
        if self._bar_slot is not None:
            self._show_bar(self._bar_slot)
        for slots, draw in self.sections:
            self._draw(slots, draw, self.bar.view if self.bar is not None else result)

    def filter_bar(self) -> None:
        """Display the filter bar (nothing in the report: it keeps its static sections)."""
        if not self.live:
            return
        from IPython.display import HTML, display

        display(HTML('<p class="na-sub">The filter bar narrows Upgrades ahead, Upgrade exposure, the charts, '
                     "Clusters and Findings to an account, region, cluster, result, tag or exposure; Coverage, "
                     "Exceptions and History always show the whole run. A cluster is kept when one of its "
                     "instances is (for Result PASS or FAIL, and for Exposure, when the cluster's own result or "
                     "exposure is the one chosen); the charts, tables and counts draw from the same rows.</p>"))
        if self._pending is not None:
            with self._pending.lock:
                if self.bar is None:  # the scan still runs: the bar takes this place when it is done
                    self._bar_slot = display({"text/plain": ""}, raw=True, display_id=True)
                    return
        self._show_bar(None)

    def _show_bar(self, slot) -> None:
        assert self.bar is not None
        if slot is None:
            widgets.hand_over_at_exit(widgets.show(self.bar.widget), OFFLINE)
            return
        slot.update(widgets.bundle(self.bar.widget), raw=True)
        widgets.hand_over_at_exit(slot, OFFLINE)

    def section(self, draw: Callable) -> None:
        """Display ``draw(view)``; in a live notebook, again in place whenever the filter changes.

        Each section is ordinary outputs (plotly's own MIME type, HTML), not a widget: a saved notebook, nbconvert
        and a viewer without a kernel show them.  A redraw updates them by display id (IPython's
        ``update_display``), so what is saved is the last filtered view.  A section has three slots: what comes
        before its chart, the chart, what comes after; a redraw fills each, or empties it."""
        if self._pending is not None:
            with self._pending.lock:  # the scan's thread draws what is registered here, under the same lock
                if self.result is None:
                    # the scan still runs: its progress in this section's place, drawn into the same slots when done
                    from IPython.display import display

                    slots = [display({"text/plain": ""}, raw=True, display_id=True) for _ in range(3)]
                    self._pending.watch(slots[0])
                    self.sections.append((slots, draw))
                    return
        if self.bar is None:
            draw(self.result)
            return
        from IPython.display import display

        slots = [display({"text/plain": ""}, raw=True, display_id=True) for _ in range(3)]
        self.sections.append((slots, draw))
        self._draw(slots, draw, self.bar.view)

    def _draw(self, slots, draw: Callable, view: View) -> None:
        from IPython.utils.capture import capture_output

        from neptune_audit.present.sections import filtered_note, no_match

        with capture_output(stdout=False, stderr=False) as shown:
            if self.bar is None:  # a scan that ran while the notebook went on, shown without a filter bar
                draw(view)
            else:
                names = account_names(self.result)
                filtered_note(self.bar.filter, view, self.result, names)
                if len(view.findings) or not self.bar.filter.describe():
                    draw(view)
                else:
                    no_match(self.bar.filter, names)
        before: list[str] = []
        after: list[str] = []
        chart = None
        for o in shown.outputs:
            if chart is None and "application/vnd.plotly.v1+json" in o.data:
                chart = o.data
            else:
                (after if chart is not None else before).append(o.data.get("text/html") or "")
        self._update(slots[0], {"text/html": "".join(before)} if "".join(before) else {"text/plain": ""})
        key = id(slots)
        if chart is not None:
            figure = chart["application/vnd.plotly.v1+json"]
            figure["layout"]["meta"] = {"na_chart": f"{self._chart_keys}-{key}"}
            if key in self._charted:
                # JupyterLab hands an updated output to the renderer already showing it, and plotly's keeps the
                # figure it drew ("we already have a graph"): the output holds the new figure (what is saved), and
                # the script after it redraws the drawn one in place (Plotly.react: ~5x faster than a new
                # renderer drawing it anew and making its PNG).
                if self._shown.get(id(slots[1])) != chart:
                    after.append(redraw_script(figure))
            else:
                self._update(slots[1], {"text/plain": ""})  # a new renderer, which draws it
                self._charted.add(key)
        else:
            self._charted.discard(key)
        self._update(slots[1], chart or {"text/plain": ""})
        self._update(slots[2], {"text/html": "".join(after)} if "".join(after) else {"text/plain": ""})

    def _update(self, slot, data: dict) -> None:
        # an output the same as the one shown is not sent again: each update makes JupyterLab render it anew and
        # measure the page (a change of region leaves most empty slots and some notes as they were)
        if self._shown.get(id(slot)) == data:
            return
        slot.update(data, raw=True)
        self._shown[id(slot)] = data

    def _redraw(self, view: View) -> None:
        for slots, draw in self.sections:
            self._draw(slots, draw, view)


# The drawn chart whose figure meta names this one, redrawn in place with the plotly.js `present.setup()` embeds (the
# version plotly's JupyterLab renderer bundles: both ship in the installed plotly).  A chart not in the page yet (a
# windowed notebook detaches cells out of view) is redrawn when it is attached.
_REDRAW_JS = """<script type="text/javascript">(() => {
const fig = %s, key = fig.layout.meta.na_chart, charts = (window.__naCharts = window.__naCharts || {});
charts[key] = fig;
const redraw = () => { for (const gd of document.querySelectorAll('.js-plotly-plot')) {
  const k = gd.layout && gd.layout.meta && gd.layout.meta.na_chart, f = k && charts[k];
  if (f && window.Plotly) { delete charts[k]; window.Plotly.react(gd, f.data, f.layout, f.config); } } };
if (!window.__naChartsObserver && window.MutationObserver) {
  window.__naChartsObserver = new MutationObserver(() => { if (Object.keys(charts).length) redraw(); });
  window.__naChartsObserver.observe(document.body, {childList: true, subtree: true}); }
setTimeout(redraw, 0); })();</script>"""


def redraw_script(figure: dict) -> str:
    """HTML that redraws the drawn chart ``figure`` names (its ``layout.meta``) with ``figure``."""
    text = json.dumps(figure, separators=(",", ":")).replace("</", "<\\/")
    return _REDRAW_JS % text
