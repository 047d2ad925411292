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

from .outlook import version_key
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
            ("archive-graph", [("archive-graph-1", True, {"env": "prod", "team": "archive"})]),
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
# The engine release of each demo cluster (its instances run the same), so that every outlook appears:
# kg-legacy and sandbox-graph are on 1.2.x (past end of life, not covered by the setting); graph-prod's automatic
# target (1.3.2.1) is not its newest minor (1.3.4.0); supply-chain has no automatic target (only a patch);
# identity-graph's maintenance window is open whenever the demo runs (the change-safety warning); fraud-detect has
# a required engine upgrade pending; recs-eu an OS update; network-topology is in a global database; recs-eu and
# lab-graph are current; archive-graph runs a made-up release no catalogue lists (unknown).
ENGINE_VERSIONS = {
    "kg-legacy": "1.2.1.0", "sandbox-graph": "1.2.0.2", "graph-prod": "1.3.1.0", "identity-graph": "1.3.0.0",
    "supply-chain": "1.4.5.0", "recs-eu": "1.4.7.1", "lab-graph": "1.4.7.1", "fraud-detect": "1.3.4.0",
    "network-topology": "1.4.6.2",
    "archive-graph": "1.4.99.0",  # fictional: its exposure is unknown
}
GLOBAL_CLUSTERS = {"network-topology": "global-topology"}
OPEN_WINDOW_CLUSTERS = ("identity-graph",)


