"""Where the setting takes each cluster, and when AWS upgrades it anyway: recorded-shape answers, fixed dates.

Answers are written from the API reference (DescribeDBEngineVersions' DBEngineVersion with Status and
ValidUpgradeTarget[AutoUpgrade, IsMajorVersionUpgrade, SupportsGlobalDatabases]; DescribePendingMaintenanceActions'
PendingMaintenanceAction) and handed over through botocore's before-call hook, as botocore's parser would.  Real
AWS: AutoMinorVersionUpgrade moves a cluster only to the target marked AutoUpgrade; a newer patch is installed
whatever the setting says; end of life is in the release table, not the API.
"""
from __future__ import annotations

from neptune_audit.present.terminal import to_table

import json
from datetime import date, datetime, timezone

import pytest

import neptune_audit
from neptune_audit import vocabulary
from neptune_audit.rule import outlook
from neptune_audit.act import remediate
from neptune_audit.aws.connection import Connection

from .conftest import seed
from .faults import answer as _answer

ACCOUNT_ID = "123456789012"

TODAY = date(2026, 12, 1)
WINDOW = "sat:09:57-sat:10:27"
IN_WINDOW = datetime(2026, 12, 5, 10, 0, tzinfo=timezone.utc)     # a Saturday, 10:00 UTC
OUT_OF_WINDOW = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)


def _t(version, auto=False, major=False, global_ok=True):
    return {"Engine": "neptune", "EngineVersion": version, "Description": f"Neptune {version}", "AutoUpgrade": auto,
            "IsMajorVersionUpgrade": major, "SupportsGlobalDatabases": global_ok}


def _v(version, targets=None, status="available"):
    v = {"Engine": "neptune", "EngineVersion": version, "Status": status, "DBParameterGroupFamily": "neptune1.x"}
    if targets is not None:  # ValidUpgradeTarget is optional: None leaves it out of the answer
        v["ValidUpgradeTarget"] = targets
    return v


CATALOGUE = {"DBEngineVersions": [
    _v("1.3.0.0", [_t("1.3.1.0"), _t("1.3.2.0"), _t("1.3.2.1", auto=True), _t("1.3.3.0"), _t("1.3.4.0"),
                   _t("1.4.7.1", major=True)]),
    _v("1.3.1.0", [_t("1.3.2.1", auto=True), _t("1.3.4.0")]),
    _v("1.3.2.1"), _v("1.3.3.0"), _v("1.3.4.0", [_t("1.4.7.1", major=True)]),
    _v("1.4.2.0", status="deprecated"),                       # deprecated, and no ValidUpgradeTarget at all
    _v("1.4.5.0", [_t("1.4.5.1", auto=True), _t("1.4.6.0")]),  # the automatic target is a patch only
    _v("1.4.5.1", [_t("1.4.6.0", auto=True)]),
    _v("1.4.6.0", [_t("1.4.6.1", auto=True)]),
    _v("1.4.6.1", [_t("1.4.7.0", auto=True, global_ok=False)]), _v("1.4.6.3", [_t("1.4.7.1", auto=True)]),
    _v("1.4.7.0", [_t("1.4.7.1", auto=True)]),
    _v("1.4.7.1", []),
    _v("1.4.4.0", [_t("1.4.5.0", auto=True), _t("1.4.6.1"), _t("1.4.6.2"), _t("1.4.7.1")]),
    # before 1.3.0.0 every target the setting could act on is a major upgrade (1.4.x notes: from 1.2.0.0 on)
    _v("1.2.1.0", [_t("1.2.1.2"), _t("1.3.0.0", major=True), _t("1.4.6.1", major=True), _t("1.4.7.1", major=True)]),
    _v("1.1.1.0", [_t("1.2.1.0", major=True), _t("1.3.2.1", major=True)], status="deprecated"),
]}


