"""The HTML report and the notebooks: papermill runs with several parameter sets, nbval, a real browser."""
from __future__ import annotations

import os
from pathlib import Path

import json
import re
import shutil
import subprocess
import sys

import pytest

from neptune_audit import vocabulary
from neptune_audit.simulate import estate as sim_estate
from neptune_audit.simulate.estate import example_exceptions
from neptune_audit.present.report import run_report

from .conftest import ROOT, run_cli, seed

CHART_TITLES = ["Upgrade exposure per cluster", "Compliance per region", "Failing instances per account and region",
                "Cluster roll-up", "Engine versions in use"]


@pytest.fixture
def kernel_env(moto_server, monkeypatch):
    """Kernels started by papermill inherit this process's environment: point them at the moto server."""
    for k, v in moto_server.env().items():
        if k.startswith("AWS_"):
            monkeypatch.setenv(k, v)
    return moto_server


@pytest.fixture
def estate(kernel_env):
    return kernel_env.seed()


def check_offline_html(text: str) -> None:
    """Self-contained: no external scripts or stylesheets, no code cells."""
    assert not re.search(r"<script[^>]+src=", text), "no <script src>"
    assert not re.search(r"<link[^>]+href=[\"']?https?:", text), "no remote <link href>"
    assert not re.search(r"@import\s+url\([\"']?https?:", text)
    assert "class=\"jp-CodeMirrorEditor" not in text and "hl-ipython3" not in text, "no code cells"
    assert "neptune_audit.scan(" not in text and "present.setup()" not in text
    copies = re.findall(r"\* plotly\.js (?:\([a-z -]+\) )?v\d", text)
    assert len(copies) == 1, f"plotly.js is embedded exactly once: {copies}"


def test_report_all_regions_whole_org_with_exceptions(estate, tmp_path):
    rep = run_report(output=tmp_path / "r.html", organization=True, exceptions_file=example_exceptions(),
                     keep_notebook=tmp_path / "r.ipynb")
    html = rep.html_path.read_text()
    check_offline_html(html)
    assert "Neptune-001" in html and "Auto Minor Version Upgrade" in html
    assert all(t in html for t in CHART_TITLES)
    assert html.count('class="plotly-graph-div"') == len(CHART_TITLES)
    assert "Upgrade exposure" in html and "not-covered" in html and "1.2.1.0 → 1.2.1.2" in html
    assert html.index("Upgrade exposure") < html.index("Compliance per region"), "near the top"
    assert "kg-legacy-writer" in html and "Vendor-certified" in html, "the exception in force is shown"
    assert rep.exit_code == 1
    # the verdict first, then the metadata; a table of contents whose every link has its heading
    assert html.index("Verdict: FAIL") < html.index(">Rule<") < html.index('id="Summary"')
    toc = re.search(r'<nav[^>]*class="na-toc"[^>]*>(.*?)</nav>', html, re.S).group(1)
    links = re.findall(r'href="#([^"]+)"', toc)
    assert {"Summary", "Upgrades-ahead", "Findings", "Clusters"} <= set(links)
    assert all(f'id="{anchor}"' in html for anchor in links)
    vocabulary.validate(rep.document)  # the run's JSON, as the kernel wrote it into the notebook
    assert rep.summary["instances"] == len(estate.instances)
    assert rep.html_path.stat().st_size < 8e6
    executed = (tmp_path / "r.ipynb").read_text()
    assert "application/vnd.jupyter.widget-view+json" not in executed, "no progress or filter bar in the report"
    nb = json.loads((tmp_path / "r.ipynb").read_text())
    assert nb["cells"][2]["metadata"]["tags"] == ["injected-parameters"]
    for account in estate.accounts.values():
        assert account in html


def test_report_one_region_and_role_arns(kernel_env, tmp_path):
    creds = sim_estate.assume_credentials(kernel_env.url, "111111111111")
    seed([("g", [("graph-alpha-1", True, {})])], endpoint_url=kernel_env.url, creds=creds,
         account_id="111111111111")
    seed([("h", [("graph-omega-1", True, {})])], endpoint_url=kernel_env.url)
    rep = run_report(output=tmp_path / "one.html", regions="us-east-1",
                     role_arns=["arn:aws:iam::111111111111:role/Audit"])
    assert rep.exit_code == 0
    assert [(f["account_id"], f["instance_id"]) for f in rep.document["findings"]] == [("111111111111", "graph-alpha-1")]
    html = rep.html_path.read_text()
    assert "graph-alpha-1" in html and "graph-omega-1" not in html
    assert "(exit code 0)" in html and "every instance passes" in html.lower()


