"""Bad input on the command line, in this process (cli.main): exit 2, one line on stderr naming what is wrong (the
flag, as the command line spells it), nothing on stdout and nothing written.  The few that need AWS's answer
(an unknown region, an account that is not a target) ask in-process moto; none starts the CLI or a server."""
from __future__ import annotations

import pytest

from .conftest import main, one_line_2

BAD_INPUT = [
    (["scan", "--regions", "mars-north-1"], "unknown region 'mars-north-1'"),
    (["scan", "--regions", "us_east_1"], "--regions holds an unknown region"),
    (["scan", "--format", "xml"], "unknown format xml"),
    (["scan", "--exceptions", "/nonexistent/e.yml"], "exceptions file not found"),
    (["scan", "--profile", "nope"], "unknown AWS profile 'nope'"),
    (["scan", "--role-arn", "not-an-arn"], "not an IAM role ARN"),
    (["scan", "--role-name", "X"], "--role-name goes with --organization"),
    (["scan", "-o", "/nonexistent/dir/out.json"], "output folder does not exist"),
    (["scan", "--max-workers", "0"], "--max-workers must be a whole number, at least 1"),
    (["scan", "--shard", "3/2", "--organization"], "1 <= K <= N"),
    (["scan", "--shard", "1/2"], "--shard goes with --organization"),
    (["scan", "--accounts", "12345"], "--accounts takes 12-digit AWS account ids"),
    (["scan", "--accounts", "999999999999"], "--accounts names 999999999999, which is not among the targets"),
    (["scan", "--demo", "--profile", "x"], "--profile cannot be combined with --demo"),
    (["frobnicate"], "invalid choice"),
    (["scan", "--format", "sarif"], "neptune-audit iac PATH --format sarif"),
]


@pytest.mark.parametrize("args, message", BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_is_one_line_and_exit_2(aws, capsys, args, message):
    code, out, err = main(args, capsys)
    one_line_2(code, err, message)
    assert out == "" and "Traceback" not in err


def test_a_harmless_trailing_comma_is_accepted(aws, capsys):
    code, _, err = main(["scan", "--regions", "us-east-1,", "--format", "json"], capsys)
    assert code in (0, 3), err  # an empty account: nothing fails


@pytest.mark.parametrize("content, message", [
    ("- {instance: x}\n", "reason is required"),
    ("- {instance: x, reason: y, expires: 31/12/2026}\n", "is not an expiry date (YYYY-MM-DD)"),
    ("exceptions: [\n", "not valid YAML"),
])
def test_bad_exceptions_file_leaves_no_output(aws, capsys, tmp_path, content, message):
    (tmp_path / "e.yml").write_text(content)
    out = tmp_path / "out.json"
    code, stdout, err = main(["scan", "--format", "json", "-o", out, "--exceptions", tmp_path / "e.yml"], capsys)
    one_line_2(code, err, message)
    assert stdout == "" and list(tmp_path.iterdir()) == [tmp_path / "e.yml"]


def test_a_private_key_given_as_the_public_key_says_so_whole(tmp_path, capsys):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = tmp_path / "k.pem"
    key.write_bytes(ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (tmp_path / "r.html").write_text("<html></html>")
    (tmp_path / "r.html.sig").write_text("{}")
    code, _, err = main(["evidence", tmp_path / "r.html", "--public-key", key], capsys)
    one_line_2(code, err, "is a private key: verify with its public half (openssl pkey")
    assert "…" not in err
    key.write_text("-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n")
    code, _, err = main(["evidence", tmp_path / "r.html", "--public-key", key], capsys)
    one_line_2(code, err, "is not a PEM public key (expected '-----BEGIN PUBLIC KEY-----'")
