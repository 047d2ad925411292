"""The notebook's filter bar and its sections, under plain pytest: set ``.value``, click, read the rows."""
from __future__ import annotations

import copy
import csv
import subprocess

import pandas as pd
import pytest

import neptune_audit
from neptune_audit.present import explore
from neptune_audit.present import datatable, sections
from neptune_audit import lab as lab_setup
from neptune_audit.simulate import estate as sim_estate

from .conftest import ROOT


@pytest.fixture(scope="module")
def result():
    from moto import mock_aws

    with mock_aws():
        sim_estate.seed()
        yield neptune_audit.scan(neptune_audit.ScanOptions(organization=True, regions="us-east-1,eu-west-1,ap-southeast-2",
                                                           exceptions_file=sim_estate.example_exceptions()))


def keys(df: pd.DataFrame) -> set:
    return set(zip(df["account_id"], df["region"], df["instance_id"]))


def test_narrow_by_each_field(result):
    f = result.findings
    region = explore.narrow(result, explore.Filter(region="eu-west-1"))
    assert keys(region.findings) == keys(f[f["region"] == "eu-west-1"]) and len(region.findings) < len(f)
    assert set(region.clusters["region"]) == {"eu-west-1"} and set(region.scope["region"]) == {"eu-west-1"}

    acct = f["account_id"].iloc[0]
    assert keys(explore.narrow(result, explore.Filter(account=acct)).findings) == keys(f[f["account_id"] == acct])

    failing = explore.narrow(result, explore.Filter(result="FAIL"))
    assert set(failing.findings["result"]) == {"FAIL"}
    assert set(zip(failing.clusters["account_id"], failing.clusters["cluster_id"])) == \
        set(zip(failing.findings["account_id"], failing.findings["cluster_id"])), "clusters follow their instances"

    behind = explore.narrow(result, explore.Filter(exposure="behind"))
    assert set(behind.clusters["exposure"]) == {"behind"} and set(behind.findings["exposure"]) == {"behind"}


def test_a_cluster_is_one_account_and_region_not_every_namesake(result):
    c = result.clusters
    names = c["cluster_id"].value_counts()
    twin = names[names > 1].index[0]  # the demo has clusters of one name in two accounts
    row = c[c["cluster_id"] == twin].iloc[0]
    view = explore.narrow(result, explore.Filter(cluster=(row.account_id, row.region, twin)))
    assert len(view.clusters) == 1 and set(view.findings["account_id"]) == {row.account_id}
    assert set(view.findings["cluster_id"]) == {twin}


def test_tag_filter_key_value_and_key_only(result):
    f = result.findings
    env_prod = explore.narrow(result, explore.Filter(tag="env=prod")).findings
    assert len(env_prod) and all(t.get("env") == "prod" for t in env_prod["tags"])
    assert keys(env_prod) == keys(f[f["tags"].map(lambda t: isinstance(t, dict) and t.get("env") == "prod")])
    any_env = explore.narrow(result, explore.Filter(tag=" env ")).findings
    assert len(any_env) > len(env_prod)
    assert explore.narrow(result, explore.Filter(tag="env=nowhere")).findings.empty


def test_filter_bar_values_narrow_and_redraw(result):
    bar = explore.FilterBar(result)
    seen = []
    bar.on_change(seen.append)
    assert bar.region.value == "*" and bar.region.label == "all", "'all' is shown, not an empty dropdown"
    assert len(bar.view.findings) == len(result.findings)
    bar.region.value = "eu-west-1"
    expected = result.findings[result.findings["region"] == "eu-west-1"]
    assert keys(bar.view.findings) == keys(expected) and keys(seen[-1].findings) == keys(expected)
    assert f"<b>{len(expected)}</b> of {len(result.findings)} instances" in bar.summary.value
    bar.result_filter.value = "PASS"
    assert set(bar.view.findings["result"]) == {"PASS"} and set(bar.view.findings["region"]) == {"eu-west-1"}
    bar.tag.value = "team=nobody"
    assert bar.view.findings.empty and "tag team=nobody" in bar.summary.value
    bar.reset.click()
    assert len(bar.view.findings) == len(result.findings) and "no filter" in bar.summary.value
    assert bar.tag.value == "" and bar.region.value == "*"


