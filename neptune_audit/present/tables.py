"""Present: what the notebooks display — header, summary, coverage, charts, tables, history.

Every function displays in the running notebook and works the same in the exported HTML report:
plotly.js and the DataTables bundle are embedded once by ``setup()``, so nothing loads from
the network.  Text from AWS or from the exceptions file is always HTML-escaped.
"""
from __future__ import annotations

import html
import json
import re
from typing import Any

import pandas as pd

from neptune_audit import __version__
from neptune_audit.present import charts
from neptune_audit.rule import model
from neptune_audit.vocabulary import (BEHIND, EXCEPTED, EXIT_MEANING, EXPOSURE_ORDER, FAIL, NOT_COVERED, NOT_SCANNED,
                                               PASS, SCANNED, SCOPE_STATES, UNKNOWN, summary_line)
from neptune_audit.rule.evaluate import held_back, not_scanned
from neptune_audit.contract.export import to_contract
from neptune_audit.records import iso, missing
from neptune_audit.present.names import account_cells, account_names, named

RESULT_MIME = "application/vnd.neptune-audit+json"  # the run's JSON, read back by `neptune-audit report`
_STYLE = """<style>
.na-card{display:inline-block;min-width:8em;margin:0 .6em .6em 0;padding:.6em 1em;border-radius:6px;
 background:var(--jp-layout-color2,#f4f6f6);color:var(--jp-content-font-color0,#111);border-left:6px solid #7f8c8d;
 font-family:system-ui,sans-serif}
.na-card b{display:block;font-size:1.8em}
.na-FAIL{border-color:#c0392b}.na-PASS{border-color:#2e8b57}.na-EXCEPTED{border-color:#e1a23b}
.na-kv{border-collapse:collapse;font-family:system-ui,sans-serif}
.na-kv th{text-align:left;padding:.2em 1em .2em 0;vertical-align:top;font-weight:600;color:var(--jp-content-font-color1,#444)}
.na-kv td{padding:.2em 0;text-align:left!important}
.na-kv th{text-align:left!important}
.na-state-denied,.na-state-error{color:#922b21;background:#fdecea;padding:0 .3em;border-radius:3px;font-weight:600}
.na-note{padding:.6em 1em;background:#fef5e7;color:#3b2a07;border-left:4px solid #e1a23b;font-family:system-ui,sans-serif}
.na-chip{display:inline-block;margin:1px 3px 1px 0;padding:0 .45em;border-radius:.8em;background:#e8eef3;
 color:#234;font-size:.85em;white-space:nowrap}
table.dataTable td.na-text,table.dataTable th.na-text{text-align:left!important}
table.dataTable td.na-num,table.dataTable th.na-num{text-align:right!important}
table.dataTable td.na-id{white-space:nowrap}
table.dataTable td.na-id small{white-space:normal}
table.dataTable{font-size:13px}
table.dataTable>tbody>tr>td,table.dataTable>thead>tr>th{padding:4px 6px!important}
table.dataTable td.na-long{min-width:6em;white-space:normal;overflow-wrap:break-word}
table.dataTable caption,table.na-table caption{caption-side:top;text-align:left;font-weight:600;padding:4px 0}
table.dataTable td.na-wide{min-width:11em}
table.dataTable th{white-space:normal}
.na-sub,td small{color:var(--jp-content-font-color1,#4a4a4a)}
details.na-alt>summary{cursor:pointer;color:var(--jp-content-font-color1,#4a4a4a);font-size:12px}
details.na-alt p{font-size:13px;margin:.3em 0 .8em}
table.dataTable{width:100%!important}
details.na-more>summary{cursor:pointer;color:var(--jp-content-link-color,#1f618d);margin:.4em 0}
b.p{display:inline-block;padding:0 .5em;border-radius:.8em;font-size:12px;border:1px solid}
b.pF{background:#fdecea;color:#922b21}b.pP{background:#e9f7ef;color:#1e6b3a}b.pE{background:#fef5e7;color:#7e5109}
td code{white-space:normal;overflow-wrap:normal;word-break:keep-all;font-size:11px}
</style>"""


def _display(obj) -> None:
    from IPython.display import display

    display(obj)


def _html(text: str) -> None:
    from IPython.display import HTML

    _display(HTML(text))


def e(value) -> str:
    return html.escape("" if value is None else str(value))


VENDORED_PLOTLYJS = "4.1.1"  # vendor/plotly-cartesian.min.js (vendor/README.md)


