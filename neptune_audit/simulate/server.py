"""The simulated account's server: moto on loopback, taught the two Neptune calls it lacks, seeded once."""
from __future__ import annotations

import os
import threading

from neptune_audit.aws.connection import Connection
from neptune_audit import simulate
from neptune_audit.errors import UsageError
from neptune_audit.simulate.estate import DUMMY_CREDENTIALS, engine_versions, pending_actions, seed


def install_neptune_extras() -> None:
    """Teach moto's RDS API the two calls it lacks, for Neptune, from ``simulated_engines.yaml``.

    They are added to moto's own RDS response handler, so moto authenticates, authorises (IAM enforcement
    included) and serialises them with botocore's service model: every client, in-process or over HTTP
    (a notebook kernel, the CLI), sees AWS's response format.  Idempotent; a moto that implements the calls
    itself is left alone.
    """
    from moto.core.responses import ActionResult
    from moto.rds.responses import RDSResponse

    if hasattr(RDSResponse, "describe_db_engine_versions") and hasattr(RDSResponse, "describe_pending_maintenance_actions"):
        return

    def paged(self, key: str, items: list) -> ActionResult:
        start = int(self.params.get("Marker") or 0)
        size = int(self.params.get("MaxRecords") or 100)
        result: dict = {key: items[start:start + size]}
        if start + size < len(items):
            result["Marker"] = str(start + size)
        return ActionResult(result)

    def describe_db_engine_versions(self) -> ActionResult:
        engine = self.params.get("Engine")
        versions = engine_versions(self.params.get("EngineVersion")) if engine in (None, "neptune") else []
        return paged(self, "DBEngineVersions", versions)

    def describe_pending_maintenance_actions(self) -> ActionResult:
        wanted = self.params.get("ResourceIdentifier")
        filters = {f["Name"]: f["Values"] for f in self.params.get("Filters", [])}
        cluster_ids = filters.get("db-cluster-id")
        found = []
        for cluster_id, cluster in sorted(self.backend.clusters.items()):
            arn = cluster.db_cluster_arn
            if cluster.engine != "neptune" or (wanted and wanted != arn):
                continue
            if cluster_ids is not None and cluster_id not in cluster_ids and arn not in cluster_ids:
                continue
            actions = pending_actions(cluster_id)
            if actions:
                found.append({"ResourceIdentifier": arn, "PendingMaintenanceActionDetails": actions})
        return paged(self, "PendingMaintenanceActions", found)

    # only ever in the simulated account's own process (DemoProcess) or a test's: moto's class, taught two calls
    RDSResponse.describe_db_engine_versions = describe_db_engine_versions  # type: ignore[attr-defined]
    RDSResponse.describe_pending_maintenance_actions = describe_pending_maintenance_actions  # type: ignore[attr-defined]


