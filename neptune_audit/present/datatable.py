"""A DataFrame as a table a person reads: cells as escaped HTML (ids and dates whole, long tokens breaking after
their separators, tags as chips, commands word by word), headings in words; interactive (itables: search, sort by
click or keyboard, CSV made in the browser) with a plain first page for readers whose scripts do not run."""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from neptune_audit.present import display
from neptune_audit.present.display import escape
from neptune_audit.present.names import account_cells, account_names, named
from neptune_audit.records import missing

class Html(str):
    """A cell already rendered (and escaped) by this module."""


def account_region(data, accounts: pd.Series, regions: pd.Series) -> pd.Series:
    """The "account / region" cells: the account's name over its id and region where the scan knows the name."""
    return pd.Series([Html(x) for x in account_cells(data, accounts, regions)], index=accounts.index, dtype=object)


def where(data, accounts: pd.Series, regions: pd.Series) -> pd.Series:
    """"member-a 123456789012" over "us-east-1": the account (by name too, where known), then the region on its
    own line (a region never breaks at its hyphens)."""
    names = account_names(data)
    return pd.Series([Html(f"{escape(named(names, a))}<br>{escape(r)}") for a, r in zip(accounts, regions)],
                     index=accounts.index, dtype=object)


def stack(top: pd.Series, below: pd.Series) -> pd.Series:
    """Two values in one cell, the second smaller beneath (account over region, instance over cluster): the
    tables fit a notebook beside JupyterLab's file browser at 1280 px."""
    # dtype=object: pandas 3 would turn the cells into plain `str` and they would be escaped twice
    # no class on the <small>: the stylesheet greys every td small; a cell repeats 10,000 times in a large report
    return pd.Series([Html(f'{cell_text(a)}<br><small>{cell_text(b)}</small>') for a, b in zip(top, below)],
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
    breaking only between words; what is copied is the command as typed.  A word longer than ``LONG_WORD`` may
    break once, after its middle hyphen: "--db-instance-parameter-group-name" whole was wider than the column at
    1280 px beside JupyterLab's file browser."""
    if not command:
        return Html("")
    return Html("<code>" + " ".join(_word_html(word) for word in command.split(" ")) + "</code>")


LONG_WORD = 30


def _word_html(word: str) -> str:
    hyphens = [i for i, ch in enumerate(word) if ch == "-" and 2 <= i < len(word) - 1]
    if len(word) <= LONG_WORD or not hyphens:
        return f"{NOWRAP}{escape(word)}</span>"
    cut = min(hyphens, key=lambda i: abs(i + 1 - len(word) / 2)) + 1
    return f"{NOWRAP}{escape(word[:cut])}</span><wbr>{NOWRAP}{escape(word[cut:])}</span>"


def cell_text(v) -> str:
    """One cell as escaped HTML: empty is empty; tags (dicts) as key=value chips; lists and dicts compact."""
    if type(v) is str:  # not Html, already rendered
        return _text_cell(v)
    if isinstance(v, Html):
        return v
    if missing(v):
        return ""
    if isinstance(v, dict):
        # a space between chips: a received (untrusted) notebook shows them without the stylesheet
        return " ".join(f'<span class="na-chip">{escape(k)}={escape(val)}</span>' for k, val in sorted(v.items()))
    if isinstance(v, list):
        return _soft_breaks(escape(json.dumps(v, sort_keys=True, default=str))) if v else ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    return _soft_breaks(escape(v))


@functools.lru_cache(maxsize=1 << 16)
def _text_cell(v: str) -> str:
    # every filter change renders the same ids, regions and reasons again (209,000 cells a redraw at 10,000 instances)
    return _soft_breaks(escape(v))


def flat(df: pd.DataFrame) -> pd.DataFrame:
    """Every text cell as escaped HTML (numbers stay numbers, so they sort): NaN and None show as empty.

    pandas 3 keeps text in its own ``str`` dtype, whose missing value is NaN; pandas 2 uses None in object columns.
    """
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_bool_dtype(out[col]) or not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].astype(object).map(cell_text)
        else:
            out[col] = out[col].astype(object).map(lambda v: "" if missing(v) else v)
    return out