def plotly_js() -> str:
    """plotly.js to embed: the vendored cartesian partial bundle (1.5 MB: bar, heatmap, scatter and kin) when the
    installed plotly draws for exactly its version, else the full bundle plotly ships (4.8 MB)."""
    from importlib import resources

    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    if get_plotlyjs_version() == VENDORED_PLOTLYJS:
        return resources.files(__package__).joinpath("vendor/plotly-cartesian.min.js").read_text(encoding="utf-8")
    return get_plotlyjs()


def setup() -> None:
    """Embed plotly.js and the DataTables bundle once, so charts and tables work offline."""
    import itables
    from IPython.utils.capture import capture_output

    _html(f'{_STYLE}<script type="text/javascript">{plotly_js()}</script>')
    # itables (2.x) displays its dark-theme module script *before* the script that defines the offline bundle
    # it awaits, so in JupyterLab the module ran first and failed ("Cannot destructure property
    # 'set_or_remove_dark_class' of undefined"). Same outputs, in one cell output, bundle first.
    with capture_output(stdout=False, stderr=False) as shown:
        itables.init_notebook_mode(all_interactive=False, connected=False)
    _html("".join(o.data.get("text/html", "") for o in reversed(shown.outputs)))


# plotly.js's modebar, offline and private: no logo link, no "edit in Chart Studio" / send-to-cloud control and no
# link out; downloading a PNG stays (it is made in the browser)
CHART_CONFIG = {"displaylogo": False, "showSendToCloud": False, "modeBarButtonsToRemove": ["sendDataToCloud"],
                "plotlyServerURL": ""}


def show(fig) -> None:
    """Display a plotly figure: its own MIME type for JupyterLab, self-contained HTML for the report."""
    bundle = {
        "application/vnd.plotly.v1+json": fig.to_plotly_json() | {"config": dict(CHART_CONFIG)},
        "text/html": fig.to_html(full_html=False, include_plotlyjs=False, config=dict(CHART_CONFIG)),
        "text/plain": charts.describe(fig),
    }
    _display_bundle(bundle)
    # the chart's text alternative, beside it wherever it is drawn (plotly's JupyterLab renderer takes no label)
    _html(f'<details class="na-alt"><summary>This chart in words</summary><p>{e(charts.describe(fig))}</p></details>')


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


_VERDICT = {0: ("PASS", "na-PASS"), 1: ("FAIL", "na-FAIL"), 3: ("INCOMPLETE", "na-EXCEPTED")}


def verdict_html(result) -> str:
    """The verdict first, before the metadata an auditor checks next: PASS / FAIL / INCOMPLETE, in words."""
    code = result.exit_code
    word, css = _VERDICT.get(code, ("ERROR", "na-FAIL"))
    return (f'<div class="na-card {css}" style="display:block;max-width:none"><b>Verdict: {word}</b>'
            f"{e(EXIT_MEANING[code][0].upper() + EXIT_MEANING[code][1:])} (exit code {code}). "
            # the same words as the summary line of the terminal and the scheduler's log
            f"{e(summary_line(result.summary))}.</div>")


def header(result) -> None:
    """What an auditor checks first: the rule, when, by whom, over what, with which parameters, and the
    SHA-256 of the run's JSON, which is embedded here as the report's evidence."""
    from neptune_audit.contract import evidence

    doc = to_contract(result)
    meta = model.metadata()
    scanned = result.scope[result.scope["state"] == SCANNED]
    callers = "<br>".join(f"{e(c['account_id'])} &mdash; {e(c['caller_arn'] or c['label'])}" for c in result.callers)
    params = ", ".join(f"{e(k)}={e(v)}" for k, v in result.parameters.items() if v not in (None, [], False))
    _html(_STYLE + verdict_html(result) + _kv([
        ("Rule", f"<b>{e(meta.id)}</b> &mdash; {e(meta.title)}"),
        ("Risk", e(meta.risk)),
        ("Standards", e(", ".join(meta.standards))),
        ("Generated (UTC)", e(iso(result.generated_at))),
        ("Tool", f"neptune-audit {e(__version__)}"),
        ("Caller identity", callers or "&mdash;"),
        ("Accounts in scope", e(", ".join(sorted(result.scope["account_id"].unique())))),
        ("Regions scanned", e(", ".join(sorted(scanned["region"].unique())) or "none")),
        ("Parameters", params or "defaults"),
        *([("Run", f"{result.run['api_calls']:,} AWS API calls in {result.run['duration_seconds']:,.1f} s")]
          if result.run else []),
        ("Rule source", f'{e(meta.publisher)} &mdash; <a href="{e(meta.reference)}" rel="noopener noreferrer" '
                        f'target="_blank">{e(meta.reference)}</a>'),
        *[("Saved scan" if len(result.sources) == 1 else f"Shard {i}", f"{e(src['file'])} &mdash; generated "
           f"{e(src['generated_at'])} &mdash; SHA-256 <code>{e(src['sha256'])}</code>")
          for i, src in enumerate(result.sources, start=1)],
        *evidence.header_rows(doc, result.signature),
    ]) + f"<p>{e(meta.rationale)}</p>" + evidence.element(doc))


