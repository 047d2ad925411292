"""The README's commands from a plain `pip install` of the wheel, in a virtualenv that has nothing else: no extras,
no test tools, no moto.  Signing, verifying and `iac` must work there (they once needed the [demo] extra)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import venv

import pytest

from .conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.floor]

FAIL_TEMPLATE = ("Resources:\n  Graph:\n    Type: AWS::Neptune::DBInstance\n    Properties:\n"
                 "      DBInstanceClass: db.r6g.large\n      AutoMinorVersionUpgrade: false\n")


def _run(args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=900, **kw)


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """A virtualenv with the kit's wheel and its base dependencies only; the environment of a new user."""
    where = tmp_path_factory.mktemp("plain")
    wheel_dir = where / "dist"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheel_dir), str(ROOT)])
    assert built.returncode == 0, built.stderr
    wheel = next(wheel_dir.glob("neptune_audit-*.whl"))
    env_dir = where / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    installed = _run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)])
    assert installed.returncode == 0, installed.stderr
    listed = _run([str(python), "-m", "pip", "list", "--format", "json"])
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert not names & {"moto", "flask", "jupyterlab", "pytest"}, "a plain install, not the extras"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(PATH=f"{env_dir / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}", AWS_EC2_METADATA_DISABLED="true")
    return env_dir / "bin" / "neptune-audit", env


def _key(folder):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    private = ed25519.Ed25519PrivateKey.generate()
    (folder / "k.pem").write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    (folder / "k.pub").write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM,
                                                                     serialization.PublicFormat.SubjectPublicKeyInfo))


def test_sign_verify_and_iac_work_from_the_plain_install(plain, tmp_path, demo_account):
    import neptune_audit

    cli, env = plain
    neptune_audit.scan(neptune_audit.ScanOptions(demo=True, organization=True, regions="us-east-1")).write("json",
                                                                                                           tmp_path / "saved.json")
    _key(tmp_path)
    report = _run([str(cli), "report", "--from", "saved.json", "--sign", "k.pem", "-o", "r.html"], cwd=tmp_path,
                  env=env)
    assert report.returncode in (0, 1), report.stderr  # the simulated estate fails on purpose: exit 1, no error
    assert report.stderr == "" and "signed by key" in report.stdout, report.stdout + report.stderr
    assert (tmp_path / "r.html.sig").is_file()

    checked = _run([str(cli), "evidence", "r.html", "--public-key", "k.pub", "-o", "evidence.json"], cwd=tmp_path,
                   env=env)
    assert checked.returncode == 0, checked.stderr
    assert "signature" in checked.stdout.lower() and json.loads((tmp_path / "evidence.json").read_text())["findings"]

    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "graph.yaml").write_text(FAIL_TEMPLATE)
    code = _run([str(cli), "iac", "code", "--format", "json"], cwd=tmp_path, env=env)
    assert code.returncode == 1, code.stderr
    found = json.loads(code.stdout)
    assert [f["result"] for f in found["findings"]] == ["FAIL"]
