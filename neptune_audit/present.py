"""Present: what the notebooks display — header, summary, coverage, charts, tables, history.

Every function displays in the running notebook and works the same in the exported HTML report:
plotly.js and the DataTables bundle are embedded once by ``setup()``, so nothing loads from
the network.  Text from AWS or from the exceptions file is always HTML-escaped.
"""
from __future__ import annotations

import html
import json

import pandas as pd

from . import __version__, rule
from .contract import EXIT_MEANING, NOT_SCANNED, SCANNED, SCOPE_STATES
from .evaluate import held_back, not_scanned
from .export import iso, to_contract

RESULT_MIME = "application/vnd.neptune-audit+json"  # the run's JSON, read back by `neptune-audit report`
_STYLE = """<style>
.na-card{display:inline-block;min-width:8em;margin:0 .6em .6em 0;padding:.6em 1em;border-radius:6px;
 background:#f4f6f6;border-left:6px solid #7f8c8d;font-family:system-ui,sans-serif}
.na-card b{display:block;font-size:1.8em}
.na-FAIL{border-color:#c0392b}.na-PASS{border-color:#2e8b57}.na-EXCEPTED{border-color:#e1a23b}
.na-kv{border-collapse:collapse;font-family:system-ui,sans-serif}
.na-kv th{text-align:left;padding:.2em 1em .2em 0;color:#555;vertical-align:top;font-weight:600}
.na-kv td{padding:.2em 0;text-align:left!important}
.na-kv th{text-align:left!important}
.na-state-denied,.na-state-error{color:#922b21;font-weight:600}
.na-note{padding:.6em 1em;background:#fef5e7;border-left:4px solid #e1a23b;font-family:system-ui,sans-serif}
</style>"""


def _display(obj) -> None:
    from IPython.display import display

    display(obj)


def _html(text: str) -> None:
    from IPython.display import HTML

    _display(HTML(text))


def e(value) -> str:
    return html.escape("" if value is None else str(value))


def setup() -> None:
    """Embed plotly.js and the DataTables bundle once, so charts and tables work offline."""
    import itables
    from plotly.offline import get_plotlyjs

    _html(f'{_STYLE}<script type="text/javascript">{get_plotlyjs()}</script>')
    itables.init_notebook_mode(all_interactive=False, connected=False)


def show(fig) -> None:
    """Display a plotly figure: its own MIME type for JupyterLab, self-contained HTML for the report."""
    bundle = {
        "application/vnd.plotly.v1+json": fig.to_plotly_json() | {"config": {"displaylogo": False}},
        "text/html": fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False}),
        "text/plain": f"<plotly figure: {fig.layout.title.text or ''}>",
    }
    _display_bundle(bundle)


def _display_bundle(bundle: dict) -> None:
    from IPython.display import display

    display(json.loads(json.dumps(bundle, default=_json_default)), raw=True)


