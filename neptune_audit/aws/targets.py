"""Targets: which AWS accounts (credentials) and which regions a scan covers.

Accounts come from the standard credential chain, named profiles, role ARNs to assume, or
every ACTIVE account of an AWS Organization.  Regions come from EC2 DescribeRegions, which
knows what is *enabled* for the account (``Session.get_available_regions('neptune')``
returns RDS's static list and knows nothing of opt-in regions).
"""
from __future__ import annotations

import functools
import re
import ssl
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable
from datetime import timezone

import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialProvider, RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound, SSLError
from botocore.parsers import ResponseParserError

from neptune_audit import __version__
from neptune_audit.aws.permissions import Needs
from neptune_audit.aws.tuning import building_client, new_botocore_session, share_http_session
from neptune_audit.errors import AwsError, UsageError, one_line
from neptune_audit.defaults import DEFAULT_ROLE_NAME, DEFAULT_WORKERS, MAX_ORGANIZATION_WORKERS
from neptune_audit.options import ROLE_ARN

SESSION_NAME = "neptune-audit"

# The calls made here and the IAM action each needs (aws/permissions.py).  GetCallerIdentity needs none
# ("No permissions are required to perform this operation", STS API reference).
NEEDS = (
    Needs("NeptuneAuditRead", {"sts.GetCallerIdentity": "", "ec2.DescribeRegions": "ec2:DescribeRegions"}),
    Needs("ListOrganizationAccounts", {"organizations.ListAccounts": "organizations:ListAccounts"},
          when="organization"),
    Needs("AssumeMemberAuditRole", {"sts.AssumeRole": "sts:AssumeRole"}, resource="arn:aws:iam::*:role/{role_name}",
          when="organization"),
)

_DENIED_CODES = {
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess",
    "AuthorizationError", "AuthorizationErrorException",
}


# What one account-region's calls can raise: AWS's answers, botocore's own faults (network, retries exhausted),
# and a body botocore cannot parse (ResponseParserError is not a BotoCoreError).  Each is recorded, never fatal.
AWS_ERRORS = (ClientError, BotoCoreError, ResponseParserError)
def redact_url(url: str | None) -> str | None:
    """A URL as the kit records it: no user:password, no query string (either can hold a secret)."""
    if not url:
        return url
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "") if "@" in parts.netloc else parts.netloc
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def describe_error(exc: Exception) -> tuple[str, str]:
    """Map an AWS exception to a scope state (``denied`` or ``error``) and a one-line message."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code, msg = err.get("Code", "Unknown"), err.get("Message", "")
        state = "denied" if code in _DENIED_CODES else "error"
        return state, one_line(f"{code}: {msg}".strip().rstrip(":"))
    if isinstance(exc, ResponseParserError):
        return "error", "ResponseParserError: AWS's answer could not be parsed (malformed or cut short)"
    return "error", one_line(f"{type(exc).__name__}: {exc}")


@functools.cache  # asked only once an SSLError has happened
def _verification_errors() -> tuple:
    """ssl's, and urllib3's own for another host's certificate (it matches host names itself; the module moved
    between the urllib3 versions botocore accepts)."""
    import importlib

    found = [ssl.SSLCertVerificationError]
    for name in ("urllib3.util.ssl_match_hostname", "urllib3.packages.ssl_match_hostname"):
        try:
            found.append(importlib.import_module(name).CertificateError)
        except (ImportError, AttributeError):
            pass
    return tuple(found)


def _untrusted_certificate(exc: BaseException | None) -> bool:
    """botocore's SSLError for a certificate that failed verification (untrusted, expired, another host's), seen
    through urllib3's wrapping, as opposed to a TLS connection cut short."""
    seen, todo = set(), [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, _verification_errors()):
            return True
        todo += [getattr(e, "kwargs", {}).get("error"), e.__cause__, e.__context__,
                 *(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))]
    return False


def _no_retry_for_an_untrusted_certificate(caught_exception=None, **_):
    # botocore's standard mode retries every connection error, and the kit allows 10 attempts: a CA bundle that
    # does not trust the endpoint (a TLS-inspecting proxy, a wrong AWS_CA_BUNDLE) kept a scan silent for 26-34 s of
    # backoff before saying so.  Retries are for transient failures (SDKs and Tools Reference Guide, "Retry
    # behavior": https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html); verification fails
    # the same way every time.  A TLS connection cut short is still retried.
    if isinstance(caught_exception, SSLError) and _untrusted_certificate(caught_exception):
        raise caught_exception


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
        client.meta.events.register_first("needs-retry", _no_retry_for_an_untrusted_certificate)
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
            from botocore.credentials import CredentialProvider, CredentialResolver

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


