"""Signed evidence: every byte of a report or notebook signed (local key or KMS), verified offline, and evidence
that is hostile or relabelled refused in one line, exit 2."""
from __future__ import annotations

import base64
import gzip
import hashlib
import json
import shutil
import subprocess
import sys
import tracemalloc

import pytest
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from neptune_audit import cli
from neptune_audit.contract import evidence
from neptune_audit import api
from neptune_audit.contract import signing
from neptune_audit import vocabulary
from neptune_audit.errors import UsageError

from .conftest import CREDS


def _keys(tmp_path, kind):
    key = ed25519.Ed25519PrivateKey.generate() if kind == "ed25519" else ec.generate_private_key(ec.SECP256R1())
    priv, pub = tmp_path / f"{kind}.pem", tmp_path / f"{kind}.pub"
    priv.write_bytes(key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption()))
    pub.write_bytes(key.public_key().public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo))
    return priv, pub


def _main(args, capsys):
    code = cli.main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def saved_scan(tmp_path_factory, demo_account):
    """A real scan of the simulated account, saved as `scan --format json` writes it."""
    import neptune_audit

    path = tmp_path_factory.mktemp("scan") / "scan.json"
    neptune_audit.scan(neptune_audit.ScanOptions(demo=True, organization=True, regions="us-east-1,eu-west-1")).write("json", path)
    return path


@pytest.fixture(scope="module")
def signed(saved_scan, tmp_path_factory):
    """One real signed report and notebook (`report --from ... --sign KEY.pem --notebook`)."""
    d = tmp_path_factory.mktemp("signed")
    priv, pub = _keys(d, "ed25519")
    _, other = _keys(d, "ecdsa")
    code = cli.main(["report", "--from", str(saved_scan), "-o", str(d / "r.html"), "--notebook", str(d / "r.ipynb"),
                     "--sign", str(priv)])
    assert code == 1, "the simulated estate fails on purpose"
    return {"dir": d, "html": d / "r.html", "nb": d / "r.ipynb", "pub": pub, "other": other}


@pytest.mark.slow  # renders a report: a notebook kernel
def test_signed_report_and_notebook_verify_offline_and_say_who_signed(signed, capsys):
    for artefact in (signed["html"], signed["nb"]):
        code, out, err = _main(["evidence", str(artefact), "--public-key", str(signed["pub"])], capsys)
        assert code == 0, err
        assert "signature verified: every byte" in err and json.loads(out)["schema"] == "neptune-audit/1"
        doc = json.loads(out)
        key = doc["run"]["signature"]["key_id"]
        assert key == signing.key_id(signing.load_public_key(signed["pub"])), "the run records the key"
        assert key in artefact.read_text(), "the header (inside the signed bytes) names the key"
    html = signed["html"].read_text()
    assert f'id="{evidence.SIGNER_ID}"' in html and "travels beside it as" in html


@pytest.mark.slow  # renders a report: a notebook kernel
def test_without_a_key_a_signed_file_says_it_was_not_checked(signed, capsys):
    code, _, err = _main(["evidence", str(signed["html"])], capsys)
    assert code == 0 and "signature was not checked" in err