@pytest.fixture
def published():
    """What the kernel would send the notebook: every display and update_display, with its display id."""
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell

    class Recorder(DisplayPublisher):
        def __init__(self):
            super().__init__()
            self.messages = []

        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kw):
            self.messages.append({"data": data, "id": (transient or {}).get("display_id"), "update": update})

    shell = InteractiveShell.instance()
    saved, shell.display_pub = shell.display_pub, Recorder()
    yield shell.display_pub.messages
    shell.display_pub = saved


def _slots(messages):
    """display id -> its latest data, as the saved notebook holds it."""
    latest = {}
    for m in messages:
        if m["id"]:
            latest[m["id"]] = m["data"]
    return latest


def test_sections_are_ordinary_outputs_updated_in_place(result, published):
    ex = explore.Explorer(result, live=True)
    ex.section(sections.compliance_chart)
    ex.section(sections.findings_table)
    ids = [m["id"] for m in published if m["id"] and not m["update"]]
    assert len(ids) == 6, "three slots per section, created once"
    latest = _slots(published)
    assert not any("application/vnd.jupyter.widget-view+json" in d for d in latest.values()), "no widgets"
    assert "application/vnd.plotly.v1+json" in latest[ids[1]], "the chart in plotly's own MIME type"
    assert "Findings" in latest[ids[3]].get("text/html", "") + latest[ids[5]].get("text/html", "")
    before = len(published)
    ex.bar.region.value = "ap-southeast-2"
    updates = published[before:]
    assert updates and all(m["update"] for m in updates), "a redraw only updates: no output is added"
    assert {m["id"] for m in updates} <= set(ids)
    narrowed = explore.narrow(result, explore.Filter(region="ap-southeast-2"))
    assert f"{len(narrowed.findings)} of {len(result.findings)} instances" in _slots(published)[ids[0]]["text/html"]


def test_a_redraw_updates_the_saved_figure_and_redraws_the_drawn_chart_in_place(result, published):
    """plotly's JupyterLab renderer keeps the figure it drew when its output is updated: a redraw puts the new figure
    in the output (what a saved notebook holds) and a script after it that redraws the drawn chart in place; a chart
    coming back after "No instances match" gets a new renderer (an empty output first)."""
    import json

    ex = explore.Explorer(result, live=True)
    ex.section(sections.compliance_chart)
    ids = [m["id"] for m in published if m["id"] and not m["update"]]
    first = _slots(published)[ids[1]]["application/vnd.plotly.v1+json"]
    key = first["layout"]["meta"]["na_chart"]
    assert "<script" not in _slots(published)[ids[2]].get("text/html", ""), "the first draw is the renderer's own"

    before = len(published)
    ex.bar.region.value = "ap-southeast-2"
    updates = published[before:]
    chart_updates = [m["data"] for m in updates if m["id"] == ids[1]]
    assert len(chart_updates) == 1 and "application/vnd.plotly.v1+json" in chart_updates[0], "no empty output between"
    figure = chart_updates[0]["application/vnd.plotly.v1+json"]
    assert figure["layout"]["meta"]["na_chart"] == key and figure["data"] != first["data"]
    script = _slots(published)[ids[2]]["text/html"]
    embedded = json.loads(script.split("const fig = ", 1)[1].split(", key = ", 1)[0].replace("<\\/", "</"))
    assert embedded == figure, "the script redraws the chart with exactly the saved figure"

    ex.bar.tag.value = "team=nobody"   # no chart: the renderer goes
    ex.bar.tag.value = ""
    before = len(published)
    ex.bar.region.value = "eu-west-1"
    chart_updates = [m["data"] for m in published[before:] if m["id"] == ids[1]]
    assert chart_updates[-1].get("application/vnd.plotly.v1+json"), chart_updates
    assert "<script" in _slots(published)[ids[2]]["text/html"], "the renderer drawn on the change before is reused"


