"""A loopback HTTP(S) proxy in front of a moto server (the simulated account), for tests and benchmarks.

It adds a round-trip delay per request, can throttle a share of requests (HTTP 400 Throttling, as AWS
answers), and counts what it forwards.

With ``cache=True`` it replays moto's answers to repeated read requests (Describe*, List*, AssumeRole,
GetCallerIdentity; keyed by the signing credential scope and the request body), so a warm run measures
the client and the round trips, not moto's own rendering time (~0.1-0.2 s for a page of 100 instances,
far slower than AWS).  Answers are keyed by the role a signing key was assumed for, not the key."""
from __future__ import annotations

import http.client
import random
import re
import ssl
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}
THROTTLE_BODY = (b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded"
                 b"</Message></Error><RequestId>bench</RequestId></ErrorResponse>")
GARBLED_BODY = b"<DescribeDBInstancesResponse><DescribeDBInstancesResult><DBInstances><DBInstance><Engine>nep" + b"\x00" * 64


# Besides Describe*/List*: the identity calls, whose moto answer costs ~0.1 s in a 1,000-account Organization
# (moto serialises them; AWS answers them side by side).  A replayed AssumeRole returns the first run's
# credentials, which moto keeps valid for an hour: replayed runs must follow their warm-up within it.
_REPLAYED = ("AssumeRole", "GetCallerIdentity")


class LatencyProxy:
    def __init__(self, upstream_port: int, rtt: float = 0.0, throttle: float = 0.0, seed: int = 7,
                 cache: bool = False, tls: bool = False, opt_in_all: bool = False):
        self.upstream_port, self.rtt, self.throttle, self.cache = upstream_port, rtt, throttle, cache
        self.opt_in_all = opt_in_all  # DescribeRegions answers as for an account that enabled every opt-in region
        self._cached: dict = {}
        self._role_of_key: dict = {}  # assumed-role access key id -> role ARN
        self.calls: Counter = Counter()
        self.garble: set[tuple[str, str]] = set()  # (action, region) answered with an unparseable body
        self.throttled = 0
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._local = threading.local()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: with Nagle's algorithm on, the body waited for the
            # client's delayed ACK, ~40 ms per request on loopback (AWS adds no such stall).
            disable_nagle_algorithm = True

            def log_message(self, *_):
                pass

            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                action = parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]
                if proxy.rtt:
                    time.sleep(proxy.rtt)
                with proxy._lock:
                    proxy.calls[action] += 1
                    throttle = proxy.throttle and proxy._rng.random() < proxy.throttle
                    proxy.throttled += bool(throttle)
                if throttle:
                    return self._reply(400, [("Content-Type", "text/xml")], THROTTLE_BODY)
                region = self.headers.get("Authorization", "").split("Credential=")[-1].split("/")[2:3]
                if (action, *region) in proxy.garble:
                    # A body cut short mid-element: what a broken middlebox or a truncated response looks like.
                    return self._reply(200, [("Content-Type", "text/xml")], GARBLED_BODY)
                key = None
                if proxy.cache and (action.startswith(("Describe", "List")) or action in _REPLAYED):
                    scope = self.headers.get("Authorization", "").split("Credential=")[-1].split(",")[0]
                    key_id = scope.split("/", 1)[0]
                    key = repr((proxy._role_of_key.get(key_id, key_id), scope.split("/")[2:4], body))
                    if key in proxy._cached:
                        return self._reply(*proxy._cached[key])
                conn = proxy._conn()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                except (OSError, http.client.HTTPException):
                    proxy._local.conn = None
                    return self._reply(502, [], b"upstream failed")
                if proxy.opt_in_all and action == "DescribeRegions":
                    data = data.replace(b">not-opted-in<", b">opted-in<")
                reply = (resp.status, [(k, v) for k, v in resp.getheaders()
                                       if k.lower() not in _HOP and k.lower() != "content-length"], data)
                if key is not None and resp.status == 200:
                    proxy._cached[key] = reply
                if action == "AssumeRole" and resp.status == 200:
                    found = re.search(rb"<AccessKeyId>([^<]+)</AccessKeyId>", data)
                    role = parse_qs(body.decode()).get("RoleArn", [""])[0]
                    if found and role:
                        proxy._role_of_key[found.group(1).decode()] = role
                self._reply(*reply)

            def _reply(self, status, headers, data):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET = do_PUT = do_DELETE = _forward

        class Server(ThreadingHTTPServer):
            # A class attribute: the constructor calls listen() with it.  The default (5) drops SYNs when a scan
            # opens ~80 connections at once, and each dropped one costs the client a 1 s retransmission.
            request_queue_size = 256

            def handle_error(self, request, client_address):
                if not isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError)):
                    super().handle_error(request, client_address)  # a client refusing our certificate is expected

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.ca_bundle = None
        if tls:
            self.ca_bundle = _serve_tls(self.server)
            self.url = f"https://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=300)
        return conn

    def reset(self, rtt: float | None = None, throttle: float | None = None) -> None:
        with self._lock:
            self.calls.clear()
            self.throttled = 0
            if rtt is not None:
                self.rtt = rtt
            if throttle is not None:
                self.throttle = throttle

    def stop(self) -> None:
        self.server.shutdown()


def _serve_tls(server) -> str:
    """Serve HTTPS as AWS does, with a throwaway certificate for 127.0.0.1; returns a CA bundle for clients:
    certifi's bundle plus that certificate, so loading it costs what loading the real one costs."""
    import datetime
    import ipaddress
    import ssl
    import tempfile

    import certifi  # test extra: an HTTPS endpoint is only for tests and benchmarks
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "neptune-audit bench")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    folder = tempfile.mkdtemp(prefix="bench-tls-")
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    with open(f"{folder}/server.pem", "wb") as f:
        f.write(cert_pem + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
    with open(f"{folder}/bundle.pem", "wb") as f, open(certifi.where(), "rb") as public:
        f.write(public.read() + b"\n" + cert_pem)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(f"{folder}/server.pem")
    # The handshake happens in each connection's handler thread, not in the accepting one.
    server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    return f"{folder}/bundle.pem"
