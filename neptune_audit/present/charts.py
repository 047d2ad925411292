"""Charts: plotly figures built from the findings, clusters, scope and history DataFrames."""
from __future__ import annotations

import functools
import html
from collections import Counter

import pandas as pd
import plotly.graph_objects as go

from neptune_audit.vocabulary import (BEHIND, CURRENT, EXCEPTED, FAIL, NOT_COVERED, NOT_SCANNED, PASS, SCANNED,
                                               UNKNOWN)

# Plotly reads label and hover text as HTML (<a href>, <b>, <br>): a region, account or id from AWS, or an
# exceptions file, must show as the text it is, never as a link.
_LABELS = ("account_id", "account_label", "region", "cluster_id", "instance_id", "engine_version",
           "writer_instance_id")


@functools.lru_cache(maxsize=1 << 16)
def _escape_str(v: str) -> str:
    return html.escape(v)


def _escape_label(v):
    # the same ids and regions on every filter change: 225,000 labels a redraw at 10,000 instances
    return _escape_str(v) if isinstance(v, str) else v


def _escaped(chart):
    @functools.wraps(chart)
    def draw(*frames, **kw):
        safe = [f.assign(**{c: f[c].map(_escape_label) for c in _LABELS if c in f.columns})
                if isinstance(f, pd.DataFrame) else f
                for f in frames]
        return chart(*safe, **kw)
    return draw

RESULTS = [FAIL, EXCEPTED, PASS]
COLORS = {FAIL: "#c0392b", EXCEPTED: "#e1a23b", PASS: "#2e8b57"}
# Colour is never the only sign: what fails is cross-hatched, what is excepted striped (legend included).
PATTERNS = {FAIL: "x", EXCEPTED: "/", PASS: ""}


def _pattern(shape):
    """A hatch over the bar's colour (one colour a trace: plotly.js cannot overlay a hatch on a per-bar list)."""
    return dict(shape=shape, fillmode="overlay", fgcolor="rgba(255,255,255,0.7)", size=7, solidity=0.35)


def _template() -> go.layout.Template:
    """plotly_white's layout and its defaults for the trace types drawn here: a figure takes a copy of its template
    each time, and the whole one (every trace type's defaults) was a third of a filter change's redraw."""
    import plotly.io as pio

    white = pio.templates["plotly_white"]
    return go.layout.Template(layout=white.layout, data={k: getattr(white.data, k) for k in ("bar", "heatmap",
                                                                                          "scatter")})


_LAYOUT = dict(template=_template(), margin=dict(l=60, r=20, t=60, b=60), legend_title_text="",
               font=dict(family="system-ui, -apple-system, Segoe UI, sans-serif", size=13))


def _counts(findings: pd.DataFrame, by: str) -> pd.DataFrame:
    """Instances per ``by`` value and result, every result present as a column."""
    if findings.empty:
        return pd.DataFrame(columns=RESULTS)
    table = findings.groupby([by, "result"]).size().unstack(fill_value=0)
    return table.reindex(columns=RESULTS, fill_value=0).sort_index()


def _names(values, limit: int = 6) -> str:
    """A few distinct names for a hover text, and how many more."""
    names = sorted({str(v) for v in values if v is not None and v == v})
    more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more or "-"


def _who(rows: pd.DataFrame, by: str, keys, result: str | None) -> list[list[str]]:
    """Per bar: the accounts, regions and clusters it counts (the hover names what a number is made of); ``rows``
    are findings or clusters, ``result`` keeps one result only."""
    rows = rows if result is None else rows[rows["result"] == result]
    groups = {k: g for k, g in rows.groupby(by)} if len(rows) else {}
    out = []
    for key in keys:
        g = groups.get(key)
        out.append(["-", "-", "-"] if g is None else
                    [_names(g["account_id"]), _names(g["region"]), _names(g["cluster_id"])])
    return out


_BAR_HOVER = ("<b>%{fullData.name}</b>: %{y} instance(s)<br>%{x}<br>accounts: %{customdata[0]}<br>"
              "regions: %{customdata[1]}<br>clusters: %{customdata[2]}<extra></extra>")


def _result_bars(findings: pd.DataFrame, by: str) -> list[go.Bar]:
    counts = _counts(findings, by)
    keys = list(counts.index)
    return [go.Bar(name=r, x=keys, y=counts[r].tolist(), marker_color=COLORS[r], marker_pattern=_pattern(PATTERNS[r]),
                   customdata=_who(findings, by, keys, r), hovertemplate=_BAR_HOVER) for r in RESULTS]


@_escaped
def compliance_by_region(findings: pd.DataFrame) -> go.Figure:
    """Stacked bars: PASS / FAIL / EXCEPTED instances per region."""
    fig = go.Figure(_result_bars(findings, "region"))
    fig.update_layout(barmode="stack", title="Compliance per region", xaxis_title="region", yaxis_title="instances",
                      **_LAYOUT)
    return fig