def _cards(result, fixed=frozenset()) -> str:
    """The headline cards; ``fixed``: (account, region, instance) keys turned on and verified since the scan,
    counted as passing now (and their clusters as upgraded, where the writer was fixed on a covered release)."""
    s, held = dict(result.summary), held_back(result.clusters)
    if fixed:
        f = result.findings
        now = f[[k in fixed for k in zip(f["account_id"], f["region"], f["instance_id"])]]
        s["fail"] -= int((now["result"] == FAIL).sum())
        s["excepted"] -= int((now["result"] == EXCEPTED).sum())
        s["pass"] += int(now["result"].isin([FAIL, EXCEPTED]).sum())
        held = held[[(a, r, wr) not in fixed or eff is False for a, r, wr, eff in
                     zip(held["account_id"], held["region"], held["writer_instance_id"], held["amvu_effective"])]]
    cards = [("Instances", s["instances"], ""), ("Fail", s["fail"], FAIL), ("Pass", s["pass"], PASS),
             ("Excepted", s["excepted"], EXCEPTED), ("Clusters without minor upgrades", len(held), FAIL),
             ("Account-regions not scanned", s["targets_not_scanned"], FAIL if s["targets_not_scanned"] else "")]
    text = "".join(f'<div class="na-card na-{c}">{e(label)}<b>{e(n)}</b></div>' for label, n, c in cards)
    if not s["targets_scanned"]:
        text = ('<div class="na-note"><b>Nothing was scanned.</b> No account-region could be checked, so this '
                "report proves nothing about compliance. See Coverage.</div>") + text
    return text


def summary(result) -> None:
    """Headline numbers, and the clusters that receive no minor upgrades."""
    _html(_STYLE + _cards(result))


def summary_since(result, fixed) -> str:
    """The summary cards of a remediation session: the scan's, with the instances fixed and verified since."""
    note = ""
    if fixed:
        note = (f'<p class="na-filtered">With this session\'s {len(fixed)} verified change(s); everything else as '
                f"scanned at {e(iso(result.generated_at))}.</p>")
    return _STYLE + _cards(result, frozenset(fixed)) + note


def _coverage_line(scope) -> str:
    counts = scope["state"].value_counts()
    return ", ".join(f"{int(counts.get(s, 0))} {s}" for s in SCOPE_STATES)


def _calendar_note(result) -> str:
    return f'<p class="na-note">{e(result.calendar_note)}</p>' if result.calendar_note else ""


def coverage_by_account(scope: pd.DataFrame) -> pd.DataFrame:
    """One row per account: how many of its regions are in each scope state, and its instances."""
    counts = scope.pivot_table(index=["account_id", "account_label"], columns="state", values="region",
                               aggfunc="count", fill_value=0).reindex(columns=list(SCOPE_STATES), fill_value=0)
    counts.columns = [f"regions {s}" for s in SCOPE_STATES]
    instances = scope.groupby(["account_id", "account_label"])["instances"].sum()
    return counts.assign(instances=instances.astype(int)).reset_index()


def coverage(result) -> None:
    """What was not scanned, in full and first; then one row per account; the account x region list folded."""
    scope = result.scope.assign(account_label=result.scope["account_label"].fillna(""))
    bad = not_scanned(scope)
    text = f"<p>Account-regions: {e(_coverage_line(scope))}.</p>"
    if len(bad):
        text += ('<div class="na-note"><b>Not scanned</b> &mdash; findings below do not cover these:<ul>'
                 + "".join(f'<li><span class="na-state-{e(r.state)}">{e(r.state)}</span> {e(r.account_id)} '
                           f"{e(r.region)}: {e(r.error)}</li>" for r in bad.itertuples()) + "</ul></div>")
    order = scope.sort_values(["state", "account_id", "region"], kind="stable",
                              key=lambda c: c.map(_STATE_ORDER) if c.name == "state" else c)
    full = _table_html(order[["account_id", "account_label", "region", "state", "instances", "error"]],
                       caption="Every account and region")
    _html(text + _table_html(coverage_by_account(scope), caption="Coverage per account", page_length=10)
          + f'<details class="na-more"><summary>Every account and region ({len(scope)} rows)</summary>{full}</details>')