def test_a_filter_that_matches_nothing_says_so_instead_of_empty_charts(result, published):
    ex = explore.Explorer(result, live=True)
    ex.section(sections.compliance_chart)
    ex.section(sections.upgrade_exposure)
    ex.bar.tag.value = "team=nobody"
    latest = _slots(published)
    ids = [m["id"] for m in published if m["id"] and not m["update"]]
    texts = [latest[i].get("text/html", "") for i in ids]
    assert sum("No instances match" in t for t in texts) == 2, "each section says it"
    assert not any("application/vnd.plotly.v1+json" in latest[i] for i in ids), "no chart with empty axes"
    assert not any("Every cluster is on its newest" in t for t in texts)


def test_the_report_gets_static_sections_and_no_filter_bar(result):
    drawn = []
    ex = explore.Explorer(result, live=False)
    ex.filter_bar()  # displays nothing
    ex.section(drawn.append)
    assert ex.bar is None and drawn == [result]


def test_tables_show_empty_as_empty_and_tags_as_chips():
    df = pd.DataFrame({"error": pd.array([None, "boom <b>"], dtype="string"), "n": [1, None],
                       "tags": [{"env": "prod", "team": "<x>"}, {}], "flag": [True, False]})
    flat = datatable.flat(df)
    assert flat["error"].tolist() == ["", "boom &lt;b&gt;"]
    assert flat["n"].iloc[1] == "" and flat["flag"].tolist() == ["yes", "no"]
    assert flat["tags"].iloc[0] == '<span class="na-chip">env=prod</span> <span class="na-chip">team=&lt;x&gt;</span>'
    assert flat["tags"].iloc[1] == ""
    classes = [d["className"] for d in datatable.column_classes(df)]
    assert classes[0].startswith("na-text") and classes[1] == "na-num"


def test_small_tables_keep_their_search_box():
    html = datatable.table_html(pd.DataFrame({"a": ["x"]}))
    assert '"search"' in html and "any column" in html


def test_coverage_per_account_counts_states():
    scope = pd.DataFrame([
        {"account_id": "1", "account_label": "a", "region": "us-east-1", "state": "scanned", "instances": 2},
        {"account_id": "1", "account_label": "a", "region": "eu-west-1", "state": "denied", "instances": 0},
        {"account_id": "2", "account_label": "b", "region": "us-east-1", "state": "not-enabled", "instances": 0}])
    rows = sections.coverage_by_account(scope).set_index("account_id")
    assert rows.loc["1", "regions scanned"] == 1 and rows.loc["1", "regions denied"] == 1
    assert rows.loc["1", "instances"] == 2 and rows.loc["2", "regions not-enabled"] == 1


def test_lab_copies_are_parameterised_and_leave_the_tracked_notebooks_alone(tmp_path):
    tracked = {p.name: p.read_bytes() for p in (ROOT / "notebooks").glob("*.ipynb")}
    paths = lab_setup.prepare_lab(tmp_path / "lab")
    import papermill

    audit = papermill.inspect_notebook(str(paths[0]))
    assert {p.name for p in paths} == set(tracked)
    text = paths[0].read_text()
    assert "organization: bool = True" in text and "exceptions.yml" in text
    assert "injected-parameters" not in text, "one parameters cell, holding the demo's values"
    assert audit["organization"]["default"] == "True", "papermill reads the demo's value as the default"
    paths[0].write_text(text.replace("organization: bool = True", "organization: bool = True  # edited"))
    lab_setup.prepare_lab(tmp_path / "lab")
    assert "# edited" in paths[0].read_text(), "a working copy that exists is the user's: kept"
    assert {p.name: p.read_bytes() for p in (ROOT / "notebooks").glob("*.ipynb")} == tracked


def test_make_lab_folder_is_ignored_by_git():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    proc = subprocess.run(["git", "check-ignore", "-q", "lab/audit.ipynb"], cwd=ROOT)
    assert proc.returncode == 0, "JupyterLab saves outputs into lab/: it must never show in git status"


