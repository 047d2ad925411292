"""Remediation: plan -> apply -> verify, the audit log, and the widget panel (plain pytest, no browser).

moto keeps every instance `available`, sets no PendingModifiedValues and never refuses a change, so
those behaviours of real AWS are injected with botocore event hooks (see tests/faults.py).
"""
from __future__ import annotations

import copy
from datetime import datetime, timezone

import pandas as pd
import pytest

import neptune_audit
from neptune_audit import UsageError
from neptune_audit.act import auditlog
from neptune_audit.act import remediate
from neptune_audit.rule import model
from neptune_audit.act.panel import ALL, RemediationPanel
from neptune_audit.aws.connection import Connection

from .conftest import moto_once, CREDS, boto, seed
from .faults import fail_call, throttle


def amvu(instance_id, region="us-east-1", endpoint_url=None):
    return boto("rds", region, endpoint_url).describe_db_instances(
        DBInstanceIdentifier=instance_id)["DBInstances"][0]["AutoMinorVersionUpgrade"]


def rescan(*hooks):
    """A fresh scan whose clients carry these hooks (clients are cached per account, hooks set at creation)."""
    return neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"), connection=Connection(hooks=list(hooks)))


def _fleet():
    seed([("c1", [("c1-w", False, {"team": "a"}), ("c1-r", False, {"team": "b"}), ("c1-ok", True, {})]),
          ("c2", [("c2-w", False, {"team": "a"})])])
    from neptune_audit.simulate import estate as sim_estate

    sim_estate.seed_decoys(CREDS, "us-east-1")
    return neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"))


@pytest.fixture
def fleet(aws):
    """The fleet seeded in moto and scanned, for tests that change it (apply, verify, the panel's buttons)."""
    return _fleet()


@pytest.fixture(scope="module")
def _scanned_fleet(tmp_path_factory):
    with moto_once(tmp_path_factory):
        return _fleet()


@pytest.fixture
def scanned_fleet(_scanned_fleet):
    """The same fleet scanned once per module, for tests that only read the result (AWS is not called again)."""
    import dataclasses

    return dataclasses.replace(_scanned_fleet, findings=_scanned_fleet.findings.copy())


def test_plan_selects_failing_neptune_instances_only(scanned_fleet):
    p = remediate.plan(scanned_fleet.findings)
    assert sorted(p["instance_id"]) == ["c1-r", "c1-w", "c2-w"]
    assert set(p["change"]) == {"AutoMinorVersionUpgrade: false -> true"}
    assert dict(zip(p["instance_id"], p["role"])) == {"c1-w": "writer", "c1-r": "reader", "c2-w": "writer"}
    with pytest.raises(UsageError, match="unknown instance 'orders-mysql'"):
        remediate.plan(scanned_fleet.findings, ["orders-mysql"])
    assert list(remediate.plan(scanned_fleet.findings, ["c1-ok"])["instance_id"]) == [], "already on: nothing to do"
    arn = scanned_fleet.findings.set_index("instance_id").loc["c2-w", "arn"]
    assert list(remediate.plan(scanned_fleet.findings, [arn])["instance_id"]) == ["c2-w"]


def test_plan_warns_about_pending_modifications_and_state(aws):
    seed([("c", [("busy", False, {})])])
    real = boto("rds").describe_db_instances()

    def stub(params, context, **_):
        # Real AWS: an instance being resized shows status `modifying` and the queued change in
        # PendingModifiedValues until it is applied.
        resp = copy.deepcopy(real)
        db = resp["DBInstances"][0]
        db["DBInstanceStatus"] = "modifying"
        db["PendingModifiedValues"] = {"DBInstanceClass": "db.r6g.4xlarge"}
        return None, resp

    class _Http:
        status_code = 200

    hook = ("before-call.rds.DescribeDBInstances", lambda **kw: (_Http(), stub(**kw)[1]))
    r = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"), connection=Connection(hooks=[hook]))
    assert r.findings.loc[0, "pending_modifications"] == {"DBInstanceClass": "db.r6g.4xlarge"}
    later = remediate.plan(r.findings)
    assert any("stay queued" in w for w in later.loc[0, "warnings"])
    assert any("modifying" in w for w in later.loc[0, "warnings"])
    now = remediate.plan(r.findings, apply_immediately=True)
    assert any("ApplyImmediately would also apply" in w and "DBInstanceClass" in w for w in now.loc[0, "warnings"])