@pytest.mark.slow  # renders a report: a notebook kernel
@pytest.mark.parametrize("where", ["visible cell", "header", "evidence", "signature", "statement", "last byte"])
def test_one_changed_byte_anywhere_fails_verification(signed, tmp_path, capsys, where):
    html = signed["html"].read_bytes()
    sig = json.loads(signed["html"].with_name("r.html.sig").read_text())
    bad_html, bad_sig = bytearray(html), dict(sig)
    if where == "visible cell":
        at = html.index(b">FAIL<") + 1
        bad_html[at:at + 4] = b"PASS"
    elif where == "header":
        at = html.index(b"Generated (UTC)") + 1
        bad_html[at] ^= 1
    elif where == "evidence":
        at = html.index(evidence.ELEMENT_ID.encode()) + 200
        bad_html[at] = ord("A") if html[at] != ord("A") else ord("B")
    elif where == "last byte":
        bad_html[-2] ^= 1
    elif where == "signature":
        raw = bytearray(base64.b64decode(sig["signatures"][0]["sig"]))
        raw[10] ^= 1
        bad_sig["signatures"] = [{**sig["signatures"][0], "sig": base64.b64encode(bytes(raw)).decode()}]
    else:  # the signed statement names another file hash
        st = json.loads(base64.b64decode(sig["payload"]))
        st["subject"][0]["digest"]["sha256"] = hashlib.sha256(bytes(bad_html)).hexdigest().replace("a", "b", 1)
        bad_sig["payload"] = base64.b64encode(json.dumps(st).encode()).decode()
    target = tmp_path / "r.html"
    target.write_bytes(bytes(bad_html))
    (tmp_path / "r.html.sig").write_text(json.dumps(bad_sig))
    code, out, err = _main(["evidence", str(target), "--public-key", str(signed["pub"])], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, (where, err)


@pytest.mark.slow  # renders a report: a notebook kernel
def test_wrong_key_unsigned_file_and_missing_signature_are_exit_2(signed, tmp_path, capsys):
    code, _, err = _main(["evidence", str(signed["html"]), "--public-key", str(signed["other"])], capsys)
    assert code == 2 and "not by the given key" in err
    lone = tmp_path / "r.html"
    shutil.copy(signed["html"], lone)  # its .sig left behind
    code, _, err = _main(["evidence", str(lone), "--public-key", str(signed["pub"])], capsys)
    assert code == 2 and "is not signed" in err


@pytest.mark.slow  # renders a report: a notebook kernel
def test_an_unsigned_report_says_it_proves_integrity_only(saved_scan, tmp_path, capsys):
    html = tmp_path / "u.html"
    assert cli.main(["report", "--from", str(saved_scan), "-o", str(html)]) == 1
    capsys.readouterr()
    code, _, err = _main(["evidence", str(html)], capsys)
    assert code == 0 and "unsigned" in err and "accidental change only" in err
    assert "Signed</th><td>no" in html.read_text()
    _, pub = _keys(tmp_path, "ed25519")
    code, _, err = _main(["evidence", str(html), "--public-key", str(pub)], capsys)
    assert code == 2 and "is not signed" in err


@pytest.mark.slow  # renders a report: a notebook kernel
@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl is not installed")
def test_openssl_verifies_without_the_kit(signed, tmp_path):
    """The README's commands: the PAE bytes from the envelope, openssl for the signature, sha256sum for the file."""
    env = json.loads(signed["html"].with_name("r.html.sig").read_text())
    payload = base64.b64decode(env["payload"])
    (tmp_path / "pae.bin").write_bytes(signing.pae(env["payloadType"], payload))
    (tmp_path / "sig.bin").write_bytes(base64.b64decode(env["signatures"][0]["sig"]))
    proc = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(signed["pub"]), "-rawin",
                           "-in", str(tmp_path / "pae.bin"), "-sigfile", str(tmp_path / "sig.bin")],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "Verified Successfully" in proc.stdout, proc.stdout + proc.stderr
    subject = json.loads(payload)["subject"][0]["digest"]["sha256"]
    assert subject == hashlib.sha256(signed["html"].read_bytes()).hexdigest()


def test_ecdsa_p256_and_refused_keys(tmp_path):
    priv, pub = _keys(tmp_path, "ecdsa")
    signer = signing.signer_for(str(priv))
    data = b"<html>report</html>"
    env = signing.envelope("r.html", data, signer)
    (tmp_path / "r.html").write_bytes(data)
    (tmp_path / "r.html.sig").write_text(env)
    assert signing.verify_file(tmp_path / "r.html", data, signing.load_public_key(pub)).key_id == signer.key_id
    with pytest.raises(UsageError, match="changed after it was signed"):
        signing.verify_file(tmp_path / "r.html", data + b" ", signing.load_public_key(pub))
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(UsageError, match="not a PEM private key"):
        signing.signer_for(str(tmp_path / "junk.pem"))
    secp384 = ec.generate_private_key(ec.SECP384R1())
    (tmp_path / "p384.pem").write_bytes(secp384.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8,
                                                              ser.NoEncryption()))
    with pytest.raises(UsageError, match="neither Ed25519 nor ECDSA P-256"):
        signing.signer_for(str(tmp_path / "p384.pem"))


