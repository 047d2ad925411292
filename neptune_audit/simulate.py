"""The built-in simulated AWS account: a moto server seeded with a realistic Neptune estate.

An AWS Organization (management account plus two members) across three regions: compliant
and non-compliant writers and readers, a cluster held back by its writer, a reader that is a
failover risk, instances matched by ``examples/exceptions.yml`` (one active, one expired), the
same names in two accounts, and RDS MySQL/PostgreSQL instances with the setting off that must
never appear in results.  ``seed()`` returns a manifest of what it created, so tests derive
their expectations from it instead of hard-coding them.
"""
from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass, field

import boto3

from .targets import DEFAULT_ROLE_NAME, Connection

DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing",
                     "region_name": "us-east-1"}
MEMBER_ROLE = DEFAULT_ROLE_NAME

# (cluster, [(instance, auto_minor_version_upgrade, tags)]): the first instance is the writer.
ESTATE = {
    "management": {
        "us-east-1": [
            ("graph-prod", [("graph-prod-1", True, {"env": "prod", "team": "search"}),
                            ("graph-prod-2", True, {"env": "prod", "team": "search"}),
                            ("graph-prod-3", False, {"env": "prod", "team": "search"})]),
            ("fraud-detect", [("fraud-detect-1", False, {"env": "prod", "team": "risk"}),
                              ("fraud-detect-2", True, {"env": "prod", "team": "risk"})]),
            ("kg-legacy", [("kg-legacy-writer", False, {"env": "prod", "team": "data"})]),
        ],
        "eu-west-1": [
            ("recs-eu", [("recs-eu-1", True, {"env": "prod", "team": "recs"}),
                         ("recs-eu-2", True, {"env": "prod", "team": "recs"})]),
            ("identity-graph", [("identity-graph-1", False, {"env": "staging", "team": "iam"})]),
        ],
    },
    "member-a": {
        "us-east-1": [
            ("graph-prod", [("graph-prod-1", True, {"env": "prod", "team": "ads"}),
                            ("graph-prod-2", False, {"env": "prod", "team": "ads"})]),
        ],
        "ap-southeast-2": [
            ("supply-chain", [("supply-chain-1", True, {"env": "prod", "team": "ops"}),
                              ("supply-chain-2", True, {"env": "prod", "team": "ops"})]),
            ("sandbox-graph", [("sandbox-graph-1", False, {"env": "sandbox", "team": "ops"})]),
        ],
    },
    "member-b": {
        "eu-west-1": [
            ("network-topology", [("network-topology-1", True, {"env": "prod", "team": "net"}),
                                  ("network-topology-2", True, {"env": "prod", "team": "net"})]),
        ],
        "ap-southeast-2": [
            ("lab-graph", [("lab-graph-1", False, {"env": "lab", "team": "research"})]),
        ],
    },
}
# Other engines with the setting off, in every seeded account: never a finding.
DECOYS = [("orders-mysql", "mysql"), ("billing-postgres", "postgres")]


@dataclass
class Manifest:
    """What was seeded: accounts by name, and one dict per Neptune instance."""

    accounts: dict[str, str] = field(default_factory=dict)
    instances: list[dict] = field(default_factory=list)
    decoys: list[dict] = field(default_factory=list)


def _client(creds: dict, service: str, region: str, endpoint_url: str | None):
    return boto3.client(service, region_name=region, endpoint_url=endpoint_url, **creds)


def assume_credentials(endpoint_url: str | None, account_id: str) -> dict:
    """Credentials for a member account of the simulated Organization (its OrganizationAccountAccessRole)."""
    sts = _client({k: v for k, v in DUMMY_CREDENTIALS.items() if k != "region_name"}, "sts", "us-east-1",
                  endpoint_url)
    c = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{MEMBER_ROLE}",
                        RoleSessionName="neptune-audit-seed")["Credentials"]
    return {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
            "aws_session_token": c["SessionToken"]}


def seed_instances(creds: dict, region: str, clusters, endpoint_url: str | None = None,
                   account_id: str = "", instance_class: str = "db.r6g.large") -> list[dict]:
    """Create Neptune clusters and instances (writer first) in one account and region."""
    neptune = _client(creds, "neptune", region, endpoint_url)
    made = []
    for cluster_id, members in clusters:
        neptune.create_db_cluster(DBClusterIdentifier=cluster_id, Engine="neptune")
        for i, (instance_id, amvu, tags) in enumerate(members):
            neptune.create_db_instance(
                DBInstanceIdentifier=instance_id, DBInstanceClass=instance_class, Engine="neptune",
                DBClusterIdentifier=cluster_id, AutoMinorVersionUpgrade=amvu,
                Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
            )
            made.append({"account_id": account_id, "region": region, "cluster_id": cluster_id,
                         "instance_id": instance_id, "auto_minor_version_upgrade": amvu,
                         "is_writer": i == 0, "tags": tags})
    return made


