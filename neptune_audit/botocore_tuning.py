"""Speed-ups that reach into botocore and the interpreter, each measured, in one place.

Every one of these works around a cost outside the kit; each says what it saves (measured on a
2-core VM, ``benchmarks/RESULTS.md``) and the upstream issue where there is one.  They are tested
with botocore in ``TESTED_BOTOCORE``; where a private attribute they need is missing they leave
botocore as it is and, with ``NEPTUNE_AUDIT_DEBUG`` set, say so once on stderr.
"""
from __future__ import annotations

import contextlib
import gc
import os
import sys
import threading

import botocore
import botocore.session
from botocore.httpsession import URLLib3Session, create_urllib3_context, get_cert_path

TESTED_BOTOCORE = ((1, 34), (1, 45))  # [from, to): the range the test suite has run against
_warned: set[str] = set()


def _debug_once(what: str) -> None:
    if os.environ.get("NEPTUNE_AUDIT_DEBUG") and what not in _warned:
        _warned.add(what)
        print(f"neptune-audit: botocore {botocore.__version__}: {what}; running without this speed-up",
              file=sys.stderr)


def botocore_version() -> tuple[int, int]:
    return tuple(int(p) for p in botocore.__version__.split(".")[:2])  # type: ignore[return-value]


# --- 1. One data loader for every session ----------------------------------------------------------
# Each botocore session parses and keeps its own copy of the service models (~13 MB): a 50-account
# Organization held 2.2 GB of them; shared, 0.5 GB.

_shared_loader: list = []


def _keep_text(value: str) -> str:
    return value


def new_botocore_session() -> botocore.session.Session:
    """A botocore session sharing the process's data loader, with timestamps left as text.

    The kit reads no timestamp as a datetime, and parsing them is ~40 % of parsing a DescribeDBInstances page.
    """
    bc = botocore.session.Session()
    if not _shared_loader:
        _shared_loader.append(bc.get_component("data_loader"))
    bc.register_component("data_loader", _shared_loader[0])
    bc.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=_keep_text)
    return bc


# --- 2. Models loaded once, before threads fan out -------------------------------------------------
# botocore's loader caches without a lock: 24 region threads building their first client at once each
# parsed the same rds/ec2 model files (ec2's alone is ~0.14 s of CPU).  Client CPU per one-account
# sweep: 3.4-4.0 s -> 1.9-2.4 s.

_models_lock = threading.Lock()
_models_loaded: list = []


def load_models() -> None:
    """Load the ec2 and rds models (service, endpoint rules, paginators) into the shared loader, once."""
    with _models_lock:
        if _models_loaded:
            return
        bc = new_botocore_session()
        for service in ("ec2", "rds"):
            # Placeholder keys: building a client loads its models and never sends a request.
            client = bc.create_client(service, region_name="us-east-1", aws_access_key_id="unused",
                                      aws_secret_access_key="unused")
        client.can_paginate("describe_db_instances")
        _models_loaded.append(True)


# --- 2b. One service model and one client class per service, for every account -------------------
# botocore builds a new ServiceModel (whose shapes it then resolves again, per client, on the first call)
# and a new client class (a method per operation: ~160 for rds, ~700 for ec2) for every client.  A scan
# makes a client per account-region: 20,000 of them for 1,000 accounts.  Neither holds credentials or
# anything of the account or region: both are kept per (service, API version) and shared by the clients of
# the kit's own sessions (those with the shared loader) only.  Clients, their credentials, endpoints and
# event handlers stay one per account-region.

_models: dict = {}
_classes: dict = {}
_shared_lock = threading.Lock()


