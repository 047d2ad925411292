"""Hardening, round three (issue 36): one rule for every file the kit reads or writes, shard identity spelled one way,
facts over labels, ordinary mistakes exit 2.  Each case is the attack's repro, run through the CLI in-process."""
from __future__ import annotations

import copy
import errno
import json
import os
from pathlib import Path

import pytest

from neptune_audit import vocabulary
from neptune_audit.contract import files
from neptune_audit.errors import UsageError

from .conftest import main as _main, one_line_2 as _one_line_2, seed


@pytest.fixture(scope="module")
def saved(tmp_path_factory, demo_account):
    import neptune_audit

    path = tmp_path_factory.mktemp("scan") / "scan.json"
    neptune_audit.scan(neptune_audit.ScanOptions(demo=True, organization=True, regions="us-east-1,eu-west-1")).write("json", path)
    return path


def _write(tmp_path, name, doc):
    p = tmp_path / name
    p.write_text(json.dumps(doc))
    return p


# ---- 1. never write over an input or another output ----

@pytest.fixture
def key(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path = tmp_path / "K.pem"
    path.write_bytes(pem)
    return path


@pytest.mark.parametrize("args, words", [
    (["--sign", "{key}", "-o", "{key}"], "is the the --sign file"),
    (["--sign", "{key}", "--notebook", "{key}"], "is the the --sign file"),
    (["-o", "{tmp}/same.html", "--notebook", "{tmp}/same.html"], "is the the -o output"),
    (["--sign", "{key}", "-o", "{tmp}/r.html", "--notebook", "{tmp}/r.html.sig"], "signature of -o"),
    (["-o", "-"], "standard output) is not offered here"),
    (["--engine-calendar", "{tmp}/cal.yaml", "-o", "{tmp}/cal.yaml"], "--engine-calendar file"),
])
def test_a_report_never_writes_over_an_input_or_another_output(saved, key, tmp_path, capsys, args, words):
    (tmp_path / "cal.yaml").write_text('as_of: "2026-12-01"\nreleases: {}\n')
    before = key.read_bytes()
    filled = [a.format(key=key, tmp=tmp_path) for a in args]
    if "--engine-calendar" in filled:
        code, _, err = _main(["report", "--demo", *filled], capsys)
    else:
        code, _, err = _main(["report", "--from", saved, *filled], capsys)
    _one_line_2(code, err, words.replace("the the", "the"))
    assert key.read_bytes() == before, "the private key is untouched"
    assert not Path("-").exists() and not (tmp_path / "same.html").exists()


def test_evidence_never_writes_over_its_key_or_signature(saved, tmp_path, capsys):
    pub = tmp_path / "c.pub"
    pub.write_text("not read")
    html = tmp_path / "c.html"
    html.write_text("x")
    sig = tmp_path / "c.html.sig"
    sig.write_text("{}")
    for out, words in ((pub, "--public-key file"), (sig, "signature of the FILE file")):
        code, _, err = _main(["evidence", html, "--public-key", pub, "-o", out], capsys)
        _one_line_2(code, err, words)
    assert pub.read_text() == "not read" and sig.read_text() == "{}"


def test_remediate_script_never_writes_over_the_calendar(tmp_path, capsys):
    cal = tmp_path / "cal.yaml"
    cal.write_text('as_of: "2026-12-01"\nreleases: {}\n')
    code, _, err = _main(["remediate", "--demo", "--engine-calendar", cal, "--script", cal], capsys)
    _one_line_2(code, err, "--engine-calendar file")
    assert cal.read_text().startswith("as_of")


def test_a_hard_link_is_the_same_file(aws, tmp_path, capsys):
    allow = tmp_path / "allow.yml"
    allow.write_text("exceptions: []\n")
    os.link(allow, tmp_path / "alias.yml")
    code, _, err = _main(["scan", "--regions", "us-east-1", "--exceptions", allow, "-o", tmp_path / "alias.yml"],
                         capsys)
    _one_line_2(code, err, "--exceptions file")


# ---- 2. shard identity and facts over labels ----

def _mutations(doc):
    """(name, mutated document, words of the refusal): each a lie the attack matrix told."""
    f0 = doc["findings"][0]
    out = []

    d = copy.deepcopy(doc)
    d["scope"][0]["region"] = d["scope"][0]["region"] + "\u200b"
    out.append(("zero-width region", d, "does not match"))

    d = copy.deepcopy(doc)
    d["scope"][0]["account_id"] = "١٢٣٤٥٦٧٨٩٠١٢"
    out.append(("Arabic-Indic digits", d, "does not match"))

    d = copy.deepcopy(doc)
    d["findings"].append(dict(copy.deepcopy(f0), result="PASS" if f0["result"] == "FAIL" else "FAIL"))
    out.append(("the same instance twice", d, ""))

    d = copy.deepcopy(doc)
    d["findings"][0]["arn"] = f0["arn"].replace(f0["account_id"], "999999999999")
    out.append(("an ARN of another account", d, "names another account"))

    d = copy.deepcopy(doc)
    d["clusters"].append(copy.deepcopy(d["clusters"][0]))
    out.append(("a duplicate cluster", d, "appears twice"))

    d = copy.deepcopy(doc)
    s = next(s for s in d["scope"] if s["state"] == "scanned" and s["instances"])
    s["instances"] += 1
    out.append(("a scope count that does not match", d, "but it holds"))

    d = copy.deepcopy(doc)
    s = next(s for s in d["scope"] if (s["account_id"], s["region"]) == (f0["account_id"], f0["region"]))
    s["state"], s["error"] = "denied", "AccessDenied"
    d["summary"] = vocabulary.summary([f["result"] for f in d["findings"]], [x["state"] for x in d["scope"]])
    out.append(("findings in a denied scope row", d, "no scanned account-region"))

    d = copy.deepcopy(doc)
    c = next(c for c in d["clusters"] if c["result"] == "FAIL" and not c["gets_minor_upgrades"]
             and c["exposure"] != "not-covered")
    c["exposure"], c["outlook"] = "current", "Upgraded automatically to 9.9.9.9 in the window sun:00:00-sun:00:30."
    out.append(("a failing cluster relabelled current and upgraded", d, "upgraded automatically"))

    d = copy.deepcopy(doc)
    c = next(c for c in d["clusters"] if c["exposure"] == "not-covered")
    c["exposure"] = "current"
    out.append(("a not-covered cluster relabelled current", d, "contradicts engine"))

    d = copy.deepcopy(doc)
    c = next(c for c in d["clusters"] if c["end_of_life"] == "past")
    c["end_of_life"] = "later"
    out.append(("a past end of life relabelled later", d, "contradicts its date"))
    return out


@pytest.mark.parametrize("index", range(10))
def test_merge_and_report_from_refuse_every_lie(saved, tmp_path, capsys, index):
    name, doc, words = _mutations(json.loads(saved.read_text()))[index]
    bad = _write(tmp_path, "bad.json", doc)
    code, _, err = _main(["merge", bad, "-o", tmp_path / "m.json"], capsys)
    _one_line_2(code, err, words)
    assert not (tmp_path / "m.json").exists(), name


def test_one_instance_in_two_shards_is_refused(saved, tmp_path, capsys):
    doc = json.loads(saved.read_text())
    a, b = copy.deepcopy(doc), copy.deepcopy(doc)
    # b claims another account's scope but keeps a's instance: caught by identity; the same ARN in two files too
    code, _, err = _main(["merge", _write(tmp_path, "a.json", a), _write(tmp_path, "b.json", b), "-o",
                          tmp_path / "m.json"], capsys)
    _one_line_2(code, err, "must not overlap")


def test_merge_keeps_the_oldest_engine_calendar_and_refuses_shards_years_apart(saved, tmp_path, capsys):
    doc = json.loads(saved.read_text())
    assert doc.get("engine_calendar")
    code, _, err = _main(["merge", saved, "-o", tmp_path / "m.json"], capsys)
    assert code in (0, 1, 3), err
    assert json.loads((tmp_path / "m.json").read_text())["engine_calendar"] == doc["engine_calendar"]
    old = copy.deepcopy(doc)
    old["generated_at"], old["tool_version"] = "2019-01-01T00:00:00Z", "9.9.9"
    for f in old["findings"]:  # an exception's expiry is checked against the run's date; keep it consistent
        f["exception"] = None
        f["result"] = "FAIL" if f["auto_minor_version_upgrade"] is not True else "PASS"
    old["scope"] = [dict(s, account_id="210987654321") for s in old["scope"]]
    old["findings"], old["clusters"] = [], []
    old["scope"] = [dict(s, instances=0) for s in old["scope"]]
    old["summary"] = vocabulary.summary([], [s["state"] for s in old["scope"]])
    code, _, err = _main(["merge", saved, _write(tmp_path, "old.json", old), "-o", tmp_path / "m2.json"], capsys)
    _one_line_2(code, err, "more than 7 days apart")


@pytest.mark.slow
def test_evidence_holds_an_unsigned_report_to_its_facts(saved, tmp_path, capsys):
    """A report whose evidence was relabelled FAIL -> PASS, with its hash recomputed, is refused by `evidence` as
    `merge` and `report --from` refuse it."""
    from neptune_audit.contract import evidence

    html_path = tmp_path / "r.html"
    code, _, err = _main(["report", "--from", saved, "-o", html_path], capsys)
    assert code in (0, 1, 3), err
    html = html_path.read_text()
    doc = evidence.extract(html, "report")
    lie = copy.deepcopy(doc)
    f = next(f for f in lie["findings"] if f["result"] == "FAIL")
    f["result"] = "PASS"
    import re

    def packed(d):
        return re.search(r'data-encoding="gzip\+base64">(".*?")</script>', evidence.element(d)).group(1)

    assert packed(doc) in html and evidence.digest(doc) in html
    html_path.write_text(html.replace(packed(doc), packed(lie)).replace(evidence.digest(doc), evidence.digest(lie)))
    code, _, err = _main(["evidence", html_path], capsys)
    _one_line_2(code, err, "refused")


# ---- 4. ordinary mistakes are exit 2 ----

@pytest.mark.parametrize("flag", ["--exceptions", "--engine-calendar"])
def test_a_folder_as_a_file_input_is_exit_2(tmp_path, capsys, flag):
    code, _, err = _main(["scan", "--demo", flag, tmp_path], capsys)
    _one_line_2(code, err, "is a folder")


@pytest.mark.parametrize("command", [["merge", "{d}", "-o", "{d}/m.json"], ["report", "--from", "{d}"],
                                     ["evidence", "{d}"]])
def test_a_folder_as_a_saved_scan_or_report_is_exit_2(tmp_path, capsys, command):
    code, _, err = _main([a.format(d=tmp_path) for a in command], capsys)
    _one_line_2(code, err, "is a folder")


def test_a_full_disk_is_one_line_and_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    target.write_text("old")
    real = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(UsageError, match="No space left on device"):
        files.write_atomic(target, "new")
    monkeypatch.setattr(os, "fsync", real)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_output_dir_writes_every_format_or_none(aws, tmp_path, capsys, monkeypatch):
    seed([("c1", [("w1", False, {})])])
    (tmp_path / "neptune-audit.asff.json").symlink_to(tmp_path / "elsewhere.json")
    code, _, err = _main(["scan", "--regions", "us-east-1", "--output-dir", tmp_path, "--format",
                          "json,csv,ocsf,asff"], capsys)
    _one_line_2(code, err, "symbolic link")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["neptune-audit.asff.json"], "none of the others"
    assert not (tmp_path / "elsewhere.json").exists()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="Linux's /proc")
