"""The simulated account's estate: what ``seed()`` creates on the moto server, and the Neptune data moto lacks.

An AWS Organization (management account plus two members) across three regions: compliant
and non-compliant writers and readers, a cluster held back by its writer, a reader that is a
failover risk, instances matched by ``examples/exceptions.yml`` (by id and by tag), the
same names in two accounts, and RDS MySQL/PostgreSQL instances with the setting off that must
never appear in results.  ``seed()`` returns a manifest of what it created, so tests derive
their expectations from it instead of hard-coding them.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import boto3

from neptune_audit.defaults import DEFAULT_ROLE_NAME
from neptune_audit.rule.outlook import version_key

DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing",
                     "region_name": "us-east-1"}
MEMBER_ROLE = DEFAULT_ROLE_NAME

def _stack(logical_id: str) -> dict:
    """The stack-level tags CloudFormation puts on a resource it creates (template reference, "Resource tag")."""
    return {"aws:cloudformation:stack-name": "graph-stack", "aws:cloudformation:logical-id": logical_id,
            "aws:cloudformation:stack-id": "arn:aws:cloudformation:us-east-1:123456789012:stack/graph-stack/"
                                           "6a7b8c90-1d2e-11f0-9a3b-0e5f6a7b8c9d"}


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
            # defined in examples/iac/cloudformation/graph-stack.yaml: CloudFormation's own tags say so
            ("orders-graph", [("orders-graph-1", False, {"env": "prod", "team": "orders", **_stack("OrdersGraphWriter")}),
                              ("orders-graph-2", True, {"env": "prod", "team": "orders", **_stack("OrdersGraphReader")})]),
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
            ("graph-2019", [("graph-2019-1", True, {"env": "prod", "team": "net"})]),
            # defined in examples/iac/terraform/main.tf (Terraform tags nothing: linked by its identifier)
            ("events-graph", [("events-graph-1", False, {"env": "prod", "team": "events"})]),
        ],
        "ap-southeast-2": [
            ("lab-graph", [("lab-graph-1", False, {"env": "lab", "team": "research"})]),
        ],
    },
}
# The engine release of each demo cluster (its instances run the same), so that every outlook appears:
# kg-legacy and sandbox-graph are on 1.2.x (past end of life, not covered by the setting; kg-legacy has the engine
# upgrade AWS forces on a date) and graph-2019 on 1.1.x (1.1.1.0 ended 2026-11-30); supply-chain (1.4.5.0, end of
# life 2027-03-06) is told that a minor upgrade to 1.4.8.0 or later extends its support; graph-prod's automatic
# target (1.3.2.1) is not its newest minor (1.3.4.0); supply-chain has no automatic target (only a patch);
# identity-graph's maintenance window is open whenever the demo runs (the change-safety warning); fraud-detect has
# a required engine upgrade pending; recs-eu an OS update; network-topology is in a global database; recs-eu and
# lab-graph are current; archive-graph runs a made-up release no catalogue lists (unknown).
ENGINE_VERSIONS = {
    "kg-legacy": "1.2.1.0", "sandbox-graph": "1.2.0.2", "graph-prod": "1.3.1.0", "identity-graph": "1.3.0.0",
    "supply-chain": "1.4.5.0", "recs-eu": "1.4.7.1", "lab-graph": "1.4.7.1", "fraud-detect": "1.3.4.0",
    "network-topology": "1.4.6.2", "graph-2019": "1.1.1.0", "orders-graph": "1.4.5.0", "events-graph": "1.4.6.2",
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


_loader: list = []
_loader_lock = threading.Lock()


def client(creds: dict, service: str, region: str, endpoint_url: str | None):
    """A boto3 client for seeding or inspecting the simulated account.

    Each has its own botocore session (so it reads the environment and config files of the moment, as
    ``boto3.client`` does), and they share one data loader: a new session otherwise parses botocore's endpoint
    table and the service's model again (~45 ms of JSON for an rds client, most of a test's seeding)."""
    import botocore.session

    bc = botocore.session.Session()
    with _loader_lock:
        if not _loader:
            _loader.append(bc.get_component("data_loader"))
    bc.register_component("data_loader", _loader[0])
    return boto3.Session(botocore_session=bc).client(service, region_name=region, endpoint_url=endpoint_url, **creds)


def assume_credentials(endpoint_url: str | None, account_id: str) -> dict:
    """Credentials for a member account of the simulated Organization (its OrganizationAccountAccessRole)."""
    sts = client({k: v for k, v in DUMMY_CREDENTIALS.items() if k != "region_name"}, "sts", "us-east-1",
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
    neptune = client(creds, "neptune", region, endpoint_url)
    engine_versions, windows, global_clusters = engine_versions or {}, windows or {}, global_clusters or {}
    made = []
    for cluster_id, members in clusters:
        version = {"EngineVersion": engine_versions[cluster_id]} if cluster_id in engine_versions else {}
        extra = dict(version)
        if cluster_id in windows:
            extra["PreferredMaintenanceWindow"] = windows[cluster_id]
        if cluster_id in global_clusters:
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
    rds = client(creds, "rds", region, endpoint_url)
    for name, engine in DECOYS:
        rds.create_db_instance(DBInstanceIdentifier=name, DBInstanceClass="db.t3.micro", Engine=engine,
                               AutoMinorVersionUpgrade=False, AllocatedStorage=20, MasterUsername="admin",
                               MasterUserPassword="not-a-secret-1")
    return [{"account_id": account_id, "region": region, "instance_id": n, "engine": e} for n, e in DECOYS]


DEMO_RANDOM_SEED = 20181102  # moto's ids (member accounts among them) are the same in every demo run


def seed(endpoint_url: str | None = None, headers: dict | None = None) -> Manifest:
    """Seed the demo Organization; ``endpoint_url=None`` seeds an in-process ``mock_aws``.  ``headers``: what the
    server asks of a request to its ``/moto-api/`` (the server's token)."""
    base = {k: v for k, v in DUMMY_CREDENTIALS.items() if k != "region_name"}
    if endpoint_url:
        # Stable account ids keep the demo's history meaningful from one run to the next.
        from urllib.request import Request, urlopen

        urlopen(Request(f"{endpoint_url}/moto-api/seed?a={DEMO_RANDOM_SEED}", method="POST", headers=headers or {}),
                timeout=10).close()
    manifest = Manifest()
    windows = {c: open_window() for c in OPEN_WINDOW_CLUSTERS}
    manifest.accounts["management"] = client(base, "sts", "us-east-1", endpoint_url).get_caller_identity()["Account"]
    org = client(base, "organizations", "us-east-1", endpoint_url)
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

    from neptune_audit.inputs import safe_yaml

    return safe_yaml(resources.files(__package__).joinpath("engines.yaml").read_text("utf-8"))


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
        later = [str(r["version"]) for r in releases[i + 1:]
                 if not release.get("only_to") or str(r["version"]).startswith(release["only_to"] + ".")]
        out.append({"Engine": "neptune", "EngineVersion": version, "Status": release.get("status", "available"),
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


def example_code() -> str:
    """The demo's infrastructure code, ``examples/iac`` (a stack-managed and a Terraform-managed cluster)."""
    from neptune_audit.inputs import shipped

    return str(shipped("examples/iac/cloudformation/graph-stack.yaml").parent.parent)


def example_exceptions() -> str:
    """The demo's exceptions file, ``examples/exceptions.yml``."""
    from neptune_audit.inputs import shipped

    return str(shipped("examples/exceptions.yml"))