def _pending(*resources, auto="2026-12-20T00:00:00Z"):
    """PendingMaintenanceAction as the API reference shapes it; ``auto=None`` leaves AutoAppliedAfterDate out (a
    forced-only action: AWS applies it on ForcedApplyDate, regardless of the maintenance window)."""
    return {"PendingMaintenanceActions": [
        {"ResourceIdentifier": arn, "PendingMaintenanceActionDetails": [{
            "Action": action, "Description": f"{action} pending", **({"AutoAppliedAfterDate": auto} if auto else {}),
            "ForcedApplyDate": "2027-01-10T00:00:00Z", "OptInStatus": "next-maintenance"}]}
        for arn, action in resources]}


def _arn(kind, name):
    return f"arn:aws:rds:us-east-1:{ACCOUNT_ID}:{kind}:{name}"


CLUSTERS = {  # cluster: (engine version, writer on?)
    "auto-not-newest": ("1.3.0.0", True), "no-auto": ("1.4.6.0", True), "patch-only": ("1.4.5.0", True),
    "deprecated": ("1.4.2.0", True), "os-only": ("1.4.7.1", True), "instance-pending": ("1.4.7.1", True),
    "global-floor": ("1.4.6.3", True), "global-flag": ("1.4.6.1", True), "eol-later": ("1.4.7.1", True),
    "writer-off": ("1.3.1.0", False), "fictional": ("1.4.99.0", True), "extends": ("1.4.4.0", True),
    "old-1-2": ("1.2.1.0", False), "old-1-1": ("1.1.1.0", True), "forced-only": ("1.4.7.1", True),
}


GLOBAL = {"global-floor": "g-floor", "global-flag": "g-flag"}


@pytest.fixture(scope="module")
def estate(aws_module):
    seed([(c, [(f"{c}-1", on, {}), (f"{c}-2", True, {})]) for c, (_, on) in CLUSTERS.items()],
         engine_versions={c: v for c, (v, _) in CLUSTERS.items()}, windows={c: WINDOW for c in CLUSTERS})


def _in_global_databases(parsed, **_):
    """DBCluster.GlobalClusterIdentifier as AWS answers it for a member of a global database (set on the parsed
    answer: moto's support for global clusters varies across the versions the kit supports)."""
    for c in parsed.get("DBClusters", []):
        if c["DBClusterIdentifier"] in GLOBAL:
            c["GlobalClusterIdentifier"] = GLOBAL[c["DBClusterIdentifier"]]


def _scan(calendar=None, pending=None, catalogue=CATALOGUE):
    hooks = [_answer("DescribeDBEngineVersions", catalogue), ("after-call.rds.DescribeDBClusters", _in_global_databases),
             _answer("DescribePendingMaintenanceActions", pending or _pending(
                 (_arn("cluster", "os-only"), "system-update"), (_arn("db", "instance-pending-2"), "db-upgrade")))]
    return neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1", engine_calendar=calendar), today=TODAY,
                              connection=Connection(hooks=hooks))


@pytest.fixture(scope="module")
def scanned(estate):
    r = _scan()
    doc = r.to_dict()
    vocabulary.validate(doc)
    return r, {c["cluster_id"]: c for c in doc["clusters"]}, doc


def _warning(result, cluster, now):
    rows = result.findings[result.findings["cluster_id"] == cluster].to_dict("records")
    return [remediate.upgrade_starts_warning({**f, "auto_minor_version_upgrade": False}, now) for f in rows]


def test_the_autoupgrade_target_is_where_the_setting_goes_not_the_newest_minor(scanned):
    r, c, _ = scanned
    x = c["auto-not-newest"]
    assert x["auto_upgrade_target"] == "1.3.2.1" and x["latest_minor_version"] == "1.3.4.0"
    assert x["exposure"] == "behind" and x["minor_versions_behind"] == 4
    assert x["outlook"].startswith(f"Upgraded automatically to 1.3.2.1 in the window {WINDOW}.")
    assert all(f["auto_upgrade_target"] == "1.3.2.1" for f in r.to_dict()["findings"]
               if f["cluster_id"] == "auto-not-newest")
    warned = _warning(r, "auto-not-newest", IN_WINDOW)
    assert all(w and "1.3.2.1 is its automatic upgrade target" in w and "to 1.3.2.1" in w for w in warned)
    assert _warning(r, "auto-not-newest", OUT_OF_WINDOW) == [None, None]


