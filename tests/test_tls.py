"""TLS to AWS endpoints: certificates verified as botocore verifies them, the CA bundle loaded once per process.

A local HTTPS proxy (a throwaway certificate for 127.0.0.1) stands in front of the moto server; the
trusted CA bundle is certifi's plus that certificate, as a corporate bundle would be (AWS_CA_BUNDLE).
"""
from __future__ import annotations

import re
import ssl

import certifi
import pytest

import neptune_audit
from benchmarks.proxy import LatencyProxy
from neptune_audit.aws.connection import Connection

from .conftest import CREDS, seed

REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]


@pytest.fixture
def https(moto_server, monkeypatch):
    proxy = LatencyProxy(moto_server.port, tls=True)
    for k, v in CREDS.items():
        monkeypatch.setenv(k.upper(), v)
    for region in REGIONS:
        seed([(f"g-{region}", [(f"db-{region}", False, {})])], region=region, endpoint_url=moto_server.url)
    yield proxy
    proxy.stop()


@pytest.fixture
def bundle_loads(monkeypatch):
    """Counts CA bundles loaded into any TLS context (urllib3 loads one into a context per connection)."""
    loads = []
    real = ssl.SSLContext.load_verify_locations

    def counting(self, cafile=None, *args, **kwargs):
        loads.append(cafile)
        return real(self, cafile, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    return loads


def test_scan_over_https_verifies_and_loads_the_bundle_once(https, monkeypatch, moto_server, bundle_loads):
    monkeypatch.setenv("AWS_CA_BUNDLE", https.ca_bundle)
    over_tls = neptune_audit.scan(neptune_audit.ScanOptions(regions=",".join(REGIONS)),
                                  connection=Connection(endpoint_url=https.url))
    plain = neptune_audit.scan(neptune_audit.ScanOptions(regions=",".join(REGIONS)),
                               connection=Connection(endpoint_url=moto_server.url))
    assert sum(https.calls.values()) >= 1 + 1 + 2 * len(REGIONS), "STS, regions, two calls per region, all via TLS"
    assert list(over_tls.findings["arn"]) == list(plain.findings["arn"]) and len(plain.findings) == len(REGIONS)
    assert set(over_tls.scope["state"]) == {"scanned"}
    # Without sharing, every connection (at least one per client: STS, EC2, one per region) loads it again.
    assert bundle_loads.count(https.ca_bundle) <= 1


def test_untrusted_certificate_is_refused(https, monkeypatch):
    monkeypatch.setenv("AWS_CA_BUNDLE", certifi.where())  # the public CAs only: the proxy's certificate is unknown
    with pytest.raises(neptune_audit.AwsError, match="CERTIFICATE_VERIFY_FAILED"):
        neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"), connection=Connection(endpoint_url=https.url,
                                                                                                 max_attempts=1))


def test_certificate_for_another_host_is_refused(https, monkeypatch):
    monkeypatch.setenv("AWS_CA_BUNDLE", https.ca_bundle)  # trusted, but issued for 127.0.0.1, not localhost
    with pytest.raises(neptune_audit.AwsError, match="(?i)hostname|doesn't match|not valid for"):
        neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"),
                           connection=Connection(endpoint_url=https.url.replace("127.0.0.1", "localhost"),
                                                 max_attempts=1))


OWN_PROCESS_SCANS = """
import json, os, sys
import boto3
from botocore.httpsession import URLLib3Session
import neptune_audit
from neptune_audit.aws import tuning
from neptune_audit.aws.connection import Connection
tuning.own_process()
url, bundle, public, regions = sys.argv[1:5]
out = {}
for name, endpoint, ca in [("trusted", url, bundle), ("untrusted", url, public),
                           ("other_host", url.replace("127.0.0.1", "localhost"), bundle)]:
    os.environ["AWS_CA_BUNDLE"] = ca
    try:
        r = neptune_audit.scan(regions=regions, connection=Connection(endpoint_url=endpoint, max_attempts=1))
        out[name] = [r.summary["fail"], sorted(set(r.scope["state"]))]
    except neptune_audit.AwsError as exc:
        out[name] = str(exc)
plain = boto3.client("rds", region_name="us-east-1", endpoint_url=url, verify=bundle)
out["plain_session"] = type(plain._endpoint.http_session) is URLLib3Session
out["shared_sessions"] = len(tuning.http._sessions_by_args)
print(json.dumps(out))
"""


def test_in_the_kits_own_process_certificates_are_verified_as_botocore_does(https):
    """In the console script's process the kit's clients are handed the shared HTTP session as they are built
    (aws/tuning/process.py), not after: certificates are still verified against the same bundle, and a client
    of the user's own still gets botocore's session."""
    import json
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", OWN_PROCESS_SCANS, https.url, https.ca_bundle, certifi.where(),
                           ",".join(REGIONS)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["trusted"] == [len(REGIONS), ["scanned"]]
    assert "CERTIFICATE_VERIFY_FAILED" in out["untrusted"]
    assert re.search("(?i)hostname|doesn't match|not valid for", out["other_host"])
    assert out["plain_session"] is True and out["shared_sessions"] >= 1


def _attempts_counted(**connection):
    """A Connection that counts every HTTP attempt its clients make (botocore's before-send, once per attempt)."""
    attempts = []
    hook = ("before-send", lambda request, **_: attempts.append(request.url))
    return Connection(hooks=[hook], **connection), attempts


@pytest.mark.parametrize("case", ["untrusted", "another host"])
def test_a_certificate_that_fails_verification_is_not_retried(https, monkeypatch, case):
    """The kit allows 10 attempts (throttling); a certificate that fails verification fails the same way each time,
    so it is said at once instead of after 26-34 s of backoff."""
    trusted = case != "untrusted"
    monkeypatch.setenv("AWS_CA_BUNDLE", https.ca_bundle if trusted else certifi.where())
    url = https.url.replace("127.0.0.1", "localhost") if trusted else https.url
    conn, attempts = _attempts_counted(endpoint_url=url)
    with pytest.raises(neptune_audit.AwsError, match="(?i)CERTIFICATE_VERIFY_FAILED|hostname|match"):
        neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"), connection=conn)
    # the identity call and the region listing sent beside it, once each
    assert 1 <= len(attempts) <= 2, attempts


def test_a_tls_failure_other_than_verification_is_still_retried(moto_server, monkeypatch):
    """TLS spoken to a plain-HTTP endpoint fails in the handshake (wrong version number), not in verification:
    that is a connection error like any other, and botocore retries it."""
    for k, v in CREDS.items():
        monkeypatch.setenv(k.upper(), v)
    conn, attempts = _attempts_counted(endpoint_url=moto_server.url.replace("http://", "https://"), max_attempts=3)
    with pytest.raises(neptune_audit.AwsError, match="SSL"):
        neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"), connection=conn)
    assert len(attempts) >= 3, attempts
