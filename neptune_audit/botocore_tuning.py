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
import botocore.hooks
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


# --- 1b. Only the handlers of the services the kit calls ------------------------------------------
# Every client copies its session's event handlers (a trie of ~400 nodes) and every session registers
# botocore's 127 built-in handlers, 37 of them for S3 alone: for a 1,000-account Organization that is
# 20,000 copies and 1,000 registrations of handlers that can never fire.  The kit's sessions register the
# built-in handlers of its own services and the generic ones (not the ones that edit docstrings); clients
# of other services are never made from them.

SERVICES = {"rds", "neptune", "ec2", "sts", "organizations"}


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
    """A botocore session sharing the process's data loader, with timestamps left as text.

    The kit reads no timestamp as a datetime, and parsing them is ~40 % of parsing a DescribeDBInstances page.
    """
    bc = _ScanSession() if hasattr(botocore.session.Session, "_register_builtin_handlers") else \
        botocore.session.Session()
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
            # Placeholder keys: building a client loads its models and never sends a request.  As the kit's own
            # client, it also leaves the shared model and client class (2b) ready.
            with building_client():
                client = bc.create_client(service, region_name="us-east-1", aws_access_key_id="unused",
                                          aws_secret_access_key="unused")
        client.can_paginate("describe_db_instances")
        _models_loaded.append(True)


# --- 2b. One service model and one client class per service, for every account -------------------
# botocore builds a new ServiceModel (whose shapes it then resolves again, per client, on the first call)
# and a new client class (a method per operation: ~160 for rds, ~700 for ec2) for every client.  A scan
# makes a client per account-region: 20,000 of them for 1,000 accounts.  Neither holds credentials or
# anything of the account or region: both are kept per (service, API version) and shared by the clients the
# kit builds (``building_client()``, 3b) only.  Clients, their credentials, endpoints and event handlers stay
# one per account-region.

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

    def load_service_model(self, service_name, api_version=None):
        if not _ours():
            return load(self, service_name, api_version)
        key = (service_name, api_version)
        with _shared_lock:
            if key not in _models:
                _models[key] = load(self, service_name, api_version)
            return _models[key]

    def create_client_class(self, service_name, service_model):
        if not _ours() or _models.get((service_name, None)) is not service_model:
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


# --- 3b. What every client of the kit builds the same: one HTTP session, one endpoint rule set ------
# Per client botocore builds an HTTP session (a connection pool manager and an SSL context: ~0.4 ms, and on
# AWS a new TCP and TLS connection, one more round trip, per account-region), parses the service's
# endpoint rule set again (~0.3 ms) and reads every proxy variable of the environment twice.  Clients built
# by the kit (``building_client()``) share one HTTP session per configuration and one rule set per service.
# A connection carries no identity: every request is signed with its own client's credentials, as AWS's
# SDKs that share one HTTP client across credentials do.  Client CPU per account-region, 200 accounts x 20
# regions, answers replayed: see benchmarks/RESULTS.md.

_building = threading.local()
_http_sessions: dict = {}
_providers: dict = {}
_proxies: dict = {}
_http_lock = threading.Lock()
_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy",
               "no_proxy")


@contextlib.contextmanager
def building_client():
    """Mark the clients built in this block as the kit's own (see 3b)."""
    _building.ours = True
    try:
        yield
    finally:
        _building.ours = False


def _ours() -> bool:
    return getattr(_building, "ours", False)


def _shared_http_session(**kwargs):
    key = repr(sorted(kwargs.items()))
    with _http_lock:
        if key not in _http_sessions:
            cls = _SharedTLSContextSession if kwargs.get("verify") else URLLib3Session
            _http_sessions[key] = cls(**kwargs)
        return _http_sessions[key]


def _share_http_and_rules() -> None:
    import botocore.regions
    from botocore.endpoint import EndpointCreator
    from botocore.utils import get_environ_proxies

    create, provider_cls = getattr(EndpointCreator, "create_endpoint", None), getattr(botocore.regions,
                                                                                    "EndpointProvider", None)
    if create is None or provider_cls is None or getattr(EndpointCreator, "_neptune_audit_shared", False):
        if create is None or provider_cls is None:
            _debug_once("EndpointCreator.create_endpoint/regions.EndpointProvider not found (shared HTTP session)")
        return

    def create_endpoint(self, service_model, *args, **kwargs):
        if _ours() and not args and "http_session_cls" not in kwargs:
            kwargs["http_session_cls"] = _shared_http_session
            url = kwargs.get("endpoint_url")
            if kwargs.get("proxies") is None and url:
                # The environment's proxies for this URL, read again only when a proxy variable changes.
                key = (url, tuple(os.environ.get(v) for v in _PROXY_VARS))
                if key not in _proxies:
                    _proxies[key] = get_environ_proxies(url)
                kwargs["proxies"] = _proxies[key]
        return create(self, service_model, *args, **kwargs)

    def endpoint_provider(ruleset_data, partition_data, excluded_params=None):
        if not _ours() or excluded_params:
            return provider_cls(ruleset_data=ruleset_data, partition_data=partition_data,
                                excluded_params=excluded_params)
        key = (id(ruleset_data), id(partition_data))
        with _http_lock:
            if key not in _providers:  # the data is kept with it, so that its id is never reused
                _providers[key] = (provider_cls(ruleset_data=ruleset_data, partition_data=partition_data),
                                   ruleset_data, partition_data)
            return _providers[key][0]

    EndpointCreator.create_endpoint = create_endpoint
    EndpointCreator._neptune_audit_shared = True
    botocore.regions.EndpointProvider = endpoint_provider


_share_http_and_rules()


def _share_event_answers() -> None:
    # Every event a client emits has its name checked against botocore's aliases; the answers are cached, but
    # per client (each copy of the session's emitter starts empty), so every account-region paid for them
    # again: ~13 % of a scan's CPU.  The answer depends on the aliases only: copies with the same aliases share it.
    aliaser = botocore.hooks.EventAliaser
    if getattr(aliaser, "_neptune_audit_shared", False):  # both patches below are in place already
        return
    copy_aliaser = getattr(aliaser, "__copy__", None)
    if copy_aliaser is None or not hasattr(aliaser("x"), "_alias_name_cache"):
        _debug_once("EventAliaser.__copy__/_alias_name_cache not found (shared event aliases)")
    else:
        def copy_with_shared_aliases(self):
            new = copy_aliaser(self)
            if _ours() and new._event_aliases == self._event_aliases:
                new._alias_name_cache = self._alias_name_cache
            return new

        aliaser.__copy__ = copy_with_shared_aliases
    aliaser._neptune_audit_shared = True

    # Each client registers its retry handlers, and botocore checks that every handler takes **kwargs by
    # inspecting its signature (~7 % of a scan's CPU).  The answer depends on the function's code only.
    accepts = getattr(botocore.hooks, "accepts_kwargs", None)
    if accepts is None:
        _debug_once("hooks.accepts_kwargs not found (handler signatures checked once)")
        return
    known: dict = {}

    def accepts_kwargs(func):
        code = getattr(getattr(func, "__func__", func), "__code__", None)
        if code is None or not _ours():
            return accepts(func)
        if code not in known:
            known[code] = accepts(func)
        return known[code]

    botocore.hooks.accepts_kwargs = accepts_kwargs


_share_event_answers()


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