def test_no_autoupgrade_target_moves_nothing_and_never_warns(scanned):
    r, c, _ = scanned
    x = c["no-auto"]  # 1.4.6.0: its only automatic target is the patch 1.4.6.1; 1.4.7.x are newer minors
    assert x["auto_upgrade_target"] is None and x["exposure"] == "behind"
    assert x["outlook"].startswith("No automatic target exists for 1.4.6.0: upgrade manually")
    assert "Patch 1.4.6.1 is installed" in x["outlook"]
    assert _warning(r, "no-auto", IN_WINDOW) == [None, None]


def test_a_newer_patch_alone_is_not_behind_and_never_warns(estate):
    only_patch = {"DBEngineVersions": [_v("1.4.5.0", [_t("1.4.5.1", auto=True)]), _v("1.4.5.1", [])]}
    r = _scan(catalogue=only_patch)
    x = r.clusters.set_index("cluster_id").loc["patch-only"]
    assert x["exposure"] == "current" and x["minor_versions_behind"] == 0 and x["auto_upgrade_target"] is None
    assert "Patch 1.4.5.1 is installed in a maintenance window whatever the setting says" in x["outlook"]
    assert _warning(r, "patch-only", IN_WINDOW) == [None, None]


def test_deprecated_without_targets_is_never_current(scanned):
    _, c, _ = scanned
    x = c["deprecated"]
    assert x["exposure"] == "behind", "a deprecated version is never an all-clear"
    assert x["latest_minor_version"] == "1.4.7.1", "newer minors come from the region's catalogue too"
    assert x["outlook"].startswith("1.4.2.0 is deprecated and has no automatic target: upgrade manually.")


def test_an_os_update_is_its_own_column_not_exposure(scanned):
    r, c, _ = scanned
    x = c["os-only"]
    assert x["os_update_pending"] is True and x["exposure"] == "current" and x["forced_upgrade_date"] is None
    assert "An OS update is pending" in x["outlook"]
    f = r.findings.set_index("instance_id")
    assert f.loc["os-only-1", "exposure"] == "current" and f.loc["os-only-1", "os_update_pending"] is True


def test_an_engine_upgrade_pending_on_one_instance_makes_the_whole_cluster_behind(scanned):
    r, c, _ = scanned
    x = c["instance-pending"]
    assert x["exposure"] == "behind" and x["forced_upgrade_date"] == "2026-12-20T00:00:00Z"
    assert x["outlook"].startswith(f"An engine upgrade is pending: AWS applies it in the maintenance window {WINDOW} "
                                   "after 2026-12-20, and on 2027-01-10 at the latest, regardless of the window")
    f = r.findings.set_index("instance_id")
    assert f.loc["instance-pending-1", "exposure"] == f.loc["instance-pending-2", "exposure"] == "behind", \
        "instance rows and their cluster never disagree"


def test_global_clusters_cannot_reach_every_automatic_target(scanned):
    r, c, _ = scanned
    floor = c["global-floor"]  # 1.4.6.3 -> 1.4.7.1: the release notes allow global minor upgrades only from 1.4.7.0
    assert floor["global_cluster_id"] == "g-floor" and floor["auto_upgrade_target"] is None
    assert "Not upgraded automatically to 1.4.7.1" in floor["outlook"] and "1.4.7.0" in floor["outlook"]
    flag = c["global-flag"]  # SupportsGlobalDatabases false on the target
    assert flag["auto_upgrade_target"] is None and "does not support global databases" in flag["outlook"]
    assert _warning(r, "global-floor", IN_WINDOW) == [None, None]
    assert c["eol-later"]["global_cluster_id"] is None


def test_writer_off_says_so_and_where_the_setting_would_take_it(scanned):
    _, c, _ = scanned
    x = c["writer-off"]
    assert x["outlook"].startswith("Not upgraded automatically: the writer writer-off-1 has the setting off.")
    assert "would move the cluster to 1.3.2.1" in x["outlook"]


