"""Shared fixtures.  No test ever reaches real AWS: credentials are dummies, config files are empty,
the instance-metadata service is off, and every call goes to moto (in-process or a local server)."""
from __future__ import annotations

import contextlib
import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

# boto3, moto and the simulated account are imported where used: xdist's controller imports this file too before it
# starts the workers, and has no test to run (2.7 s of imports it never needed).

# moto loads its default AMI catalogue into every EC2 backend it makes (one per account and region, ~10 % of the
# suite's CPU); the kit never asks EC2 for more than DescribeRegions.  Set before any backend exists, and inherited
# by every moto server and CLI process a test starts.
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")

# jsonschema imports rfc3987_syntax whenever it is installed (JupyterLab's jupyter-events brings it in) for its
# "iri" format checks, and that import builds ~38 Lark parsers: 3.5 s of CPU in every test process that validates a
# document (python-jsonschema/jsonschema#1428).  The contract's schema has no iri format (only "date"), so the test
# processes go without it; a user's process is left as it is.
if "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)

# Each full collection walks the whole heap, and a test process holds a big long-lived one (moto's catalogues,
# botocore's models, pandas): importing the test modules ran ~2.4 s of collections in every worker.  The GC is off
# while they are imported, then the heap so far is frozen (later collections skip it) and the GC is back on for
# the tests.  The test processes are the suite's own; the kit itself never does this in a user's process.
gc.disable()


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    gc.freeze()
    gc.enable()


# The files that take longest (seconds of one worker, measured with --durations=0), started first so that no worker
# is left with a long file at the end (pyproject's --dist loadfile --no-loadscope-reorder keeps this order); the
# rest follow in name order.
LONGEST_FIRST = ("test_remediate.py", "test_collect.py", "test_terminal.py", "test_security_hub.py",
                 "test_hostile_places.py", "test_upgrade_exposure.py")

ROOT = Path(__file__).resolve().parents[1]
# Slow tests whose outcome the installed versions decide (a notebook kernel, nbconvert's HTML, the browser, the
# signature's crypto, the wheel), run again at every dependency's floor; the rest of the slow suite drives the kit's
# own code through the CLI and moto, which the quick suite already runs at the floors.
FLOOR_FILES = {"test_report.py", "test_signing.py", "test_jupyterlab.py", "test_clean_install.py",
               "test_scheduled_runs.py", "test_evidence.py"}
DUMMY = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
CREDS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def pytest_collection_modifyitems(items):
    """Tests that need the moto server start other processes (the CLI, notebook kernels): they are `slow`, and
    `pytest -m "not slow"` is the quick inner loop (`make test` runs everything)."""
    for item in items:
        if {"moto_server", "_moto_server"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
        # what the dependencies' versions decide: `make test-lowest` runs these at every floor
        if item.get_closest_marker("slow") and (item.path.name in FLOOR_FILES or item.get_closest_marker("browser")):
            item.add_marker(pytest.mark.floor)
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: within a file, as written


def _isolate(monkeypatch, home: Path) -> None:
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for k, v in DUMMY.items():
        monkeypatch.setenv(k, v)


@pytest.fixture(autouse=True)
def _isolated_aws_env(monkeypatch, tmp_path_factory):
    _isolate(monkeypatch, tmp_path_factory.mktemp("aws"))


@pytest.fixture(autouse=True)
def _no_backoff_sleep(monkeypatch):
    """Retries run as they do against AWS (the same attempts and retry quota) without botocore's
    jittered backoff between them: against AWS a throttled call waits 0.5-2 s per attempt, which only slows a test."""
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)


@pytest.fixture(autouse=True)
def _every_contract_document_is_valid(monkeypatch):
    """Every neptune-audit/1 document built in a test process is checked against the published JSON Schema."""
    from neptune_audit import vocabulary
    from neptune_audit.contract import export

    build = export.to_contract

    def validated(result):
        doc = build(result)
        vocabulary.validate(doc)
        return doc

    monkeypatch.setattr(export, "to_contract", validated)


@pytest.fixture(autouse=True)
def every_aws_call_is_declared(monkeypatch):
    """Every AWS call the kit makes in a test process must be declared beside its call site (``NEEDS``, see
    aws/permissions.py): `neptune-audit policy` is derived from the declarations, so an undeclared call would be
    refused under the policy the kit prints.  Watched with botocore's before-call event on every client the kit
    builds; yields the list of undeclared calls seen (a test may inspect and clear it)."""
    from neptune_audit import api
    from neptune_audit.aws import permissions
    from neptune_audit.aws.connection import Connection

    declared, undeclared = api.declared_needs(), []
    build = Connection.client

    def client(self, session, service, region):
        made = build(self, session, service, region)

        def check(model, **_):
            if not permissions.covers(declared, service, model.name):
                undeclared.append(f"{service}.{model.name}")

        made.meta.events.register("before-call", check)
        return made

    monkeypatch.setattr(Connection, "client", client)
    yield undeclared
    assert not undeclared, f"AWS calls no NEEDS declaration covers: {sorted(set(undeclared))}"


