"""Seed large Neptune fleets into a moto server, fast (threads), returning what the ideal time needs."""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import boto3

CREDS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
PAGE = 100
CLUSTER_SIZE = 4


def _client(url, region, creds=None):
    return boto3.client("neptune", region_name=region, endpoint_url=url, **(creds or CREDS))


def seed_region(url: str, region: str, count: int, creds=None, prefix: str = "db") -> None:
    """``count`` instances in clusters of four; one in three writers has the setting off."""
    client = _client(url, region, creds)
    clusters = math.ceil(count / CLUSTER_SIZE)

    def make_cluster(c: int) -> None:
        cid = f"{prefix}-{region}-c{c:05d}"
        client.create_db_cluster(DBClusterIdentifier=cid, Engine="neptune")
        for i in range(min(CLUSTER_SIZE, count - c * CLUSTER_SIZE)):
            client.create_db_instance(DBInstanceIdentifier=f"{cid}-{i}", DBInstanceClass="db.r6g.large",
                                      Engine="neptune", DBClusterIdentifier=cid,
                                      AutoMinorVersionUpgrade=not (i == 0 and c % 3 == 0),
                                      Tags=[{"Key": "team", "Value": f"t{c % 7}"}])

    for c in range(clusters):  # moto's backend is not safe for concurrent writes to one region
        make_cluster(c)


def pages_needed(spread: dict[str, int]) -> int:
    """The most instance + cluster pages any one region needs."""
    return max(math.ceil(n / PAGE) + math.ceil(math.ceil(n / CLUSTER_SIZE) / PAGE) for n in spread.values())


def seed_fleet(url: str, spread: dict[str, int], creds=None, prefix: str = "db") -> None:
    with ThreadPoolExecutor(max_workers=len(spread)) as pool:
        list(pool.map(lambda item: seed_region(url, item[0], item[1], creds, prefix), spread.items()))


def seed_organization(url: str, accounts: int, instances_per_member: int, members_with_instances: int) -> list[str]:
    """An Organization of ``accounts`` accounts; a few members get small fleets in us-east-1."""
    org = boto3.client("organizations", region_name="us-east-1", endpoint_url=url, **CREDS)
    org.create_organization(FeatureSet="ALL")
    ids = [org.create_account(Email=f"m{i}@example.com", AccountName=f"member-{i}")["CreateAccountStatus"]["AccountId"]
           for i in range(accounts - 1)]
    sts = boto3.client("sts", region_name="us-east-1", endpoint_url=url, **CREDS)
    for acct in ids[:members_with_instances]:
        c = sts.assume_role(RoleArn=f"arn:aws:iam::{acct}:role/OrganizationAccountAccessRole",
                            RoleSessionName="seed")["Credentials"]
        creds = {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
                 "aws_session_token": c["SessionToken"]}
        seed_region(url, "us-east-1", instances_per_member, creds, prefix=f"m{acct[-4:]}")
    return ids