def test_bad_signing_key_is_refused_before_any_work(saved_scan, tmp_path, capsys):
    code, _, err = _main(["report", "--from", str(saved_scan), "-o", str(tmp_path / "r.html"),
                          "--sign", str(tmp_path / "missing.pem")], capsys)
    assert code == 2 and "cannot read signing key" in err and not (tmp_path / "r.html").exists()


# ---- KMS (moto: asymmetric keys sign and verify; real KMS hashes a RAW message itself, as moto does) ----

@pytest.fixture
def kms_key(aws):
    import boto3

    kms = boto3.client("kms", region_name="us-east-1", **CREDS)
    key = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]
    kms.create_alias(AliasName="alias/neptune-audit-reports", TargetKeyId=key["KeyId"])
    return key


@pytest.mark.slow  # renders a report: a notebook kernel
def test_kms_signed_report_verifies_offline_and_online(kms_key, saved_scan, tmp_path, capsys):
    html = tmp_path / "k.html"
    code, out, _ = _main(["report", "--from", str(saved_scan), "-o", str(html),
                          "--sign", "kms:alias/neptune-audit-reports"], capsys)
    assert code == 1 and "signed by key SHA256:" in out, "the scheduler's log line names the key"
    assert kms_key["Arn"] in html.read_text(), "the header names the KMS key's ARN"
    code, pem, _ = _main(["evidence", "--export-public-key", "kms:alias/neptune-audit-reports"], capsys)
    assert code == 0 and pem.startswith("-----BEGIN PUBLIC KEY-----")
    (tmp_path / "kms.pub").write_text(pem)
    code, out, err = _main(["evidence", str(html), "--public-key", str(tmp_path / "kms.pub")], capsys)
    assert code == 0 and kms_key["Arn"] in err, err
    assert json.loads(out)["run"]["signature"]["kms_key_arn"] == kms_key["Arn"]
    code, _, err = _main(["evidence", str(html), "--kms-key", kms_key["KeyId"]], capsys)
    assert code == 0, err


def test_a_kms_alias_is_found_in_the_sessions_region(kms_key, capsys):
    """An alias carries no region: the key is looked up where the standard chain's region points."""
    code, pem, err = _main(["evidence", "--export-public-key", "kms:alias/neptune-audit-reports"], capsys)
    assert code == 0 and pem.startswith("-----BEGIN PUBLIC KEY-----"), err


def test_kms_key_that_cannot_sign_is_exit_2(aws, saved_scan, tmp_path, capsys):
    import boto3

    key = boto3.client("kms", region_name="us-east-1", **CREDS).create_key()["KeyMetadata"]  # symmetric
    code, _, err = _main(["report", "--from", str(saved_scan), "-o", str(tmp_path / "k.html"),
                          "--sign", f"kms:{key['Arn']}"], capsys)
    assert code == 2 and "SIGN_VERIFY" in err and not (tmp_path / "k.html").exists()


def test_policy_gains_the_kms_actions_only_when_signing_with_kms(capsys):
    code, out, _ = _main(["policy", "audit", "--sign", "kms:alias/reports"], capsys)
    doc = json.loads(out)
    st = [s for s in doc["Statement"] if "kms:Sign" in s["Action"]]
    assert code == 0 and st and sorted(st[0]["Action"]) == ["kms:GetPublicKey", "kms:Sign"]
    assert st[0]["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"] == "alias/reports"
    arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert [s for s in api.policy("audit", kms_key=arn)["Statement"] if s.get("Resource") == arn]
    assert not [s for s in api.policy("audit")["Statement"] if "kms:Sign" in s["Action"]]