_STATE_ORDER = {s: i for i, s in enumerate((*NOT_SCANNED, *(s for s in SCOPE_STATES if s not in NOT_SCANNED)))}


class Html(str):
    """A cell already rendered (and escaped) by this module."""


def account_region(data, accounts: pd.Series, regions: pd.Series) -> pd.Series:
    """The "account / region" cells: the account's name over its id and region where the scan knows the name."""
    return pd.Series([Html(x) for x in account_cells(data, accounts, regions)], index=accounts.index, dtype=object)


def _where(data, accounts: pd.Series, regions: pd.Series) -> pd.Series:
    """"member-a 123456789012" over "us-east-1": the account (by name too, where known), then the region on its
    own line (a region never breaks at its hyphens)."""
    names = account_names(data)
    return pd.Series([Html(f"{e(named(names, a))}<br>{e(r)}") for a, r in zip(accounts, regions)],
                     index=accounts.index, dtype=object)


def stack(top: pd.Series, below: pd.Series) -> pd.Series:
    """Two values in one cell, the second smaller beneath (account over region, instance over cluster): the
    tables fit a notebook beside JupyterLab's file browser at 1280 px."""
    # dtype=object: pandas 3 would turn the cells into plain `str` and they would be escaped twice
    # no class on the <small>: the stylesheet greys every td small; a cell repeats 10,000 times in a large report
    return pd.Series([Html(f'{_text(a)}<br><small>{_text(b)}</small>') for a, b in zip(top, below)],
                     index=top.index, dtype=object)


# A long token (an e-mail, an ARN, key=value) may wrap after its separators, never inside a word: the tables' long
# columns wrap between words only (overflow-wrap: break-word), so "cloud-risk@example.com" breaks as
# "cloud-risk@ | example.com", not "cloud-risk@exampl | e.com".  Short tokens are left alone (a 10,000-row report).
_LONG_TOKEN = re.compile(r"[^\s<>&]{16,}")
_AFTER = re.compile(r"([@=/:,])(?=[^\s])")  # a hyphen is a break opportunity already


# Dates and maintenance windows are read whole: "2026-12-16" never splits at its hyphens, "wed:02:40-wed:03:10"
# never at its colons (an inline style: a received, untrusted notebook keeps no stylesheet).
_WHOLE = re.compile(r"\b\d{4}-\d\d-\d\d(?:T[\d:.]+Z?)?\b|\b[a-z]{3}:\d\d:\d\d-[a-z]{3}:\d\d:\d\d\b")
NOWRAP = '<span style="white-space:nowrap">'


def _soft_breaks(escaped: str) -> str:
    out = _LONG_TOKEN.sub(lambda m: m.group(0) if _WHOLE.search(m.group(0))
                          else _AFTER.sub(r"\1<wbr>", m.group(0)), escaped)
    return _WHOLE.sub(lambda m: f"{NOWRAP}{m.group(0)}</span>", out)


def command_html(command: str) -> Html:
    """A shell command to copy: each word whole ("--auto-minor-version-upgrade" never splits at a hyphen), lines
    breaking only between words; what is copied is the command as typed."""
    if not command:
        return Html("")
    return Html("<code>" + " ".join(f"{NOWRAP}{e(word)}</span>" for word in command.split(" ")) + "</code>")


def _text(v) -> str:
    """One cell as escaped HTML: empty is empty; tags (dicts) as key=value chips; lists and dicts compact."""
    if isinstance(v, Html):
        return v
    if missing(v):
        return ""
    if isinstance(v, dict):
        # a space between chips: a received (untrusted) notebook shows them without the stylesheet
        return " ".join(f'<span class="na-chip">{e(k)}={e(val)}</span>' for k, val in sorted(v.items()))
    if isinstance(v, list):
        return _soft_breaks(e(json.dumps(v, sort_keys=True, default=str))) if v else ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    return _soft_breaks(e(v))


def flat(df: pd.DataFrame) -> pd.DataFrame:
    """Every text cell as escaped HTML (numbers stay numbers, so they sort): NaN and None show as empty.

    pandas 3 keeps text in its own ``str`` dtype, whose missing value is NaN; pandas 2 uses None in object columns.
    """
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_bool_dtype(out[col]) or not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].astype(object).map(_text)
        else:
            out[col] = out[col].astype(object).map(lambda v: "" if missing(v) else v)
    return out


