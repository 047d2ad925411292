"""The kit inside someone else's process: after a scan, botocore is exactly as the user's own code expects.

Run at both ends of the dependency range CI tests (`make test` and `make test-lowest`): the kit never reassigns a
module or class attribute of botocore, so a plain boto3 client built afterwards works, and isinstance checks
against botocore's classes hold.  NEPTUNE_AUDIT_TUNING=off gives the same findings.
"""
from __future__ import annotations

import gc
import os
import inspect

import boto3
import botocore
import botocore.client
import botocore.endpoint
import botocore.hooks
import botocore.regions
import botocore.session
import pytest

import neptune_audit

from .conftest import CREDS, seed


def _botocore_surface() -> dict:
    """Every class and function botocore's modules expose, by identity, plus the methods of its classes."""
    surface = {}
    for module in (botocore.client, botocore.endpoint, botocore.hooks, botocore.regions, botocore.session):
        for name, value in vars(module).items():
            surface[(module.__name__, name)] = value
            if inspect.isclass(value) and value.__module__ == module.__name__:
                for attr, member in vars(value).items():
                    surface[(module.__name__, name, attr)] = member
    return surface


@pytest.fixture
def estate(aws):
    seed([("c1", [("w1", False, {}), ("r1", True, {})]), ("c2", [("w2", True, {})])])


def test_a_scan_changes_nothing_of_botocore_for_the_rest_of_the_process(estate):
    before, threshold = _botocore_surface(), gc.get_threshold()
    result = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"))
    assert result.summary["instances"] == 3
    after = _botocore_surface()
    changed = sorted(str(k) for k in before.keys() | after.keys() if before.get(k) is not after.get(k))
    assert changed == [], f"botocore attributes changed by the kit: {changed[:5]}"
    # ... nor at import: nothing botocore exposes is the kit's code
    ours = sorted(str(k) for k, v in after.items() if str(getattr(v, "__module__", "")).startswith("neptune_audit"))
    assert ours == [], f"botocore attributes replaced by the kit: {ours[:5]}"
    assert inspect.isclass(botocore.regions.EndpointProvider)
    assert gc.get_threshold() == threshold, "the kernel's GC settings are the user's"
    # The user's own client, built the plain way afterwards, works and is what botocore says it is.
    own = boto3.client("rds", region_name="us-east-1", **CREDS)
    assert {d["DBInstanceIdentifier"] for d in own.describe_db_instances()["DBInstances"]} >= {"w1", "r1", "w2"}
    assert isinstance(own, botocore.client.BaseClient)
    provider = own._ruleset_resolver._provider
    assert isinstance(provider, botocore.regions.EndpointProvider)
    assert type(own._endpoint.http_session).__module__ == "botocore.httpsession"
    assert isinstance(own.meta.events, botocore.hooks.BaseEventHooks)


def test_tuning_off_gives_identical_findings(aws, monkeypatch):
    """botocore's own models, parser and handlers (tuning off) against the kit's slices of the models (members the
    kit does not read left out), answers parsed once, clients built ahead: the same rows, every column, on the
    demo Organization (three accounts, three regions, every upgrade outlook)."""
    from neptune_audit.simulate import estate as sim_estate

    manifest = sim_estate.seed()

    def rows(r):
        return [r.findings.drop(columns=["generated_at"], errors="ignore").to_json(orient="records"),
                r.clusters.to_json(orient="records"), r.scope.to_json(orient="records"), r.summary]

    tuned = neptune_audit.scan(neptune_audit.ScanOptions(organization=True, regions="us-east-1,eu-west-1,ap-southeast-2"))
    monkeypatch.setenv("NEPTUNE_AUDIT_TUNING", "off")
    from neptune_audit.aws import tuning

    assert not tuning.enabled()
    monkeypatch.setattr(tuning.sessions, "_shared_loader", [])  # as in a process started with tuning off: botocore's models
    plain = neptune_audit.scan(neptune_audit.ScanOptions(organization=True, regions="us-east-1,eu-west-1,ap-southeast-2"))
    assert "DescribeDBSnapshots" in plain.accounts[0].client("rds").meta.service_model.operation_names
    assert rows(plain) == rows(tuned)
    assert tuned.summary["instances"] == len(manifest.instances) and set(tuned.clusters["exposure"]) >= {
        "behind", "current", "not-covered", "unknown"}


