"""TLS to AWS endpoints: certificates verified as botocore verifies them, the CA bundle loaded once per process.

A local HTTPS proxy (a throwaway certificate for 127.0.0.1) stands in front of the moto server; the
trusted CA bundle is certifi's plus that certificate, as a corporate bundle would be (AWS_CA_BUNDLE).
"""
from __future__ import annotations

import ssl

import certifi
import pytest

import neptune_audit
from benchmarks.proxy import LatencyProxy
from neptune_audit import UsageError
from neptune_audit.aws.targets import Connection

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
    over_tls = neptune_audit.scan(regions=",".join(REGIONS), connection=Connection(endpoint_url=https.url))
    plain = neptune_audit.scan(regions=",".join(REGIONS), connection=Connection(endpoint_url=moto_server.url))
    assert sum(https.calls.values()) >= 1 + 1 + 2 * len(REGIONS), "STS, regions, two calls per region, all via TLS"
    assert list(over_tls.findings["arn"]) == list(plain.findings["arn"]) and len(plain.findings) == len(REGIONS)
    assert set(over_tls.scope["state"]) == {"scanned"}
    # Without sharing, every connection (at least one per client: STS, EC2, one per region) loads it again.
    assert bundle_loads.count(https.ca_bundle) <= 1


def test_untrusted_certificate_is_refused(https, monkeypatch):
    monkeypatch.setenv("AWS_CA_BUNDLE", certifi.where())  # the public CAs only: the proxy's certificate is unknown
    with pytest.raises(neptune_audit.AwsError, match="CERTIFICATE_VERIFY_FAILED"):
        neptune_audit.scan(regions="us-east-1", connection=Connection(endpoint_url=https.url, max_attempts=1))


def test_certificate_for_another_host_is_refused(https, monkeypatch):
    monkeypatch.setenv("AWS_CA_BUNDLE", https.ca_bundle)  # trusted, but issued for 127.0.0.1, not localhost
    with pytest.raises(neptune_audit.AwsError, match="(?i)hostname|doesn't match|not valid for"):
        neptune_audit.scan(regions="us-east-1",
                           connection=Connection(endpoint_url=https.url.replace("127.0.0.1", "localhost"),
                                                 max_attempts=1))
