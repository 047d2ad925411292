"""Every sentence true: the simulated Organization shows each case AWS's pages decide, and the shipped examples do
not mislead whoever copies them.

AWS (read 2026-12-07): ModifyDBCluster to another major version needs AllowMajorVersionUpgrade; the 1.4.x release
notes allow 1.2.0.0 and later straight to 1.4; end-of-life dates are per release (engine-releases.html, as of
2026-07-28, with 1.4.8.0): 1.0.2.0 ended 2020-05-19, 1.0.2.1-1.0.2.2 2022-07-29, 1.0.3.0-1.0.5.1 2023-01-30,
1.1.0.0 2025-03-15, 1.1.1.0 and 1.2.x 2026-11-30; 1.3.x and 1.4.0.0-1.4.6.1 end 2027-03-06, 1.4.6.2-1.4.7.x
2027-06-03 and 1.4.8.0 2027-10-27;
PendingMaintenanceAction.ForcedApplyDate is applied on that date, regardless of the maintenance window.
"""
from __future__ import annotations

import shlex
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

import neptune_audit
from neptune_audit.rule import model, outlook
from neptune_audit.simulate import estate as sim_estate

from .conftest import ROOT


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from .conftest import moto_once

    with moto_once(tmp_path_factory):
        sim_estate.seed()
        result = neptune_audit.scan(neptune_audit.ScanOptions(organization=True, regions="us-east-1,eu-west-1,ap-southeast-2",
                                                              exceptions_file=sim_estate.example_exceptions()))
        yield result, {c["cluster_id"]: c for c in result.to_dict()["clusters"]}


def test_a_1_2_cluster_is_told_a_command_aws_accepts(demo):
    result, clusters = demo
    f = result.findings.set_index("instance_id").loc["kg-legacy-writer"]
    target = clusters["kg-legacy"]["manual_upgrade_target"]
    assert target and outlook.version_key(target)[:2] > (1, 2), "a release the setting acts on (1.3.0.0 or later)"
    cmd = model.fix({**f.to_dict(), "instance_id": "kg-legacy-writer"})
    upgrade = cmd.split("; then ")[-1].split(": ", 1)[1]
    argv = shlex.split(upgrade)
    assert argv[:3] == ["aws", "neptune", "modify-db-cluster"]
    assert argv[argv.index("--engine-version") + 1] == target
    assert "--allow-major-version-upgrade" in argv, "AWS refuses a major upgrade without it"
    assert "one major version at a time" not in cmd


def test_a_1_4_cluster_near_end_of_life_is_told_which_minor_extends_it(demo):
    _, clusters = demo
    x = clusters["supply-chain"]  # 1.4.5.0: ends 2027-03-06; 1.4.6.2-1.4.7.x end 2027-06-03, 1.4.8.0 2027-10-27
    cal = outlook.shipped_calendar()
    assert x["end_of_life_date"] == "2027-03-06"
    if x["end_of_life"] == "within-180-days":  # the demo's date decides; the sentence must be there when it is
        # the region's targets decide: the simulated one offers up to 1.4.7.1 (ends 2027-06-03)
        assert "A minor upgrade within 1.4 to 1.4.6.2 or later (end of life 2027-06-03) extends its support." \
               in x["outlook"]
    ext = outlook.support_extension("1.4.5.0", None, cal, date(2026, 12, 7))  # targets unknown: the calendar alone
    assert ext == {"version": "1.4.8.0", "end_of_life": "2027-10-27", "major": False}
    assert not any("plan a major version upgrade" in c["outlook"] for c in clusters.values())


def test_a_forced_only_pending_action_is_worded_on_its_date(demo):
    _, clusters = demo
    x = clusters["kg-legacy"]
    when = (date.today() + timedelta(days=21)).isoformat()
    assert f"AWS applies it on {when}, regardless of the maintenance window" in x["outlook"]
    assert f"after {when}" not in x["outlook"]


def test_a_1_1_cluster_is_past_end_of_life(demo):
    result, clusters = demo
    x = clusters["graph-2019"]
    assert (x["end_of_life"], x["end_of_life_date"], x["exposure"]) == ("past", "2026-11-30", "not-covered")
    assert x["outlook"].startswith("1.1.1.0 reached end of life on 2026-11-30. Every 1.1 release has ended")
    # the region offers 1.1.1.0 only 1.2.x (the 1.3/1.4 notes allow upgrades from 1.2.0.0 on): the first step
    assert x["manual_upgrade_target"].startswith("1.2.")
    # and the fix says that step has itself ended, and what custom parameter groups need (a new family)
    from neptune_audit.rule.model import fix

    finding = result.findings[result.findings["cluster_id"] == "graph-2019"].iloc[0].to_dict()
    text = fix(finding)
    assert f"{x['manual_upgrade_target']} itself reached end of life on 2026-11-30, so it is only a step" in text
    assert "--db-cluster-parameter-group-name and --db-instance-parameter-group-name naming groups of family " \
           "neptune1.2" in text
    assert shlex.split(text.split(": ", 1)[1])[:3] == ["aws", "neptune", "modify-db-cluster"], "still a command"


def test_the_calendar_knows_every_release_line_aws_dates():
    cal = outlook.shipped_calendar()
    for version, eol in [("1.0.2.0", "2020-05-19"), ("1.0.2.2", "2022-07-29"), ("1.0.5.1", "2023-01-30"),
                         ("1.1.0.0", "2025-03-15"), ("1.1.1.0", "2026-11-30"), ("1.2.1.0", "2026-11-30"),
                         ("1.3.4.0", "2027-03-06"), ("1.4.6.1", "2027-03-06"), ("1.4.6.2", "2027-06-03"),
                         ("1.4.7.1", "2027-06-03"), ("1.4.8.0", "2027-10-27")]:
        assert outlook.end_of_life(cal, version, date(2026, 12, 7))[0] == eol, version


def _dates(node, key=""):
    """Expiry dates (a key that says expires) anywhere in a YAML document."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _dates(v, str(k))
    elif isinstance(node, list):
        for v in node:
            yield from _dates(v, key)
    elif "expire" in key.lower():
        yield node if isinstance(node, date) else date.fromisoformat(str(node))


@pytest.mark.parametrize("path", sorted(str(p.relative_to(ROOT)) for p in (ROOT / "examples").rglob("*.y*ml")))
def test_example_dates_are_far_ahead(path):
    """Whoever copies an example gets an exception that is in force for months, not one already expired."""
    class Loader(yaml.SafeLoader):  # a template's !Ref and !If are read as plain values
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    found = list(_dates(yaml.load(Path(ROOT, path).read_text(), Loader=Loader)))  # noqa: S506 - a SafeLoader
    soon = [d for d in found if d - date.today() < timedelta(days=180)]
    assert not soon, f"{path}: dates within 180 days of today: {soon}"
