"""`neptune-audit policy`: the printed policies are enough, and no more, under moto's IAM enforcement."""
from __future__ import annotations

import json

import pytest

from neptune_audit.act import auditlog
from neptune_audit import api
from neptune_audit.aws import inventory, permissions

from .conftest import boto, run_cli

# the demo estate holds a cluster code defines (drift) and one whose window is open now (a restart): an unattended
# apply over all of it says it accepts both, as --yes alone no longer does
UNATTENDED = ("--allow-drift", "--accept-restart")


def test_policies_are_read_only_plus_one_write():
    audit = api.policy("audit")
    remediate = api.policy("remediate")
    actions = lambda doc: [a for s in doc["Statement"] for a in s["Action"]]  # noqa: E731
    assert all("*" not in a for a in actions(remediate)), "no wildcard actions"
    assert all(a.split(":")[1].startswith(("Describe", "List", "Get")) for a in actions(audit)), "read only"
    assert sorted(set(actions(remediate)) - set(actions(audit))) == ["rds:ModifyDBInstance"]
    drift = api.policy("remediate", iac=True)
    assert sorted(set(actions(drift)) - set(actions(remediate))) == ["cloudformation:DetectStackResourceDrift"]
    org = api.policy("audit", organization=True, role_name="Auditor")
    assert {"organizations:ListAccounts", "sts:AssumeRole"} <= set(actions(org))
    assert any(s["Resource"] == "arn:aws:iam::*:role/Auditor" for s in org["Statement"])


