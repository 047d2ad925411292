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
import hashlib
import logging
import os
import threading
from pathlib import Path

import botocore
import botocore.loaders
import botocore.session
from botocore.httpsession import URLLib3Session, create_urllib3_context, get_cert_path
from botocore.parsers import QueryParser, ResponseParserFactory

log = logging.getLogger(__name__)
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
    if what not in _warned:
        _warned.add(what)
        log.warning(what)


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
            loader = bc.get_component("data_loader")
            if tuned:
                loader = _one_walk(loader)
                _find_slices_first(loader)
            _shared_loader.append(loader)
    bc.register_component("data_loader", _shared_loader[0])
    if tuned:
        bc.register_component("response_parser_factory", _ParserFactory())
    bc.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=_keep_text)
    return bc


# --- 1d. An answer seen before, byte for byte, is parsed once (private: QueryParser's subclass) ------------
# botocore parses XML member by member in Python: a region's Neptune engine catalogue (DescribeDBEngineVersions,
# ~22 versions and ~230 upgrade targets, ~76 KB) takes 5-10 ms, the biggest single cost of a region once its
# instances are few.  It is AWS's list, not the account's, and regions that offer the same releases answer with
# the same bytes but for the request id.  The kit's own sessions parse such a list once: a later answer whose list
# element hashes the same gets the list parsed the first time, read-only, and the rest of its answer (request id,
# marker, metadata) parsed by botocore as always.  A region whose list differs is parsed in full.

_REPEATED = {"DBEngineVersionMessage": "DBEngineVersions"}  # answer shape -> the member that is its bulk
_MEMO_SIZE = 4  # distinct lists kept per session (regions seldom differ by more)


class _ParserFactory(ResponseParserFactory):
    def __init__(self):
        super().__init__()
        self._kw: dict = {}
        self._memo: dict = {}
        self._memo_lock = threading.Lock()  # regions' threads parse at once; the eviction reads the dict's order

    def set_parser_defaults(self, **kwargs):
        super().set_parser_defaults(**kwargs)
        self._kw.update(kwargs)

    def create_parser(self, protocol_name):
        if protocol_name == "query":
            return _OnceQueryParser(self._memo, self._memo_lock, **self._kw)
        return super().create_parser(protocol_name)


class _OnceQueryParser(QueryParser):
    def __init__(self, memo: dict, lock: threading.Lock, **kwargs):
        super().__init__(**kwargs)
        self._memo, self._memo_lock = memo, lock

    def parse(self, response, shape):
        member = _REPEATED.get(getattr(shape, "name", None))
        body = response.get("body")
        if member is None or response.get("status_code") != 200 or not isinstance(body, bytes):
            return super().parse(response, shape)
        open_tag, close_tag = b"<%s>" % member.encode(), b"</%s>" % member.encode()
        start, end = body.find(open_tag), body.rfind(close_tag)
        if start < 0 or end < start:
            return super().parse(response, shape)
        key = hashlib.sha256(memoryview(body)[start:end]).digest()  # the list's own bytes
        known = self._memo.get(key)
        if known is None:
            parsed = super().parse(response, shape)
            if member in parsed:
                with self._memo_lock:
                    if len(self._memo) >= _MEMO_SIZE:
                        self._memo.pop(next(iter(self._memo)), None)
                    self._memo[key] = parsed[member]
            return parsed
        parsed = super().parse({**response, "body": body[:start] + body[end + len(close_tag):]}, shape)
        parsed[member] = known
        return parsed


# --- 1c. Slices of models: ec2's DescribeRegions, rds's five calls (the kit's own loader; public API) ---------
# botocore's ec2 model holds 830 operations: loading it and building its client class took 0.26 s of CPU on the
# critical path before the first request, for the one call the kit makes (DescribeRegions).  rds's holds ~160, and
# where the kit is a library (a kernel, a worker: section 4 is off) each account-region's client builds them all
# again: ~9 ms a client against ~4 ms with the five the kit calls.  The kit's loader finds a slice of each model
# first: the operations the kit declares (NEEDS) and the shapes they reach, derived from botocore's own model
# (tests/test_models.py fails if it drifts), with botocore's sdk-extras kept to those shapes.  After the user's
# own model folders (~/.aws/models, AWS_DATA_PATH), before botocore's; a botocore with a newer API version uses
# its own model.  The kit's clients of those services can make no call that is not declared.

SLICES = Path(__file__).parent / "models"


def _find_slices_first(loader) -> None:
    paths = loader.search_paths
    builtin = getattr(loader, "BUILTIN_DATA_PATH", None)
    paths.insert(paths.index(builtin) if builtin in paths else len(paths), str(SLICES))