# ---- facts over labels ----

def _doc(saved_scan):
    return json.loads(saved_scan.read_text())


def _merge(tmp_path, capsys, *docs):
    paths = []
    for i, d in enumerate(docs):
        paths.append(tmp_path / f"s{i}.json")
        paths[-1].write_text(json.dumps(d))
    return _main(["merge", *map(str, paths), "-o", str(tmp_path / "m.json")], capsys)


def _relabel(doc, result):
    f = next(f for f in doc["findings"] if f["result"] == "FAIL")
    f["result"] = result
    doc["summary"]["fail"] -= 1
    doc["summary"]["pass" if result == "PASS" else "excepted"] += 1
    return f


def test_relabelled_pass_is_refused_in_merge_and_report(saved_scan, tmp_path, capsys):
    doc = _doc(saved_scan)
    f = _relabel(doc, "PASS")
    code, _, err = _merge(tmp_path, capsys, doc)
    assert code == 2 and f["instance_id"] in err and "labelled PASS" in err and "s0.json" in err, err
    assert not (tmp_path / "m.json").exists()
    code, _, err = _main(["report", "--from", str(tmp_path / "s0.json"), "-o", str(tmp_path / "r.html")], capsys)
    assert code == 2 and "labelled PASS" in err and not (tmp_path / "r.html").exists()


def test_excepted_without_an_exception_and_a_wrong_summary_are_refused(saved_scan, tmp_path, capsys):
    doc = _doc(saved_scan)
    _relabel(doc, "EXCEPTED")
    code, _, err = _merge(tmp_path, capsys, doc)
    assert code == 2 and "EXCEPTED without an exception" in err
    doc = _doc(saved_scan)
    doc["summary"]["fail"] = 0
    code, _, err = _merge(tmp_path, capsys, doc)
    assert code == 2 and "summary disagrees" in err


def test_cluster_roll_up_is_recomputed(saved_scan, tmp_path, capsys):
    doc = _doc(saved_scan)
    c = next(c for c in doc["clusters"] if c["result"] == "FAIL")
    c["result"], c["failing_instances"] = "PASS", 0
    code, _, err = _merge(tmp_path, capsys, doc)
    assert code == 2 and c["cluster_id"] in err


def test_expired_exception_cannot_be_relabelled_as_valid(saved_scan, tmp_path, capsys):
    doc = _doc(saved_scan)
    f = next(f for f in doc["findings"] if f["result"] == "FAIL")
    f["exception"] = {"match": "instance x", "reason": "r", "expires": "2020-01-01", "approved_by": None,
                      "expired": False}
    f["result"] = "EXCEPTED"
    doc["summary"]["fail"] -= 1
    doc["summary"]["excepted"] += 1
    code, _, err = _merge(tmp_path, capsys, doc)
    assert code == 2 and "expires 2020-01-01" in err


def test_shard_overlap_is_found_however_ids_are_spelled(saved_scan, tmp_path, capsys):
    a, b = _doc(saved_scan), _doc(saved_scan)
    b["scope"] = [dict(s, region=s["region"].upper()) for s in b["scope"]]
    b["findings"], b["clusters"] = [], []
    b["summary"] = vocabulary.summary([], [s["state"] for s in b["scope"]])
    code, _, err = _merge(tmp_path, capsys, a, b)
    assert code == 2 and "scope/0/region: 'EU-WEST-1' does not match" in err, "a region is spelled one way"


def test_findings_outside_the_scope_are_refused(saved_scan, tmp_path, capsys):
    doc = _doc(saved_scan)
    f = doc["findings"][0]
    doc["scope"] = [s for s in doc["scope"] if (s["account_id"], s["region"]) != (f["account_id"], f["region"])]
    doc["summary"] = vocabulary.summary([f["result"] for f in doc["findings"]], [s["state"] for s in doc["scope"]])
    code, _, err = _merge(tmp_path, capsys, doc)
    assert code == 2 and "is in no scanned account-region of the file's scope" in err


