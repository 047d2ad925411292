"""Speed-ups for the kit's own botocore sessions and clients, each measured, in one place.

The kit lives in other people's processes (a Jupyter kernel, an Airflow worker), so nothing here changes
botocore for anyone else: no module or class attribute of botocore is ever reassigned.  Every speed-up acts on
objects the kit creates itself (a ``Session`` subclass, the components registered on it, the clients built
from it), and after any kit call a client built with plain boto3 behaves exactly as without the kit
(``tests/test_do_no_harm.py``).  Those that touch private botocore attributes run only with the botocore
versions CI tests (``TESTED_BOTOCORE``: the floor in pyproject.toml and the newest); outside that range, or with
``NEPTUNE_AUDIT_TUNING=off``, the kit uses botocore's public API only, with the same findings.  What each one
saves: ``benchmarks/RESULTS.md``.
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

TESTED_BOTOCORE = ((1, 34), (1, 45))  # [from, to): CI runs the suite at both ends (.ci/run, make test-lowest)
_warned: set[str] = set()


def botocore_version() -> tuple[int, int]:
    return tuple(int(p) for p in botocore.__version__.split(".")[:2])  # type: ignore[return-value]


def enabled() -> bool:
    """Whether the private-API speed-ups run: a tested botocore, and not switched off."""
    if os.environ.get("NEPTUNE_AUDIT_TUNING", "").strip().lower() in ("off", "0", "false", "no"):
        return False
    if not TESTED_BOTOCORE[0] <= botocore_version() < TESTED_BOTOCORE[1]:
        _note_once(f"botocore {botocore.__version__} is outside the tested range {TESTED_BOTOCORE}: the kit uses "
                   "its public API only (slower, same findings)")
        return False
    return True


def _note_once(what: str) -> None:
    if os.environ.get("NEPTUNE_AUDIT_DEBUG") and what not in _warned:
        _warned.add(what)
        print(f"neptune-audit: {what}", file=sys.stderr)


# --- 1. One data loader for every session, timestamps left as text (public API) --------------------
# Each botocore session parses and keeps its own copy of the service models (~13 MB): a 50-account
# Organization held 2.2 GB of them; shared, 0.5 GB.  The kit reads no timestamp as a datetime, and parsing
# them is ~40 % of parsing a DescribeDBInstances page.  Both are components of the kit's own sessions.

_shared_loader: list = []
_loader_lock = threading.Lock()


def _keep_text(value: str) -> str:
    return value


# --- 1b. Only the handlers of the services the kit calls (private: _register_builtin_handlers) -----
# Every client copies its session's event handlers and every session registers botocore's 127 built-in
# handlers, 37 of them for S3 alone: for a 1,000-account Organization that is 20,000 copies and 1,000
# registrations of handlers that can never fire.  The kit's sessions register the built-in handlers of its own
# services and the generic ones; clients of other services are never made from them.

SERVICES = {"rds", "neptune", "ec2", "sts", "organizations", "kms", "securityhub"}


class _ScanSession(botocore.session.Session):
    def _register_builtin_handlers(self, events):
        from botocore import handlers

        for spec in handlers.BUILTIN_HANDLERS:
            parts = spec[0].split(".")
            if parts[0] == "docs":
                continue  # they edit generated docstrings, never a request
            if len(parts) < 2 or parts[1] == "*" or parts[1] in SERVICES:
                self._register_builtin_handler(spec)

    def _register_builtin_handler(self, spec) -> None:
        from botocore import handlers

        event_name, handler = spec[0], spec[1]
        register_type = spec[2] if len(spec) > 2 else None
        if register_type is handlers.REGISTER_FIRST:
            self._events.register_first(event_name, handler)
        elif register_type is handlers.REGISTER_LAST:
            self._events.register_last(event_name, handler)
        else:
            self.register(event_name, handler)


def new_botocore_session() -> botocore.session.Session:
    """A botocore session of the kit's own: shared data loader, timestamps as text, only its services' handlers."""
    tuned = enabled() and hasattr(botocore.session.Session, "_register_builtin_handlers")
    bc = _ScanSession() if tuned else botocore.session.Session()
    with _loader_lock:
        if not _shared_loader:
            _shared_loader.append(bc.get_component("data_loader"))
    bc.register_component("data_loader", _shared_loader[0])
    bc.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=_keep_text)
    return bc


# --- 2. Models loaded once, before threads fan out (public API) ------------------------------------
# botocore's loader caches without a lock: 24 region threads building their first client at once each
# parsed the same rds/ec2 model files (ec2's alone is ~0.14 s of CPU).

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


# --- 3. One TLS context per CA bundle, one HTTP session per configuration (private: _endpoint) ----
# urllib3 loads the CA bundle into a new context for every connection (~22 ms of CPU with OpenSSL 3;
# urllib3/urllib3#3623, boto/botocore#3171), and botocore builds an HTTP session (a pool manager) per client:
# with a client per account-region, that is a new TCP and TLS connection, one more round trip, for each.  The
# kit's clients share one HTTP session per configuration, whose TLS context has the bundle loaded once.  A
# connection carries no identity: every request is signed with its own client's credentials, as AWS's SDKs
# that share one HTTP client across credentials do.  Verification is unchanged: same bundle, CERT_REQUIRED
# (tests/test_tls.py refuses an untrusted certificate and a certificate for another host).

_tls_contexts: dict = {}
_http_sessions: dict = {}
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


_HTTP_ATTRS = ("_verify", "_timeout", "_max_pool_connections", "_socket_options", "_cert_file", "_key_file")


def _http_key(http) -> tuple:
    proxies = getattr(http, "_proxy_config", None)
    return (*(repr(getattr(http, a, None)) for a in _HTTP_ATTRS), repr(getattr(proxies, "__dict__", proxies)))


def share_http_session(client) -> None:
    """Give one of the kit's clients the HTTP session shared by its configuration; leave it as it is wherever that
    cannot be done safely (another HTTP session class, verification off, an untested botocore)."""
    if not enabled():
        return
    endpoint = getattr(client, "_endpoint", None)
    http = getattr(endpoint, "http_session", None)
    if type(http) is not URLLib3Session or not getattr(http, "_verify", None) \
            or not all(hasattr(http, a) for a in (*_HTTP_ATTRS[:3], "_manager")):
        return
    key = _http_key(http)
    with _tls_lock:
        shared = _http_sessions.get(key)
    if shared is None:
        try:
            _tls_context(get_cert_path(http._verify))
        except OSError:
            return  # an unreadable bundle: botocore reports it on the first request, as it always has
        # A subclass instance of the kit's own, configured exactly as the client's was.
        shared = _SharedTLSContextSession.__new__(_SharedTLSContextSession)
        shared.__dict__.update(http.__dict__)
        shared._manager.connection_pool_kw["ssl_context"] = _tls_context(get_cert_path(http._verify))
        with _tls_lock:
            shared = _http_sessions.setdefault(key, shared)
    endpoint.http_session = shared


# --- 4. Fewer garbage-collector passes, only in the kit's own process ------------------------------
# With the default threshold (700 allocations) a whole-region sweep spent ~0.4 s, a fifth of its CPU, in full
# collections walking the loaded models.  The threshold is process-wide, so it is raised only when the process is
# the kit's own command line (cli.run), never inside a user's kernel or worker.

_own_process: list = []


def own_process() -> None:
    """Called by the console script: the process is the kit's, its interpreter settings are the kit's to tune."""
    _own_process.append(True)


@contextlib.contextmanager
def fewer_gc_passes():
    if not _own_process:
        yield
        return
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], 20_000), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


# --- 5. No full collections at interpreter exit (the console script only) --------------------------
# At exit the interpreter collects everything still loaded (service models, pandas): 0.25-0.34 s after a scan.

def freeze_before_exit() -> None:
    gc.freeze()