def test_report_history_shows_changes(kernel_env, tmp_path):
    seed([("a", [("a-1", False, {})]), ("b", [("b-1", True, {})])], endpoint_url=kernel_env.url)
    hist = tmp_path / "hist"
    run_report(output=tmp_path / "1.html", regions="us-east-1", history_dir=hist)
    from .conftest import boto

    boto("rds", endpoint_url=kernel_env.url).modify_db_instance(DBInstanceIdentifier="a-1",
                                                                 AutoMinorVersionUpgrade=True)
    rep = run_report(output=tmp_path / "2.html", regions="us-east-1", history_dir=hist)
    html = rep.html_path.read_text()
    assert "Trend over past runs" in html and "1 newly fixed" in html
    assert len(list(hist.glob("neptune-audit-*.json"))) == 2
    for run in hist.glob("neptune-audit-*.json"):
        vocabulary.validate(json.loads(run.read_text()))
    assert rep.exit_code == 0


def test_report_cli_and_notebook_failure(kernel_env, tmp_path):
    seed([("a", [("a-1", False, {})])], endpoint_url=kernel_env.url)
    ok = run_cli(["report", "--regions", "us-east-1", "-o", str(tmp_path / "ok.html")], kernel_env.env(),
                 cwd=tmp_path)
    assert ok.returncode == 1, ok.stderr
    assert "ok.html" in ok.stdout and (tmp_path / "ok.html").exists()
    from neptune_audit.contract import evidence

    shown = evidence.digest(evidence.extract((tmp_path / "ok.html").read_text()))
    assert f"evidence SHA-256 {shown}" in ok.stdout, "the scheduler's log keeps the hash"
    # A region name of the right shape that the endpoint does not know is refused before a kernel starts.
    bad = run_cli(["report", "--regions", "xx-nowhere-1", "-o", str(tmp_path / "bad.html")], kernel_env.env(),
                  cwd=tmp_path)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert "unknown region 'xx-nowhere-1'" in bad.stderr and "Traceback" not in bad.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.html"], "nothing written, no kernel files left"


def test_a_failing_notebook_is_kept_for_diagnosis(kernel_env, tmp_path, monkeypatch):
    """A fault inside the notebook that is not bad input (a bug) keeps the executed notebook and says where."""
    import nbformat

    from neptune_audit.present import report

    nb = nbformat.read(str(report.notebook_path("audit.ipynb")), as_version=4)
    nb.cells.insert(3, nbformat.v4.new_code_cell('raise RuntimeError("boom")'))
    broken = tmp_path / "broken.ipynb"
    nbformat.write(nb, str(broken))
    monkeypatch.setattr(report, "notebook_path", lambda name: broken)
    with pytest.raises(report.NotebookFailed, match="RuntimeError: boom"):
        report.run_report(regions="us-east-1", output=tmp_path / "bad.html")
    assert (tmp_path / "bad.failed.ipynb").exists() and not (tmp_path / "bad.html").exists()


def test_report_bad_input_refused_before_a_kernel_starts(kernel_env, tmp_path):
    proc = run_cli(["report", "--exceptions", str(tmp_path / "missing.yml"), "-o", str(tmp_path / "x.html")],
                   kernel_env.env())
    assert proc.returncode == 2 and "exceptions file not found" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_notebooks_pass_nbval(estate, kernel_env):
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "nbval", "--nbval-lax", "-p", "no:cacheprovider", "-q", "-n", "0",
                           str(ROOT / "notebooks")], env=kernel_env.env(), capture_output=True, text=True,
                          timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert re.search(r"\d+ passed", proc.stdout)