@pytest.mark.parametrize("today, expected", [(date(2026, 12, 1), "within-180-days"), (date(2027, 3, 7), "past"),
                                             (date(2026, 8, 1), "later")])
def test_end_of_life_past_near_and_later(today, expected):
    cal = outlook.shipped_calendar()
    assert outlook.end_of_life(cal, "1.3.2.1", today) == ("2027-03-06", expected)
    assert outlook.end_of_life(cal, "1.2.1.0", date(2026, 12, 1)) == ("2026-11-30", "past"), "its own row"
    assert outlook.end_of_life(cal, "1.4.99.0", today) == (None, "unknown"), "missing from the calendar: unknown"


def test_end_of_life_in_the_contract_and_the_outlook(scanned, tmp_path, estate):
    _, c, doc = scanned
    assert c["auto-not-newest"]["end_of_life"] == "within-180-days"
    assert c["auto-not-newest"]["end_of_life_date"] == "2027-03-06"
    assert "1.3.0.0 reaches end of life on 2027-03-06" in c["auto-not-newest"]["outlook"]
    assert c["eol-later"]["end_of_life"] == "later" and c["eol-later"]["end_of_life_date"] == "2027-06-03"
    assert c["fictional"]["end_of_life"] == "unknown" and c["fictional"]["exposure"] == "unknown"
    assert doc["engine_calendar"]["as_of"] == outlook.shipped_calendar().as_of.isoformat()
    assert doc["engine_calendar"]["stale"] is False
    cal = tmp_path / "cal.yaml"
    cal.write_text('as_of: "2026-11-01"\nreleases:\n  "1.3": {status: active, end_of_life: "2026-11-30"}\n'
                   '  "1.4.7.1": {status: active, end_of_life: "2027-06-03"}\n')
    x = _scan(calendar=str(cal)).clusters.set_index("cluster_id").loc["auto-not-newest"]
    # every dated 1.3 release has ended: AWS's documented process for a major version at end of life applies
    assert x["end_of_life"] == "past" and x["outlook"].startswith(
        "1.3.0.0 reached end of life on 2026-11-30. Every 1.3 release has ended: for a major version at end of life "
        "AWS documents a notice, then, after a grace period, an upgrade to the most recent major version")
    assert "A major version upgrade to 1.4.7.1 (end of life 2027-06-03) brings it back into support" in x["outlook"]
    cal.write_text('as_of: "2026-11-01"\nreleases:\n  "1.3.0.0": {status: active, end_of_life: "2026-11-30"}\n'
                   '  "1.3.4.0": {status: active, end_of_life: "2027-06-03"}\n')
    x = _scan(calendar=str(cal)).clusters.set_index("cluster_id").loc["auto-not-newest"]
    assert "AWS's pages do not say what happens to a release past its end of life while its major" in x["outlook"]
    assert "A minor upgrade within 1.3 to 1.3.4.0 or later (end of life 2027-06-03)" in x["outlook"]


def test_end_of_life_advice_names_the_release_that_extends_support(scanned):
    """Dates are per release (engine-releases.html): 1.4.0.0-1.4.6.1 end 2027-03-06, 1.4.6.2 on 2027-06-03, so a
    minor upgrade inside 1.4 extends support; a 1.3 cluster needs a major upgrade; no major release after 1.4 is
    documented, so 'plan a major version upgrade' is never said to a 1.4 cluster."""
    _, c, doc = scanned
    x = c["extends"]  # 1.4.4.0, offered 1.4.6.1, 1.4.6.2 and 1.4.7.1: the smallest step that extends is 1.4.6.2
    assert "1.4.4.0 reaches end of life on 2027-03-06. A minor upgrade within 1.4 to 1.4.6.2 or later " \
           "(end of life 2027-06-03) extends its support." in x["outlook"]
    nothing = c["patch-only"]  # 1.4.5.0, offered only 1.4.5.1 and 1.4.6.0: none lives past 2027-03-06
    assert "No upgrade target the region offers has a later end of life in the engine calendar" in nothing["outlook"]
    assert "No release dated in the engine calendar extends support beyond that yet" in outlook.extension_sentence(
        {"end_of_life": "within-180-days", "support_extension": None, "targets_known": False}, "1.4.7.1")
    three = c["auto-not-newest"]  # 1.3.0.0: only a major upgrade (1.4.7.1 offered) extends it
    assert "A major version upgrade to 1.4.7.1 (end of life 2027-06-03) extends its support; no dated 1.3 " \
           "release does." in three["outlook"]
    assert not any("plan a major version upgrade" in k["outlook"] for k in doc["clusters"])


