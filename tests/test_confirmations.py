"""A plan with warnings is applied only once they are read: the panel's acknowledgement, and `--accept-restart`
for the one warning `--yes` must not answer (issue 34, item 5).  The demo account is this module's alone: a test
that starts moto in-process (``aws``) would reset it."""
from __future__ import annotations

from .conftest import main as _main, one_line_2 as _one_line_2


def test_the_panel_applies_a_warned_plan_only_once_its_warnings_are_read(demo_account, tmp_path):
    import neptune_audit

    result = neptune_audit.scan(neptune_audit.ScanOptions(demo=True, organization=True, regions="eu-west-1"))
    panel = neptune_audit.RemediationPanel(result, apply_enabled=True, audit_log=tmp_path / "log.jsonl")
    panel.instances.value = tuple(v for label, v in panel.instances.options if "identity-graph-1" in str(label))
    panel.review.click()
    assert panel.warnings >= 1 and panel.apply_button.disabled and not panel.acknowledge.disabled
    assert f"I have read the {panel.warnings} warning(s)" == panel.acknowledge.description
    panel.apply_button.click()
    assert panel.results is None, "a click on a disabled Apply changes nothing"
    panel.acknowledge.value = True
    assert not panel.apply_button.disabled
    panel.timing.value = True  # any change of choice: the acknowledgement goes with the old plan
    assert panel.apply_button.disabled and not panel.acknowledge.value


def test_yes_alone_never_restarts_a_cluster(demo_account, tmp_path, capsys):  # after the panel's: it turns it on
    """identity-graph's window is open whenever the demo runs and 1.3.2.1 is its automatic target: enabling it now
    starts the upgrade at once and restarts the cluster (ModifyDBInstance API reference).  `--yes` answers "apply?",
    not "restart it now?": that needs --accept-restart, which names it."""
    args = ["remediate", "--demo", "--organization", "--regions", "eu-west-1", "--instance", "identity-graph-1",
            "--apply", "--yes", "--audit-log", tmp_path / "log.jsonl"]
    code, out, err = _main(args, capsys)
    _one_line_2(code, err, "--accept-restart")
    assert "restarts" in out, "the plan printed first says why"
    code, out, err = _main([*args, "--accept-restart"], capsys)
    assert code == 0 and "changed" in out, err