def _share_models_and_classes() -> None:
    from botocore.client import ClientCreator

    load, create = getattr(ClientCreator, "_load_service_model", None), getattr(ClientCreator, "_create_client_class",
                                                                                  None)
    if load is None or create is None or getattr(ClientCreator, "_neptune_audit_shared", False):
        if load is None or create is None:
            _debug_once("ClientCreator._load_service_model/_create_client_class not found (shared models)")
        return

    def ours(creator) -> bool:
        return bool(_shared_loader) and getattr(creator, "_loader", None) is _shared_loader[0]

    def load_service_model(self, service_name, api_version=None):
        if not ours(self):
            return load(self, service_name, api_version)
        key = (service_name, api_version)
        with _shared_lock:
            if key not in _models:
                _models[key] = load(self, service_name, api_version)
            return _models[key]

    def create_client_class(self, service_name, service_model):
        if not ours(self) or _models.get((service_name, None)) is not service_model:
            return create(self, service_name, service_model)
        with _shared_lock:
            if service_name not in _classes:
                _classes[service_name] = create(self, service_name, service_model)
            return _classes[service_name]

    ClientCreator._load_service_model = load_service_model
    ClientCreator._create_client_class = create_client_class
    ClientCreator._neptune_audit_shared = True


_share_models_and_classes()


# --- 3. One TLS context per CA bundle --------------------------------------------------------------
# urllib3 loads the CA bundle into a new context for every connection (~22 ms of CPU with OpenSSL 3;
# urllib3/urllib3#3623, boto/botocore#3171), and a scan opens one or two connections per account-region:
# 20-40 s of CPU for a 50-account Organization.  Verification is unchanged: same bundle, CERT_REQUIRED
# (tests/test_tls.py refuses an untrusted certificate and a certificate for another host).

_tls_contexts: dict = {}
_tls_lock = threading.Lock()


def _tls_context(ca_bundle: str):
    with _tls_lock:
        if ca_bundle not in _tls_contexts:
            context = create_urllib3_context()
            context.load_verify_locations(ca_bundle)
            _tls_contexts[ca_bundle] = context
        return _tls_contexts[ca_bundle]


class _SharedTLSContextSession(URLLib3Session):
    """botocore's HTTP session whose TLS context, with the CA bundle already loaded, is shared."""

    def _get_ssl_context(self):
        return _tls_context(get_cert_path(self._verify))

    def _setup_ssl_cert(self, conn, url, verify):
        super()._setup_ssl_cert(conn, url, verify)
        if conn.ca_certs is not None:
            conn.ca_certs = None  # already in the shared context; urllib3 would load it again


def share_tls_context(client) -> None:
    """Give ``client`` the shared-context HTTP session; leave it as it is wherever that cannot be done safely."""
    endpoint = getattr(client, "_endpoint", None)
    http = getattr(endpoint, "http_session", None)
    if http is None or not hasattr(http, "_verify") or not hasattr(http, "_manager"):
        _debug_once("client._endpoint.http_session._verify/_manager not found (shared TLS context)")
        return
    # Only botocore's own session, only with verification on (a shared context must not mix verify modes).
    if type(http) is not URLLib3Session or not http._verify:
        return
    try:
        context = _tls_context(get_cert_path(http._verify))
    except OSError:
        return  # an unreadable bundle: botocore reports it on the first request, as it always has
    http.__class__ = _SharedTLSContextSession
    http._manager.connection_pool_kw["ssl_context"] = context


# --- 4. Fewer garbage-collector passes while responses are parsed ----------------------------------
# With the default threshold (700 allocations) a whole-region sweep spent ~0.4 s, a fifth of its CPU, in
# full collections walking the loaded models.  The threshold is process-wide (in a notebook it is the
# kernel's): it is raised only while a scan collects, and restored after (tested).

@contextlib.contextmanager
def fewer_gc_passes():
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], 20_000), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


# --- 5. No full collections at interpreter exit ----------------------------------------------------
# At exit the interpreter collects everything still loaded (service models, pandas): 0.25-0.34 s after a
# scan.  Only the console script does this, right before it exits; frozen objects are freed by reference
# counting alone.

def freeze_before_exit() -> None:
    gc.freeze()


if not TESTED_BOTOCORE[0] <= botocore_version() < TESTED_BOTOCORE[1]:
    _debug_once(f"outside the tested range {TESTED_BOTOCORE}")