def _json_default(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _kv(rows) -> str:
    return '<table class="na-kv">' + "".join(f"<tr><th>{e(k)}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"


def header(result) -> None:
    """What an auditor checks first: the rule, when, by whom, over what, with which parameters, and the
    SHA-256 of the run's JSON, which is embedded here as the report's evidence."""
    from . import evidence

    doc = to_contract(result)
    meta = rule.metadata()
    scanned = result.scope[result.scope["state"] == SCANNED]
    callers = "<br>".join(f"{e(c['account_id'])} &mdash; {e(c['caller_arn'] or c['label'])}" for c in result.callers)
    params = ", ".join(f"{e(k)}={e(v)}" for k, v in result.parameters.items() if v not in (None, [], False))
    _html(_kv([
        ("Rule", f"<b>{e(meta.id)}</b> &mdash; {e(meta.title)}"),
        ("Risk", e(meta.risk)),
        ("Standards", e(", ".join(meta.standards))),
        ("Generated (UTC)", e(iso(result.generated_at))),
        ("Tool", f"neptune-audit {e(__version__)}"),
        ("Caller identity", callers or "&mdash;"),
        ("Accounts in scope", e(", ".join(sorted(result.scope["account_id"].unique())))),
        ("Regions scanned", e(", ".join(sorted(scanned["region"].unique())) or "none")),
        ("Parameters", params or "defaults"),
        ("Rule source", f'{e(meta.publisher)} &mdash; {e(meta.reference)}'),
        *[("Saved scan" if len(result.sources) == 1 else f"Shard {i}", f"{e(src['file'])} &mdash; generated "
           f"{e(src['generated_at'])} &mdash; SHA-256 <code>{e(src['sha256'])}</code>")
          for i, src in enumerate(result.sources, start=1)],
        *evidence.header_rows(doc),
    ]) + f"<p>{e(meta.rationale)}</p>" + evidence.element(doc))


def _cards(result) -> str:
    s = result.summary
    cards = [("Instances", s["instances"], ""), ("Fail", s["fail"], "FAIL"), ("Pass", s["pass"], "PASS"),
             ("Excepted", s["excepted"], "EXCEPTED"), ("Clusters without minor upgrades", len(held_back(result.clusters)), "FAIL"),
             ("Account-regions not scanned", s["targets_not_scanned"], "FAIL" if s["targets_not_scanned"] else "")]
    text = "".join(f'<div class="na-card na-{c}">{e(label)}<b>{e(n)}</b></div>' for label, n, c in cards)
    if not s["targets_scanned"]:
        text = ('<div class="na-note"><b>Nothing was scanned.</b> No account-region could be checked, so this '
                "report proves nothing about compliance. See Coverage.</div>") + text
    return text


def summary(result) -> None:
    """Headline numbers, and the clusters that receive no minor upgrades."""
    _html(_STYLE + _cards(result))


def _coverage_line(scope) -> str:
    counts = scope["state"].value_counts()
    return ", ".join(f"{int(counts.get(s, 0))} {s}" for s in SCOPE_STATES)


def result_html(result) -> str:
    """How an AuditResult shows itself in JupyterLab: the rule, the summary cards, the coverage line."""
    meta = rule.metadata()
    return (f"{_STYLE}<div><p><b>{e(meta.id)}</b> &mdash; {e(meta.title)} "
            f"<small>({e(iso(result.generated_at))}, exit code {result.exit_code}: "
            f"{e(EXIT_MEANING[result.exit_code])})</small></p>{_cards(result)}"
            f"<p>Account-regions: {e(_coverage_line(result.scope))}.</p></div>")


def coverage(result) -> None:
    """Every account x region with its scope state: what was not scanned, and why."""
    scope = result.scope
    bad = not_scanned(scope)
    text = f"<p>Account-regions: {e(_coverage_line(scope))}.</p>"
    if len(bad):
        text += ('<div class="na-note"><b>Not scanned</b> &mdash; findings below do not cover these:<ul>'
                 + "".join(f'<li><span class="na-state-{e(r.state)}">{e(r.state)}</span> {e(r.account_id)} '
                           f"{e(r.region)}: {e(r.error)}</li>" for r in bad.itertuples()) + "</ul></div>")
    _html(text)
    table(scope[["account_id", "account_label", "region", "state", "instances", "error"]]
          .sort_values(["state", "account_id", "region"], key=lambda c: c.map(_STATE_ORDER) if c.name == "state" else c),
          caption="Scope")


_STATE_ORDER = {s: i for i, s in enumerate((*NOT_SCANNED, *(s for s in SCOPE_STATES if s not in NOT_SCANNED)))}


def _flat(df: pd.DataFrame) -> pd.DataFrame:
    """Dict and list cells as compact text, so every table sorts and searches."""
    out = df.copy()
    for col in out.columns:
        if out[col].map(lambda v: isinstance(v, (dict, list))).any():
            out[col] = out[col].map(lambda v: json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) and v else
                                    ("" if isinstance(v, (dict, list)) or v is None else v))
        elif out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            # pandas 3 keeps text in its own `str` dtype, whose missing value is NaN: empty is empty
            out[col] = out[col].astype(object).map(lambda v: "" if v is None or v != v else v)
    return out


def table(df: pd.DataFrame, caption: str | None = None, page_length: int = 25) -> None:
    """A searchable, sortable table (itables, offline); cell text is escaped."""
    import itables

    itables.show(_flat(df).reset_index(drop=True), caption=caption, showIndex=False, pageLength=page_length,
                 lengthMenu=[10, 25, 100, -1], order=[], classes="display compact", allow_html=False,
                 maxBytes=0)  # never downsample: an auditor must see every row


def findings_table(result) -> None:
    """All findings, failing first (the why in short; see the legend above the table)."""
    f = result.findings
    view = f[["result", "account_id", "region", "cluster_id", "instance_id", "role", "why", "engine_version",
              "latest_minor_version", "exposure", "status", "tags"]]
    table(view, caption="Findings (failing first)")


_EXPOSURE_TEXT = {
    "not-covered": "engine older than 1.3.0.0: the setting cannot help; upgrade the engine by hand",
    "behind": "a newer minor version exists, or maintenance is waiting",
    "current": "on the newest minor version, nothing pending",
    "unknown": "its engine version is not in the catalogue, or the catalogue, pending maintenance or writer "
               "could not be read (see Coverage)",
}


def _pending_text(actions) -> str:
    if actions is None:
        return "unknown"
    return "; ".join(f"{a['action']}" + (f" auto after {a['auto_applied_after'][:10]}" if a.get("auto_applied_after")
                                         else "") + (f", forced {a['forced_apply_date'][:10]}" if a.get("forced_apply_date")
                                                     else "") for a in actions)


def upgrade_exposure(result) -> None:
    """What the setting means per cluster: not covered (before 1.3.0.0), behind, current, unknown."""
    from . import charts

    c = result.clusters
    counts = c["exposure"].value_counts()
    _html("<ul>" + "".join(f"<li><b>{int(counts.get(k, 0))} {e(k)}</b> &mdash; {e(text)}</li>"
                           for k, text in _EXPOSURE_TEXT.items()) + "</ul>")
    show(charts.upgrade_exposure(c))
    todo = c[c["exposure"].isin(["not-covered", "behind", "unknown"])]
    if not len(todo):
        _html("<p>Every cluster is on its newest minor version with nothing pending.</p>")
        return
    view = todo.assign(upgrade=[f"{r.engine_version} → {r.latest_minor_version}" if r.latest_minor_version
                                and r.latest_minor_version != r.engine_version else (r.engine_version or "")
                                for r in todo.itertuples()],
                       pending=[_pending_text(a) for a in todo["pending_maintenance"]],
                       writer=["on" if g else "off / not effective" for g in todo["gets_minor_upgrades"]])
    order = {"not-covered": 0, "behind": 1, "unknown": 2}
    view = view.sort_values(["exposure", "minor_versions_behind"], key=lambda col: col.map(order) if col.name ==
                            "exposure" else col.fillna(-1), ascending=[True, False], kind="stable")
    table(view[["exposure", "account_id", "region", "cluster_id", "upgrade", "minor_versions_behind", "pending",
                "maintenance_window", "writer"]], caption="Clusters to look at (not covered, behind, unknown)")


def clusters_table(result) -> None:
    table(result.clusters, caption="Clusters")


def exceptions_table(result) -> None:
    """The exceptions in force (and expired ones still matching), with reason and expiry."""
    rows = [{"result": r.result, "account_id": r.account_id, "region": r.region, "instance_id": r.instance_id,
             "match": r.exception["match"], "reason": r.exception["reason"], "expires": r.exception["expires"],
             "expired": r.exception["expired"], "approved_by": r.exception.get("approved_by")}
            for r in result.findings.itertuples() if r.exception]
    if rows:
        table(pd.DataFrame(rows), caption="Exceptions matched")
    elif result.exceptions:
        _html(f"<p>{len(result.exceptions)} exception(s) loaded; none matched an instance.</p>")
    else:
        _html("<p>No exceptions file was used.</p>")


def history_section(hist) -> None:
    """Trend over past runs and what changed since the previous one."""
    from . import charts

    if hist is None:
        _html("<p>No history folder was given: run with a history folder to see trends and changes.</p>")
        return
    if hist.skipped:
        _html('<div class="na-note"><b>Past runs skipped</b> &mdash; these files in the history folder could not be '
              "read as runs and are left out of the trend:<ul>"
              + "".join(f"<li>{e(name)}</li>" for name in hist.skipped) + "</ul></div>")
    if len(hist.trend) > 1:
        show(charts.trend(hist.trend))
    if hist.previous_at is None:
        _html("<p>This is the first recorded run: nothing to compare with yet.</p>")
        return
    _html(f"<p>Compared with the previous run of {e(hist.previous_at)}: "
          f"{int((hist.changes['change'] == 'newly failing').sum())} newly failing, "
          f"{int((hist.changes['change'] == 'newly fixed').sum())} newly fixed.</p>")
    if len(hist.changes):
        table(hist.changes, caption="Changes since the previous run")


def machine_summary(result) -> None:
    """The run as JSON (for `neptune-audit report` and other tools) and the exit code, in one output."""
    code = result.exit_code
    _display_bundle({RESULT_MIME: to_contract(result), "text/plain": f"Exit code {code}: {EXIT_MEANING[code]}."})