# --- 1d. The data folders walked once, not once per kind of file (the kit's own loader; public API) -----------
# Before loading any model botocore lists every service that has that kind of file (service-2, paginators-1,
# endpoint-rule-set-1): a walk of ~445 folders each time, 15-40 ms of CPU apiece, on the path to the first
# request.  The kit's loader answers every kind from one walk of the same folders, with the same rule (a file
# of that name, with an extension botocore's JSON loader reads, in some API-version folder of the service).

_loading = threading.local()  # (service, kind) a load_service_model of this thread is checking


class _OneWalkLoader(botocore.loaders.Loader):
    def is_builtin_path(self, path):
        # The slices are botocore's own data, cut (tests/test_models.py): endpoints.json read from them resolves
        # as botocore's does (a user's own endpoints file would make botocore pass its legacy URLs to the rules).
        return super().is_builtin_path(path) or os.path.dirname(path) == str(SLICES)

    def load_service_model(self, service_name, type_name, api_version=None):
        # botocore checks the name against list_available_services(type_name), a walk of every service's folders
        # (~445, ~25 ms on the path to the first client): the service's own folders answer that check.
        _loading.wanted = (service_name, type_name)
        try:
            return super().load_service_model(service_name, type_name, api_version)
        finally:
            _loading.wanted = None

    def _has(self, service: str, type_name: str, extensions) -> bool:
        for path in self.search_paths:
            folder = os.path.join(path, service)
            if os.path.isdir(folder):
                for version in os.listdir(folder):
                    if any(os.path.isfile(os.path.join(folder, version, type_name + ext)) for ext in extensions):
                        return True
        return False

    def list_available_services(self, type_name):
        extensions = getattr(botocore.loaders, "_JSON_OPEN_METHODS", None)
        if type(self.file_loader) is not botocore.loaders.JSONFileLoader or not extensions:
            return super().list_available_services(type_name)
        wanted = getattr(_loading, "wanted", None)
        if wanted and wanted[1] == type_name and self._has(wanted[0], type_name, tuple(extensions)):
            return [wanted[0]]  # all the check needs; any other caller gets the whole list
        paths = tuple(self.search_paths)
        if getattr(self, "_neptune_audit_walked", (None,))[0] != paths:
            self._neptune_audit_walked = (paths, _walk(paths, tuple(extensions)))
        return sorted(self._neptune_audit_walked[1].get(type_name, ()))


def _walk(paths, extensions) -> dict:
    """kind of file -> the services having one, over the search paths."""
    kinds: dict = {}
    for path in paths:
        if not os.path.isdir(path):
            continue
        with os.scandir(path) as services:
            for service in services:
                if not service.is_dir():
                    continue
                for version in os.listdir(service.path):
                    folder = os.path.join(service.path, version)
                    if not os.path.isdir(folder):
                        continue
                    with os.scandir(folder) as files:
                        for f in files:
                            for ext in extensions:
                                if f.name.endswith(ext) and f.is_file():
                                    kinds.setdefault(f.name[: -len(ext)], set()).add(service.name)
    return kinds


def _one_walk(loader):
    """The session's loader as an ``_OneWalkLoader``, its configuration (search paths) unchanged."""
    if type(loader) is not botocore.loaders.Loader:
        return loader
    ours = _OneWalkLoader.__new__(_OneWalkLoader)
    ours.__dict__.update(loader.__dict__)
    return ours


# --- 2. Models loaded once, before threads fan out (public API) ------------------------------------
# botocore's loader caches without a lock: 24 region threads building their first client at once each
# parsed the same rds/ec2 model files (ec2's alone is ~0.14 s of CPU).

_models_lock = threading.Lock()
_models_loaded: set = set()


def load_models(services=("ec2", "rds")) -> None:
    """Load the services' models (service, endpoint rules, rds's paginators) into the shared loader, once."""
    with _models_lock:
        todo = [s for s in services if s not in _models_loaded]
        if not todo:
            return
        bc = new_botocore_session()
        for service in todo:
            # Placeholder keys: building a client loads its models and never sends a request.
            client = bc.create_client(service, region_name="us-east-1", aws_access_key_id="unused",
                                      aws_secret_access_key="unused")
            if service == "rds":
                client.can_paginate("describe_db_instances")
            _models_loaded.add(service)
    if _own_process:
        gc.freeze()


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