def test_merge_refuses_nan_and_duplicate_keys(saved_scan, tmp_path, capsys):
    text = saved_scan.read_text()
    for bad, words in ((text.replace('"instances": ', '"instances": NaN, "x": ', 1), "NaN is not JSON"),
                       (text.replace('"schema": ', '"schema": "x", "schema": ', 1), "duplicate key")):
        (tmp_path / "bad.json").write_text(bad)
        code, _, err = _main(["merge", str(tmp_path / "bad.json"), "-o", str(tmp_path / "m.json")], capsys)
        assert code == 2 and words in err, err


# ---- hostile evidence ----

def _report_with(tmp_path, payload: bytes, name="h.html", compress=True) -> str:
    packed = gzip.compress(payload, mtime=0) if compress else payload
    text = (f'<html><body><code id="{evidence.HASH_ID}">{hashlib.sha256(payload).hexdigest()}</code>'
            f'<script type="application/json" id="{evidence.ELEMENT_ID}">'
            f'{json.dumps(base64.b64encode(packed).decode())}</script></body></html>')
    (tmp_path / name).write_text(text)
    return str(tmp_path / name)


@pytest.mark.slow  # compresses 1 GiB first
def test_gzip_bomb_is_refused_quickly_in_little_memory(tmp_path, capsys):
    import zlib

    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk, packed = bytes(1 << 20), []
    for _ in range(1024):  # 1 GiB of zeros, ~1 MB compressed
        packed.append(c.compress(chunk))
    packed.append(c.flush())
    packed = b"".join(packed)
    path = tmp_path / "bomb.html"
    path.write_text(f'<code id="{evidence.HASH_ID}">{"0" * 64}</code><script type="application/json" '
                    f'id="{evidence.ELEMENT_ID}">{json.dumps(base64.b64encode(packed).decode())}</script>')
    tracemalloc.start()
    code, _, err = _main(["evidence", str(path)], capsys)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # refused at the ratio's limit (200 x ~1 MB), never near the 1 GiB it would inflate to
    import re

    limit = re.search(r"decompresses to more than (\d+) MB", err)
    assert code == 2 and limit and int(limit[1]) < 300 and "decompression bomb" in err, err
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.0f} MB"  # the file is ~1.4 MB; the output is never kept


@pytest.mark.parametrize("payload, words", [
    (b'{"schema": "other/1"}', "not a neptune-audit/1 document"),
    (b"42", "a JSON int"),
    (b"[1, 2]", "a JSON list"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nested more than"),
    (b'{"schema": "neptune-audit/1", "schema": "neptune-audit/1"}', "duplicate key"),
    (b'{"schema": "neptune-audit/1", "rule": NaN}', "NaN is not JSON"),
    (b'{"schema": "neptune-audit/1"}', "not a valid neptune-audit/1 document"),
])
def test_hostile_evidence_is_one_line_exit_2(tmp_path, capsys, payload, words):
    code, out, err = _main(["evidence", _report_with(tmp_path, payload)], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and words in err, err


def test_evidence_refuses_non_regular_files(tmp_path, capsys):
    code, _, err = _main(["evidence", "/dev/zero"], capsys)
    assert code == 2 and "not a regular file" in err


def _resaved_as_jupyterlab_would(path, target, edit=None):
    """What a receiver's JupyterLab does to a notebook it opens and saves: its own kernel name and Python version,
    widget state, cell metadata, and JSON outputs re-serialized by JavaScript (1.0 becomes 1), then nbformat."""
    import nbformat

    nb = json.loads(path.read_text())
    nb["metadata"]["kernelspec"]["display_name"] = "Python 3 (receiver)"
    nb["metadata"]["language_info"]["version"] = "3.12.1"
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2,
                                                                                "version_minor": 0}}
    nb["cells"][1]["metadata"]["scrolled"] = True

    def js(value):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, dict):
            return {k: js(v) for k, v in value.items()}
        return [js(v) for v in value] if isinstance(value, list) else value

    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            for mime, value in out.get("data", {}).items():
                if mime.endswith("json"):
                    out["data"][mime] = js(value)
            if "application/vnd.plotly.v1+json" in out.get("data", {}):  # the PNG plotly's renderer stores
                out["data"]["image/png"] = base64.b64encode(b"\x89PNG drawn by the viewer").decode()
    if edit:
        edit(nb)
    target.write_text(nbformat.writes(nbformat.from_dict(nb)))
    shutil.copy(path.with_name(path.name + ".sig"), target.with_name(target.name + ".sig"))
    return target