def test_result_filter_means_the_clusters_own_result(result):
    """Result = PASS lists no failing cluster (a failing cluster can have a passing reader), FAIL every failing one."""
    c = result.clusters
    passing = explore.narrow(result, explore.Filter(result="PASS"))
    assert set(passing.clusters["result"]) <= {"PASS"}
    failing = explore.narrow(result, explore.Filter(result="FAIL"))
    assert set(zip(failing.clusters["account_id"], failing.clusters["cluster_id"])) == \
        set(zip(c[c["result"] == "FAIL"]["account_id"], c[c["result"] == "FAIL"]["cluster_id"]))


def test_a_filtered_table_is_the_whole_tables_rows_the_view_keeps(result):
    """A filter change takes its tables' rows from the whole run's, rendered once: they must be exactly the rows the
    view would render itself, in the same order (a cluster's "n excepted" aside: it counts the whole run)."""
    offered = explore.choices(result)
    filters = [explore.Filter(region=offered["region"][0]), explore.Filter(account=offered["account"][1][1]),
               explore.Filter(cluster=offered["cluster"][0][1]), explore.Filter(exposure="behind"),
               *(explore.Filter(result=r) for r in offered["result"]),
               *(explore.Filter(tag=t) for t in offered["tag"])]
    checked = 0
    for flt in filters:
        view = explore.narrow(result, flt)
        if not 0 < len(view.findings) < len(result.findings):
            continue
        checked += 1
        for build in (sections._findings_cells, sections._exposure_cells, sections._ahead_cells,
                      sections._clusters_cells):
            taken = sections._rows(view, "findings" if build is sections._findings_cells else "clusters", build).cells
            own = datatable.Rows.of(build(view)).cells
            if build is sections._clusters_cells and (flt.result or flt.tag):
                taken, own = taken.drop(columns="result"), own.drop(columns="result")
            # dtype aside: a number column with no empty cell in view is int64 here, object in the whole
            pd.testing.assert_frame_equal(taken, own, check_dtype=False, check_index_type=False,
                                          obj=f"{build.__name__} ({flt.describe()})")
    assert checked >= 6, "the filters narrowed the run"


def test_a_filter_change_renders_no_row_again_until_the_run_changes(result, published, monkeypatch):
    made = []
    monkeypatch.setattr(sections, "_findings_cells", lambda r, build=sections._findings_cells: made.append(1) or build(r))
    whole = copy.copy(result)  # a run of its own (the module's result keeps what earlier tests rendered)
    ex = explore.Explorer(whole, live=True)
    ex.section(sections.findings_table)
    for region in ("ap-southeast-2", "us-east-1", "*"):
        ex.bar.region.value = region
    assert len(made) == 1, "the rows of the whole run are rendered once"
    whole.findings = whole.findings.head(3)  # the run's findings replaced: its rows are rendered again
    before = len(published)
    ex.bar.region.value = whole.findings["region"].iloc[0]
    assert len(made) == 2
    shown = "".join(m["data"].get("text/html", "") for m in published[before:])
    assert "3 rows" in shown or "of 3 rows" in shown or shown.count("<tr>") <= 5


