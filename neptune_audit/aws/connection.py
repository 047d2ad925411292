"""How the kit reaches AWS: a ``Connection`` (endpoint, retries, pool, the caller's own session) makes the kit's
sessions and clients; an ``Account`` is one account reached through one session, its clients cached, its assumed
role's credentials refreshed."""
from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable

import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialProvider, RefreshableCredentials
from botocore.exceptions import ProfileNotFound

from neptune_audit._version import __version__
from neptune_audit.aws.faults import no_retry_for_an_untrusted_certificate
from neptune_audit.aws.tuning import building_client, new_botocore_session, share_http_session
from neptune_audit.defaults import MAX_ORGANIZATION_WORKERS
from neptune_audit.errors import AwsError, UsageError
from neptune_audit.records import iso

SESSION_NAME = "neptune-audit"


@dataclass
class Connection:
    """How clients are made: endpoint (simulated account or any AWS-compatible one), retries, pool."""

    endpoint_url: str | None = None
    max_workers: int | None = None  # None: as the scan sizes its pool (options.auto_workers)
    # Standard, not adaptive: AWS recommends standard and keeps adaptive for specialised cases (SDKs and Tools
    # Reference Guide, "Retry behavior": https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html).
    # Adaptive's client-side rate limiter learns a sending rate per client, and the kit's clients make ~4 calls each
    # (one per account-region), so it had nothing to learn; it cost ~0.6 ms of CPU per call.  Attempts and backoff
    # are the same in both modes.
    retry_mode: str = "standard"
    max_attempts: int = 10
    static_credentials: dict | None = None  # only for the simulated account
    # a caller's own boto3.Session or botocore Session: its credentials (refreshed as they expire) and region are
    # the base the kit starts from, instead of the standard chain; the kit still builds its own sessions from them
    session: object | None = None
    # (event, handler) pairs registered on every client: fault injection in tests, delays in benchmarks
    hooks: list = field(default_factory=list)
    # Set once this scan's first requests are on their way: work that can wait a round trip (the preload of the
    # models the regions need) waits for it, rather than take the interpreter from the path to those requests.
    # One per connection (a scan's), so a kernel's second scan waits for its own requests, not the first's.
    first_requests_sent: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)
    # Every AWS call made through this connection's clients (STS, Organizations and AssumeRole included): botocore's
    # before-call event fires once per call, whatever its retries.  ``run.api_calls`` is a scan's share of it.
    _calls: list = field(default_factory=lambda: [0], repr=False, compare=False)
    _calls_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def api_calls(self) -> int:
        """AWS calls made so far through this connection's clients."""
        return self._calls[0]

    def _count_call(self, **_) -> None:
        with self._calls_lock:
            self._calls[0] += 1

    def config(self) -> Config:
        return Config(
            retries={"mode": self.retry_mode, "max_attempts": self.max_attempts},
            # a connection per worker: the pool is a cap, never filled beyond the workers in flight
            max_pool_connections=max(10, self.max_workers or MAX_ORGANIZATION_WORKERS),
            connect_timeout=10,
            read_timeout=60,
            user_agent_extra=f"neptune-audit/{__version__}",
        )

    def client(self, session: botocore.session.Session, service: str, region: str):
        with building_client():
            client = session.create_client(service, region_name=region, endpoint_url=self.endpoint_url,
                                           config=self.config())
        share_http_session(client)
        client.meta.events.register_first("needs-retry", no_retry_for_an_untrusted_certificate)
        client.meta.events.register("before-call", self._count_call)
        for event, handler in self.hooks:
            client.meta.events.register_first(event, handler)  # before moto's in-process mock
        return client

    def base_session(self, profile: str | None = None) -> botocore.session.Session:
        """A botocore session of the kit's own (boto3's Session adds nothing the kit uses, and importing boto3 is
        ~30 ms on the path to the first request): the standard credential chain, a named profile, or the
        simulated account's static keys."""
        bc = new_botocore_session()
        if self.static_credentials:
            creds = self.static_credentials
            bc.set_credentials(creds["aws_access_key_id"], creds["aws_secret_access_key"],
                               creds.get("aws_session_token"))
            if creds.get("region_name"):
                bc.set_config_variable("region", creds["region_name"])
            return bc
        if self.session is not None:
            from botocore.credentials import CredentialResolver

            given = self.session.get_credentials()  # type: ignore[attr-defined]  # boto3's or botocore's
            if given is None:
                raise AwsError("the session given to the kit has no credentials")

            class Given(CredentialProvider):
                METHOD = "given-session"

                def load(self):
                    return given

            bc.register_component("credential_provider", CredentialResolver([Given()]))
            region = getattr(self.session, "region_name", None)
            if region is None and hasattr(self.session, "get_config_variable"):
                region = self.session.get_config_variable("region")
            if region:
                bc.set_config_variable("region", region)
            return bc
        if profile:
            try:
                known = profile in bc.available_profiles
            except ProfileNotFound:
                known = False
            if not known:
                raise UsageError(f"unknown AWS profile {profile!r} (not in the AWS config or credentials file)")
            bc.set_config_variable("profile", profile)
        return bc