# Column names as a reader says them: the contract's snake_case stays in files, tables show words.
_HEADINGS = {"account_id": "account", "account_label": "account name", "instance_id": "instance",
             "cluster_id": "cluster", "instance_class": "class", "auto_minor_version_upgrade": "auto minor upgrade"}


def heading(column: str) -> str:
    return _HEADINGS.get(column, column.replace("_", " "))


def _headed(df: pd.DataFrame) -> pd.DataFrame:
    return df.rename(columns={c: heading(c) for c in df.columns if isinstance(c, str)})


_LONG = {"why", "reason", "error", "tags", "pending", "match", "approved by", "warnings", "engine", "upgrade",
         "maintenance window", "outlook", "what", "when", "end of life", "fix", "engine / exposure", "what, when",
         "why / tags"}


def _column_classes(df: pd.DataFrame) -> list[dict]:
    """Text left, numbers right (JupyterLab right-aligns every cell); ids never wrap; long text gets room."""
    defs = []
    for i, col in enumerate(df.columns):
        numeric = pd.api.types.is_numeric_dtype(df[col]) and not pd.api.types.is_bool_dtype(df[col])
        name = heading(col) if isinstance(col, str) else col
        kind = "na-num" if numeric else "na-text " + ("na-long" if name in _LONG else "na-id")
        kind += " na-wide" if name in ("why", "why / tags", "reason", "pending", "outlook") else ""
        defs.append({"targets": i, "className": kind})
    return defs


def static_table(df: pd.DataFrame) -> str:
    """A plain HTML table (for widgets, where DataTables does not run): same cells as ``table``, text left."""
    body = _headed(flat(df.reset_index(drop=True))).to_html(index=False, escape=False, border=0, classes="na-table")
    return ("<style>.na-table{border-collapse:collapse;font-size:13px;line-height:1.35}.na-table th,.na-table td"
            "{text-align:left!important;padding:3px 8px;vertical-align:top;border-bottom:1px solid #e5e5e5;"
            "white-space:nowrap}.na-table td:last-child{white-space:normal}</style>" + body)


def table(df: pd.DataFrame, caption: str | None = None, page_length: int = 25) -> None:
    """A searchable, sortable table (itables, offline); every cell is escaped by ``_text``."""
    _html(_table_html(df, caption, page_length))


# A cell's text for the CSV: its parts (name, id, region on lines of their own) separated by spaces, entities decoded.
# DOMParser, not innerHTML: parsing runs no script and loads no image, whatever a cell holds.
_CSV_CELL = ("function (data) { const text = String(data).replace(/<[^>]*>/g, ' ');"
             " const doc = new DOMParser().parseFromString(text, 'text/html');"
             " return (doc.body.textContent || '').replace(/\\s+/g, ' ').trim(); }")


def _table_html(df: pd.DataFrame, caption: str | None = None, page_length: int = 25) -> str:
    import itables

    df = df.reset_index(drop=True)
    extra: dict[str, Any] = {}
    if hasattr(itables.options, "text_in_header_can_be_selected"):
        # itables >= 2.4 otherwise sorts only from the small arrow beside each title; a click on, or Enter in,
        # the header itself is what people try (DataTables makes each header a focusable, labelled control)
        extra["text_in_header_can_be_selected"] = False
    name = re.sub(r"[^A-Za-z0-9]+", "-", caption or "table").strip("-").lower() or "table"
    # not itables' default layout, which it strips of the search box when the rows fit one page (a list of
    # controls in one place is DataTables' own; itables' type hints know only one)
    layout: dict[str, Any] = {"topStart": ["pageLength", "buttons"], "bottomStart": "info", "bottomEnd": "paging",
                              "topEnd": {"search": {"placeholder": "any column"}}}
    return _static_fallback(itables.to_html_datatable(_headed(flat(df)), caption=caption, showIndex=False, pageLength=page_length,
                 lengthMenu=[10, 25, 100, -1], order=[], classes="display compact", allow_html=True,
                 columnDefs=_column_classes(df), autoWidth=False,
                 # CSV of the rows as filtered and sorted on screen, made in the browser (no upload); the JSON and
                 # CSV exports of the CLI carry every field
                 buttons=[{"extend": "csvHtml5", "text": "CSV", "title": f"neptune-audit-{name}",
                           "exportOptions": {"format": {"body": itables.JavascriptFunction(_CSV_CELL)}}}],
                 layout=layout, maxBytes=0, **extra), df, caption, page_length)  # never downsample: an auditor must see every row