@pytest.fixture
def aws():
    """In-process moto."""
    from moto import mock_aws

    with mock_aws():
        yield


@contextlib.contextmanager
def moto_once(tmp_path_factory):
    """In-process moto with the dummy environment each test gets, for a module fixture that seeds and scans
    once, then lets every test of the module read the result (a test copies what it changes)."""
    from moto import mock_aws

    with pytest.MonkeyPatch.context() as mp:
        _isolate(mp, tmp_path_factory.mktemp("aws"))
        with mock_aws():
            yield


@pytest.fixture(scope="module")
def aws_module(tmp_path_factory):
    """``moto_once`` for the whole module.  No test of such a module may use ``aws``: moto started again inside
    it keeps the module's state, so the test would see what the module seeded."""
    with moto_once(tmp_path_factory):
        yield


def seed(clusters, region="us-east-1", endpoint_url=None, creds=None, account_id="123456789012", **kw):
    from neptune_audit.simulate import estate as sim_estate

    return sim_estate.seed_instances(creds or CREDS, region, clusters, endpoint_url, account_id, **kw)


def assume_creds(account_id: str, endpoint_url=None) -> dict:
    from neptune_audit.simulate import estate as sim_estate

    return sim_estate.assume_credentials(endpoint_url, account_id)


@pytest.fixture(scope="session", autouse=True)
def _neptune_extras():
    """In-process moto (mock_aws) answers what the simulated account answers."""
    from neptune_audit.simulate import server as sim_server

    sim_server.install_neptune_extras()


class MotoServer:
    """The simulated account's server (moto plus the Neptune extras), empty: each test seeds what it needs."""

    def __init__(self):
        from neptune_audit.simulate import server as sim_server

        self.server = sim_server.DemoServer(seeded=False)
        self.port = self.server.port
        self.url = self.server.endpoint_url

    def reset(self):
        self.moto_api("reset")

    def seed(self):
        """The demo Organization, seeded through the server (its /moto-api/seed needs the server's token)."""
        from neptune_audit.simulate import estate as sim_estate

        return sim_estate.seed(self.url, self.server.headers())

    def moto_api(self, path: str, data: bytes = b""):
        """A state change through moto's own API, which the server allows to its owner alone (its token)."""
        import requests

        requests.post(f"{self.url}/moto-api/{path}", data=data, headers=self.server.headers(),
                      timeout=10).raise_for_status()

    def env(self, **extra) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        # the width of a pipe with no COLUMNS (terminal.PIPE_WIDTH), whatever the worker's own terminal says:
        # under xdist a worker sees COLUMNS=80 and the table wraps a reason the test looks for
        env.update(COLUMNS="120", LINES="24")
        env.update(DUMMY, AWS_ENDPOINT_URL=self.url, AWS_EC2_METADATA_DISABLED="true",
                   AWS_CONFIG_FILE=os.environ["AWS_CONFIG_FILE"],
                   AWS_SHARED_CREDENTIALS_FILE=os.environ["AWS_SHARED_CREDENTIALS_FILE"])
        env.update(extra)
        return {k: v for k, v in env.items() if v is not None}


@pytest.fixture(scope="session")
def _moto_server():
    server = MotoServer()
    yield server
    server.server.stop()


@pytest.fixture
def moto_server(_moto_server):
    """A moto server (reset for each test) that subprocesses reach through AWS_ENDPOINT_URL."""
    _moto_server.reset()
    yield _moto_server
    _moto_server.reset()


def run_cli(args, env, cwd=None, input=None, timeout=300):
    """Run ``neptune-audit`` as a user would: a separate process."""
    return subprocess.run([sys.executable, "-m", "neptune_audit", *args], env=env, cwd=cwd, input=input,
                          capture_output=True, text=True, timeout=timeout)


def boto(service, region="us-east-1", endpoint_url=None, creds=None):
    from neptune_audit.simulate import estate as sim_estate

    return sim_estate.client(creds or CREDS, service, region, endpoint_url)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Each phase's report on the test item (``rep_call``), for fixtures that act on failure (screenshots)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="module")
def demo_account():
    """A freshly seeded simulated account for in-process `--demo` scans (`scan(demo=True)`, `cli.main([... "--demo"])`).

    The in-process moto server shares moto's backends with `mock_aws`, which resets them when a test ends: the
    process's demo account is then empty.  This resets them, seeds a new demo server, and puts the old one back.
    """
    from moto import mock_aws

    from neptune_audit.simulate import server as sim_server

    wipe = mock_aws()
    wipe.start()
    wipe.stop()  # start/stop resets every moto backend
    old, sim_server._demo = sim_server._demo, sim_server.DemoServer()
    try:
        yield sim_server._demo
    finally:
        sim_server._demo.stop()
        sim_server._demo = old



def main(args, capsys):
    """The CLI in this process: (exit code, stdout, stderr)."""
    from neptune_audit import cli

    code = cli.main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_2(code, err, words):
    """Bad input as the contract says it: exit 2, one line on stderr, naming what is wrong."""
    assert code == 2 and len(err.strip().splitlines()) == 1 and words in err, (code, err)