def open_window(now=None) -> str:
    """A maintenance window (``ddd:hh:mm-ddd:hh:mm``, UTC) that is open at ``now`` for the next hour."""
    from datetime import datetime, timedelta, timezone

    now = now or datetime.now(timezone.utc)
    fmt = lambda t: f"{t.strftime('%a').lower()}:{t:%H:%M}"  # noqa: E731
    return f"{fmt(now - timedelta(minutes=10))}-{fmt(now + timedelta(minutes=60))}"


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
                   account_id: str = "", instance_class: str = "db.r6g.large",
                   engine_versions: dict | None = None, windows: dict | None = None,
                   global_clusters: dict | None = None) -> list[dict]:
    """Create Neptune clusters and instances (writer first) in one account and region.

    ``engine_versions``: cluster id -> engine release (default: moto's, 1.3.2.1); ``windows``: cluster id ->
    maintenance window; ``global_clusters``: cluster id -> the global database it is created in.
    """
    neptune = _client(creds, "neptune", region, endpoint_url)
    made = []
    for cluster_id, members in clusters:
        version = {"EngineVersion": engine_versions[cluster_id]} if cluster_id in (engine_versions or {}) else {}
        extra = dict(version)
        if cluster_id in (windows or {}):
            extra["PreferredMaintenanceWindow"] = windows[cluster_id]
        if cluster_id in (global_clusters or {}):
            neptune.create_global_cluster(GlobalClusterIdentifier=global_clusters[cluster_id], Engine="neptune",
                                          **version)
            extra["GlobalClusterIdentifier"] = global_clusters[cluster_id]
        neptune.create_db_cluster(DBClusterIdentifier=cluster_id, Engine="neptune", **extra)
        for i, (instance_id, amvu, tags) in enumerate(members):
            neptune.create_db_instance(
                DBInstanceIdentifier=instance_id, DBInstanceClass=instance_class, Engine="neptune",
                DBClusterIdentifier=cluster_id, AutoMinorVersionUpgrade=amvu,
                Tags=[{"Key": k, "Value": v} for k, v in tags.items()], **version,
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
    windows = {c: open_window() for c in OPEN_WINDOW_CLUSTERS}
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
            manifest.instances += seed_instances(creds, region, clusters, endpoint_url, account_id,
                                                 engine_versions=ENGINE_VERSIONS, windows=windows,
                                                 global_clusters=GLOBAL_CLUSTERS)
        manifest.decoys += seed_decoys(creds, next(iter(regions)), endpoint_url, account_id)
    return manifest


# --- What moto lacks: Neptune's engine catalogue and pending maintenance ------------------------------------

def _engine_data() -> dict:
    from importlib import resources

    import yaml

    return yaml.safe_load(resources.files(__package__).joinpath("simulated_engines.yaml").read_text("utf-8"))


def _upgrade_target(current: str, target: str, auto: bool) -> dict:
    # Neptune's major version is the second number (1.3.x.x is major 3; 1.2.x.x major 2).
    return {"Engine": "neptune", "EngineVersion": target, "Description": f"Neptune engine version {target}",
            "AutoUpgrade": auto, "IsMajorVersionUpgrade": version_key(target)[:2] != version_key(current)[:2],
            "SupportsGlobalDatabases": True}


def engine_versions(engine_version: str | None = None) -> list[dict]:
    """The simulated DescribeDBEngineVersions(Engine="neptune") answer, as the API's DBEngineVersion shapes."""
    releases = _engine_data()["releases"]
    out = []
    for i, release in enumerate(releases):
        version = str(release["version"])
        if engine_version and version != engine_version:
            continue
        later = [str(r["version"]) for r in releases[i + 1:]]
        out.append({"Engine": "neptune", "EngineVersion": version, "Status": "available",
                    "DBParameterGroupFamily": "neptune1." + str(version_key(version)[1]),
                    "DBEngineDescription": "Neptune", "DBEngineVersionDescription": f"Neptune {version}",
                    "SupportsGlobalDatabases": True,
                    "ValidUpgradeTarget": [_upgrade_target(version, t, t == release["auto"]) for t in later]})
    return out


def pending_actions(cluster_id: str, today=None) -> list[dict]:
    """The simulated pending maintenance of a cluster, as the API's PendingMaintenanceAction shapes."""
    from datetime import date, datetime, time, timedelta, timezone

    today = today or date.today()

    def day(n):
        return None if n is None else datetime.combine(today + timedelta(days=n), time(), tzinfo=timezone.utc)

    return [{"Action": a["action"], "Description": a["description"],
             "AutoAppliedAfterDate": day(a.get("auto_applied_after_days")),
             "ForcedApplyDate": day(a.get("forced_apply_date_days")),
             "CurrentApplyDate": day(a.get("auto_applied_after_days")), "OptInStatus": a.get("opt_in_status")}
            for a in _engine_data()["pending"].get(cluster_id, [])]


def install_neptune_extras() -> None:
    """Teach moto's RDS API the two calls it lacks, for Neptune, from ``simulated_engines.yaml``.

    They are added to moto's own RDS response handler, so moto authenticates, authorises (IAM enforcement
    included) and serialises them with botocore's service model: every client, in-process or over HTTP
    (a notebook kernel, the CLI), sees AWS's response format.  Idempotent; a moto that implements the calls
    itself is left alone.
    """
    from moto.core.responses import ActionResult
    from moto.rds.responses import RDSResponse

    if hasattr(RDSResponse, "describe_db_engine_versions") and hasattr(RDSResponse, "describe_pending_maintenance_actions"):
        return

    def paged(self, key: str, items: list) -> ActionResult:
        start = int(self.params.get("Marker") or 0)
        size = int(self.params.get("MaxRecords") or 100)
        result = {key: items[start:start + size]}
        if start + size < len(items):
            result["Marker"] = str(start + size)
        return ActionResult(result)

    def describe_db_engine_versions(self) -> ActionResult:
        engine = self.params.get("Engine")
        versions = engine_versions(self.params.get("EngineVersion")) if engine in (None, "neptune") else []
        return paged(self, "DBEngineVersions", versions)

    def describe_pending_maintenance_actions(self) -> ActionResult:
        wanted = self.params.get("ResourceIdentifier")
        filters = {f["Name"]: f["Values"] for f in self.params.get("Filters", [])}
        cluster_ids = filters.get("db-cluster-id")
        found = []
        for cluster_id, cluster in sorted(self.backend.clusters.items()):
            arn = cluster.db_cluster_arn
            if cluster.engine != "neptune" or (wanted and wanted != arn):
                continue
            if cluster_ids is not None and cluster_id not in cluster_ids and arn not in cluster_ids:
                continue
            actions = pending_actions(cluster_id)
            if actions:
                found.append({"ResourceIdentifier": arn, "PendingMaintenanceActionDetails": actions})
        return paged(self, "PendingMaintenanceActions", found)

    RDSResponse.describe_db_engine_versions = describe_db_engine_versions
    RDSResponse.describe_pending_maintenance_actions = describe_pending_maintenance_actions


def client_env(endpoint_url: str, environ=None) -> dict:
    """An environment in which any AWS client (a notebook kernel, the CLI) sees the simulated account at
    ``endpoint_url``, with dummy credentials and nothing of the caller's own AWS configuration."""
    env = dict(os.environ if environ is None else environ, AWS_ENDPOINT_URL=endpoint_url,
               AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        env.pop(var, None)
    return env


class DemoServer:
    """A moto server on loopback with the Neptune extras, seeded once (``seeded=False`` for an empty one)."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", seeded: bool = True):
        import logging

        from moto.server import ThreadedMotoServer

        install_neptune_extras()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request on stderr
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self._server.start()
        h, p = self._server.get_host_and_port()
        self.port = p
        self.endpoint_url = f"http://{h}:{p}"
        self.manifest = seed(self.endpoint_url) if seeded else None

    def client_env(self, environ=None) -> dict:
        """An environment in which any AWS client (a notebook kernel, the CLI) sees this simulated account."""
        return client_env(self.endpoint_url, environ)

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


def demo_connection(max_workers: int | None = None) -> Connection:
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


LAB_PARAMETERS = {"organization": True, "history_dir": "history"}  # and the example exceptions file


def prepare_lab(folder, **overrides) -> list:
    """Working copies of both notebooks in ``folder`` for ``demo --lab``, set for the full demo: the simulated
    Organization, the example exceptions, a history folder.

    JupyterLab saves (and autosaves) outputs into the notebooks it opens: opening copies keeps the tracked
    notebooks clean.  A copy that exists is the user's and is kept.  ``overrides`` (e.g. ``apply=True``) go to
    each notebook that declares them.
    """
    from pathlib import Path

    import nbformat

    from .report import notebook_path, set_parameters

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {**LAB_PARAMETERS, "exceptions_file": example_exceptions(), **overrides}
    paths = []
    for name in ("audit.ipynb", "remediate.ipynb"):
        target = folder / name
        paths.append(target)
        if target.exists():
            continue
        nb = nbformat.read(notebook_path(name), as_version=4)
        # The values go into the parameters cell itself rather than into a second cell papermill would inject
        # below it: a newcomer reads one set of parameters, and it is the one in effect.
        set_parameters(nb, wanted, "parameters", "set by `neptune-audit demo --lab`")
        nbformat.write(nb, target)
    return paths


# JupyterLab leaves widget state out of saved notebooks unless told (ipywidgets' saveState, off by default): the
# filter bar of a saved notebook would then reopen as "Error displaying widget: model not found".
WIDGET_SETTINGS = ("@jupyter-widgets", "jupyterlab-manager", "plugin.jupyterlab-settings")


def lab_command(endpoint_url: str, folder, settings_dir=None) -> tuple[list[str], dict, str | None]:
    """How to start JupyterLab on ``folder`` against the simulated account at ``endpoint_url``: command,
    environment, and a note to print.  Its user settings live in ``settings_dir`` (default: ``folder``'s
    ``.jupyterlab-settings``, so the demo never edits your own), with widget state saved into notebooks."""
    import json
    from pathlib import Path

    settings = Path(settings_dir) if settings_dir else Path(folder) / ".jupyterlab-settings"
    widget_file = settings.joinpath(*WIDGET_SETTINGS)
    if not widget_file.exists():
        widget_file.parent.mkdir(parents=True, exist_ok=True)
        widget_file.write_text(json.dumps({"saveState": True}) + "\n")
    command = [sys.executable, "-m", "jupyterlab", str(folder)]
    note = None
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # JupyterLab refuses to run as root without --allow-root (it would serve root's files to the browser).
        command.append("--allow-root")
        note = ("Warning: running as root, so JupyterLab starts with --allow-root. That is fine in a throwaway "
                "container; elsewhere run `neptune-audit demo --lab` as an ordinary user.")
    return command, {**client_env(endpoint_url), "JUPYTERLAB_SETTINGS_DIR": str(settings)}, note