# What a notebook whose scripts do not run (untrusted, GitHub, nbviewer) shows in a table's place: its first page
# as a plain table, left-aligned, saying how to get the rest.  Ours on every itables version: itables' own preview
# (2.9 on; none before) is headed right-aligned, marks itself with a glyph many fonts lack and links out.  A script,
# which runs only where the DataTable does, removes it.
_ITABLES_FALLBACK = re.compile(r'<div id="itables_[0-9a-f_]+_fallback">.*?</div>(?=<script>)', re.S)
_CELL = "text-align:left;padding:3px 8px;vertical-align:top;border-bottom:1px solid #d5d5d5"


def _static_fallback(page: str, df: pd.DataFrame, caption: str | None, rows: int) -> str:
    import uuid

    shown = _headed(flat(df.head(rows)))
    head = "".join(f'<th style="{_CELL}">{e(c)}</th>' for c in shown.columns)
    body = "".join("<tr>" + "".join(f'<td style="{_CELL}">{"" if missing(v) else v}</td>' for v in row) + "</tr>"
                   for row in shown.itertuples(index=False))
    more = (f"{len(shown)} of {len(df)} rows shown" if len(df) > len(shown) else f"{len(df)} rows") + (
        ": this notebook's scripts are not running (trust it, File > Trust Notebook, to search, sort and export)")
    box = f"na-static-{uuid.uuid4().hex}"
    static = (f'<div id="{box}" class="na-static"><table style="border-collapse:collapse;font-size:13px">'
              + (f'<caption style="caption-side:top;text-align:left;font-weight:600">{e(caption)}</caption>'
                 if caption else "")
              + f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
              + f'<p style="font-size:12px">{e(more)}</p></div>'
              + f'<script>document.getElementById("{box}")?.remove()</script>')
    return static + _ITABLES_FALLBACK.sub("", page, count=1)


def _engine(versions: pd.Series, latest: pd.Series, auto: pd.Series | None = None) -> list[str]:
    """``1.3.0.0 → 1.3.2.1 (automatic; newest 1.3.4.0)`` where the setting's target is not the newest minor,
    ``1.2.1.0 → 1.2.1.2 (newest)`` where nothing moves it automatically, else the version."""
    auto = auto if auto is not None else pd.Series([None] * len(versions), index=versions.index)
    out = []
    for v, n, a in zip(versions, latest, auto):
        v = "" if missing(v) else str(v)
        n = n if isinstance(n, str) and n and n != v else None
        a = a if isinstance(a, str) and a else None
        if a and n and a != n:
            out.append(f"{v} → {a} (automatic; newest {n})")
        elif a:
            out.append(f"{v} → {a} (automatic)")
        elif n:
            out.append(f"{v} → {n} (newest)")
        else:
            out.append(v)
    return out


def findings_table(result) -> None:
    """All findings, failing first (the why in short; see the legend above the table)."""
    from neptune_audit.code.link import where as defined_in
    from neptune_audit.rule.model import fix

    f = result.findings
    fixes = [fix(r) for r in f[["result", "region", "instance_id", "cluster_id", "auto_minor_version_upgrade",
                                "amvu_effective", "manual_upgrade_target"]].to_dict("records")]
    view = pd.DataFrame({"result": _pills(f["result"]), "account / region": account_region(result, f["account_id"], f["region"]),
                         # role under the cluster, exposure under the engine: the fix's column fits at 1280 px
                         "instance / cluster, role": stack(f["instance_id"], [f"{c or '(no cluster)'}, {r}" for c, r
                                                                              in zip(f["cluster_id"], f["role"])]),
                         "engine / exposure": stack(pd.Series(_engine(f["engine_version"], f["latest_minor_version"],
                                                                      f["auto_upgrade_target"]), index=f.index),
                                                    f["exposure"]),
                         # the why, where code defines the instance, and its tags (CloudFormation's own aws:* tags are
                         # said once, as "defined in", not as three long chips): one column, so the fix fits beside
                         "why / tags": pd.Series([Html(_text(w) + (f"<br><i>{_text(defined_in(m))}</i>" if defined_in(m)
                                                                   else "") + (f"<br>{_text(t)}" if t else ""))
                                                  for w, m, t in zip(f["why"], f["managed_by"], f["tags"].map(
                                                      lambda t: {k: v for k, v in (t or {}).items()
                                                                 if not str(k).startswith("aws:")}))],
                                                 index=f.index, dtype=object),
                         # the fix in its own column, to copy: words whole, lines breaking only between them
                         "fix": pd.Series([command_html(x) for x in fixes], index=f.index, dtype=object)})
    table(view, caption="Findings (failing first)")