def client_env(endpoint_url: str, environ=None) -> dict:
    """An environment in which any AWS client (a notebook kernel, the CLI) sees the simulated account at
    ``endpoint_url``, with dummy credentials and nothing of the caller's own AWS configuration."""
    env = dict(os.environ if environ is None else environ, AWS_ENDPOINT_URL=endpoint_url,
               AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        env.pop(var, None)
    return env


TOKEN_HEADER = "X-Neptune-Audit-Token"
# moto's own pages that only read: its dashboard and the data it draws
_READ_ONLY = {("GET", "/moto-api/"), ("HEAD", "/moto-api/"), ("GET", "/moto-api/data.json")}


class _Guarded:
    """moto's WSGI app, with its ``/moto-api/`` (reset, seed, recorder, IAM switch) open only to requests that carry
    the server's token: any local user can scan the simulated account, and none but its owner can empty it."""

    def __init__(self, app, token: str):
        self.app, self.token = app, token

    def __call__(self, environ, start_response):
        import hmac

        path = environ.get("PATH_INFO", "")
        if (path == "/moto-api" or path.startswith("/moto-api/")) and \
                (environ.get("REQUEST_METHOD"), path) not in _READ_ONLY and \
                not hmac.compare_digest(environ.get("HTTP_X_NEPTUNE_AUDIT_TOKEN", ""), self.token):
            start_response("403 Forbidden", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"The simulated account's state is changed only by the process that serves it.\n"]
        return self.app(environ, start_response)


class DemoServer:
    """A moto server on loopback with the Neptune extras, seeded once (``seeded=False`` for an empty one).

    Seeded on a private port first: the port asked for opens only once the simulated Organization is whole, so a
    scan started as soon as it answers sees all of it.  ``/moto-api/`` changes need ``token`` (``headers()``)."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", seeded: bool = True):
        import secrets

        install_neptune_extras()
        self.token = secrets.token_urlsafe(32)
        self.manifest = None
        if seeded:
            # moto's backends live in this process, whichever server fills them
            private = _Listening(0, "127.0.0.1", self.token)
            try:
                self.manifest = seed(private.endpoint_url, self.headers())
            finally:
                private.stop()
        self._listening = _Listening(port, host, self.token)
        self.port = self._listening.port
        self.endpoint_url = self._listening.endpoint_url

    def headers(self) -> dict:
        """What a request to ``/moto-api/`` must carry."""
        return {TOKEN_HEADER: self.token}

    def client_env(self, environ=None) -> dict:
        """An environment in which any AWS client (a notebook kernel, the CLI) sees this simulated account."""
        return client_env(self.endpoint_url, environ)

    def stop(self) -> None:
        self._listening.stop()


class _Listening:
    """moto's app served on one port, in a thread."""

    def __init__(self, port: int, host: str, token: str):
        from moto.moto_server import werkzeug_app
        from werkzeug.serving import WSGIRequestHandler, make_server

        base = getattr(werkzeug_app, "MotoRequestHandler", WSGIRequestHandler)

        class Quiet(base):  # type: ignore[valid-type,misc]  # werkzeug's handler, or moto's subclass of it
            # werkzeug writes a line per request to its logger, and gives that logger a handler and a level the
            # first time: the process (a user's kernel with demo=True) is not ours to configure
            def log(self, *args, **kwargs):
                pass

        app = _Guarded(werkzeug_app.DomainDispatcherApplication(werkzeug_app.create_backend_app), token)
        # werkzeug's server sets SO_REUSEADDR (allow_reuse_address): a restart on the same port is not refused
        self._server = make_server(host, port, app, threaded=True, request_handler=Quiet)
        self._thread = threading.Thread(target=self._server.serve_forever, name="neptune-audit-demo", daemon=True)
        self._thread.start()
        bound_host, bound_port = self._server.server_address[:2]
        self.port = int(bound_port)
        self.endpoint_url = f"http://{bound_host!s}:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class DemoProcess:
    """The simulated account in a process of its own (``python -m neptune_audit.simulate.server``): a user's
    process (a kernel with ``demo=True``) gets its endpoint and nothing else: no moto class patched, no server
    thread.  It lives as long as this process holds its stdin: it stops when that closes, however we end."""

    def __init__(self):
        import subprocess
        import sys

        self._proc = subprocess.Popen([sys.executable, "-m", __name__],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                      env=client_env("http://127.0.0.1:1"))
        line = self._proc.stdout.readline().decode("ascii", "replace").strip()
        if not line.startswith("http://127.0.0.1:"):
            self.stop()
            raise UsageError("the simulated account did not start (python -m neptune_audit.simulate.server)")
        self.endpoint_url = line

    def client_env(self, environ=None) -> dict:
        return client_env(self.endpoint_url, environ)

    def stop(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 - it did not stop on its own
            self._proc.kill()


_demo: DemoServer | DemoProcess | None = None  # tests put an in-process DemoServer here
_demo_lock = threading.Lock()


def demo_server() -> DemoServer | DemoProcess:
    """The process's simulated account, started on first use in a process of its own."""
    global _demo
    with _demo_lock:
        if _demo is None:
            if simulate.moto_missing():
                raise UsageError(simulate.NEEDS_DEMO_EXTRA)
            _demo = DemoProcess()
        return _demo


def demo_connection(max_workers: int | None = None) -> Connection:
    """A Connection to the simulated account, with dummy credentials that never leave this machine."""
    return Connection(endpoint_url=demo_server().endpoint_url, max_workers=max_workers,
                      static_credentials=dict(DUMMY_CREDENTIALS))


def _serve_until_stdin_closes() -> None:
    """``python -m neptune_audit.simulate.server``: serve on a free loopback port, print its URL, stop at EOF."""
    import sys

    server = DemoServer()
    print(server.endpoint_url, flush=True)
    try:
        sys.stdin.buffer.read()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    _serve_until_stdin_closes()