def _iso(value) -> str:
    return value.astimezone(timezone.utc).isoformat() if hasattr(value, "astimezone") else str(value)


class _AssumedRoleProvider(CredentialProvider):
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
            "expiry_time": _iso(creds["Expiration"]),
        }

    def load(self):
        # One AssumeRole up front (so a refusal is seen now); botocore refreshes before expiry.
        if self._credentials is None:
            self._credentials = RefreshableCredentials.create_from_metadata(self._fetch(), self._fetch, self.METHOD)
        return self._credentials


def _identity(session: botocore.session.Session, connection: Connection, what: str) -> tuple[str, str]:
    """Account id and caller ARN for a base identity; bad or missing credentials are bad input."""
    sts = connection.client(session, "sts", session.get_config_variable("region") or "us-east-1")
    # The scan's wait for its first answers starts here: the work that fills it (models, clients built ahead) may
    # begin, now that the identity call no longer competes with it for the interpreter before it is sent.
    first_requests_sent.set()
    try:
        ident = sts.get_caller_identity()
    except NoCredentialsError:
        raise AwsError(
            f"no AWS credentials found for {what}: configure the standard AWS credential chain "
            "(environment, AWS_PROFILE, SSO, instance role) or try --demo") from None
    except ClientError as exc:
        _, msg = describe_error(exc)
        raise AwsError(f"AWS rejected the credentials for {what}: {msg}") from None
    except BotoCoreError as exc:
        raise AwsError(f"cannot reach AWS STS for {what}: {one_line(str(exc))}") from None
    return ident["Account"], ident["Arn"]


def _send_describe_regions(ec2) -> Future:
    """DescribeRegions on its own thread: it needs the credentials, not the account id, so it can travel beside
    GetCallerIdentity instead of after it."""
    fut: Future = Future()

    def run() -> None:
        try:
            fut.set_result(ec2.describe_regions(AllRegions=True)["Regions"])
        except BaseException as exc:  # noqa: BLE001 - handed to whoever reads the listing, as if called there
            fut.set_exception(exc)

    threading.Thread(target=run, name="neptune-audit-regions", daemon=True).start()
    return fut


# Set once the scan's first requests are on their way: work that can wait a round trip (the preload of the
# models the regions need) waits for it, rather than take the interpreter from the path to those requests.
first_requests_sent = threading.Event()


# Regions launched before 20 March 2019 are enabled in every account and cannot be disabled; the later ones are
# opt-in (AWS Account Management guide, "Enable or disable AWS Regions in your account":
# https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html).  Only an order of likelihood
# here: what is enabled is always DescribeRegions' answer.
DEFAULT_REGIONS = frozenset({
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1", "eu-west-1", "eu-west-2",
    "eu-west-3", "eu-central-1", "eu-north-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
    "ap-southeast-1", "ap-southeast-2"})


def _build_spares(connection: Connection, session: botocore.session.Session, lock: threading.Lock, spares: dict,
                  home: str, regions: list[str] | None, listing: Future) -> None:
    """While the region listing and the identity call are in flight the interpreter has nothing to do: build the
    rds clients the scan will ask for first (``regions``, or the partition's: those enabled everywhere first, each
    group in the order they are scanned) until the listing is back.  After it, each region's first page goes out
    without a client to build (~2-4 ms each, one region after another under the account's lock)."""
    from neptune_audit.aws.tuning import load_models

    first_requests_sent.wait(timeout=1.0)
    load_models(("rds",))
    if regions is None:
        known = session.get_available_regions("rds", partition_name=partition_of(home) or "aws")
        regions = sorted(known, key=lambda r: (r != home, r not in DEFAULT_REGIONS, r))
    for region in regions:
        if listing.done():
            return
        with lock:
            try:
                spares[region] = connection.client(session, "rds", region)
            except Exception:  # noqa: BLE001 - a head start only: the region's own task builds it and says why not
                return


def _base_account(connection: Connection, profile: str | None, list_regions: bool = False,
                  build_ahead: bool = False, regions: list[str] | None = None) -> Account:
    """The account of a base identity (default chain or profile).  ``list_regions``: it will be scanned, so its
    region listing is sent now, beside the identity call; ``build_ahead``: the rds clients of its ``regions``
    (None: all) are built meanwhile."""
    session = connection.base_session(profile)
    what = f"profile {profile!r}" if profile else "the default credential chain"
    clients: dict = {}
    spares: dict = {}
    lock, prefetch = threading.Lock(), None
    if list_regions:
        home = session.get_config_variable("region") or "us-east-1"
        clients[("ec2", home)] = ec2 = connection.client(session, "ec2", home)
        prefetch = _send_describe_regions(ec2)
        if build_ahead:
            threading.Thread(target=_build_spares, args=(connection, session, lock, spares, home, regions, prefetch),
                             name="neptune-audit-spares", daemon=True).start()
    account_id, arn = _identity(session, connection, what)
    return Account(account_id, f"profile:{profile}" if profile else "default", session, connection, caller_arn=arn,
                   regions_prefetch=prefetch, _clients=clients, _spares=spares, _lock=lock)


