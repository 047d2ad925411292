"""In the kit's own process only (the console script): what botocore builds the same for every client, built once;
the interpreter's GC tuned for a scan.  Never in a user's kernel or worker."""
from __future__ import annotations

import contextlib
import gc
import threading

from neptune_audit.aws.tuning.http import _shared_http_session
from neptune_audit.aws.tuning.tested import enabled

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
    tune (the GC threshold, the wrappers below)."""
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