@pytest.mark.skipif(not os.environ.get("NEPTUNE_AUDIT_REQUIRE_TUNING"),
                    reason="CI's newest-botocore job (make test-newest) sets NEPTUNE_AUDIT_REQUIRE_TUNING")
def test_the_newest_botocore_is_within_the_tested_range():
    """The newest botocore on PyPI must still get the speed-ups: when AWS releases one past TESTED_BOTOCORE, this
    fails in CI (make test-newest) until someone runs the suite against it and widens the range, rather than every
    user's scan silently getting slower."""
    import botocore as installed

    from neptune_audit.aws import tuning

    assert tuning.enabled(), (f"botocore {installed.__version__} is outside TESTED_BOTOCORE {tuning.TESTED_BOTOCORE}: "
                              "run the suite against it, then widen the range")


def test_an_untested_botocore_gets_the_public_api_only(monkeypatch, capsys, caplog):
    """Outside the tested range the speed-ups switch off, and say so once as a warning of the kit's logger (the
    host application decides where it goes; the kit prints nothing)."""
    import logging

    from neptune_audit.aws import tuning

    monkeypatch.setattr(tuning.tested, "TESTED_BOTOCORE", ((0, 1), (0, 2)))
    monkeypatch.setattr(tuning.tested, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="neptune_audit"):
        assert not tuning.enabled()
        session = tuning.new_botocore_session()
    assert type(session) is botocore.session.Session, "no private-API subclass outside the tested range"
    said = [r for r in caplog.records if r.name.startswith("neptune_audit.aws.tuning") and "outside the tested range" in r.message]
    assert len(said) == 1 and said[0].levelno == logging.WARNING
    assert capsys.readouterr().err == "", "a library prints nothing"


def test_the_kit_logs_to_its_own_logger_only_and_the_cli_shows_it_with_v(capsys):
    """`import neptune_audit` gives its logger a NullHandler and touches no other; `scan -v` shows what the scan
    did on stderr, and after the command the logger is as it was."""
    import logging

    import neptune_audit
    from neptune_audit import cli

    logger = logging.getLogger("neptune_audit")
    assert any(isinstance(h, logging.NullHandler) for h in logger.handlers)
    before = (list(logger.handlers), logger.level, list(logging.getLogger().handlers), logging.getLogger().level)
    assert neptune_audit.__version__
    cli.main(["scan", "--demo", "--regions", "us-east-1", "-v"])
    err = capsys.readouterr().err
    assert "neptune-audit: scanned 1 account(s), 1 account-region(s)" in err
    cli.main(["scan", "--demo", "--regions", "us-east-1"])
    assert "scanned 1 account(s)" not in capsys.readouterr().err, "quiet without -v"
    assert before == (list(logger.handlers), logger.level, list(logging.getLogger().handlers),
                      logging.getLogger().level)