def _pills(results: pd.Series) -> pd.Series:
    """Results as coloured pills whose text still says it all without colour."""
    # short markup (b.p, pF/pP/pE in the stylesheet): the cell repeats 10,000 times in a large report
    return pd.Series([Html(f'<b class="p p{_text(r)[:1]}">{_text(r)}</b>') for r in results],
                     index=results.index, dtype=object)


_EXPOSURE_TEXT = {
    "not-covered": "engine older than 1.3.0.0: the setting cannot help; upgrade the engine by hand",
    "behind": "a newer minor version exists, the release is deprecated, or an engine upgrade is pending",
    "current": "on the newest minor version of its major, no engine upgrade pending",
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
    c = result.clusters
    counts = c["exposure"].value_counts()
    _html("<ul>" + "".join(f"<li><b>{int(counts.get(k, 0))} {e(k)}</b> &mdash; {e(text)}</li>"
                           for k, text in _EXPOSURE_TEXT.items()) + "</ul>")
    show(charts.upgrade_exposure(c))
    todo = c[c["exposure"].isin([NOT_COVERED, BEHIND, UNKNOWN])]
    if not len(todo):
        _html("<p>No cluster in view is behind, not covered or unknown.</p>" if len(c) else
              "<p>No clusters match.</p>")
        return
    order = {x: i for i, x in enumerate(EXPOSURE_ORDER)}
    todo = todo.sort_values(["exposure", "minor_versions_behind"], key=lambda col: col.map(order) if col.name ==
                            "exposure" else pd.to_numeric(col).fillna(-1), ascending=[True, False], kind="stable")
    view = pd.DataFrame({"exposure": todo["exposure"],
                         "cluster / account, region": stack(todo["cluster_id"], _where(result, todo["account_id"], todo["region"])),
                         "upgrade": _engine(todo["engine_version"], todo["latest_minor_version"],
                                            todo["auto_upgrade_target"]),
                         "automatic target": todo["auto_upgrade_target"],
                         "behind": pd.to_numeric(todo["minor_versions_behind"]).astype("Int64"),
                         "pending": [_pending_text(a) for a in todo["pending_maintenance"]],
                         "outlook": todo["outlook"]})
    table(view, caption="Clusters to look at (not covered, behind, unknown)")


def upgrades_ahead_rows(clusters: pd.DataFrame, today=None) -> pd.DataFrame:
    """What will happen to each cluster's engine, and when: one row per cluster (so its outlook is said once), its
    events soonest first (end of life, per release; a pending engine upgrade; the automatic minor upgrade in its
    window), a date already past marked overdue; the clusters by their soonest event."""
    from datetime import date

    today = (today or date.today()).isoformat()
    rows = []
    for c in clusters.to_dict("records"):
        events = []
        if c.get("end_of_life") in ("past", "within-180-days"):
            events.append((c["end_of_life_date"], "end of life"))
        if c.get("forced_upgrade_date"):
            events.append((c["forced_upgrade_date"][:10], "engine upgrade pending"))
        if c.get("auto_upgrade_target") and c.get("gets_minor_upgrades"):
            events.append((None, f"automatic upgrade to {c['auto_upgrade_target']}, next window "
                                 f"({c['maintenance_window']})"))
        if not events:
            continue
        events.sort(key=lambda ev: (ev[0] is None, ev[0] or ""))
        when = [f"{what}: {day}" + (" (overdue)" if day < today else "") if day else what for day, what in events]
        rows.append({"first": events[0][0] or "~", "when": when, "overdue": any(d and d < today for d, _ in events),
                     **c})
    df = pd.DataFrame(rows, columns=["first", "when", "overdue", *clusters.columns])
    return df.sort_values("first", kind="stable").reset_index(drop=True)


def upgrades_ahead(result) -> None:
    """The section near the top: end of life, pending and automatic upgrades, one row per cluster, soonest first."""
    when = getattr(result, "generated_at", None)
    rows = upgrades_ahead_rows(result.clusters, when.date() if when is not None else None)
    note = _calendar_note(result)
    cal = result.engine_calendar or {}
    source = (f'<p class="na-sub">End-of-life dates: AWS\'s engine release table as of {e(cal.get("as_of", "?"))}'
              + (f" ({e(cal['file'])})" if cal.get("file") else "") + ".</p>")
    if not len(rows):
        _html(note + "<p>No end of life within 180 days, no pending engine upgrade and no automatic upgrade "
              "is due for the clusters in view.</p>" + source)
        return
    view = pd.DataFrame({"what, when": pd.Series([Html("<br>".join(_text(x) for x in w)) for w in rows["when"]],
                                                 index=rows.index, dtype=object),
                         "cluster / account, region": stack(rows["cluster_id"], _where(result, rows["account_id"], rows["region"])),
                         "engine": rows["engine_version"], "outlook": rows["outlook"]})
    overdue = int(rows["overdue"].sum())
    _html(note + (f'<p class="na-note"><b>{overdue} cluster(s) overdue</b>: a date below has passed.</p>'
                  if overdue else ""))
    table(view, caption="Upgrades ahead (soonest first; one row per cluster)")
    _html(source)


def clusters_table(result) -> None:
    """One row per cluster: does it get minor upgrades (its writer decides), and how far behind is it."""
    c = result.clusters
    f = result.findings
    # a cluster's result is PASS or FAIL (the contract); one that passes only because an exception covers its
    # writer says so beside the pill, or "PASS" would sit next to "minor upgrades: no" unexplained
    excepted = (f[f["result"] == EXCEPTED].groupby(["account_id", "region", "cluster_id"]).size().to_dict()
                if len(f) else {})
    pills = pd.Series([Html(f'{p} <small class="na-sub">{n} excepted</small>') if n else p for p, n in zip(
        _pills(c["result"]), [excepted.get(k, 0) for k in zip(c["account_id"], c["region"], c["cluster_id"])])],
        index=c.index, dtype=object)
    view = pd.DataFrame({"result": pills, "account / region": account_region(result, c["account_id"], c["region"]),
                         "cluster / writer": stack(c["cluster_id"], c["writer_instance_id"]),
                         "minor upgrades": c["gets_minor_upgrades"],  # yes/no, as _text shows every bool
                         "failing": pd.Series([Html(f'{int(n)} <small class="na-sub">of {int(t)}</small>')
                                               for n, t in zip(c["failing_instances"], c["instances"])],
                                              index=c.index, dtype=object),
                         "engine": _engine(c["engine_version"], c["latest_minor_version"], c["auto_upgrade_target"]),
                         "exposure": c["exposure"],
                         "outlook": c["outlook"]})  # the outlook names the end of life when it is near
    table(view, caption="Clusters")


def exceptions_table(result) -> None:
    """The exceptions in force (and expired ones still matching), with reason and expiry."""
    rows = [{"result": r.result, "account_id": r.account_id, "region": r.region, "instance": r.instance_id,
             "match": r.exception["match"], "reason": r.exception["reason"],
             "expires": r.exception["expires"], "expired": r.exception["expired"],
             "approved by": r.exception.get("approved_by")}
            for r in result.findings.itertuples() if r.exception]
    if rows:
        df = pd.DataFrame(rows)
        df["result"] = _pills(df["result"])
        df.insert(1, "account / region", account_region(result, df.pop("account_id"), df.pop("region")))
        table(df, caption="Exceptions matched")
    elif result.exceptions:
        _html(f"<p>{len(result.exceptions)} exception(s) loaded; none matched an instance.</p>")
    else:
        _html("<p>No exceptions file was used.</p>")


def history_section(hist) -> None:
    """Trend over past runs and what changed since the previous one."""
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
    meaning = EXIT_MEANING[code]
    _display_bundle({RESULT_MIME: to_contract(result), "text/plain": f"{meaning[0].upper()}{meaning[1:]} "
                                                                     f"(exit code {code})."})


def filtered_note(flt, view, result, names: dict | None = None) -> None:
    """Above each redrawn section: what the filter bar keeps (nothing when it keeps everything); ``names``:
    account id -> name."""
    text = flt.describe(names)
    if text:
        _html(f'<p class="na-filtered">Filtered to {e(text)}: {len(view.findings)} of {len(result.findings)} '
              f"instances.</p>")


def no_match(flt, names: dict | None = None) -> None:
    """A filter that keeps no instance: said once, instead of empty charts and sentences about nothing."""
    _html(f'<p class="na-filtered"><b>No instances match</b> {e(flt.describe(names))}. Change or reset the filter '
          "bar above.</p>")


def compliance_chart(view) -> None:
    show(charts.compliance_by_region(view.findings))


def failing_chart(view) -> None:
    show(charts.failing_by_account_region(view.findings, view.scope))


def rollup_chart(view) -> None:
    show(charts.cluster_rollup(view.findings, view.clusters, names=account_names(view)))


def engines_chart(view) -> None:
    show(charts.engine_versions(view.findings))