# Column names as a reader says them: the contract's snake_case stays in files, tables show words.
_HEADINGS = {"account_id": "account", "account_label": "account name", "instance_id": "instance",
             "cluster_id": "cluster", "instance_class": "class", "auto_minor_version_upgrade": "auto minor upgrade"}


def heading(column: str) -> str:
    return _HEADINGS.get(column, column.replace("_", " "))


def headed(df: pd.DataFrame) -> pd.DataFrame:
    return df.rename(columns={c: heading(c) for c in df.columns if isinstance(c, str)})


_LONG = {"why", "reason", "error", "tags", "pending", "match", "approved by", "warnings", "engine", "upgrade",
         "maintenance window", "outlook", "what", "when", "end of life", "fix", "engine / exposure", "what, when",
         "why / tags"}


def column_classes(df: pd.DataFrame) -> list[dict]:
    """Text left, numbers right (JupyterLab right-aligns every cell); ids never wrap; long text gets room.  Each
    column's type is said (numbers sort as numbers, text by what it reads, not its markup): DataTables would
    otherwise read every cell of every column to guess it, on each redraw (10,000 findings)."""
    defs = []
    for i, col in enumerate(df.columns):
        numeric = pd.api.types.is_numeric_dtype(df[col]) and not pd.api.types.is_bool_dtype(df[col])
        name = heading(col) if isinstance(col, str) else col
        kind = "na-num" if numeric else "na-text " + ("na-long" if name in _LONG else "na-id")
        kind += " na-wide" if name in ("why", "why / tags", "reason", "pending", "outlook") else ""
        defs.append({"targets": i, "className": kind, "type": "num" if numeric else "html"})
    return defs


def static_table(df: pd.DataFrame) -> str:
    """A plain HTML table (for widgets, where DataTables does not run): same cells as ``table``, text left."""
    body = headed(flat(df.reset_index(drop=True))).to_html(index=False, escape=False, border=0, classes="na-table")
    return ("<style>.na-table{border-collapse:collapse;font-size:13px;line-height:1.35}.na-table th,.na-table td"
            "{text-align:left!important;padding:3px 8px;vertical-align:top;border-bottom:1px solid #e5e5e5;"
            "white-space:nowrap}.na-table td:last-child{white-space:normal}</style>" + body)


@dataclass(frozen=True)
class Rows:
    """A table's cells, escaped and headed once, with each row as DataTables' JSON and the source's index: a
    filtered view takes its rows from those of the whole result (``take``) instead of rendering them again.

    A column whose cells repeat (a result pill, an account and region, an engine) sends each distinct cell once:
    its rows hold the cell's number and the page a table of the numbers it uses (``distinct``).  The bytes of a
    10,000-row table are what the browser parses, several times over, on each filter change."""

    cells: pd.DataFrame   # headed, every text cell escaped (``flat``)
    data: pd.Series       # each row as a JSON array, same index
    classes: tuple        # ``column_classes`` of the source frame (numbers right, long text wide)
    codes: pd.DataFrame   # the numbered columns (by position): each row's number, same index
    distinct: dict        # column position -> its distinct cells (a number is a place in that list)

    @classmethod
    def of(cls, df: pd.DataFrame) -> "Rows":
        cells = headed(flat(df))
        columns, codes, distinct = [], {}, {}
        for i in range(cells.shape[1]):
            # every cell a string, as itables would send it (DataTables sorts "12" as a number all the same)
            values = [v if isinstance(v, str) else str(v) for v in cells.iloc[:, i]]
            numbers, uniques = pd.factorize(pd.Series(values, dtype=object))
            if len(values) >= _NUMBERED_FROM and len(uniques) * 3 <= len(values):
                codes[i], distinct[i] = numbers, list(uniques)
                columns.append(numbers.tolist())
            else:
                columns.append(values)
        data = pd.Series([json.dumps(row, ensure_ascii=False) for row in zip(*columns)] if columns else
                         ["[]"] * len(cells), index=cells.index, dtype=object)
        return cls(cells, data, tuple(column_classes(df)), pd.DataFrame(codes, index=cells.index), distinct)

    def take(self, index) -> "Rows":
        """The rows whose labels are in ``index``, in this table's order."""
        keep = self.cells.index.isin(index)
        return Rows(self.cells[keep], self.data[keep], self.classes, self.codes[keep], self.distinct)

    def column_defs(self) -> list[dict]:
        """``classes``, and for each numbered column a renderer holding the cells this table's rows use."""
        import itables

        defs = [dict(d) for d in self.classes]
        for i, values in self.distinct.items():
            used = {int(n): values[n] for n in pd.unique(self.codes[i])}
            # "</" written "<\\/" (the same string to JavaScript): no cell can end the page's script.  The table is
            # made on the first call and kept in the DataTable's own settings (gone with the table)
            table = json.dumps(used, ensure_ascii=False).replace("</", "<\\/")
            defs[i]["render"] = itables.JavascriptFunction(
                "function (d, type, row, meta) { if (typeof d !== 'number') return d;"
                f" const s = meta.settings, k = 'naCells' + meta.col; return (s[k] || (s[k] = {table}))[d]; }}")
        return defs