@pytest.mark.parametrize("window, when, inside", [
    ("wed:06:38-wed:07:08", datetime(2026, 11, 25, 6, 50, tzinfo=timezone.utc), True),
    ("wed:06:38-wed:07:08", datetime(2026, 11, 25, 7, 8, tzinfo=timezone.utc), False),
    ("sun:23:30-mon:00:30", datetime(2026, 11, 30, 0, 10, tzinfo=timezone.utc), True),
    ("sun:23:30-mon:00:30", datetime(2026, 11, 29, 23, 45, tzinfo=timezone.utc), True),
    ("sun:23:30-mon:00:30", datetime(2026, 11, 29, 22, 0, tzinfo=timezone.utc), False),
    ("garbage", datetime(2026, 11, 29, 22, 0, tzinfo=timezone.utc), False),
])
def test_maintenance_window(window, when, inside):
    assert remediate.in_maintenance_window(window, when) is inside


FRIDAY_4AM = datetime(2026, 11, 27, 4, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("cluster_window, instance_window, version, target, effective, expect", [
    ("fri:03:00-fri:05:00", "mon:01:00-mon:01:30", "1.3.2.1", "1.3.3.0", True, "starts the upgrade from 1.3.2.1 to 1.3.3.0"),
    ("fri:04:30-fri:05:00", "mon:01:00-mon:01:30", "1.3.2.1", "1.3.3.0", True, "opens within the hour"),
    ("mon:01:00-mon:01:30", "fri:03:00-fri:05:00", "1.3.2.1", "1.3.3.0", True, None),   # the instance's window is not it
    ("fri:05:30-fri:06:00", "mon:01:00-mon:01:30", "1.3.2.1", "1.3.3.0", True, None),   # opens in 90 minutes
    ("fri:03:00-fri:05:00", "mon:01:00-mon:01:30", "1.4.5.0", None, True, None),        # no automatic target (a patch only)
    ("fri:03:00-fri:05:00", "mon:01:00-mon:01:30", "1.2.1.0", None, False, None),       # the setting starts nothing
])
def test_enabling_during_the_clusters_window_warns_of_the_restart(cluster_window, instance_window, version,
                                                                  target, effective, expect):
    """Real AWS starts the automatic minor upgrade at once when the setting is turned on in the maintenance window
    and an AutoUpgrade target exists; the whole cluster restarts.  The plan says so, using the cluster's window
    (engine updates are per cluster), and names the target."""
    f = pd.DataFrame([{"account_id": "123456789012", "region": "us-east-1", "cluster_id": c, "instance_id": f"{c}-w",
                       "arn": f"arn:aws:rds:us-east-1:123456789012:db:{c}-w", "role": "writer", "status": "available",
                       "result": "FAIL", "auto_minor_version_upgrade": False, "pending_modifications": {}}
                      for c in ("c1", "c2", "c3")])
    f["cluster_maintenance_window"], f["maintenance_window"] = cluster_window, instance_window
    f["engine_version"], f["auto_upgrade_target"], f["amvu_effective"] = version, target, effective
    p = remediate.plan(f, now=FRIDAY_4AM)
    restart = [w for ws in p["warnings"] for w in ws if "maintenance window of cluster" in w]
    if expect is None:
        assert restart == []
    else:
        assert len(restart) == len(p) and all(expect in w and "every instance of the cluster restart" in w
                                               for w in restart)


def test_apply_and_verify_fix_exactly_the_plan(fleet, tmp_path):
    sent = []
    fleet = rescan(("before-call.rds.ModifyDBInstance", lambda params, **_: sent.append(params["body"])))
    log = tmp_path / "audit.jsonl"
    p = remediate.plan(fleet.findings, ["c1-w", "c2-w"])
    res = remediate.verify(remediate.apply(p, fleet, audit_log=log), fleet)
    assert list(res["outcome"]) == ["changed", "changed"] and res["verified"].all()
    assert amvu("c1-w") and amvu("c2-w") and not amvu("c1-r"), "only the planned instances changed"
    assert not boto("rds").describe_db_instances(DBInstanceIdentifier="orders-mysql")["DBInstances"][0][
        "AutoMinorVersionUpgrade"], "other engines are never touched"
    assert len(sent) == 2 and all("ApplyImmediately" not in body for body in sent), "not sent unless asked"
    records = auditlog.read(log)
    assert [r["event"] for r in records].count("intent") == 2 and [r["event"] for r in records].count("outcome") == 2
    assert all(r["caller_arn"].startswith("arn:aws:") and r["before"] == {"auto_minor_version_upgrade": False}
               for r in records)
    assert auditlog.dangling(log) == []
    assert remediate.succeeded(res)


def test_apply_immediately_is_sent_only_when_asked(fleet, tmp_path):
    sent = []
    fleet = rescan(("before-call.rds.ModifyDBInstance", lambda params, **_: sent.append(params["body"])))
    remediate.apply(remediate.plan(fleet.findings, ["c1-w"]), fleet, apply_immediately=True,
                    audit_log=tmp_path / "a.jsonl")
    assert sent[0]["ApplyImmediately"] == "true"
    assert auditlog.read(tmp_path / "a.jsonl")[0]["apply_immediately"] is True


def test_apply_continues_past_per_instance_failures(fleet, tmp_path):
    ident = lambda name: (lambda params, ctx: params["body"].get("DBInstanceIdentifier") == name)  # noqa: E731
    seed([("c3", [("c3-w", False, {})])])
    again = rescan(
        # Real AWS refuses a change while an instance is not `available` ...
        fail_call("rds", "ModifyDBInstance", "InvalidDBInstanceState",
                  "Database instance is not in available state.", when=ident("c1-w")),
        # ... and without rds:ModifyDBInstance the call is denied.
        fail_call("rds", "ModifyDBInstance", "AccessDenied", "not authorized to perform: rds:ModifyDBInstance",
                  status=403, when=ident("c1-r")),
    )  # a throttled change is retried and succeeds: test_throttled_modify_succeeds_after_retry
    p = remediate.plan(again.findings)
    boto("rds").delete_db_instance(DBInstanceIdentifier="c3-w")  # gone between scan and remediation
    log = tmp_path / "audit.jsonl"
    res = remediate.verify(remediate.apply(p, again, audit_log=log), again).set_index("instance_id")
    assert res.loc["c1-w", "outcome"] == "failed" and "InvalidDBInstanceState" in res.loc["c1-w", "error"]
    assert res.loc["c1-r", "outcome"] == "failed" and "AccessDenied" in res.loc["c1-r", "error"]
    assert res.loc["c3-w", "outcome"] == "failed" and "DBInstanceNotFound" in res.loc["c3-w", "error"]
    assert res.loc["c2-w", "outcome"] == "changed" and res.loc["c2-w", "verified"] and amvu("c2-w")
    assert not amvu("c1-w") and not amvu("c1-r")
    assert not remediate.succeeded(res.reset_index())
    outcomes = {r["instance_id"]: r["outcome"] for r in auditlog.read(log) if r["event"] == "outcome"}
    assert outcomes == {"c1-w": "failed", "c1-r": "failed", "c3-w": "failed", "c2-w": "changed"}


@pytest.mark.slow
def test_throttled_modify_succeeds_after_retry(fleet, tmp_path):
    thr = throttle("rds", "ModifyDBInstance", times=2)
    fleet = rescan(thr)
    res = remediate.apply(remediate.plan(fleet.findings, ["c2-w"]), fleet, audit_log=tmp_path / "a.jsonl")
    assert thr[1].state["throttled"] == 2 and list(res["outcome"]) == ["changed"] and amvu("c2-w")


def test_killed_run_leaves_intent_and_rerun_is_idempotent(fleet, tmp_path):
    log = tmp_path / "audit.jsonl"
    p = remediate.plan(fleet.findings, ["c1-w", "c2-w"])
    calls = []

    def die_on_second(params, **_):
        calls.append(params["body"]["DBInstanceIdentifier"])
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process is killed mid-call: no outcome line can follow

    with pytest.raises(KeyboardInterrupt):
        remediate.apply(p, rescan(("before-call.rds.ModifyDBInstance", die_on_second)), audit_log=log,
                        max_workers=1)
    stuck = auditlog.dangling(log)
    assert [r["instance_id"] for r in stuck] == [calls[1]]
    res = remediate.verify(remediate.apply(p, fleet, audit_log=log), fleet).set_index("instance_id")
    assert res.loc[calls[0], "outcome"] == "already-enabled", "a re-run does not repeat a finished change"
    assert res.loc[calls[1], "outcome"] == "changed" and res["verified"].all()


def test_verify_rereads_in_batches_and_reports_a_vanished_instance(fleet, tmp_path, monkeypatch):
    """One DescribeDBInstances per batch of ids per region (not one per instance: thousands at scale)."""
    monkeypatch.setattr(remediate, "VERIFY_BATCH", 2)
    reads = []
    fleet = rescan(("before-call.rds.DescribeDBInstances", lambda params, **_: reads.append(params)))
    res = remediate.apply(remediate.plan(fleet.findings), fleet, audit_log=tmp_path / "a.jsonl")
    boto("rds").delete_db_instance(DBInstanceIdentifier="c2-w", SkipFinalSnapshot=True)
    reads.clear()
    res = remediate.verify(res, fleet).set_index("instance_id")
    assert len(reads) == 2, "three instances, batches of two"
    assert {r["body"].get("Filters.Filter.1.Name") for r in reads} == {"db-instance-id"}
    assert res.loc["c1-w", "verified"] and res.loc["c1-r", "verified"] and amvu("c1-w") and amvu("c1-r")
    assert not res.loc["c2-w", "verified"] and "no longer exists" in res.loc["c2-w", "detail"]


def test_script_lines(scanned_fleet):
    script = remediate.to_script(remediate.plan(scanned_fleet.findings))
    cmds = [l for l in script.splitlines() if l.startswith("aws ")]
    assert cmds == [f"aws neptune modify-db-instance --region us-east-1 --db-instance-identifier {i} "
                    "--auto-minor-version-upgrade --no-apply-immediately" for i in ["c1-r", "c1-w", "c2-w"]]


# --- the widget panel ---------------------------------------------------------------------------

def test_panel_filter_review_apply_verify(fleet, tmp_path):
    panel = RemediationPanel(fleet, apply_enabled=True, audit_log=tmp_path / "a.jsonl")
    assert len(panel.instances.options) == 3
    panel.tag.value = "team=a"
    assert sorted(label.split(" ")[0] for label, _ in panel.instances.options) == ["c1-w", "c2-w"]
    assert [label for label, _ in panel.cluster.options][1:] == ["c1 (123456789012, us-east-1)",
                                                                "c2 (123456789012, us-east-1)"]
    panel.cluster.value = ("123456789012", "us-east-1", "c1")
    panel.select_all.click()
    assert len(panel.instances.value) == 1
    assert panel.apply_button.disabled, "nothing can be applied before the plan is reviewed"
    panel.review.click()
    assert "c1-w" in panel.plan_view.value and "pending modifications keep waiting" in panel.plan_view.value
    assert not panel.apply_button.disabled
    panel.apply_button.click()
    assert panel.progress.value == panel.progress.max == 1
    assert "changed" in panel.results_view.value and "All changes verified" in panel.status.value
    assert amvu("c1-w") and not amvu("c2-w") and not amvu("c1-r")
    assert not panel.verify_button.disabled
    panel.verify_button.click()
    assert "1 of 1" in panel.status.value


def test_panel_changing_the_choice_needs_a_new_review(fleet):
    panel = RemediationPanel(fleet, apply_enabled=True)
    panel.select_all.click()
    panel.review.click()
    assert not panel.apply_button.disabled
    panel.timing.value = True
    assert panel.apply_button.disabled and panel.plan is None
    assert "review the plan again" in panel.plan_view.value and "<table" not in panel.plan_view.value
    panel.review.click()
    assert "applies every pending modification now" in panel.plan_view.value


def test_panel_runs_the_same_remediation_as_the_cli(fleet, tmp_path, monkeypatch):
    """Earlier intents without outcome are reported, verification waits like the CLI's, fixed instances leave the list."""
    log = tmp_path / "a.jsonl"
    log.write_text('{"event": "intent", "change_id": "old", "instance_id": "c1-w"}\n')
    waits = []
    real_verify = remediate.verify
    monkeypatch.setattr(remediate, "verify", lambda *a, **kw: waits.append(kw.get("wait_seconds")) or
                        real_verify(*a, **kw))
    panel = RemediationPanel(fleet, apply_enabled=True, audit_log=log)
    panel.cluster.value = ("123456789012", "us-east-1", "c2")
    panel.select_all.click()
    panel.review.click()
    panel.apply_button.click()
    assert "1 change(s) from an earlier run have no recorded outcome" in panel.status.value
    assert waits == [remediate.VERIFY_WAIT_SECONDS], "polls as long as the CLI does"
    panel.cluster.value = ALL
    assert [label.split(" ")[0] for label, _ in panel.instances.options] == ["c1-r", "c1-w"], "c2-w is fixed"
    assert panel.apply_button.disabled and panel.results is not None
    panel.verify_button.click()
    assert "1 of 1" in panel.status.value


def _cards(html_text: str) -> dict:
    import re

    return {label: int(n) for label, n in re.findall(r'class="na-card[^"]*">([^<]+)<b>(\d+)</b>', html_text)}


def test_panel_summary_cards_count_the_verified_changes_and_update_in_place(fleet, tmp_path, monkeypatch):
    """The cards above the panel are an ordinary output: after Apply they are updated by display id, so the fixed
    writer counts as passing and its cluster as upgraded, and what is saved is the state after the session."""
    shown = []

    class Handle:
        def update(self, obj, **kw):
            if not kw.get("raw"):
                shown.append(obj.data)

    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: Handle() if kw.get("display_id") else None)
    panel = RemediationPanel(fleet, apply_enabled=True, audit_log=tmp_path / "a.jsonl")
    panel._ipython_display_()
    before = _cards(panel.summary_html)
    panel.cluster.value = ("123456789012", "us-east-1", "c2")
    panel.select_all.click()
    panel.review.click()
    panel.apply_button.click()
    after = _cards(shown[-1])
    assert after["Fail"] == before["Fail"] - 1 and after["Pass"] == before["Pass"] + 1
    assert after["Clusters without minor upgrades"] == before["Clusters without minor upgrades"] - 1
    assert "1 verified change(s)" in shown[-1] and shown[-1] == panel.summary_html


