"""Showing things in a notebook, the same in JupyterLab and in the exported HTML report: the stylesheet, plotly.js
and the DataTables bundle embedded once (``setup()``: nothing loads from the network), a chart with its text
alternative, HTML, a MIME bundle.  Text from AWS or from a file is escaped (``escape``) before it is shown."""
from __future__ import annotations

import html
import json

from neptune_audit.present import charts

STYLE = """<style>
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
a[download]{color:var(--jp-content-link-color,#1f618d);text-decoration:underline;font-weight:600}
a[download]::before{content:"\\2B07\\FE0E  ";text-decoration:none}
</style>"""


def show_object(obj) -> None:
    from IPython.display import display

    display(obj)


def show_html(text: str) -> None:
    from IPython.display import HTML

    show_object(HTML(text))


def escape(value) -> str:
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

    # plotly.py leaves plotlyServerURL out of each chart's config when sending to the cloud is off, so plotly.js's
    # default (its cloud's address) stayed in every chart's resolved config: set plotly.js's own default to none
    show_html(f'{STYLE}<script type="text/javascript">{plotly_js()}\n'
              'if (window.Plotly) { window.Plotly.setPlotConfig({plotlyServerURL: ""}); }</script>')
    # itables (2.x) displays its dark-theme module script *before* the script that defines the offline bundle
    # it awaits, so in JupyterLab the module ran first and failed ("Cannot destructure property
    # 'set_or_remove_dark_class' of undefined"). Same outputs, in one cell output, bundle first.
    with capture_output(stdout=False, stderr=False) as shown:
        itables.init_notebook_mode(all_interactive=False, connected=False)
    show_html("".join(o.data.get("text/html", "") for o in reversed(shown.outputs)))


# plotly.js's modebar, offline and private: no logo link, no "edit in Chart Studio" / send-to-cloud control and no
# link out; downloading a PNG stays (it is made in the browser)
CHART_CONFIG = {"displaylogo": False, "showSendToCloud": False, "modeBarButtonsToRemove": ["sendDataToCloud"],
                "plotlyServerURL": ""}


# JupyterLab draws a chart in the theme's colours (the kernel cannot know the theme: the browser applies these to the
# drawn SVG, and again when the theme changes).  Only where JupyterLab's variables exist (its body carries
# data-jp-theme-light): the report keeps plotly's own.  Heatmap cells and hover labels keep plotly's contrast choice.
# Sent beside every chart: with the notebook windowed, an output elsewhere may not be in the page.
CHART_STYLE = ("<style>"
               "body[data-jp-theme-light] .svg-container .main-svg{background:transparent!important}"
               "body[data-jp-theme-light] .svg-container :is(.bg,.cbbg){fill:var(--jp-layout-color0)!important;"
               "fill-opacity:1!important}"
               "body[data-jp-theme-light] .svg-container :is(.infolayer,.xaxislayer-above,.yaxislayer-above,"
               ".barlayer,.legend) text{fill:var(--jp-ui-font-color1)!important}"
               "body[data-jp-theme-light] .svg-container :is(.gridlayer,.zerolinelayer) path"
               "{stroke:var(--jp-border-color2)!important}"
               "body[data-jp-theme-light] .svg-container .modebar-btn path{fill:var(--jp-ui-font-color2)!important}"
               "</style>")


def show(fig) -> None:
    """Display a plotly figure: its own MIME type for JupyterLab, self-contained HTML for the report."""
    bundle = {
        "application/vnd.plotly.v1+json": fig.to_plotly_json() | {"config": dict(CHART_CONFIG)},
        "text/html": fig.to_html(full_html=False, include_plotlyjs=False, config=dict(CHART_CONFIG)),
        "text/plain": charts.describe(fig),
    }
    show_bundle(bundle)
    # the chart's text alternative, beside it wherever it is drawn (plotly's JupyterLab renderer takes no label)
    show_html(f'{CHART_STYLE}<details class="na-alt"><summary>This chart in words</summary>'
              f'<p>{escape(charts.describe(fig))}</p></details>')


def show_bundle(bundle: dict) -> None:
    from IPython.display import display

    display(json.loads(json.dumps(bundle, default=_json_default)), raw=True)


def _json_default(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