@pytest.mark.slow  # a scan in a second process
def test_in_the_kits_own_process_other_clients_still_work(tmp_path):
    """The console script's process is the kit's own: there the shared-class speed-ups are installed, and even
    there a client built the plain way (the simulated account's seeding, moto) behaves as botocore's own."""
    import subprocess
    import sys

    code = """
import os, botocore.regions, boto3
from moto import mock_aws
from neptune_audit.aws import tuning as t
t.own_process()
from neptune_audit.simulate import server as sim_server
sim_server.install_neptune_extras()  # what the simulated account answers beside moto
import neptune_audit
with mock_aws():
    boto3.client("neptune", region_name="us-east-1").create_db_cluster(DBClusterIdentifier="c", Engine="neptune")
    boto3.client("neptune", region_name="us-east-1").create_db_instance(
        DBInstanceIdentifier="w", DBInstanceClass="db.r6g.large", Engine="neptune", DBClusterIdentifier="c",
        AutoMinorVersionUpgrade=False)
    r = neptune_audit.scan(regions="us-east-1")
    own = boto3.client("rds", region_name="us-east-1")
    assert [d["DBInstanceIdentifier"] for d in own.describe_db_instances()["DBInstances"]] == ["w"]
    assert isinstance(own._ruleset_resolver._provider, botocore.regions.EndpointProvider)
    print(r.summary["fail"], t.enabled())
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=str(tmp_path / "c"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "k"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0 and proc.stdout.split()[0] == "1", proc.stdout + proc.stderr


@pytest.mark.parametrize("args", [["--help"], ["scan", "--help"], ["scan", "--bogus"], ["policy", "admin"]])
def test_help_and_usage_errors_import_neither_botocore_nor_pandas(args):
    """Start-up: nothing is imported before it is needed (python -X importtime lists every import)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "neptune_audit", *args], capture_output=True,
                          text=True, timeout=60)
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert proc.returncode in (0, 2), proc.stderr[-500:]
    heavy = {"botocore", "boto3", "pandas", "pydantic", "dataclasses", "json"}  # json: the schema is read on use
    assert not imported & heavy, sorted(imported & heavy)


def test_the_path_to_the_first_request_imports_neither_pandas_nor_pydantic():
    """What a scan imports before its first request: the core, targets and collection (pandas loads on a side
    thread while requests are in flight; pydantic only for OCSF output and the rule's test-time check; boto3
    never: the kit's sessions are botocore's, and boto3 brings s3transfer and multiprocessing, ~30 ms)."""
    import subprocess
    import sys

    code = ("import sys, neptune_audit.cli, neptune_audit.core, neptune_audit.aws.inventory, neptune_audit.aws.accounts, "
            "neptune_audit.rule.model; neptune_audit.rule.model.metadata(); neptune_audit.cli.build_parser(); "
            "print(sorted(m for m in ('pandas', 'pydantic', 'numpy', 'boto3') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout + proc.stderr[-500:]


def test_the_simulated_account_leaves_logging_as_it_found_it(capfd):
    """A notebook with demo=True starts the simulated account in the user's kernel: werkzeug would give its logger
    a handler and a level on the first request, and print a line per request."""
    import logging

    import requests

    from neptune_audit.simulate.server import DemoServer

    werkzeug = logging.getLogger("werkzeug")
    before = (werkzeug.level, list(werkzeug.handlers), logging.getLogger().level, list(logging.getLogger().handlers))
    server = DemoServer(seeded=False)
    try:
        assert requests.get(f"{server.endpoint_url}/moto-api/", timeout=10).status_code < 500
    finally:
        server.stop()
    after = (werkzeug.level, list(werkzeug.handlers), logging.getLogger().level, list(logging.getLogger().handlers))
    assert after == before
    out, err = capfd.readouterr()
    assert "GET /moto-api" not in out + err, "no line per request"


def test_a_scan_leaves_no_thread_behind(estate):
    """The pools, the clients built ahead and the preload are the scan's own: in a kernel, nothing of the kit keeps
    running once the scan has returned (idle pool threads end as soon as they see the pool shut down)."""
    import threading
    import time

    before = {t.ident for t in threading.enumerate()}
    result = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1,eu-west-1"))
    assert result.summary["instances"] == 3
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        left = [t.name for t in threading.enumerate() if t.ident not in before]
        if not left:
            break
        time.sleep(0.05)
    assert not left, left


def test_the_kits_http_sessions_are_remembered_for_a_bounded_number_of_configurations():
    """A kernel that scans again and again with new settings (timeouts, pools) does not keep an HTTP session,
    with its connection pool, for each one for the life of the process."""
    from botocore.httpsession import URLLib3Session

    from neptune_audit.aws.tuning import http

    made = [http._shared_for(URLLib3Session(timeout=5 + i)) for i in range(http._KEPT + 10)]
    assert all(m is not None for m in made), "each configuration gets its shared session"
    assert len(http._http_sessions) <= http._KEPT
    assert http._shared_for(URLLib3Session(timeout=5 + http._KEPT + 9)) is made[-1], "the newest are kept"