_NUMBERED_FROM = 50  # rows; below, a table is small whatever it holds


def table(df: pd.DataFrame | Rows, caption: str | None = None, page_length: int = 25) -> None:
    """A searchable, sortable table (itables, offline); every cell is escaped by ``cell_text``."""
    display.show_html(table_html(df, caption, page_length))


# A cell's text for the CSV: its parts (name, id, region on lines of their own) separated by spaces, entities decoded;
# a word drawn in pieces (a break hint, nowrap spans) whole again.
# DOMParser, not innerHTML: parsing runs no script and loads no image, whatever a cell holds.
_CSV_CELL = ("function (data) { const text = String(data).replace(/<br\\s*\\/?>/gi, ' ').replace(/<[^>]*>/g, '');"
             " const doc = new DOMParser().parseFromString(text, 'text/html');"
             " return (doc.body.textContent || '').replace(/\\s+/g, ' ').trim(); }")


def table_html(df: pd.DataFrame | Rows, caption: str | None = None, page_length: int = 25) -> str:
    import itables

    rows = df if isinstance(df, Rows) else Rows.of(df.reset_index(drop=True))
    extra: dict[str, Any] = {}
    if hasattr(itables.options, "text_in_header_can_be_selected"):
        # itables >= 2.4 otherwise sorts only from the small arrow beside each title; a click on, or Enter in,
        # the header itself is what people try (DataTables makes each header a focusable, labelled control)
        extra["text_in_header_can_be_selected"] = False
    name = re.sub(r"[^A-Za-z0-9]+", "-", caption or "table").strip("-").lower() or "table"
    # not itables' default layout, which it strips of the search box when the rows fit one page.  The CSV button
    # alone in its place: itables puts "buttons" over whatever holds it in a list (the page-length menu was lost)
    layout: dict[str, Any] = {"topStart": "buttons", "topEnd": {"search": {"placeholder": "any column"}},
                              "bottomStart": ["pageLength", "info"], "bottomEnd": "paging"}

    def datatable(cells: pd.DataFrame) -> str:
        # connected=False: the DataTables library from setup()'s offline bundle, never a CDN (itables 2.2 defaults
        # to the CDN here whatever init_notebook_mode was told)
        return itables.to_html_datatable(
            cells, caption=caption, showIndex=False, pageLength=page_length, connected=False,
            lengthMenu=[10, 25, 100, -1], order=[], classes="display compact", allow_html=True,
            columnDefs=rows.column_defs(), autoWidth=False,
            # CSV of the rows as filtered and sorted on screen, made in the browser (no upload); the JSON and
            # CSV exports of the CLI carry every field
            buttons=[{"extend": "csvHtml5", "text": "CSV", "title": f"neptune-audit-{name}",
                      "exportOptions": {"format": {"body": itables.JavascriptFunction(_CSV_CELL)}}}],
            layout=layout, maxBytes=0, **extra)  # never downsample: an auditor must see every row

    # itables is handed the header only and the rows' JSON, made once per row, is put where its (empty) data is:
    # itables formats every cell again through pandas (0.3 s for 10,000 findings, on each filter change)
    page = _with_data(datatable(rows.cells.iloc[:0]), "[" + ",".join(rows.data) + "]")
    if page is None:  # an itables whose page holds its rows some other way: it formats them
        page = datatable(rows.cells)
    return static_fallback(page, rows.cells, caption, page_length)


