"""Chart functions: each figure's data must say what the findings say."""
from __future__ import annotations

import re

import pandas as pd
import pytest

import neptune_audit
from neptune_audit.present import charts
from neptune_audit.simulate import estate as sim_estate


@pytest.fixture(scope="module")
def result():
    from moto import mock_aws

    with mock_aws():
        sim_estate.seed()
        yield neptune_audit.scan(neptune_audit.ScanOptions(organization=True, regions="us-east-1,eu-west-1,ap-southeast-2",
                                                           exceptions_file=simulate_exceptions()))


def simulate_exceptions():
    from neptune_audit.simulate.estate import example_exceptions

    return example_exceptions()


def _bars(fig) -> dict:
    return {t.name: dict(zip(t.x, t.y)) for t in fig.data}


def test_compliance_by_region_counts_every_result(result):
    bars = _bars(charts.compliance_by_region(result.findings))
    for (region, res), n in result.findings.groupby(["region", "result"]).size().items():
        assert bars[res][region] == n
    assert sum(sum(v.values()) for v in bars.values()) == len(result.findings)
    assert set(bars) == {"PASS", "FAIL", "EXCEPTED"}


def test_failing_heatmap_matches_fail_counts(result):
    fig = charts.failing_by_account_region(result.findings, result.scope)
    hm = fig.data[0]
    grid = {(a, r): z for a, row in zip(hm.y, hm.z) for r, z in zip(hm.x, row)}
    fails = result.findings[result.findings["result"] == "FAIL"].groupby(["account_id", "region"]).size()
    assert all(grid[k] == n for k, n in fails.items())
    assert sum(v for v in grid.values() if v) == (result.findings["result"] == "FAIL").sum()


def test_heatmap_marks_unscanned_cells():
    findings = pd.DataFrame(columns=["account_id", "region", "result"])
    scope = pd.DataFrame([{"account_id": "1", "region": "us-east-1", "state": "denied"},
                          {"account_id": "1", "region": "eu-west-1", "state": "scanned"}])
    hm = charts.failing_by_account_region(findings, scope).data[0]
    cells = dict(zip(hm.x, zip(hm.z[0], hm.text[0])))
    assert cells == {"us-east-1": (None, "denied")}, "empty healthy regions add no column; problems always do"


def test_cluster_rollup_shows_writer_and_readers(result):
    fig = charts.cluster_rollup(result.findings, result.clusters)
    series = {t.name: list(t.x) for t in fig.data}
    assert len(fig.data[0].y) == len(result.clusters)
    total = sum(sum(v) for v in series.values())
    assert total == len(result.findings)
    f = result.findings
    # a writer with the setting off; a cluster before 1.3.0.0 gets no minor upgrades with its writer on, too
    assert sum(series["writer off"]) == int((f["is_writer"].astype(bool) & ~f["auto_minor_version_upgrade"]).sum())
    assert sum(series["writer off"]) < int((~result.clusters["gets_minor_upgrades"]).sum())
    assert sum(series["readers off"]) == int(((~f["is_writer"].astype(bool)) & ~f["auto_minor_version_upgrade"]).sum())


def test_engine_versions_counts(result):
    bars = _bars(charts.engine_versions(result.findings))
    for version, n in result.findings.groupby("engine_version").size().items():
        assert sum(b.get(version, 0) for b in bars.values()) == n


def test_trend_plots_each_run():
    hist = pd.DataFrame({"generated_at": pd.to_datetime(["2026-11-01", "2026-11-02"]), "instances": [3, 3],
                         "pass": [1, 2], "fail": [2, 1], "excepted": [0, 0]})
    fig = charts.trend(hist)
    assert {t.name: list(t.y) for t in fig.data} == {"FAIL": [2, 1], "EXCEPTED": [0, 0], "PASS": [1, 2]}


def test_cluster_rollup_is_capped_failing_first(result):
    fig = charts.cluster_rollup(result.findings, result.clusters, limit=3)
    assert len(fig.data[0].y) == 3 and f"3 of {len(result.clusters)} clusters" in fig.layout.title.text
    failing = {f"{c.cluster_id} ({c.account_id}, {c.region})" for c in result.clusters.itertuples()
               if c.result == "FAIL"}
    assert set(fig.data[0].y) <= failing
    named = charts.cluster_rollup(result.findings, result.clusters, names={a: "prod" for a in result.clusters["account_id"]})
    assert all(label.split("(", 1)[1].startswith("prod ") for label in named.data[0].y), \
        "accounts named as the tables name them, the whole id beside"


def test_heatmap_scale_starts_at_zero_and_one_failure_is_clearly_red(result):
    hm = charts.failing_by_account_region(result.findings, result.scope).data[0]
    assert hm.zmin == 0 and hm.zmax >= 1
    scale = [(pos, color) for pos, color in hm.colorscale]

    def color_at(value):
        pos = value / hm.zmax
        return [c for p, c in scale if p <= pos][-1]

    assert color_at(0) != color_at(1), "zero and one failure never look alike"
    assert color_at(1) != "#eef1f1" and color_at(0) == "#eef1f1"