@pytest.mark.slow  # renders a report: a notebook kernel
def test_a_signed_notebook_saved_again_by_jupyterlab_still_verifies_and_names_what_changed(signed, tmp_path, capsys):
    resaved = _resaved_as_jupyterlab_would(signed["nb"], tmp_path / "r.ipynb")
    assert resaved.read_bytes() != signed["nb"].read_bytes()
    code, out, err = _main(["evidence", str(resaved), "--public-key", str(signed["pub"])], capsys)
    assert code == 0, err
    assert "the content of r.ipynb" in err and "every byte" not in err
    for field in ("metadata.kernelspec (changed)", "metadata.language_info (changed)", "metadata.widgets (added)",
                  "cell metadata (changed)", "chart pictures (image/png drawn by the viewer's plotly) (changed)"):
        assert field in err, (field, err)
    assert json.loads(out)["schema"] == "neptune-audit/1"


@pytest.mark.slow  # renders a report: a notebook kernel
@pytest.mark.parametrize("where", ["output", "source", "parameters", "tags"])
def test_a_content_change_to_a_resaved_notebook_fails_and_names_the_cell(signed, tmp_path, capsys, where):
    def edit(nb):
        code_cells = [c for c in nb["cells"] if c["cell_type"] == "code" and c.get("outputs")]
        if where == "output":  # one byte of one HTML output
            out = next(o for c in code_cells for o in c["outputs"] if "text/html" in o.get("data", {}))
            html = "".join(out["data"]["text/html"])
            at = html.index("FAIL")
            out["data"]["text/html"] = html[:at] + "PASS" + html[at + 4:]
        elif where == "source":
            code_cells[-1]["source"] = "".join(code_cells[-1]["source"]) + " "
        elif where == "parameters":
            nb["metadata"]["papermill"]["parameters"]["regions"] = "us-east-1"
        else:
            nb["cells"][0].setdefault("metadata", {})["tags"] = ["hide"]

    bad = _resaved_as_jupyterlab_would(signed["nb"], tmp_path / "r.ipynb", edit)
    code, out, err = _main(["evidence", str(bad), "--public-key", str(signed["pub"])], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, (where, err)
    assert "content was changed after it was signed" in err
    if where != "parameters":
        assert "cell " in err


@pytest.mark.slow  # renders a report: a notebook kernel
def test_the_readme_computes_the_notebook_content_digest_by_hand(signed, tmp_path):
    """The docs' standard-library script gives the signed content digest, for the file as written and resaved."""
    readme = (signing.Path(__file__).parent.parent / "docs" / "evidence.md").read_text()
    script = readme.split("<!-- notebook-content-digest -->\n```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "digest.py").write_text(script)
    env = json.loads(signed["nb"].with_name("r.ipynb.sig").read_text())
    signed_digest = json.loads(base64.b64decode(env["payload"]))["predicate"]["notebook"]["content_sha256"]
    for nb in (signed["nb"], _resaved_as_jupyterlab_would(signed["nb"], tmp_path / "r.ipynb")):
        proc = subprocess.run([sys.executable, str(tmp_path / "digest.py"), str(nb)], capture_output=True, text=True)
        assert proc.stdout.strip() == signed_digest, proc.stderr
    assert len(signing.pae(env["payloadType"], base64.b64decode(env["payload"]))) <= 4096, "KMS RAW signs ≤ 4096 B"