def test_a_release_before_1_3_gets_a_command_aws_accepts(scanned):
    """ModifyDBCluster to another major version needs AllowMajorVersionUpgrade (API reference); the target comes
    from the region's ValidUpgradeTarget (IsMajorVersionUpgrade), the longest-lived release first."""
    from neptune_audit.rule import model

    r, c, _ = scanned
    assert c["old-1-2"]["manual_upgrade_target"] == "1.4.7.1", "1.4.7.1 lives to 2027-06-03, 1.4.6.1 to 2027-03-06"
    f = r.findings.set_index("instance_id").loc["old-1-2-1"]
    assert f["manual_upgrade_target"] == "1.4.7.1" and f["exposure"] == "not-covered"
    cmd = model.fix({**f.to_dict(), "instance_id": "old-1-2-1"})
    assert ("aws neptune modify-db-cluster --region us-east-1 --db-cluster-identifier old-1-2 --engine-version "
            "1.4.7.1 --allow-major-version-upgrade --no-apply-immediately") in cmd
    assert c["extends"]["manual_upgrade_target"] is None, "1.3.0.0 and later: the setting acts, no manual target"


def test_a_1_1_cluster_is_past_end_of_life(scanned):
    _, c, _ = scanned
    x = c["old-1-1"]  # AWS's table: 1.1.0.0 ended 2025-03-15, 1.1.1.0 on 2026-11-30
    assert x["end_of_life"] == "past" and x["end_of_life_date"] == "2026-11-30"
    assert x["outlook"].startswith("1.1.1.0 reached end of life on 2026-11-30. Every 1.1 release has ended")
    assert x["manual_upgrade_target"] == "1.3.2.1", "1.2.1.0 is offered too, but it is before 1.3.0.0"


def test_a_forced_only_engine_upgrade_is_applied_on_its_date(estate):
    """ForcedApplyDate alone: AWS applies the action on that date, regardless of the maintenance window (API
    reference, PendingMaintenanceAction); it is not 'after DATE in the window'."""
    r = _scan(pending=_pending((_arn("cluster", "forced-only"), "db-upgrade"), auto=None))
    x = r.clusters.set_index("cluster_id").loc["forced-only"]
    assert x["outlook"].startswith("An engine upgrade is pending: AWS applies it on 2027-01-10, regardless of the "
                                   "maintenance window, whatever the setting says.")
    assert "after" not in x["outlook"].split(".")[0]
    reason = r.findings.set_index("instance_id").loc["forced-only-1", "reason"]
    assert "applied on 2027-01-10, regardless of the maintenance window" in reason


def test_a_stale_calendar_is_said_in_every_output(estate, tmp_path):
    cal = tmp_path / "old.yaml"
    cal.write_text('as_of: "2026-01-15"\nreleases:\n  "1.4": {status: active, end_of_life: "2027-03-06"}\n')
    r = _scan(calendar=str(cal))
    doc = r.to_dict()
    assert doc["engine_calendar"]["stale"] is True and doc["engine_calendar"]["file"] == str(cal)
    assert "more than 120 days" in r.calendar_note and "neptune-audit calendar update" in r.calendar_note
    assert " ".join(r.calendar_note.split()) in " ".join(to_table(r).split()), "wrapped to the width, whole"
    assert "more than 120 days" in r._repr_html_()