def seed_decoys(creds: dict, region: str, endpoint_url: str | None = None, account_id: str = "") -> list[dict]:
    rds = _client(creds, "rds", region, endpoint_url)
    for name, engine in DECOYS:
        rds.create_db_instance(DBInstanceIdentifier=name, DBInstanceClass="db.t3.micro", Engine=engine,
                               AutoMinorVersionUpgrade=False, AllocatedStorage=20, MasterUsername="admin",
                               MasterUserPassword="not-a-secret-1")
    return [{"account_id": account_id, "region": region, "instance_id": n, "engine": e} for n, e in DECOYS]


DEMO_RANDOM_SEED = 20181102  # moto's ids (member accounts among them) are the same in every demo run


def seed(endpoint_url: str | None = None) -> Manifest:
    """Seed the demo Organization; ``endpoint_url=None`` seeds an in-process ``mock_aws``."""
    base = {k: v for k, v in DUMMY_CREDENTIALS.items() if k != "region_name"}
    if endpoint_url:
        # Stable account ids keep the demo's history meaningful from one run to the next.
        from urllib.request import Request, urlopen

        urlopen(Request(f"{endpoint_url}/moto-api/seed?a={DEMO_RANDOM_SEED}", method="POST"), timeout=10).close()
    manifest = Manifest()
    manifest.accounts["management"] = _client(base, "sts", "us-east-1", endpoint_url).get_caller_identity()["Account"]
    org = _client(base, "organizations", "us-east-1", endpoint_url)
    org.create_organization(FeatureSet="ALL")
    for name in ("member-a", "member-b"):
        status = org.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
        manifest.accounts[name] = status["AccountId"]
    for name, regions in ESTATE.items():
        account_id = manifest.accounts[name]
        creds = base if name == "management" else assume_credentials(endpoint_url, account_id)
        for region, clusters in regions.items():
            manifest.instances += seed_instances(creds, region, clusters, endpoint_url, account_id)
        manifest.decoys += seed_decoys(creds, next(iter(regions)), endpoint_url, account_id)
    return manifest


class DemoServer:
    """A moto server on loopback, seeded once."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1"):
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request on stderr
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self._server.start()
        h, p = self._server.get_host_and_port()
        self.endpoint_url = f"http://{h}:{p}"
        self.manifest = seed(self.endpoint_url)

    def client_env(self, environ=None) -> dict:
        """An environment in which any AWS client (a notebook kernel, the CLI) sees this simulated account."""
        env = dict(os.environ if environ is None else environ, AWS_ENDPOINT_URL=self.endpoint_url,
                   AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
        for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            env.pop(var, None)
        return env

    def stop(self) -> None:
        self._server.stop()


_demo: DemoServer | None = None
_demo_lock = threading.Lock()


def demo_server() -> DemoServer:
    """The process's simulated account, started on first use."""
    global _demo
    with _demo_lock:
        if _demo is None:
            _demo = DemoServer()
        return _demo


def demo_connection(max_workers: int = 16) -> Connection:
    """A Connection to the simulated account, with dummy credentials that never leave this machine."""
    return Connection(endpoint_url=demo_server().endpoint_url, max_workers=max_workers,
                      static_credentials=dict(DUMMY_CREDENTIALS))


def example_exceptions() -> str:
    """The demo's exceptions file (``examples/exceptions.yml``: in a checkout, or inside the installed package)."""
    from pathlib import Path

    from .errors import UsageError

    here = Path(__file__).resolve().parent
    for candidate in (here / "examples" / "exceptions.yml", here.parent / "examples" / "exceptions.yml"):
        if candidate.exists():
            return str(candidate)
    raise UsageError("the example exceptions file is missing from this installation")


def lab_command(server: DemoServer) -> tuple[list[str], dict, str | None]:
    """How to start JupyterLab on the notebooks against ``server``: command, environment, and a note to print."""
    from .report import notebook_path

    command = [sys.executable, "-m", "jupyterlab", str(notebook_path("audit.ipynb").parent)]
    note = None
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # JupyterLab refuses to run as root without --allow-root (it would serve root's files to the browser).
        command.append("--allow-root")
        note = ("Warning: running as root, so JupyterLab starts with --allow-root. That is fine in a throwaway "
                "container; elsewhere run `make lab` as an ordinary user.")
    return command, server.client_env(), note
