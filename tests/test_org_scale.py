"""Organization scale: memory follows the pool, not the number of accounts (in-process moto)."""
from __future__ import annotations

import pytest

import threading

import boto3

import neptune_audit
from neptune_audit.simulate import estate as sim_estate
from neptune_audit.aws import connection as aws_connection
from neptune_audit.aws.connection import Connection

from .conftest import CREDS


def _organization(members: int) -> list[str]:
    org = boto3.client("organizations", region_name="us-east-1", **CREDS)
    org.create_organization(FeatureSet="ALL")
    ids = [org.create_account(Email=f"m{i}@example.com", AccountName=f"m{i}")["CreateAccountStatus"]["AccountId"]
           for i in range(members)]
    # A small fleet in a few members, so that findings come from several accounts.
    for acct in ids[:3]:
        sim_estate.seed_instances(sim_estate.assume_credentials(None, acct), "eu-west-1",
                                [(f"g{acct[-4:]}", [(f"g{acct[-4:]}-w", False, {})])], account_id=acct)
    return ids


class LiveSessions:
    """Counts the accounts whose session is built and not yet released, and the most at any time."""

    def __init__(self, monkeypatch):
        self.live, self.most, self.built = set(), 0, 0
        self._lock = threading.Lock()
        original_client, original_release = aws_connection.Account.client, aws_connection.Account.release
        counter = self

        def client(account, *a, **k):
            with counter._lock:
                if account.make_session is not None and account.session is None:
                    counter.built += 1
                    counter.live.add(account.account_id)
                    counter.most = max(counter.most, len(counter.live))
            return original_client(account, *a, **k)

        def release(account):
            with counter._lock:
                counter.live.discard(account.account_id)
            return original_release(account)

        monkeypatch.setattr(aws_connection.Account, "client", client)
        monkeypatch.setattr(aws_connection.Account, "release", release)


@pytest.mark.slow  # an Organization of many accounts
def test_sessions_alive_at_once_follow_the_pool_not_the_organization(aws, monkeypatch):
    ids = _organization(40)
    live = LiveSessions(monkeypatch)
    result = neptune_audit.scan(neptune_audit.ScanOptions(organization=True, regions="us-east-1,eu-west-1,ap-southeast-2",
                                                          max_workers=2))
    assert set(result.scope["account_id"]) == {*ids, "123456789012"}
    assert (result.scope["state"] == "scanned").all() and len(result.findings) == 3
    assert live.built == 40, "each member's session is built once"
    assert live.most <= 6, f"{live.most} member sessions alive at once with 2 workers (41 accounts)"
    assert not live.live, "every member's session is released when its regions are done"
    members = [a for a in result.accounts if a.account_id in ids]
    assert all(a.session is None and not a._clients for a in members)


def test_a_released_account_is_rebuilt_without_a_new_assume_role(aws):
    _organization(3)
    calls = []
    conn = Connection(hooks=[("before-call.sts.AssumeRole", lambda **kw: calls.append(1))])
    result = neptune_audit.scan(neptune_audit.ScanOptions(organization=True, regions="eu-west-1"), connection=conn)
    member = next(a for a in result.accounts if a.make_session is not None)
    assert member.session is None and member.reachable
    assumed = len(calls)
    dbs = member.client("rds", "eu-west-1").describe_db_instances()["DBInstances"]
    assert [d["DBInstanceIdentifier"] for d in dbs] == [f"g{member.account_id[-4:]}-w"]
    assert len(calls) == assumed, "the assumed role's credentials are kept; the session alone is rebuilt"


def test_progress_total_counts_account_regions(aws, monkeypatch, capsys):
    ids = _organization(4)
    seen = []
    from neptune_audit.present.progress import ScanProgress

    original = ScanProgress.listed_account

    def listed(self, tasks):
        original(self, tasks)
        seen.append((self.bar.total, self.bar.n))

    monkeypatch.setattr(ScanProgress, "listed_account", listed)
    result = neptune_audit.scan(neptune_audit.ScanOptions(organization=True, regions="us-east-1,eu-west-1"), progress=True)
    scanned = int((result.scope["state"] == "scanned").sum())
    assert scanned == 2 * (len(ids) + 1)
    assert seen[-1][0] == scanned, "once every account is listed, the total is exact"
    err = capsys.readouterr().err
    assert "account-region" in err


def test_clients_of_two_accounts_share_connections_never_credentials(aws):
    ids = _organization(2)
    result = neptune_audit.scan(neptune_audit.ScanOptions(organization=True, regions="eu-west-1"))
    a, b = (next(x for x in result.accounts if x.account_id == i) for i in ids)
    ca, cb = a.client("rds", "eu-west-1", cache=False), b.client("rds", "eu-west-1", cache=False)
    # (service models and client classes are no longer shared: that took patching botocore's ClientCreator)
    assert ca._endpoint.http_session is cb._endpoint.http_session, "one connection pool"
    assert ca.meta.events is not cb.meta.events, "each client keeps its own handlers"
    signed = []
    for client in (ca, cb):
        client.meta.events.register("before-send.rds.DescribeDBInstances",
                                    lambda request, **_: signed.append(request.headers["Authorization"]))
        client.describe_db_instances()
    key_ids = [h.decode() if isinstance(h, bytes) else h for h in signed]
    key_ids = [k.split("Credential=")[1].split("/")[0] for k in key_ids]
    assert key_ids[0] != key_ids[1], "each request is signed with its own account's credentials"
    assert key_ids == [c._request_signer._credentials.access_key for c in (ca, cb)]


def test_clients_built_outside_the_kit_are_left_as_botocore_makes_them(aws):
    plain = boto3.client("rds", region_name="eu-west-1")
    ours = aws_connection.Connection().client(aws_connection.Connection().base_session(), "rds", "eu-west-1")
    assert plain.meta.service_model is not ours.meta.service_model
    assert plain._endpoint.http_session is not ours._endpoint.http_session
