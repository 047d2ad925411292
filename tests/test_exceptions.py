"""The exceptions file: parsing, matching, expiry."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, strategies as st

import neptune_audit
from neptune_audit import UsageError
from neptune_audit.rule import allowlist as ex

from .conftest import assume_creds, seed

ROW = {"account_id": "123456789012", "region": "us-east-1", "instance_id": "db-1",
       "arn": "arn:aws:rds:us-east-1:123456789012:db:db-1", "tags": {"env": "sandbox"}}


def test_parse_instance_arn_and_tag_forms():
    rules = ex.parse("""
exceptions:
  - instance: db-1
    reason: r1
  - arn: arn:aws:rds:us-east-1:123456789012:db:db-1
    reason: r2
    expires: 2027-01-31
  - tag: env=sandbox
    reason: r3
  - tag: {env: sandbox}
    reason: r4
""")
    assert [r.reason for r in rules] == ["r1", "r2", "r3", "r4"]
    assert all(r.matches(ROW) for r in rules)
    assert rules[1].expires == date(2027, 1, 31)
    assert rules[2].tag == ("env", "sandbox") == rules[3].tag


def test_account_and_region_narrow_a_match():
    r = ex.parse("- {instance: db-1, account: '111111111111', reason: x}")[0]
    assert not r.matches(ROW)
    assert r.matches({**ROW, "account_id": "111111111111"})
    assert not ex.parse("- {instance: db-1, region: eu-west-1, reason: x}")[0].matches(ROW)


def test_expiry_is_inclusive_and_active_wins_over_expired():
    rules = ex.parse("- {instance: db-1, reason: old, expires: 2026-01-01}\n- {tag: env=sandbox, reason: new}")
    assert ex.find(rules, ROW, date(2026, 1, 2)).reason == "new"
    only_old = rules[:1]
    assert not only_old[0].expired(date(2026, 1, 1))
    assert only_old[0].expired(date(2026, 1, 2))
    assert ex.find(only_old, ROW, date(2026, 1, 2)).reason == "old", "an expired match is still reported"


@pytest.mark.parametrize("text, message", [
    ("- {instance: db-1}", "entry 1: reason is required"),
    ("- {instance: db-1, reason: '  '}", "reason is required"),
    ("- {reason: x}", "exactly one of instance, arn or tag"),
    ("- {instance: a, tag: k=v, reason: x}", "exactly one of"),
    ("- {instance: a, reason: x, expires: 2027-13-01}", "is not an expiry date (YYYY-MM-DD)"),
    ("- {instance: a, reason: x, expires: soon}", "is not an expiry date (YYYY-MM-DD)"),
    ("- {instance: a, reason: x, owner: me}", "unknown key 'owner'"),
    ("- {tag: novalue, reason: x}", "tag must be"),
    ("exceptions: {instance: a}", "must be a list"),
    ("other: 1", "top level"),
    ("- [unclosed", "not valid YAML (line 1)"),
    ("- just a string", "must be a mapping"),
])
def test_malformed_files_name_the_problem(text, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ex.parse(text, "x.yml")


def test_missing_file_is_bad_input(tmp_path):
    with pytest.raises(UsageError, match="exceptions file not found"):
        ex.load(tmp_path / "nope.yml")


def test_empty_file_means_no_exceptions(tmp_path):
    (tmp_path / "e.yml").write_text("")
    assert ex.load(tmp_path / "e.yml") == []


def test_scan_excepts_and_reports_expiry(aws, tmp_path):
    seed([("a", [("a-1", False, {"env": "prod"})]), ("b", [("b-1", False, {"env": "sandbox"})]),
          ("c", [("c-1", False, {})])])
    (tmp_path / "e.yml").write_text(
        "exceptions:\n"
        "  - {instance: a-1, reason: vendor pin, expires: 2027-03-31}\n"
        "  - {tag: {env: sandbox}, reason: rebuilt weekly, expires: 2026-06-30}\n")
    r = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1", exceptions_file=tmp_path / "e.yml"), today=date(2026,
                                                                                                                          11, 27))
    f = r.findings.set_index("instance_id")
    assert f.loc["a-1", "result"] == "EXCEPTED"
    assert "vendor pin" in f.loc["a-1", "reason"] and "2027-03-31" in f.loc["a-1", "reason"]
    assert f.loc["a-1", "exception"]["expires"] == "2027-03-31"
    assert f.loc["b-1", "result"] == "FAIL" and "expired on 2026-06-30" in f.loc["b-1", "reason"]
    assert f.loc["b-1", "exception"]["expired"] is True
    assert f.loc["c-1", "result"] == "FAIL" and f.loc["c-1", "exception"] is None
    assert r.summary["excepted"] == 1 and r.summary["fail"] == 2
    later = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1", exceptions_file=tmp_path / "e.yml"),
                               today=date(2027, 4, 1))
    assert set(later.findings["result"]) == {"FAIL"}


def test_exception_for_one_account_does_not_leak_to_a_namesake(aws, tmp_path):
    for acct in ("111111111111", "222222222222"):
        seed([("g", [("g-1", False, {})])], creds=assume_creds(acct), account_id=acct)
    (tmp_path / "e.yml").write_text("- {instance: g-1, account: '111111111111', reason: pinned}\n")
    r = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1", exceptions_file=tmp_path / "e.yml", role_arns=[
        "arn:aws:iam::111111111111:role/A", "arn:aws:iam::222222222222:role/A"]))
    assert dict(zip(r.findings["account_id"], r.findings["result"])) == {
        "111111111111": "EXCEPTED", "222222222222": "FAIL"}


@given(st.text(max_size=200))
def test_parser_never_crashes_on_arbitrary_text(text):
    try:
        rules = ex.parse(text)
    except UsageError as e:
        assert str(e).startswith("exceptions file")
    else:
        assert all(r.reason.strip() for r in rules)


@given(st.lists(st.fixed_dictionaries({
    "instance": st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
    "reason": st.text(min_size=1, max_size=30).filter(lambda s: s.strip()),
    "expires": st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
}), max_size=5))
def test_parser_round_trips_valid_entries(entries):
    import yaml

    rules = ex.parse(yaml.safe_dump({"exceptions": entries}))
    assert [(r.instance, r.reason.strip(), r.expires) for r in rules] == [
        (e["instance"], e["reason"].strip(), e["expires"]) for e in entries]