def test_notebooks_are_committed_clean_and_hold_no_logic():
    import ast

    for path in (ROOT / "notebooks").glob("*.ipynb"):
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            assert not cell.get("outputs") and not cell.get("execution_count"), f"{path.name} has outputs"
            src = "".join(cell["source"])
            if "parameters" not in cell["metadata"].get("tags", []):  # declarations only, one per option
                assert len(src.splitlines()) <= 12, f"{path.name}: cells stay short"
            for node in ast.walk(ast.parse(src)):
                assert not isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.For, ast.While, ast.Lambda,
                                             ast.ListComp, ast.DictComp, ast.GeneratorExp)), src
            assert "boto3" not in src


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_report_renders_offline_in_a_real_browser(estate, tmp_path):
    """As an auditor opens the file: offline (every network request refused), at 1280 px."""
    sync_api = pytest.importorskip("playwright.sync_api")
    rep = run_report(output=tmp_path / "r.html", organization=True, exceptions_file=example_exceptions())
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors, requests = [], []
        # plotly.js says a colour it cannot read as a trace-level warning ("Invalid color specifier: Array(4)")
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" or "Invalid color" in m.text
                else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:", "blob:"))
                   else (requests.append(route.request.url), route.abort()))
        page.goto(rep.html_path.as_uri())
        page.wait_for_function("document.querySelectorAll('.main-svg').length >= 5 && "
                               "document.querySelectorAll('div.dt-container').length >= 4", timeout=60_000)
        # a test writes only in its temporary folder (NEPTUNE_AUDIT_SHOTS=DIR keeps the screenshot elsewhere)
        shot = Path(os.environ.get("NEPTUNE_AUDIT_SHOTS") or tmp_path) / "browser-screenshot.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        for title in CHART_TITLES:
            assert page.get_by_text(title).count() >= 1
        servers = page.evaluate("Array.from(document.querySelectorAll('.js-plotly-plot'), g => g._context.plotlyServerURL)")
        assert servers and set(servers) == {""}, "no chart knows plotly's cloud address"
        tables = page.locator("div.dt-container")
        assert all(tables.nth(i).locator("input[type=search]").count() == 1 for i in range(tables.count())), \
            "every table has a search box, however few its rows"
        cells = [t.strip() for t in page.locator("table.dataTable td").all_inner_texts()]
        assert cells and not [t for t in cells if t in ("NaN", "None", "nan", "NaT", "<NA>")]
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280, "nothing wider than the window"
        browser.close()
    assert not errors, errors
    assert not requests, f"the report asked the network for {requests}"