@dataclass
class Account:
    """One account to scan, reached through one botocore session (or not reached, with why).

    An assumed-role account builds its session on first use and drops it, with its clients, when
    ``release()`` is called (its regions are done): a 1,000-account Organization keeps only the accounts in
    flight in memory.  Its credentials (the assumed role's, refreshable) are kept, so a later use (remediation)
    builds the session again without a new AssumeRole.
    """

    account_id: str
    label: str
    session: botocore.session.Session | None
    connection: Connection
    caller_arn: str | None = None
    state: str | None = None  # "denied" / "error" when the account could not be reached
    error: str | None = None
    make_session: Callable[[], botocore.session.Session] | None = field(default=None, repr=False)
    # DescribeRegions sent beside GetCallerIdentity (its raw Regions, once): one round trip off the critical path
    regions_prefetch: Future | None = field(default=None, repr=False)
    _home: str | None = field(default=None, repr=False)  # the home region while the session is not built
    _clients: dict = field(default_factory=dict, repr=False)
    _spares: dict = field(default_factory=dict, repr=False)  # region -> rds client built ahead (_build_spares)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def reachable(self) -> bool:
        return self.session is not None or self.make_session is not None

    @property
    def home_region(self) -> str:
        return (self.session and self.session.get_config_variable("region")) or self._home or "us-east-1"

    @property
    def partition(self) -> str:
        """The AWS partition its credentials work in (``aws``, ``aws-cn``, ...), from the caller's ARN."""
        return self.caller_arn.split(":")[1] if self.caller_arn else "aws"

    def client(self, service: str, region: str | None = None, cache: bool = True):
        """A client per (service, region), cached unless ``cache=False`` (a region scanned once need not keep
        its client); built under a lock because botocore sessions are not thread-safe to build clients from."""
        region = region or self.home_region
        key = (service, region)
        with self._lock:
            if self.session is None and self.make_session is not None:
                self.session = self.make_session()
            if not cache:
                spare = self._spares.pop(region, None) if service == "rds" else None
                return spare or self.connection.client(self.session, service, region)
            if key not in self._clients:
                self._clients[key] = self.connection.client(self.session, service, region)
            return self._clients[key]

    def release(self) -> None:
        """Drop the session and its clients (their models, connection pools, handlers) if they can be rebuilt,
        and any client built ahead that no region asked for."""
        with self._lock:
            self._spares.clear()
            if self.make_session is not None:
                self._clients.clear()
                self.session = None


class AssumedRoleProvider(CredentialProvider):
    """Refreshable credentials for an assumed role, so long runs outlive the first hour."""

    METHOD = "neptune-audit-assume-role"

    def __init__(self, sts, role_arn: str):
        super().__init__()
        self._sts, self._role_arn = sts, role_arn
        self._credentials = None
        self.assumed_arn: str | None = None

    def _fetch(self) -> dict:
        resp = self._sts.assume_role(RoleArn=self._role_arn, RoleSessionName=SESSION_NAME)
        self.assumed_arn = resp["AssumedRoleUser"]["Arn"]
        creds = resp["Credentials"]
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": iso(creds["Expiration"]),
        }

    def load(self):
        # One AssumeRole up front (so a refusal is seen now); botocore refreshes before expiry.
        if self._credentials is None:
            self._credentials = RefreshableCredentials.create_from_metadata(self._fetch(), self._fetch, self.METHOD)
        return self._credentials
