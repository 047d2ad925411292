"""One TLS context per CA bundle, one HTTP session per configuration (private API: the client's _endpoint)."""
from __future__ import annotations

import os
import threading

from botocore.httpsession import URLLib3Session, create_urllib3_context, get_cert_path

from neptune_audit.aws.tuning.tested import enabled

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
# Configurations (timeouts, pool size, proxies, CA bundle) remembered: a scan uses one or two; a kernel that scans
# with ever new settings forgets the oldest (clients holding it keep it; it goes when they do).
_KEPT = 16


def _kept(cache: dict, key, value):
    """``cache.setdefault(key, value)``, the oldest entry forgotten beyond ``_KEPT`` (the caller holds _tls_lock)."""
    if key not in cache and len(cache) >= _KEPT:
        cache.pop(next(iter(cache)))
    return cache.setdefault(key, value)


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
        known = _tls_contexts.get(ca_bundle)
        return known if known is not None else _kept(_tls_contexts, ca_bundle, _Bundle(ca_bundle))


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
            shared = _kept(_http_sessions, key, shared)
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
    """botocore's ``http_session_cls`` for the kit's clients in its own process (tuning.process): the shared session
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
        return _kept(_sessions_by_args, key, shared)