def check_credentials(connection: Connection, profiles=(), regions: list[str] | None = None) -> None:
    """Fail now, with one line, if the base credentials (default chain or each profile) do not work, or if
    ``regions`` names a region the first of them does not know."""
    bases = [_base_account(connection, profile, list_regions=i == 0 and regions is not None)
             for i, profile in enumerate(profiles or [None])]
    if regions is not None:
        check_known_regions(regions, [describe_regions(bases[0])])


def assume(base: Account, role_arn: str, label: str | None = None) -> Account:
    """Assume ``role_arn`` from ``base``; a refusal becomes the account's scope state, not an exception."""
    match = ROLE_ARN.match(role_arn)
    account_id = match.group(1) if match else "unknown"
    label = label or f"role:{role_arn}"
    provider = _AssumedRoleProvider(base.client("sts"), role_arn)
    home = base.home_region

    def make_session() -> botocore.session.Session:
        bc = new_botocore_session()
        bc.get_component("credential_provider").insert_before("env", provider)
        bc.set_config_variable("region", home)
        return bc

    try:
        provider.load()
        # The session is built when the account is first used, not here: see Account.release().
        return Account(account_id, label, None, base.connection, caller_arn=provider.assumed_arn,
                       make_session=make_session, _home=home)
    except AWS_ERRORS as exc:
        state, msg = describe_error(exc)
        return Account(account_id, label, None, base.connection, state=state,
                       error=f"cannot assume {role_arn}: {msg}")


def organization_accounts(base: Account) -> list[dict]:
    """Every ACTIVE account of the caller's AWS Organization (id, name)."""
    org = base.client("organizations")
    try:
        accounts = [a for page in org.get_paginator("list_accounts").paginate() for a in page["Accounts"]]
    except AWS_ERRORS as exc:
        # Not in an Organization: AWSOrganizationsNotInUseException; a member account: AccessDenied.
        raise UsageError(f"cannot list the AWS Organization's accounts: {describe_error(exc)[1]}") from None
    if not accounts:
        # AWS always lists at least the management account; an empty list means there is no Organization here.
        raise UsageError("the AWS Organization lists no accounts (is this account in an Organization?)")
    # `State` replaces the deprecated `Status`; accept either.
    return [a for a in accounts if (a.get("State") or a.get("Status")) == "ACTIVE"]


def in_shard(account_ids: list[str], management: str, shard: tuple[int, int] | None) -> list[str]:
    """The accounts of shard K of N: the management account is shard 1's; each other ACTIVE account, by its
    position in the sorted list of the others, belongs to shard ``position % N + 1``.  N runs with the same
    N cover the Organization exactly once."""
    if shard is None:
        return list(account_ids)
    k, n = shard
    others = sorted(a for a in set(account_ids) if a != management)
    mine = {a for i, a in enumerate(others) if i % n == k - 1} | ({management} if k == 1 else set())
    return [a for a in account_ids if a in mine]


def _account_of(candidate) -> str:
    """The account id of an Account, or of a (base, role ARN, label) still to assume."""
    if isinstance(candidate, Account):
        return candidate.account_id
    m = ROLE_ARN.match(candidate[1])
    assert m is not None, "role ARNs are checked when given"
    return m.group(1)