def test_panel_asks_again_for_named_excepted_instances(aws, tmp_path):
    seed([("c", [("x-1", False, {})])])
    (tmp_path / "e.yml").write_text("- {instance: x-1, reason: pinned}\n")
    panel = RemediationPanel(neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1", exceptions_file=tmp_path / "e.yml")),
                             apply_enabled=True, audit_log=tmp_path / "a.jsonl")
    panel.include_excepted.value = True
    panel.select_all.click()
    panel.review.click()
    assert "x-1" in panel.plan_view.value and not panel.apply_button.disabled


def test_panel_never_applies_when_not_enabled(fleet):
    panel = RemediationPanel(fleet)  # apply_enabled=False, as in an unattended notebook run
    panel.select_all.click()
    panel.review.click()
    assert panel.apply_button.disabled and "apply=False" in panel.status.value
    panel.apply_button.click()
    assert panel.results is None and not amvu("c1-w")


def test_panel_hides_excepted_unless_asked(aws, tmp_path):
    seed([("c", [("x-1", False, {}), ("y-1", False, {})])])
    (tmp_path / "e.yml").write_text("- {instance: x-1, reason: pinned}\n")
    panel = RemediationPanel(neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1", exceptions_file=tmp_path / "e.yml")))
    assert [label.split(" ")[0] for label, _ in panel.instances.options] == ["y-1"]
    panel.include_excepted.value = True
    assert any("[excepted]" in label for label, _ in panel.instances.options)
    assert panel.account.value == ALL


def test_panel_keeps_a_namesake_in_another_account_after_fixing_one(aws, tmp_path, monkeypatch):
    from neptune_audit.present import display, sections

    from .conftest import assume_creds

    org = boto("organizations")
    org.create_organization(FeatureSet="ALL")
    other = org.create_account(Email="m@example.com", AccountName="m")["CreateAccountStatus"]["AccountId"]
    seed([("c", [("dup-1", False, {})])])
    seed([("c", [("dup-1", False, {})])], creds=assume_creds(other), account_id=other)
    result = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1", organization=True))
    panel = RemediationPanel(result, apply_enabled=True, audit_log=tmp_path / "a.jsonl")
    assert len(panel.instances.options) == 2
    clusters = [value for _, value in panel.cluster.options[1:]]
    assert sorted(clusters) == sorted([(acct, "us-east-1", "c") for acct in {other, result.accounts[0].account_id}]), \
        "one cluster id in two accounts is two choices, each named by account and region"
    panel.cluster.value = (other, "us-east-1", "c")
    assert [arn.split(":")[4] for _, arn in panel.instances.options] == [other], "the choice keeps its own account only"
    assert f"(m {other}, us-east-1)" in panel.instances.options[0][0], "the account by its name, then its id"
    shown = []
    monkeypatch.setattr(display, "show_html", shown.append)
    sections.findings_table(result)
    assert f"m<br><small>{other}<br>us-east-1</small>" in shown[-1], "tables too: the name over its id and region"
    panel.cluster.value = ALL
    panel.account.value = other
    panel.select_all.click()
    panel.review.click()
    panel.apply_button.click()
    assert "1 of 1" in panel.status.value
    panel.account.value = ALL
    left = [label for label, _ in panel.instances.options]
    assert len(left) == 1 and left[0].startswith("dup-1") and other not in left[0], \
        "the namesake in the other account still needs fixing"


def test_the_plan_says_what_the_change_means_for_each_candidate(scanned_fleet):
    from neptune_audit.act import panel

    f = scanned_fleet.findings.copy()
    i = f.index[f["instance_id"] == "c1-w"][0]
    f.at[i, "amvu_effective"] = False
    f.at[i, "engine_version"] = "1.2.1.0"
    f.at[i, "pending_maintenance"] = [{"action": "db-upgrade", "description": "Upgrade to 1.3.2.1",
                                       "auto_applied_after": "2026-12-10T00:00:00Z", "forced_apply_date": None,
                                       "current_apply_date": None, "opt_in_status": None}]
    f.at[i, "cluster_maintenance_window"] = "sat:09:57-sat:10:27"
    now = remediate.datetime(2026, 12, 1, 12, 0, tzinfo=remediate.timezone.utc)  # a Tuesday
    plan = remediate.plan_rows(remediate.select(f)[0], now=now)
    row = plan.set_index("instance_id").loc["c1-w"]
    assert any("changes nothing" in w for w in row["warnings"]), "a 1.2.x instance: the flag alone does nothing"
    assert any("db-upgrade" in w and "2026-12-10" in w for w in row["warnings"])
    assert row["next_window"] == "Sat 2026-12-05 09:57 UTC", "a time, not a cron-like string"
    assert row["command"].startswith("aws neptune modify-db-instance --region ") and "c1-w" in row["command"]
    html = panel.plan_html(plan, apply_immediately=False, script=remediate.to_script(plan))
    assert html.index("Read before applying") < html.index("<table"), "warnings come first, above the table"
    assert "download=" in html and "base64," in html
    quiet = plan[plan["instance_id"] != "c1-w"].assign(warnings=[[] for _ in range(len(plan) - 1)])
    assert "No warnings" in panel.plan_html(quiet, apply_immediately=False)


def test_every_finding_says_how_to_fix_it(scanned_fleet, monkeypatch):
    from neptune_audit.present import display, sections

    f = scanned_fleet.findings.set_index("instance_id")
    off = f[f["result"] == "FAIL"].iloc[0]
    cmd = model.fix({**off.to_dict(), "instance_id": off.name})
    assert cmd == model.command(off["region"], off.name)
    old = model.fix({**off.to_dict(), "instance_id": off.name, "amvu_effective": False, "manual_upgrade_target": None})
    # AWS refuses ModifyDBCluster to another major version without AllowMajorVersionUpgrade (API reference)
    assert "modify-db-cluster" in old and "--engine-version VERSION" in old and "--allow-major-version-upgrade" in old
    assert "one major version" not in old, "AWS documents 1.2 -> 1.4 as one step (1.4.x release notes)"
    named = model.fix({**off.to_dict(), "instance_id": off.name, "amvu_effective": False,
                       "manual_upgrade_target": "1.4.7.1"})
    assert "--engine-version 1.4.7.1 --allow-major-version-upgrade" in named
    passing = f[f["result"] == "PASS"].iloc[0]
    assert model.fix({**passing.to_dict(), "instance_id": passing.name}) == ""
    shown = []
    monkeypatch.setattr(display, "show_html", shown.append)
    sections.findings_table(scanned_fleet)
    nowrap = '<span style="white-space:nowrap">'
    # the fix in its own column, each word whole: "--auto-minor-version-upgrade" never splits at a hyphen
    assert (f"<code>{nowrap}aws</span> {nowrap}neptune</span> {nowrap}modify-db-instance</span>" in shown[0]
            and f"{nowrap}--db-instance-identifier</span> {nowrap}{off.name}</span>" in shown[0]
            and f"{nowrap}--auto-minor-version-upgrade</span>" in shown[0] and '<b class="p pF">FAIL</b>' in shown[0])


def test_a_window_open_now_is_said_so(scanned_fleet):
    f = scanned_fleet.findings.copy()
    i = f.index[f["instance_id"] == "c1-w"][0]
    f.at[i, "cluster_maintenance_window"] = "tue:11:00-tue:13:00"
    now = remediate.datetime(2026, 12, 1, 12, 0, tzinfo=remediate.timezone.utc)  # a Tuesday, inside it
    row = remediate.plan_rows(remediate.select(f)[0], now=now).set_index("instance_id").loc["c1-w"]
    assert row["next_window"] == "open now (tue:11:00-tue:13:00)"


def test_results_are_pills_in_every_table_and_long_tokens_wrap_at_separators(scanned_fleet, monkeypatch, tmp_path):
    """FAIL / PASS / EXCEPTED read the same in the findings, clusters and exceptions tables (a pill whose text
    says it without colour); an e-mail or ARN may wrap after its @ or colons, never inside a word."""
    import dataclasses

    from neptune_audit.present import display, sections
    from neptune_audit.rule import allowlist

    shown = []
    monkeypatch.setattr(display, "show_html", shown.append)
    sections.clusters_table(scanned_fleet)
    assert '<b class="p pF">FAIL</b>' in shown[-1]
    (tmp_path / "e.yml").write_text("- {instance: c2-w, reason: pinned, approved_by: cloud-risk@example.com}\n")
    rules = allowlist.load(tmp_path / "e.yml")
    f = scanned_fleet.findings.copy()
    hit = f["instance_id"] == "c2-w"
    f.loc[hit, "exception"] = pd.Series([{"match": "instance c2-w", "reason": "pinned", "expires": None,
                                          "expired": False, "approved_by": "cloud-risk@example.com"}],
                                        index=f.index[hit])
    sections.exceptions_table(dataclasses.replace(scanned_fleet, findings=f, exceptions=rules))
    assert '<b class="p pF">FAIL</b>' in shown[-1]
    assert "cloud-risk@<wbr>example.com" in shown[-1]


def test_panel_keeps_a_record_that_needs_no_kernel(fleet, tmp_path, monkeypatch):
    """Every plan, apply and verify is also an ordinary output (HTML and text, updated by display id): a notebook
    saved without its widgets' state still says what was planned, applied and verified, when and by whom.  At the
    kernel's exit the panel's own output becomes its offline sentence: no widget left to look for."""
    import atexit

    outputs: dict[int, dict] = {}

    class Handle:
        def __init__(self, n):
            self.n = n

        def update(self, obj, **kw):
            outputs[self.n] = obj if kw.get("raw") else {"text/html": obj.data}

    import IPython.display

    def fake_display(obj, **kw):
        n = len(outputs)
        outputs[n] = obj if kw.get("raw") else {"text/html": getattr(obj, "data", "")}
        return Handle(n) if kw.get("display_id") else None

    at_exit = []
    monkeypatch.setattr(IPython.display, "display", fake_display)
    monkeypatch.setattr(atexit, "register", at_exit.append)
    panel = RemediationPanel(fleet, apply_enabled=True, audit_log=tmp_path / "a.jsonl")
    panel._ipython_display_()
    view, record = 1, 2
    assert "application/vnd.jupyter.widget-view+json" in outputs[view]
    assert "Nothing reviewed or applied yet" in outputs[record]["text/plain"]
    panel.cluster.value = ("123456789012", "us-east-1", "c2")
    panel.select_all.click()
    panel.review.click()
    panel.apply_button.click()
    panel.verify_button.click()
    saved = outputs[record]
    assert "application/vnd.jupyter.widget-view+json" not in saved, "the record is plain output"
    for text in (saved["text/html"], saved["text/plain"]):
        for part in ("Plan reviewed", "Applied", "Verified again", "c2-w", "UTC, by ", "a.jsonl"):
            assert part in text, part
    assert saved["text/html"].index("Plan reviewed") < saved["text/html"].index("Applied") < \
        saved["text/html"].index("Verified again")
    assert "changed" in saved["text/plain"] and "True" in saved["text/plain"], "outcome and verification"
    for hook in at_exit:  # the kernel exits
        hook()
    assert "application/vnd.jupyter.widget-view+json" not in outputs[view]
    assert "needs the notebook's kernel" in outputs[view]["text/plain"]
    assert outputs[record] is saved, "the record is left as it is"