def test_policy_command_prints_json():
    proc = run_cli(["policy", "audit"], {"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0 and json.loads(proc.stdout) == api.policy("audit")
    bad = run_cli(["policy", "admin"], {"PATH": "/usr/bin:/bin"})
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def as_moto_evaluates(doc: dict) -> str:
    """moto checks every RDS and KMS request against resource '*', where AWS matches the instance's or the key's
    ARN; so for moto those resources become '*'. The actions, which are what this test proves, are unchanged."""
    doc = json.loads(json.dumps(doc))
    for st in doc["Statement"]:
        if st["Resource"] == "arn:aws:rds:*:*:db:*" or st["Resource"].startswith("arn:aws:kms:"):
            st["Resource"] = "*"
    return json.dumps(doc)


def test_remediation_resource_matches_neptune_instance_arns():
    from fnmatch import fnmatchcase

    st = [s for s in api.policy("remediate")["Statement"] if "rds:ModifyDBInstance" in s["Action"]][0]
    assert fnmatchcase("arn:aws:rds:us-east-1:123456789012:db:graph-prod-1", st["Resource"])
    assert not fnmatchcase("arn:aws:rds:us-east-1:123456789012:cluster:graph-prod", st["Resource"])


@pytest.fixture
def enforced(moto_server):
    """Seed as the root user, create one IAM user per policy, then switch IAM enforcement on."""
    moto_server.seed()
    iam = boto("iam", endpoint_url=moto_server.url)
    keys = {}
    old = api.policy("audit")
    old["Statement"][0]["Action"] = [a for a in old["Statement"][0]["Action"]
                                   if a not in inventory.EXPOSURE_NEEDS.actions()]
    kms_key = boto("kms", endpoint_url=moto_server.url).create_key(KeyUsage="SIGN_VERIFY",
                                                                   KeySpec="ECC_NIST_P256")["KeyMetadata"]["Arn"]
    keys["kms_key"] = kms_key
    documents = ({kind: api.policy(kind) for kind in permissions.KINDS} | {"old-audit": old}
                 | {"audit-kms": api.policy("audit", kms_key=kms_key)})
    for kind, document in documents.items():
        iam.create_user(UserName=f"neptune-{kind}")
        iam.put_user_policy(UserName=f"neptune-{kind}", PolicyName=kind, PolicyDocument=as_moto_evaluates(document))
        k = iam.create_access_key(UserName=f"neptune-{kind}")["AccessKey"]
        keys[kind] = {"AWS_ACCESS_KEY_ID": k["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": k["SecretAccessKey"]}
    moto_server.moto_api("reset-auth", b"0")
    try:
        yield keys
    finally:
        moto_server.moto_api("reset-auth", b"inf")


def neptune_state(url, keys) -> dict:
    creds = {"aws_access_key_id": keys["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": keys["AWS_SECRET_ACCESS_KEY"]}
    return {db["DBInstanceIdentifier"]: db["AutoMinorVersionUpgrade"]
            for region in ("us-east-1", "eu-west-1")
            for db in boto("rds", region, url, creds).describe_db_instances()["DBInstances"]
            if db["Engine"] == "neptune"}


def test_audit_policy_scans_everything_but_cannot_remediate(moto_server, enforced, tmp_path):
    env = moto_server.env(**enforced["audit"])
    scan = run_cli(["scan", "--format", "json"], env)
    assert scan.returncode == 1, scan.stderr
    doc = json.loads(scan.stdout)
    refused = [s["region"] for s in doc["scope"] if s["state"] == "error"]
    assert {s["state"] for s in doc["scope"]} <= {"scanned", "not-enabled"}, refused
    assert doc["summary"]["targets_not_scanned"] == 0 and doc["summary"]["instances"] > 0
    assert not any(s["warnings"] for s in doc["scope"]), "both upgrade-exposure calls are allowed"
    known = [c for c in doc["clusters"] if c["engine_version"] != "1.4.99.0"]  # the one the catalogue lacks
    assert {c["exposure"] for c in known} <= {"current", "behind", "not-covered"}
    before = neptune_state(moto_server.url, enforced["audit"])
    log = tmp_path / "audit.jsonl"
    rem = run_cli(["remediate", "--regions", "us-east-1,eu-west-1", "--apply", "--yes", *UNATTENDED, "--audit-log", str(log)], env)
    assert rem.returncode == 1, rem.stdout + rem.stderr
    outcomes = [r for r in auditlog.read(log) if r["event"] == "outcome"]
    assert outcomes and all(r["outcome"] == "failed" and "AccessDenied" in r["error"] for r in outcomes)
    assert neptune_state(moto_server.url, enforced["audit"]) == before, "nothing changed"


def test_remediation_policy_succeeds(moto_server, enforced, tmp_path):
    env = moto_server.env(**enforced["remediate"])
    rem = run_cli(["remediate", "--regions", "us-east-1,eu-west-1", "--apply", "--yes", *UNATTENDED,
                   "--audit-log", str(tmp_path / "a.jsonl")], env)
    assert rem.returncode == 0, rem.stdout + rem.stderr
    assert all(neptune_state(moto_server.url, enforced["remediate"]).values())


def test_the_older_three_action_policy_still_finds_everything(moto_server, enforced):
    """Moto enforces IAM on the simulated account's engine catalogue and pending actions too (they are served
    by its RDS handler): without the two new actions the scan keeps every finding, exposure unknown, and says why."""
    full = json.loads(run_cli(["scan", "--format", "json"], moto_server.env(**enforced["audit"])).stdout)
    proc = run_cli(["scan", "--format", "json"], moto_server.env(**enforced["old-audit"]))
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    key = lambda d: sorted((f["account_id"], f["instance_id"], f["result"]) for f in d["findings"])  # noqa: E731
    assert key(doc) == key(full) and doc["summary"] == full["summary"]
    assert all(f["latest_minor_version"] is None and f["pending_maintenance"] is None for f in doc["findings"])
    assert {c["exposure"] for c in doc["clusters"]} <= {"unknown", "not-covered"}
    warned = [s for s in doc["scope"] if s["instances"]]
    assert warned and all(len(s["warnings"]) == 2 and all("AccessDenied" in w for w in s["warnings"]) for s in warned)


def test_kms_signing_needs_exactly_the_actions_policy_adds(moto_server, enforced, tmp_path):
    """`policy audit --sign kms:KEY` is enough to sign a report with KMS; the plain audit policy is refused
    (exit 2, one line) before any work, and no file is written."""
    saved = tmp_path / "scan.json"
    scan = run_cli(["scan", "--regions", "us-east-1", "--format", "json", "-o", str(saved)],
                   moto_server.env(**enforced["audit"]))
    assert scan.returncode == 1, scan.stderr
    key = f"kms:{enforced['kms_key']}"
    denied = run_cli(["report", "--from", str(saved), "-o", str(tmp_path / "d.html"), "--sign", key],
                     moto_server.env(**enforced["audit"]))
    assert denied.returncode == 2 and "AccessDenied" in denied.stderr and len(denied.stderr.splitlines()) == 1
    assert not (tmp_path / "d.html").exists()
    signed = run_cli(["report", "--from", str(saved), "-o", str(tmp_path / "s.html"), "--sign", key],
                     moto_server.env(**enforced["audit-kms"]))
    assert signed.returncode == 1 and "signed by key SHA256:" in signed.stdout, signed.stderr
    check = run_cli(["evidence", str(tmp_path / "s.html"), "--kms-key", enforced["kms_key"]],
                    moto_server.env(**enforced["audit-kms"]))
    assert check.returncode == 0 and "signature verified" in check.stderr, check.stderr


def test_a_call_no_declaration_covers_is_caught(every_aws_call_is_declared):
    """The guard over the whole suite sees a call the policy would not allow (here a session token the kit never
    asks for), and a declared one passes.  The kit's rds client cannot even make an undeclared call: its model is
    the slice of the declared operations (aws/models, tests/test_models.py)."""
    from moto import mock_aws

    from neptune_audit.aws.connection import Connection

    with mock_aws():
        conn = Connection()
        rds = conn.client(conn.base_session(), "rds", "us-east-1")
        rds.describe_db_instances()
        assert every_aws_call_is_declared == []
        with pytest.raises(AttributeError):
            rds.describe_db_snapshots()
        conn.client(conn.base_session(), "sts", "us-east-1").get_session_token()
    assert every_aws_call_is_declared == ["sts.GetSessionToken"]
    every_aws_call_is_declared.clear()