@pytest.mark.parametrize("text, words", [
    ("as_of: 2026-12-01\n", "needs 'as_of'"),
    ('as_of: "yesterday"\nreleases: {}\n', "not a date"),
    ('as_of: "2026-12-01"\nreleases:\n  13: {status: active}\n', "must be text such as"),
    # issue 36: parsed as strictly as the exceptions file, every refusal one line, exit 2, before any work
    ('a: &a ["x","x"]\nb: &b [*a,*a]\nas_of: "2026-12-01"\nreleases: {}\n', "anchors and aliases"),
    ('as_of: "2026-12-01"\nas_of: "2026-11-01"\nreleases: {}\n', "duplicate key"),
    ('as_of: null\nreleases: {}\n', "as_of is required"),
    ('as_of: 2026-12-01 10:00:00\nreleases: {}\n', "not a date"),
    ('as_of: "2999-01-01"\nreleases: {}\n', "in the future"),
    ('as_of: "2026-12-01"\nreleases:\n  "1.4.\u00b2": {status: active}\n', "ASCII digits"),
    ('as_of: "2026-12-01"\nreleases:\n  "1.4.7.1": {status: active, global_minor_upgrades_from: ["1.4"]}\n',
     "is not an engine version"),
    ('as_of: "2026-12-01"\nreleases:\n  "1.4.7.1": {status: active, global_minor_upgrades_from: "1.4.\u00b2"}\n',
     "is not an engine version"),
    ('as_of: "2026-12-01"\nreleases:\n  "1.4.7.1": {status: active, released: "2027-01-01", '
     'end_of_life: "2026-01-01"}\n', "is before released"),
    ('as_of: "2026-12-01"\nreleases:\n  "1.3": {status: active}\n  "1.3": {status: deprecated}\n', "duplicate key"),
    ('as_of: "2026-12-01"\nreleases:\n  "1.3": {status: gone}\n', "status must be"),
    ('as_of: "2026-12-01"\nreleases:\n  "1.3": {status: active, end_of_life: "2027-02-30"}\n', "not a date"),
    ("as_of: [\n", "not YAML"),
])
def test_a_malformed_calendar_is_bad_input(tmp_path, capsys, text, words):
    from neptune_audit import cli

    cal = tmp_path / "bad.yaml"
    cal.write_text(text, encoding="utf-8")
    code = cli.main(["scan", "--demo", "--engine-calendar", str(cal)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and words in err, err


def test_an_unquoted_version_or_date_is_read_as_written(tmp_path):
    """No YAML coercion: 1.10 stays "1.10" (not the float 1.1) and an unquoted date is the date written."""
    cal = tmp_path / "cal.yaml"
    cal.write_text("as_of: 2026-12-01\nreleases:\n  1.10: {status: active, end_of_life: 2027-03-06}\n")
    parsed = outlook.load_calendar(cal)
    assert parsed.as_of == date(2026, 12, 1) and parsed.releases["1.10"]["end_of_life"] == date(2027, 3, 6)


def test_the_shipped_calendar_passes_the_strict_reading():
    from pathlib import Path

    text = (Path(outlook.__file__).parent / outlook.CALENDAR_FILE).read_text(encoding="utf-8")
    assert outlook.parse_calendar(text, "shipped") == outlook.shipped_calendar()


def test_the_simulated_catalogue_follows_the_release_table():
    """1.3.0.0-1.3.2.0 go to 1.3.2.1; 1.3.4.0's next step is a major (no automatic target); 1.2.x have none."""
    from neptune_audit.simulate import estate as sim_estate

    auto = {v["EngineVersion"]: [t["EngineVersion"] for t in v["ValidUpgradeTarget"] if t["AutoUpgrade"]]
            for v in sim_estate.engine_versions()}
    assert auto["1.3.0.0"] == auto["1.3.1.0"] == auto["1.3.2.0"] == ["1.3.2.1"]
    assert auto["1.3.4.0"] == [] and auto["1.2.1.0"] == [] and auto["1.4.7.1"] == []
    cal = outlook.shipped_calendar()
    assert all(cal.entry(v) for v in auto), "every simulated release has calendar dates"
    assert json.dumps(sim_estate.engine_versions("1.4.5.0"))  # the answer serialises as AWS's shapes do