@pytest.mark.parametrize("name", ["compliance_by_region", "failing_by_account_region", "cluster_rollup",
                                  "engine_versions", "upgrade_exposure"])
def test_every_chart_has_axis_titles_and_hovers_naming_what_it_counts(result, name):
    fig = {"compliance_by_region": lambda: charts.compliance_by_region(result.findings),
           "failing_by_account_region": lambda: charts.failing_by_account_region(result.findings, result.scope),
           "cluster_rollup": lambda: charts.cluster_rollup(result.findings, result.clusters),
           "engine_versions": lambda: charts.engine_versions(result.findings),
           "upgrade_exposure": lambda: charts.upgrade_exposure(result.clusters)}[name]()
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
    for trace in fig.data:
        template = trace.hovertemplate
        assert "account" in template and "region" in template
        # the cluster names are in the hover's data (customdata) or template
        assert "cluster" in template or any("cluster" in str(row) for row in trace.customdata)
    names = {c for c in result.clusters["cluster_id"]}
    hover_data = " ".join(str(t.customdata) for t in fig.data)
    assert any(n in hover_data for n in names), "the hover names real clusters"
    for trace in fig.data:  # plotly.js cannot overlay a hatch on a per-bar colour list (the bar turns black)
        pattern = getattr(getattr(trace, "marker", None), "pattern", None)
        if pattern is not None and pattern.shape:
            assert not isinstance(trace.marker.color, (list, tuple)), f"{name}: a hatch over a colour list"
        if getattr(trace, "text", None) is not None and trace.type == "bar":
            assert trace.textposition == "outside", "a number on a bar is drawn beside it, on the page's colour"


def test_every_chart_says_in_words_what_it_shows(result):
    """The text alternative beside each chart names what each bar, cell or line counts, from the figure itself."""
    from neptune_audit.vocabulary import FAIL

    f = result.findings
    words = charts.describe(charts.compliance_by_region(f))
    assert words.startswith("Compliance per region.")
    for region, group in f.groupby("region"):
        failing = int((group["result"] == FAIL).sum())
        assert f"{region}: {failing} FAIL" in words or failing == 0
    heat = charts.describe(charts.failing_by_account_region(f, result.scope))
    for (acct, region), group in f[f["result"] == FAIL].groupby(["account_id", "region"]):
        assert f"{region} {len(group)} failing" in heat.split(f"account {acct}: ")[1].split(";")[0]
    scope = pd.DataFrame([{"account_id": "1", "region": "us-east-1", "state": "denied"}])
    assert "us-east-1 not scanned (denied)" in charts.describe(
        charts.failing_by_account_region(pd.DataFrame(columns=["account_id", "region", "result"]), scope))
    hist = pd.DataFrame({"generated_at": pd.to_datetime(["2026-11-01", "2026-11-02"]), "instances": [3, 3],
                         "pass": [1, 2], "fail": [2, 1], "excepted": [0, 0]})
    assert "FAIL: 1 in the latest of 2 runs" in charts.describe(charts.trend(hist))


def test_failing_and_excepted_are_not_told_apart_by_colour_alone(result):
    fig = charts.compliance_by_region(result.findings)
    shapes = {t.name: t.marker.pattern.shape for t in fig.data}
    assert shapes["FAIL"] and shapes["EXCEPTED"] and shapes["FAIL"] != shapes["EXCEPTED"] and not shapes["PASS"]
    rollup = charts.cluster_rollup(result.findings, result.clusters)
    assert all(bool(t.marker.pattern.shape) == t.name.endswith("off") for t in rollup.data)


def test_a_cluster_that_passes_by_exception_says_so_beside_its_result(result, monkeypatch):
    """A cluster's result is PASS or FAIL (the contract); where an exception is why it passes, the Clusters table
    says how many of its instances are excepted, so "PASS" never stands unexplained beside "minor upgrades: no"."""
    from neptune_audit.present import display, sections

    shown = []
    monkeypatch.setattr(display, "show_html", shown.append)
    sections.clusters_table(result)
    f = result.findings
    excepted = f[f["result"] == "EXCEPTED"].groupby(["account_id", "region", "cluster_id"]).size()
    assert len(excepted), "the example exceptions cover some instances"
    # the table as a reader without scripts sees it (its rows as the DataTable draws them)
    static = shown[0].split('class="na-static"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", static, re.S)
    for (_, _, cluster), n in excepted.items():
        row = [r for r in rows if f">{cluster}<" in r]
        assert len(row) == 1 and f'<small class="na-sub">{n} excepted</small>' in row[0], (cluster, row)


def test_the_report_header_says_parameters_in_the_command_lines_words():
    """Never Python's: `demo=True`, `iac_paths=['examples/iac']` read as code, not as what was asked."""
    from neptune_audit.present.sections import _parameter

    assert _parameter("demo", True) == "demo"
    assert _parameter("iac_paths", ("examples/iac", "infra")) == "iac_paths=examples/iac, infra"
    assert _parameter("regions", "all") == "regions=all"
    assert _parameter("max_workers", 8) == "max_workers=8"