# Where itables puts a table's rows: a JSON string in the DataTable's arguments (2.4 on), or a constant in its
# script (2.2, 2.3).  Each must occur once in the page made with no row, or the rows are not put in.
_DATA_JSON = '"data_json": "[]"'
_DATA_CONST = "const data = [];"


def _with_data(page: str, data: str) -> str | None:
    if page.count(_DATA_JSON) == 1:
        literal = '"data_json": ' + json.dumps(data, ensure_ascii=False)
        marker = _DATA_JSON
    elif page.count(_DATA_CONST) == 1:
        literal, marker = f"const data = {data};", _DATA_CONST
    else:
        return None
    # inside a <script>: "</" written "<\/" (the same string to JavaScript) so no cell can end the script
    return page.replace(marker, literal.replace("</", "<\\/"))


# What a notebook whose scripts do not run (untrusted, GitHub, nbviewer) shows in a table's place: its first page
# as a plain table, left-aligned, saying how to get the rest.  Ours on every itables version: itables' own preview
# (2.9 on; none before) is headed right-aligned, marks itself with a glyph many fonts lack and links out.  A script,
# which runs only where the DataTable does, removes it and shows the DataTable.
_ITABLES_FALLBACK = re.compile(r'<div id="itables_[0-9a-f_]+_fallback">.*?</div>(?=<script>)', re.S)
_CELL = "text-align:left;padding:3px 8px;vertical-align:top;border-bottom:1px solid #d5d5d5"


def static_fallback(page: str, cells: pd.DataFrame, caption: str | None, rows: int) -> str:
    """``page`` (itables' DataTable) preceded by the first ``rows`` of ``cells`` (already escaped and headed) as a
    plain table, for a reader whose scripts do not run."""
    import uuid

    shown = cells.head(rows)
    head = "".join(f'<th style="{_CELL}">{escape(c)}</th>' for c in shown.columns)
    body = "".join("<tr>" + "".join(f'<td style="{_CELL}">{"" if missing(v) else v}</td>' for v in row) + "</tr>"
                   for row in shown.itertuples(index=False))
    more = (f"{len(shown)} of {len(cells)} rows shown" if len(cells) > len(shown) else f"{len(cells)} rows") + (
        ": this notebook's scripts are not running (trust it, File > Trust Notebook, to search, sort and export)")
    box = f"na-static-{uuid.uuid4().hex}"
    static = (f'<div id="{box}" class="na-static"><table style="border-collapse:collapse;font-size:13px">'
              + (f'<caption style="caption-side:top;text-align:left;font-weight:600">{escape(caption)}</caption>'
                 if caption else "")
              + f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
              + f'<p style="font-size:12px">{escape(more)}</p></div>')
    # itables' own markup (an empty header, and on itables 2.2 a "Loading ITables... (need help?)" line with a link)
    # is hidden until a script shows it: where none runs, the plain table above is all a reader sees
    live = f'<div id="{box}-live" class="na-live" style="display:none">{_ITABLES_FALLBACK.sub("", page, count=1)}</div>'
    show = (f'<script>document.getElementById("{box}")?.remove();'
            f' document.getElementById("{box}-live")?.style.removeProperty("display");</script>')
    return static + live + show