def resolve_accounts(connection: Connection, profiles=(), role_arns=(), organization=False,
                     role_name: str = DEFAULT_ROLE_NAME, only=(), shard: tuple[int, int] | None = None,
                     regions: list[str] | None = None) -> list[Account]:
    """Every account to scan, reachable or not, one per account id (first mention wins).

    ``only``: just these account ids (``--accounts``); ``shard``: (K, N) of an Organization (``--shard K/N``).
    Roles are assumed only for the accounts kept.  ``regions``: those the scan will cover (None: every enabled one).
    """
    # the ARNs' syntax and --profile with --demo: checked once, in ScanOptions.validate
    scanned = organization or not role_arns or bool(profiles)  # a base identity that is itself scanned
    bases = ([_base_account(connection, p, list_regions=scanned, build_ahead=scanned and i == 0, regions=regions)
              for i, p in enumerate(profiles)]
             or [_base_account(connection, None, list_regions=scanned, build_ahead=scanned, regions=regions)])
    candidates: list[Account | tuple[Account, str, str]] = []  # accounts in hand, or (base, role ARN, label) jobs
    for arn in role_arns:
        candidates.append((bases[0], arn, f"role:{arn}"))
    if organization:
        base = bases[0]
        members = organization_accounts(base)
        if base.account_id not in {m["Id"] for m in members}:
            # The caller's own account is always in scope, listed or not.
            members = [{"Id": base.account_id, "Name": "(caller)"}, *members]
        kept = set(in_shard([m["Id"] for m in members], base.account_id, shard))
        for member in (m for m in members if m["Id"] in kept):
            if member["Id"] == base.account_id:
                candidates.append(Account(base.account_id, f"org:{member.get('Name', '')}", base.session,
                                          connection, caller_arn=base.caller_arn,
                                          regions_prefetch=base.regions_prefetch, _clients=dict(base._clients),
                                          _spares=base._spares, _lock=base._lock))  # one session, one lock
                base.regions_prefetch = None
            else:
                arn = f"arn:{base.partition}:iam::{member['Id']}:role/{role_name}"
                candidates.append((base, arn, f"org:{member.get('Name', member['Id'])}"))
    if (not role_arns and not organization) or profiles:
        candidates.extend(bases)
    if only:
        ids = {_account_of(c) for c in candidates}
        missing = [a for a in only if a not in ids]
        if missing and not (organization and shard):  # in a shard, the others' accounts are simply elsewhere
            raise UsageError(f"--accounts names {missing[0]}, which is not among the targets")
        candidates = [c for c in candidates
                      if _account_of(c) in only]
    jobs = [c for c in candidates if not isinstance(c, Account)]
    with ThreadPoolExecutor(max_workers=connection.max_workers or DEFAULT_WORKERS) as pool:
        assumed = list(pool.map(lambda job: assume(*job), jobs))
    # Accounts reached with the caller's own credentials come first, so they win over an assumed role to the same id.
    accounts = [c for c in candidates if isinstance(c, Account)] + assumed
    seen, unique = set(), []
    for acct in accounts:
        if acct.account_id not in seen:
            seen.add(acct.account_id)
            unique.append(acct)
    return unique


@dataclass
class RegionList:
    """What DescribeRegions said for one account: region -> enabled, or why it could not say."""

    enabled: dict[str, bool] = field(default_factory=dict)
    state: str | None = None
    error: str | None = None


_PARTITIONS: list[tuple[str, set, re.Pattern]] | None = None


def partition_of(region: str) -> str | None:
    """The AWS partition (aws, aws-cn, aws-us-gov, ...) a region name belongs to, from botocore's data."""
    global _PARTITIONS
    if _PARTITIONS is None:
        data = new_botocore_session().get_data("endpoints")["partitions"]  # the shared, already parsed copy
        _PARTITIONS = [(p["partition"], set(p.get("regions", {})), re.compile(p["regionRegex"])) for p in data]
    for name, regions, _ in _PARTITIONS:
        if region in regions:
            return name
    for name, _, regex in _PARTITIONS:
        if regex.match(region):
            return name
    return None


def describe_regions(account: Account) -> RegionList:
    prefetch, account.regions_prefetch = account.regions_prefetch, None
    try:
        regions = (prefetch.result() if prefetch is not None
                   else account.client("ec2").describe_regions(AllRegions=True)["Regions"])
    except AWS_ERRORS as exc:
        state, msg = describe_error(exc)
        return RegionList(state=state, error=f"ec2:DescribeRegions failed: {msg}")
    # Credentials work in one partition only; some endpoints (moto among them) list every partition's regions.
    return RegionList({r["RegionName"]: r.get("OptInStatus", "opt-in-not-required") != "not-opted-in"
                       for r in regions if partition_of(r["RegionName"]) in (account.partition, None)})


def check_known_regions(regions: list[str], region_lists: list[RegionList]) -> None:
    known = known_regions(region_lists)
    unknown = [r for r in regions if r not in known]
    if unknown:
        raise UsageError(f"unknown region {unknown[0]!r} (not a region AWS knows; try --regions all)")


def known_regions(region_lists: list[RegionList]) -> set[str]:
    """Region names AWS (or the endpoint) knows, with botocore's bundled list as a fallback."""
    known = {r for rl in region_lists for r in rl.enabled}
    if not known:
        s = new_botocore_session()
        for partition in s.get_available_partitions():
            known.update(s.get_available_regions("ec2", partition_name=partition))
    return known