def test_output_to_proc_self_fd_is_written_through_a_pipe(saved, tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "neptune_audit", "merge", str(saved), "-o", "/proc/self/fd/1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1, 3), proc.stderr
    assert json.loads(proc.stdout[:proc.stdout.rindex("}") + 1])["schema"] == "neptune-audit/1"


def test_an_oversize_saved_scan_is_refused_from_its_size(tmp_path, capsys, monkeypatch):
    from neptune_audit.contract import saved as saved_mod

    big = tmp_path / "big.json"
    with open(big, "wb") as fh:
        fh.truncate(saved_mod.MAX_BYTES + 1)  # sparse: no byte is written, and none must be read
    code, _, err = _main(["merge", big, "-o", tmp_path / "m.json"], capsys)
    _one_line_2(code, err, "larger than")


# ---- 5. terminal, links, leftovers ----

def test_a_signature_is_never_written_through_a_planted_link(saved, key, tmp_path, capsys):
    target = tmp_path / "victim.txt"
    target.write_text("keep")
    (tmp_path / "r.html.sig").symlink_to(target)
    code, _, err = _main(["report", "--from", saved, "--sign", key, "-o", tmp_path / "r.html"], capsys)
    assert code == 2 and "symbolic link" in err, err
    assert target.read_text() == "keep"


@pytest.mark.slow
def test_an_unsigned_rewrite_removes_the_old_signature(saved, key, tmp_path, capsys):
    out = tmp_path / "r.html"
    code, _, err = _main(["report", "--from", saved, "--sign", key, "-o", out], capsys)
    assert code in (0, 1, 3) and (tmp_path / "r.html.sig").exists(), err
    code, _, err = _main(["report", "--from", saved, "-o", out], capsys)
    assert code in (0, 1, 3) and not (tmp_path / "r.html.sig").exists(), err


def test_escape_codes_from_a_hostile_file_never_reach_the_terminal(saved, tmp_path, capsys):
    doc = json.loads(saved.read_text())
    doc["findings"][0]["instance_id"] = "x\x1b[2K\rSIGNATURE VERIFIED"
    code, _, err = _main(["merge", _write(tmp_path, "evil.json", doc), "-o", tmp_path / "m.json"], capsys)
    assert code == 2 and "\x1b" not in err and "\r" not in err and err.startswith("neptune-audit: error: "), err


def test_a_newline_in_an_instance_id_forges_no_plan_line():
    import pandas as pd

    from types import SimpleNamespace

    from neptune_audit.cli import remediate as remediate_cli

    plan = pd.DataFrame([{"account_id": "123456789012", "region": "us-east-1", "cluster_id": "c1",
                          "instance_id": "w1\nWarnings: none, safe to apply", "role": "writer", "status": "available",
                          "warnings": ["restart\nApplied: OK"]}])
    text = remediate_cli.plan_text(SimpleNamespace(plan=plan, skipped=["a\nLeft alone: b"]))
    lines = text.splitlines()
    assert not any(line.startswith(("Warnings: none", "Applied", "Left alone: b")) for line in lines), text


@pytest.mark.parametrize("args, words", [
    (["policy", "audit", "--organization", "--role-name", "*"], "not an IAM role name"),
    (["policy", "audit", "--organization", "--role-name", "Admin?"], "not an IAM role name"),
    (["policy", "audit", "--sign", "kms:*"], "not a KMS key"),
    (["policy", "audit", "--sign", "kms:arn:aws:kms:us-east-1:123456789012:key/*"], "not a KMS key"),
])
def test_policy_never_turns_a_wildcard_into_a_grant(capsys, args, words):
    code, out, err = _main(args, capsys)
    _one_line_2(code, err, words)
    assert out == ""


def test_a_password_for_an_unencrypted_key_says_so(key, saved, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NEPTUNE_AUDIT_KEY_PASSWORD", "secret")
    code, _, err = _main(["report", "--from", saved, "--sign", key, "-o", tmp_path / "r.html"], capsys)
    _one_line_2(code, err, "is not encrypted, but NEPTUNE_AUDIT_KEY_PASSWORD is set")


def test_notebooks_dir_never_writes_through_a_link_and_says_what_it_kept(tmp_path, capsys):
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "exceptions.yml").write_text("mine\n")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.ipynb"
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "audit.ipynb").symlink_to(outside)  # dangling: would create a file outside
    code, _, err = _main(["notebooks", tmp_path], capsys)
    _one_line_2(code, err, "symbolic link")
    assert not outside.exists()
    (tmp_path / "notebooks" / "audit.ipynb").unlink()
    code, out, err = _main(["notebooks", tmp_path], capsys)
    assert code == 0 and "exceptions.yml: kept" in err and "audit.ipynb" in out, (out, err)
    assert (tmp_path / "examples" / "exceptions.yml").read_text() == "mine\n"