@_escaped
def failing_by_account_region(findings: pd.DataFrame, scope: pd.DataFrame) -> go.Figure:
    """Heatmap of failing instances per account x region; cells that were not scanned say why."""
    # Regions with instances or with a problem; empty, healthy regions would only add blank columns.
    scanned_regions = sorted(set(findings["region"]) | set(scope.loc[scope["state"].isin(NOT_SCANNED), "region"]))
    accounts = sorted(set(scope["account_id"]) | set(findings["account_id"]))
    states = {(r.account_id, r.region): r.state for r in scope.itertuples()}
    failing = findings[findings["result"] == FAIL] if len(findings) else findings
    by_cell = {k: g for k, g in failing.groupby(["account_id", "region"])} if len(failing) else {}
    z, text, hover = [], [], []
    for acct in accounts:
        z_row: list[int | None] = []
        t_row: list[str] = []
        h_row: list[str] = []
        for region in scanned_regions:
            state = states.get((acct, region)) or states.get((acct, "*"), SCANNED)
            cell = by_cell.get((acct, region))
            n = 0 if cell is None else len(cell)
            if state in NOT_SCANNED:
                z_row.append(None)
                t_row.append(state)
                h_row.append(f"not scanned ({state})")
            else:
                z_row.append(n)
                t_row.append(str(n))
                h_row.append(f"failing: {n}<br>clusters: {'-' if cell is None else _names(cell['cluster_id'])}")
        z.append(z_row)
        text.append(t_row)
        hover.append(h_row)
    top = max([v for row in z for v in row if v is not None] + [1])
    # The scale starts at 0 and a cell with one failure is already clearly red: 0 and 1 never look alike.
    step = 0.5 / top
    fig = go.Figure(go.Heatmap(z=z, x=scanned_regions, y=accounts, text=text, texttemplate="%{text}",
                               customdata=hover, zmin=0, zmax=top,
                               colorscale=[[0, "#eef1f1"], [step, "#eef1f1"], [step, "#f1948a"], [1, "#922b21"]],
                               hovertemplate="account %{y}<br>region %{x}<br>%{customdata}<extra></extra>",
                               colorbar=dict(title="failing", dtick=max(1, top // 5)), xgap=2, ygap=2))
    fig.update_layout(title="Failing instances per account and region", yaxis_type="category", xaxis_title="region",
                      yaxis_title="account", height=max(260, 90 + 40 * len(accounts)), **_LAYOUT)
    return fig


@_escaped
def cluster_rollup(findings: pd.DataFrame, clusters: pd.DataFrame, limit: int = 40, names: dict | None = None) -> go.Figure:
    """Per cluster: the writer's setting and the readers' settings, stacked (failing clusters first, at most ``limit``).
    ``names``: account id -> name, so the labels name accounts as the tables do ("master 123456789012")."""
    total = len(clusters)
    clusters = clusters.sort_values(["result", "gets_minor_upgrades", "failing_instances"],
                                    ascending=[True, True, False], kind="stable").head(limit)
    names = names or {}
    labels = [f"{c.cluster_id} ({(names.get(c.account_id) or '') + ' ' if names.get(c.account_id) else ''}{c.account_id}, "
              f"{c.region})" for c in clusters.itertuples()]
    counted: Counter = Counter()
    if len(findings):  # the members of the clusters shown only (at most ``limit`` of thousands), counted at once
        shown_keys = set(zip(clusters["account_id"], clusters["region"], clusters["cluster_id"]))
        members = findings[[k in shown_keys for k in zip(findings["account_id"], findings["region"],
                                                          findings["cluster_id"])]]
        kind = [("writer" if w else "readers") + (" on" if on else " off") for w, on in
                zip(members["is_writer"].astype(bool), members["auto_minor_version_upgrade"].astype(bool))]
        counted.update(zip(members["account_id"], members["region"], members["cluster_id"], kind))
    series: dict[str, list[int]] = {k: [counted[(c.account_id, c.region, c.cluster_id, k)] for c in clusters.itertuples()]
                                    for k in ("writer on", "writer off", "readers on", "readers off")}
    colors = {"writer on": "#2e8b57", "writer off": "#c0392b", "readers on": "#82c09a", "readers off": "#e8998d"}
    who = [[c.account_id, c.region, c.cluster_id] for c in clusters.itertuples()]
    fig = go.Figure([go.Bar(name=k, y=labels, x=v, orientation="h", marker_color=colors[k], customdata=who,
                            marker_pattern=_pattern("x" if k.endswith("off") else ""),
                            hovertemplate=f"<b>{k}</b>: %{{x}} instance(s)<br>account %{{customdata[0]}}<br>"
                                          "region %{customdata[1]}<br>cluster %{customdata[2]}<extra></extra>")
                     for k, v in series.items()])
    shown = "" if total <= limit else f" ({limit} of {total} clusters, failing first)"
    fig.update_layout(barmode="stack", title=f"Cluster roll-up: the writer decides whether a cluster is upgraded{shown}",
                      xaxis_title="instances", yaxis_title="cluster (account, region)",
                      height=max(260, 100 + 28 * len(labels)), **_LAYOUT)
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(**_count_ticks(max((sum(t) for t in zip(*series.values())), default=0)))
    return fig


def _count_ticks(top: int) -> dict:
    """An axis of counts: a tick per whole number while they are few (plotly.js would also tick 0.5), else
    plotly.js's own spacing, whole numbers only: a tick per unit up to 2,500 clusters drew 2,500 labels (33 s)."""
    return {"dtick": 1} if top <= 10 else {"tickformat": ",d"}


@_escaped
def engine_versions(findings: pd.DataFrame) -> go.Figure:
    """Instances per engine version, by result."""
    fig = go.Figure(_result_bars(findings, "engine_version"))
    fig.update_layout(barmode="stack", title="Engine versions in use", xaxis_title="engine version",
                      xaxis_type="category", yaxis_title="instances", **_LAYOUT)
    return fig


EXPOSURE_COLORS = {NOT_COVERED: "#922b21", BEHIND: "#e1a23b", UNKNOWN: "#95a5a6", CURRENT: "#2e8b57"}
EXPOSURE_PATTERNS = {NOT_COVERED: "x", BEHIND: "/", UNKNOWN: ".", CURRENT: ""}


@_escaped
def upgrade_exposure(clusters: pd.DataFrame) -> go.Figure:
    """Clusters per upgrade exposure (the cluster table beside it says which, and their writer's setting)."""
    states = list(EXPOSURE_COLORS)
    counts = [int((clusters["exposure"] == s).sum()) if len(clusters) else 0 for s in states]
    who = _who(clusters, "exposure", states, None)
    # one trace a state, each one colour and one hatch: plotly.js cannot draw a hatch over a per-bar colour list
    # ("Invalid color specifier: Array(4)" in the console, the bar black behind its hatch)
    # the count above its bar, in the theme's text colour on the page's background, never on a hatch or a colour
    # (white on the green bar was 4.25:1)
    fig = go.Figure([go.Bar(name=s, x=[s], y=[n], marker_color=EXPOSURE_COLORS[s], text=[n], customdata=[w],
                            textposition="outside", cliponaxis=False,
                            marker_pattern=_pattern(EXPOSURE_PATTERNS[s]),
                            hovertemplate="<b>%{x}</b>: %{y} cluster(s)<br>accounts: %{customdata[0]}"
                            "<br>regions: %{customdata[1]}<br>clusters: %{customdata[2]}<extra></extra>")
                     for s, n, w in zip(states, counts, who)])
    fig.update_layout(barmode="stack")
    fig.update_layout(title="Upgrade exposure per cluster", xaxis_title="exposure", yaxis_title="clusters",
                      showlegend=False, height=320, **_LAYOUT)
    fig.update_yaxes(**_count_ticks(max(counts, default=0)))
    return fig


def trend(history: pd.DataFrame) -> go.Figure:
    """Pass / fail / excepted counts over past runs."""
    fig = go.Figure([go.Scatter(name=r, x=history["generated_at"], y=history[r.lower()], mode="lines+markers",
                                line_color=COLORS[r], hovertemplate=f"<b>{r}</b>: %{{y}} instance(s)<br>run %{{x}}"
                                "<extra></extra>") for r in RESULTS])
    fig.update_layout(title="Trend over past runs", xaxis_title="run (UTC)", yaxis_title="instances", **_LAYOUT)
    return fig



def _seq(values) -> list:
    """A trace's array as a list, whether plotly holds a tuple, a list or a numpy array (or nothing)."""
    return [] if values is None else list(values)


def describe(fig: go.Figure, limit: int = 40) -> str:
    """The chart in words, from the figure itself: its title, then what each bar, cell or line shows (its text
    alternative, for screen readers and for anyone who cannot tell its colours apart)."""
    title = html.unescape(fig.layout.title.text or "chart")
    groups: dict[str, list[str]] = {}
    lines = []
    for t in fig.data:
        if t.type == "bar":
            horizontal = t.orientation == "h"
            keys, values = (t.y, t.x) if horizontal else (t.x, t.y)
            for k, v in zip(_seq(keys), _seq(values)):
                if v:
                    groups.setdefault(html.unescape(str(k)), []).append(f"{v} {t.name}" if t.name else str(v))
        elif t.type == "heatmap":
            for y, row in zip(_seq(t.y), _seq(t.text)):
                cells = [f"{html.unescape(str(x))} " + (f"{c} failing" if str(c).isdigit() else f"not scanned ({c})")
                         for x, c in zip(_seq(t.x), row) if c not in ("0", "", None)]
                groups[f"account {html.unescape(str(y))}"] = cells or ["none failing"]
        elif t.type == "scatter" and _seq(t.x):
            lines.append(f"{t.name}: {_seq(t.y)[-1]} in the latest of {len(_seq(t.x))} runs")
    parts = [f"{k}: {', '.join(v)}" for k, v in list(groups.items())[:limit]]
    if len(groups) > limit:
        parts.append(f"and {len(groups) - limit} more")
    body = "; ".join(parts + lines) or "nothing to show"
    return f"{title}. {body}."