class _Bundle:
    """A TLS context and the CA bundle it trusts, loaded on the first HTTPS request that needs it: never for an
    HTTP endpoint, and for HTTPS by the thread of the first request (OpenSSL releases the interpreter while it
    reads the bundle, ~50 ms here, so the other threads go on building clients meanwhile)."""

    def __init__(self, path: str):
        self.path, self.context = path, create_urllib3_context()
        self._lock, self._loaded = threading.Lock(), False

    def loaded(self):
        if not self._loaded:
            with self._lock:
                if not self._loaded:
                    self.context.load_verify_locations(self.path)
                    self._loaded = True
        return self.context


def _bundle(ca_bundle: str) -> _Bundle:
    with _tls_lock:
        if ca_bundle not in _tls_contexts:
            _tls_contexts[ca_bundle] = _Bundle(ca_bundle)
        return _tls_contexts[ca_bundle]


def _tls_context(ca_bundle: str):
    return _bundle(ca_bundle).loaded()


class _SharedTLSContextSession(URLLib3Session):
    """botocore's HTTP session whose TLS context, with the CA bundle loaded once, is shared."""

    def _get_ssl_context(self):
        return _tls_context(get_cert_path(self._verify))

    def _setup_ssl_cert(self, conn, url, verify):
        super()._setup_ssl_cert(conn, url, verify)
        if conn.ca_certs is not None:
            _tls_context(conn.ca_certs)  # in the shared context before this connection's first handshake
            conn.ca_certs = None  # urllib3 would load it again, per connection


_HTTP_ATTRS = ("_verify", "_timeout", "_max_pool_connections", "_socket_options", "_cert_file", "_key_file")


def _http_key(http) -> tuple:
    proxies = getattr(http, "_proxy_config", None)
    return (*(repr(getattr(http, a, None)) for a in _HTTP_ATTRS), repr(getattr(proxies, "__dict__", proxies)))


def _shared_for(http):
    """The shared HTTP session of ``http``'s configuration (made from it the first time), or None where sharing
    cannot be done safely (another HTTP session class, verification off, an unreadable bundle)."""
    if type(http) is not URLLib3Session or not getattr(http, "_verify", None) \
            or not all(hasattr(http, a) for a in (*_HTTP_ATTRS[:3], "_manager")):
        return None
    key = _http_key(http)
    with _tls_lock:
        shared = _http_sessions.get(key)
    if shared is None:
        path = get_cert_path(http._verify)
        if not (isinstance(path, str) and os.path.isfile(path) and os.access(path, os.R_OK)):
            return None  # an unreadable bundle: botocore reports it on the first request, as it always has
        # A subclass instance of the kit's own, configured exactly as the client's was.
        shared = _SharedTLSContextSession.__new__(_SharedTLSContextSession)
        shared.__dict__.update(http.__dict__)
        shared._manager.connection_pool_kw["ssl_context"] = _bundle(path).context
        with _tls_lock:
            shared = _http_sessions.setdefault(key, shared)
    return shared


def share_http_session(client) -> None:
    """Give one of the kit's clients the HTTP session shared by its configuration; leave it as it is wherever that
    cannot be done safely (another HTTP session class, verification off, an untested botocore)."""
    if not enabled():
        return
    endpoint = getattr(client, "_endpoint", None)
    shared = _shared_for(getattr(endpoint, "http_session", None))
    if shared is not None and endpoint is not None:
        endpoint.http_session = shared


_sessions_by_args: dict = {}


def _shared_http_session(**kwargs):
    """botocore's ``http_session_cls`` for the kit's clients in its own process (section 4): the shared session
    of these arguments, without building first the session (and TLS context, ~0.2 ms) it would replace."""
    key = repr(sorted(kwargs.items()))
    with _tls_lock:
        known = _sessions_by_args.get(key)
    if known is not None:
        return known
    http = URLLib3Session(**kwargs)
    shared = _shared_for(http)
    if shared is None:
        return http  # as botocore builds it: not shared, so not kept either
    with _tls_lock:
        return _sessions_by_args.setdefault(key, shared)


# --- 4. In the kit's own process only: what botocore builds the same for every client -------------
# Per client botocore builds a client class (a method per operation: ~160 for rds; ~6.5 ms), a ServiceModel
# whose shapes it resolves again, an endpoint rule set (~0.3 ms), and it checks every handler's signature and
# every event name's aliases (~5 ms): ~12 ms per account-region against ~1 ms once shared (RESULTS.md).  None of
# that can be reached from the kit's own objects: botocore builds it inside Session.create_client.  So these four
# wrap botocore's classes, and are installed only in a process that is the kit's own (the console script,
# ``own_process()``), never in a user's kernel or worker, where the kit imports as a library.  Even there they
# act only for clients the kit builds (``_ours()``); any other client (the simulated account's seeding, moto)
# gets botocore's own behaviour, and ``isinstance`` against botocore's classes holds.