def test_a_default_papermill_run_keeps_every_section_as_a_static_output(estate, kernel_env, tmp_path):
    # What the README's PapermillOperator advice produces: interactive stays at its default (True).
    import nbformat
    import papermill

    out = tmp_path / "run.ipynb"
    papermill.execute_notebook(str(ROOT / "notebooks" / "audit.ipynb"), str(out), progress_bar=False,
                               parameters={"organization": True, "exceptions_file": example_exceptions()})
    nb = nbformat.read(out, as_version=4)
    outputs = [(i, o) for i, c in enumerate(nb.cells) if c.cell_type == "code" for o in c.get("outputs", [])]
    charts = [o for _, o in outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(charts) >= 4, "the charts are in the file, in plotly's own MIME type"
    assert all("text/html" in o["data"] for o in charts), "with HTML beside it, for nbconvert"
    widget_cells = {nb.cells[i].source.splitlines()[0] for i, o in outputs
                    if "application/vnd.jupyter.widget-view+json" in o.get("data", {})}
    assert all("filter_bar()" in nb.cells[i].source for i, o in outputs
               if "application/vnd.jupyter.widget-view+json" in o.get("data", {})), widget_cells
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    bar_ids = [o["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] for _, o in outputs
               if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert bar_ids and all(m in state for m in bar_ids), "every widget left in the file has its state saved"
    html = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "html", "--stdout", str(out)],
                          capture_output=True, text=True, timeout=300).stdout
    assert "Findings" in html and html.count("plotly-graph-div") >= 4, "nbconvert shows every chart"


def test_a_notebook_handed_over_re_renders_from_its_own_evidence(estate, kernel_env, tmp_path, monkeypatch):
    # `report --notebook`: Run All on the auditor's side needs no AWS: results_files points at the file itself
    import nbformat
    import papermill

    from neptune_audit.contract import evidence

    nb_path = tmp_path / "audit-run.ipynb"
    run_report(organization=True, exceptions_file=example_exceptions(), output=tmp_path / "r.html",
               keep_notebook=nb_path)
    nb = nbformat.read(nb_path, as_version=4)
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert "results_files = ['embedded']" in injected.source and "interactive = True" in injected.source
    before = evidence.verify(nb_path).document
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # no AWS at all on the auditor's machine
    monkeypatch.setenv("JPY_SESSION_NAME", str(nb_path))         # what JupyterLab's server tells the kernel
    rerun = tmp_path / "rerun.ipynb"
    papermill.execute_notebook(str(nb_path), str(rerun), progress_bar=False)  # its own parameters, as Run All
    again = nbformat.read(rerun, as_version=4)
    charts = [o for c in again.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(charts) >= 4
    key = lambda doc: sorted((f["account_id"], f["instance_id"], f["result"]) for f in doc["findings"])  # noqa: E731
    assert key(evidence.verify(rerun).document) == key(before), "the same findings, from the file itself"


def test_papermill_shows_every_parameter_with_its_type():
    """`papermill --help-notebook` names a type for every parameter (it said "Unknown type" for all of them)."""
    import papermill

    for name in ("audit.ipynb", "remediate.ipynb"):
        params = papermill.inspect_notebook(str(ROOT / "notebooks" / name))
        untyped = [p for p, d in params.items() if d["inferred_type_name"] in ("None", "", None)]
        assert params and not untyped, (name, untyped)


def test_a_scheduled_papermill_run_fails_on_findings_when_asked(estate, kernel_env, tmp_path):
    """fail_on_findings: the papermill process exits non-zero on the demo's FAILs, as the CLI's exit code would, so
    a PapermillOperator task goes red; without it the run succeeds and the report is written."""
    out = tmp_path / "run.ipynb"
    base = [sys.executable, "-m", "papermill", str(ROOT / "notebooks" / "audit.ipynb"), str(out), "-p",
            "organization", "True", "-p", "record_history", "False", "--no-progress-bar"]
    failed = subprocess.run([*base, "-p", "fail_on_findings", "True"], capture_output=True, text=True, timeout=600)
    assert failed.returncode != 0 and "FindingsFailed" in failed.stderr and "exit code 1" in failed.stderr
    passed = subprocess.run(base, capture_output=True, text=True, timeout=600)
    assert passed.returncode == 0, passed.stderr[-2000:]


@pytest.mark.slow
def test_deliverables_made_with_relative_arguments_hold_no_absolute_path(tmp_path):
    """A report and notebook made in a scratch folder with relative arguments (--iac, --exceptions, --from) are
    sent to an auditor: neither names the folder they were made in, the maker's home folder or the kit's checkout."""
    work = tmp_path / "maker-work-folder"
    home = tmp_path / "home-of-the-maker"
    for d in (work, home):
        d.mkdir()
    shutil.copytree(ROOT / "examples" / "iac", work / "iac")
    shutil.copy(ROOT / "examples" / "exceptions.yml", work / "exceptions.yml")
    env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home / ".local" / "share")}
    proc = run_cli(["report", "--demo", "--organization", "--iac", "iac", "--exceptions", "exceptions.yml", "-o",
                    "r.html", "--notebook", "r.ipynb"], env, cwd=work)
    assert proc.returncode == 1, proc.stderr
    # paths are drawn with <wbr/> break hints; the text a reader copies has none
    html = (work / "r.html").read_text().replace("<wbr/>", "")
    notebook = (work / "r.ipynb").read_text().replace("<wbr/>", "")
    assert "defined in iac/cloudformation/graph-stack.yaml:22" in html, "the code is named, relative"
    for text, name in ((html, "report"), (notebook, "notebook")):
        for private in (str(work), str(home), str(ROOT), str(tmp_path)):
            assert private not in text, f"the {name} names {private}"
    params = json.loads(notebook)["cells"][2]["source"]
    assert 'exceptions_file = "exceptions.yml"' in "".join(params) and 'iac_paths = ["iac"]' in "".join(params)


@pytest.mark.slow
def test_report_on_a_terminal_says_what_it_is_doing_and_how_far_along(tmp_path):
    """On a terminal (a pseudo-terminal of 100 columns here) `report` is never silent: it says each stage, and the
    notebook's cells run under a progress bar.  Piped (a scheduler's log), it prints its one summary line only."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "neptune_audit", "report", "--demo", "-o", "r.html"], cwd=tmp_path,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed: the report is done
            break
        if not chunk:
            break
        seen += chunk
    proc.wait(timeout=300)
    os.close(leader)
    text = seen.decode("utf-8", "replace")
    assert proc.returncode == 1, text
    assert "neptune-audit: starting the notebook's kernel" in text and "neptune-audit: rendering r.html" in text
    assert re.search(r"Executing: +\d+%", text) and "cell" in text, text[-2000:]
    piped = run_cli(["report", "--demo", "-o", "q.html"], {**os.environ}, cwd=tmp_path)
    assert piped.stderr == "" and piped.stdout.startswith("q.html"), piped.stderr
