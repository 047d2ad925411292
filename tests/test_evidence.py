"""The report as evidence, reports and merges from saved scans, and Organization shards."""
from __future__ import annotations

import json

import pytest

from neptune_audit import vocabulary
from neptune_audit.contract import evidence
from neptune_audit.present.report import run_report

from .conftest import run_cli


@pytest.fixture
def org(moto_server, monkeypatch):
    for k, v in moto_server.env().items():
        if k.startswith("AWS_"):
            monkeypatch.setenv(k, v)
    return moto_server.seed()


def _key(doc):
    return sorted((f["account_id"], f["region"], f["instance_id"], f["result"], f["reason"]) for f in doc["findings"])


def test_report_embeds_its_evidence_and_any_alteration_is_caught(org, moto_server, tmp_path):
    rep = run_report(output=tmp_path / "r.html", organization=True, regions="us-east-1,eu-west-1")
    html = rep.html_path.read_text()
    assert html.count(f'id="{evidence.ELEMENT_ID}"') == 1 and "Download evidence (JSON)" in html
    assert evidence.digest(rep.document) in html, "the header shows the SHA-256"
    proc = run_cli(["evidence", str(rep.html_path), "-o", str(tmp_path / "e.json")], moto_server.env())
    assert proc.returncode == 0, proc.stderr
    data = (tmp_path / "e.json").read_bytes()
    import hashlib

    assert hashlib.sha256(data).hexdigest() == evidence.digest(rep.document), "sha256sum of the file matches"
    doc = json.loads(data)
    vocabulary.validate(doc)
    assert doc == rep.document
    # One byte of the embedded payload changed (still valid base64 and gzip framing or not): refused.
    start = html.index(f'id="{evidence.ELEMENT_ID}"')
    payload_at = html.index('"', html.index(">", start) + 1) + 200
    for replacement in ("A", "B"):
        if html[payload_at] == replacement:
            continue
        tampered = tmp_path / "t.html"
        tampered.write_text(html[:payload_at] + replacement + html[payload_at + 1:])
        bad = run_cli(["evidence", str(tampered)], moto_server.env())
        assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1 and "altered" in bad.stderr, bad.stderr
        break
    # A different hash shown in the header: refused too.
    forged = tmp_path / "f.html"
    forged.write_text(html.replace(evidence.digest(rep.document), "0" * 64))
    assert run_cli(["evidence", str(forged)], moto_server.env()).returncode == 2


def test_shards_cover_the_organization_once_and_reports_from_them_match(org, moto_server, tmp_path):
    env = moto_server.env()
    whole = json.loads(run_cli(["scan", "--organization", "--format", "json"], env).stdout)
    shards = []
    for k in (1, 2):
        out = tmp_path / f"shard-{k}.json"
        proc = run_cli(["scan", "--organization", "--shard", f"{k}/2", "--format", "json", "-o", str(out)], env)
        assert proc.returncode in (0, 1, 3), proc.stderr
        shards.append(out)
    accounts = [{s["account_id"] for s in json.loads(p.read_text())["scope"]} for p in shards]
    assert not accounts[0] & accounts[1] and accounts[0] | accounts[1] == set(org.accounts.values())
    assert org.accounts["management"] in accounts[0], "the management account is shard 1's"
    merged = tmp_path / "merged.json"
    proc = run_cli(["merge", *map(str, shards), "-o", str(merged)], env)
    assert proc.returncode == 1, proc.stderr  # the demo estate fails: the merged summary's exit code
    doc = json.loads(merged.read_text())
    vocabulary.validate(doc)
    assert _key(doc) == _key(whole) and doc["summary"] == whole["summary"]
    runs = [json.loads(p.read_text())["run"] for p in shards]
    assert doc["run"] == {"duration_seconds": max(r["duration_seconds"] for r in runs),
                          "api_calls": sum(r["api_calls"] for r in runs)}, "shards' calls add up"
    rep = run_report(output=tmp_path / "r.html", from_files=shards)
    assert _key(rep.document) == _key(whole) and rep.exit_code == 1
    html = rep.html_path.read_text()
    assert "shard-1.json" in html and "shard-2.json" in html and "Shard 2" in html
    assert evidence.extract(html) == rep.document


@pytest.mark.parametrize("mutate, message", [
    (lambda a, b: b.write_text(a.read_text()), "must not overlap"),
    (lambda a, b: b.write_text(a.read_text().replace('"neptune-audit/1"', '"neptune-audit/2"', 1)), "refused"),
    (lambda a, b: b.write_text("{not json"), "is not JSON"),
    (lambda a, b: b.write_text(a.read_text().replace('"scanned"', '"maybe"', 1)), "not a valid neptune-audit/1"),
])
def test_bad_shards_are_refused_with_one_line(org, moto_server, tmp_path, mutate, message):
    env = moto_server.env()
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    run_cli(["scan", "--regions", "us-east-1", "--format", "json", "-o", str(a)], env)
    mutate(a, b)
    for args in (["merge", str(a), str(b), "-o", str(tmp_path / "m.json")],
                 ["report", "--from", str(a), str(b), "-o", str(tmp_path / "r.html")]):
        proc = run_cli(args, env, cwd=tmp_path)
        assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1 and message in proc.stderr, proc.stderr
    assert not (tmp_path / "m.json").exists() and not (tmp_path / "r.html").exists()


def test_accounts_restrict_any_run(org, moto_server):
    member = org.accounts["member-a"]
    doc = json.loads(run_cli(["scan", "--organization", "--accounts", member, "--format", "json"],
                             moto_server.env()).stdout)
    assert {s["account_id"] for s in doc["scope"]} == {member}
    assert {f["account_id"] for f in doc["findings"]} == {member}