_own_process: list = []
_building = threading.local()
_models: dict = {}
_classes: dict = {}
_providers: dict = {}
_known_kwargs: dict = {}
_shared_lock = threading.Lock()


def own_process() -> None:
    """Called by the console script: the process is the kit's, its interpreter and botocore are the kit's to
    tune (GC threshold, section 4)."""
    if _own_process:
        return
    _own_process.append(True)
    if enabled():
        _install_process_wide()


@contextlib.contextmanager
def building_client():
    """Mark the clients built in this block as the kit's own."""
    _building.ours = True
    try:
        yield
    finally:
        _building.ours = False


def _ours() -> bool:
    return getattr(_building, "ours", False)


def _install_process_wide() -> None:
    import inspect

    import botocore.endpoint
    import botocore.hooks
    import botocore.regions
    from botocore.client import ClientCreator

    load, create = ClientCreator._load_service_model, ClientCreator._create_client_class

    def load_service_model(self, service_name, api_version=None):
        if not _ours():
            return load(self, service_name, api_version)
        with _shared_lock:
            key = (service_name, api_version)
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

    # Each client's endpoint builds an HTTP session with a TLS context of its own, which share_http_session then
    # replaces: the kit's clients are handed the shared one at once (~0.25 ms of the ~1 ms a client costs).
    creator = botocore.endpoint.EndpointCreator
    create_endpoint = creator.create_endpoint
    if "http_session_cls" in inspect.signature(create_endpoint).parameters:
        def create_endpoint_sharing(self, *args, **kwargs):
            if _ours() and "http_session_cls" not in kwargs:
                kwargs["http_session_cls"] = _shared_http_session
            return create_endpoint(self, *args, **kwargs)

        creator.create_endpoint = create_endpoint_sharing

    # A subclass, so isinstance(x, EndpointProvider) holds for every provider; it forwards whatever arguments
    # the botocore in use passes (excluded_params exists from 1.43.14 on only).
    base = botocore.regions.EndpointProvider

    class SharedEndpointProvider(base):  # type: ignore[valid-type,misc]  # the class botocore has at runtime
        def __new__(cls, *args, **kwargs):
            if not _ours() or args or set(kwargs) - {"ruleset_data", "partition_data"}:
                return super().__new__(cls)
            key = (id(kwargs.get("ruleset_data")), id(kwargs.get("partition_data")))
            with _shared_lock:
                if key not in _providers:  # the data is kept with it, so that its id is never reused
                    provider = super().__new__(cls)
                    base.__init__(provider, **kwargs)
                    provider._neptune_audit_ready = True
                    _providers[key] = (provider, kwargs.get("ruleset_data"), kwargs.get("partition_data"))
                return _providers[key][0]

        def __init__(self, *args, **kwargs):
            if not getattr(self, "_neptune_audit_ready", False):
                super().__init__(*args, **kwargs)

    SharedEndpointProvider.__name__ = SharedEndpointProvider.__qualname__ = "EndpointProvider"
    SharedEndpointProvider.__module__ = base.__module__
    botocore.regions.EndpointProvider = SharedEndpointProvider

    # Every event a client emits has its name checked against botocore's aliases; the answers are cached per
    # copy of the session's emitter, so every account-region paid for them again (~13 % of a scan's CPU).
    aliaser = botocore.hooks.EventAliaser
    copy_aliaser = getattr(aliaser, "__copy__", None)
    if copy_aliaser is not None and hasattr(aliaser("x"), "_alias_name_cache"):
        def copy_with_shared_aliases(self):
            new = copy_aliaser(self)
            if _ours() and new._event_aliases == self._event_aliases:
                new._alias_name_cache = self._alias_name_cache
            return new

        aliaser.__copy__ = copy_with_shared_aliases

    accepts = botocore.hooks.accepts_kwargs if hasattr(botocore.hooks, "accepts_kwargs") else None
    if accepts is not None and "func" in inspect.signature(accepts).parameters:
        def accepts_kwargs(func):
            code = getattr(getattr(func, "__func__", func), "__code__", None)
            if code is None or not _ours():
                return accepts(func)
            if code not in _known_kwargs:
                _known_kwargs[code] = accepts(func)
            return _known_kwargs[code]

        accepts_kwargs.__module__ = "botocore.hooks"
        botocore.hooks.accepts_kwargs = accepts_kwargs


@contextlib.contextmanager
def fewer_gc_passes():
    if not _own_process:
        yield
        return
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], 20_000), *old[1:])
    # What is loaded by now (modules, and the service models once the preload is done) lives until exit: frozen,
    # the collections the scan's allocations trigger do not walk it again each time
    gc.freeze()
    try:
        yield
    finally:
        gc.set_threshold(*old)
