"""Which AWS accounts a scan covers: the standard credential chain, named profiles, role ARNs to assume, or every
ACTIVE account of an AWS Organization (a shard of it, or only some accounts); each reachable or not, with why."""
from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

import botocore.session
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from neptune_audit.aws.connection import Account, AssumedRoleProvider, Connection
from neptune_audit.aws.faults import AWS_ERRORS, describe_error
from neptune_audit.aws.permissions import Needs
from neptune_audit.aws.regions import (DEFAULT_REGIONS, send_describe_regions, check_known_regions, describe_regions,
                                       partition_of)
from neptune_audit.aws.tuning import load_models, new_botocore_session
from neptune_audit.defaults import DEFAULT_ROLE_NAME, DEFAULT_WORKERS
from neptune_audit.errors import AwsError, OptionError, UsageError, one_line
from neptune_audit.options import ROLE_ARN

# The calls made here and the IAM action each needs (aws/permissions.py).  GetCallerIdentity needs none
# ("No permissions are required to perform this operation", STS API reference).
NEEDS = (
    Needs("NeptuneAuditRead", {"sts.GetCallerIdentity": ""}),
    Needs("ListOrganizationAccounts", {"organizations.ListAccounts": "organizations:ListAccounts"},
          when="organization"),
    Needs("AssumeMemberAuditRole", {"sts.AssumeRole": "sts:AssumeRole"}, resource="arn:aws:iam::*:role/{role_name}",
          when="organization"),
)


def _identity(session: botocore.session.Session, connection: Connection, what: str) -> tuple[str, str]:
    """Account id and caller ARN for a base identity; bad or missing credentials are bad input."""
    sts = connection.client(session, "sts", session.get_config_variable("region") or "us-east-1")
    # The scan's wait for its first answers starts here: the work that fills it (models, clients built ahead) may
    # begin, now that the identity call no longer competes with it for the interpreter before it is sent.
    connection.first_requests_sent.set()
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


def _build_spares(connection: Connection, session: botocore.session.Session, lock: threading.Lock, spares: dict,
                  home: str, regions: list[str] | None, listing: Future) -> None:
    """While the region listing and the identity call are in flight the interpreter has nothing to do: build the
    rds clients the scan will ask for first (``regions``, or the partition's: those enabled everywhere first, each
    group in the order they are scanned) until the listing is back.  After it, each region's first page goes out
    without a client to build (~2-4 ms each, one region after another under the account's lock)."""
    connection.first_requests_sent.wait(timeout=1.0)
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
        prefetch = send_describe_regions(ec2)
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
    provider = AssumedRoleProvider(base.client("sts"), role_arn)
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
            raise OptionError("accounts", f"names {missing[0]}, which is not among the targets")
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