@pytest.mark.slow
@pytest.mark.browser
def test_a_table_in_the_browser_holds_exactly_its_rows_sorted_as_numbers_and_inert(published, tmp_path):
    """The DataTable as a browser draws it (offline, Chromium): the whole table and one narrowed from it (a filter
    change) each hold exactly their rows, once, in order; numbers sort as numbers; a cell that tries to end the
    script or run one is shown as the text it is."""
    import shutil

    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from neptune_audit.present import display

    hostile = ["</script><script>window.__pwned = 1</script>", '<img src=x onerror="window.__pwned = 2">',
               'a "quoted" \\ backslash', "line\u2028separator", "tab\tand\nnewline", "</SCRIPT >", "é → ✓"]
    df = pd.DataFrame({"name": [f"row-{i:03d}" for i in range(60)],
                       "text": [hostile[i % len(hostile)] for i in range(60)], "n": [(i * 37) % 101 for i in range(60)],
                       # markup the kit made itself is not escaped again: even a stray end tag in it ends no script
                       "made": [datatable.Html("<i>made</i></script>")] * 60,
                       "k": [(i * 7) % 12 for i in range(60)],  # repeating: each distinct number sent once
                       "fix": [datatable.command_html(f"aws neptune modify-db-instance --db-instance-identifier db-{i} "
                                                      "--db-instance-parameter-group-name pg-1") for i in range(60)],
                       "where": [datatable.Html("member-a<br><small>us-east-1</small>")] * 60})
    rows = datatable.Rows.of(df)
    kept = df.index[df.index % 7 == 3]
    display.setup()
    setup_html = "".join(m["data"].get("text/html", "") for m in published)
    page = tmp_path / "tables.html"
    page.write_text(f"<!doctype html><html><head><meta charset='utf-8'></head><body>{setup_html}"
                    f"<div id='whole'>{datatable.table_html(rows, caption='whole')}</div>"
                    f"<div id='kept'>{datatable.table_html(rows.take(kept), caption='kept')}</div></body></html>",
                    encoding="utf-8")

    def column(page_, box: str, index: int) -> list[str]:
        return page_.locator(f"#{box} table.dataTable tbody tr td:nth-child({index})").all_inner_texts()

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        view = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        view.on("pageerror", lambda exc: errors.append(str(exc)))
        view.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:"))
                   else route.abort())
        view.goto(page.as_uri())
        view.wait_for_function("document.querySelectorAll('div.dt-container').length == 2", timeout=30_000)
        for box in ("whole", "kept"):
            view.locator(f"#{box} select").first.select_option("-1")  # every row on one page
        assert column(view, "whole", 1) == df["name"].tolist()
        assert column(view, "kept", 1) == df.loc[kept, "name"].tolist()
        shown = [" ".join(t.split()) for t in column(view, "whole", 2)]
        assert shown == [" ".join(t.split()) for t in df["text"]], "each cell shows its text as written"
        assert view.evaluate("window.__pwned") is None, "no cell ran a script"
        view.locator("#whole thead th").nth(2).click()  # the "n" heading
        view.wait_for_selector("#whole thead th[aria-sort]", timeout=10_000)  # sorted (itables 2.9: a moment later)
        assert [int(t) for t in column(view, "whole", 3)] == sorted(df["n"]), "numbers sort as numbers"
        view.locator("#whole thead th").nth(4).click()  # "k": its cells numbered in the page, sorted as they read
        view.wait_for_selector("#whole thead th:nth-child(5)[aria-sort]", timeout=10_000)
        assert [int(t) for t in column(view, "whole", 5)] == sorted(df["k"])
        view.locator("#whole input[type=search]").fill("backslash")  # a search reads the cells, not their numbers
        view.wait_for_function("document.querySelectorAll('#whole tbody tr').length < 20", timeout=10_000)
        assert sorted(column(view, "whole", 1)) == df.loc[df["text"].str.contains("backslash"), "name"].tolist()
        with view.expect_download() as download:  # the CSV says each cell as it reads, numbered or not
            view.locator("#kept button", has_text="CSV").click()
        with open(download.value.path(), encoding="utf-8-sig", newline="") as f:
            csv_rows = [r for r in csv.reader(f) if r]
        assert csv_rows[0] == ["name", "text", "n", "made", "k", "fix", "where"]
        assert [r[0] for r in csv_rows[1:]] == df.loc[kept, "name"].tolist()
        assert [(r[3], int(r[4])) for r in csv_rows[1:]] == [("made", k) for k in df.loc[kept, "k"]]
        # a command as typed (its long words drawn in two pieces), stacked parts apart
        assert [(r[5], r[6]) for r in csv_rows[1:]] == [
            (f"aws neptune modify-db-instance --db-instance-identifier db-{i} --db-instance-parameter-group-name pg-1",
             "member-a us-east-1") for i in kept]
        browser.close()
    assert not errors, errors


def test_the_rendered_tables_never_travel_with_the_result(result):
    """A result is pickled (Airflow's XCom) and copied: the tables drawn from it are the notebook's, not its data."""
    import pickle

    before = len(pickle.dumps(result))
    sections._rows(result, "findings", sections._findings_cells)
    assert len(pickle.dumps(result)) == before
    assert sections._rows(copy.copy(result), "findings", sections._findings_cells) is not \
        sections._rows(result, "findings", sections._findings_cells), "a copy is a run of its own"
