"""The kit's own botocore sessions: one data loader shared by all, timestamps left as text, only the handlers of
the services the kit calls; the models loaded into the shared loader once, before threads fan out."""
from __future__ import annotations

import gc
import threading

import botocore.session

from neptune_audit.aws.tuning import process
from neptune_audit.aws.tuning.loader import _find_slices_first, _one_walk
from neptune_audit.aws.tuning.parsing import _ParserFactory
from neptune_audit.aws.tuning.tested import enabled

# One data loader for every session, timestamps left as text (public API)
# Each botocore session parses and keeps its own copy of the service models (~13 MB): a 50-account
# Organization held 2.2 GB of them; shared, 0.5 GB.  The kit reads no timestamp as a datetime, and parsing
# them is ~40 % of parsing a DescribeDBInstances page.  Both are components of the kit's own sessions.

_shared_loader: list = []
_loader_lock = threading.Lock()


def _keep_text(value: str) -> str:
    return value


# Only the handlers of the services the kit calls (private: _register_builtin_handlers)
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


# Models loaded once, before threads fan out (public API)
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
    if process._own_process:
        gc.freeze()
