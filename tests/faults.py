"""Faults moto cannot produce, injected through botocore's event hooks (``Connection.hooks``).

``before-call`` handlers short-circuit a call with an error response (no retries: AWS does not
retry AccessDenied or InvalidDBInstanceState either).  ``before-send`` handlers replace the HTTP
response, so botocore's retry logic sees it exactly as it would a real throttling response.
"""
from __future__ import annotations

import threading

from botocore.awsrequest import AWSResponse


class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_):
        yield self._body


def _error(status: int, code: str, message: str):
    http = AWSResponse("https://fault.invalid/", status, {}, _Raw(b""))
    parsed = {"Error": {"Code": code, "Message": message},
              "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "fault"}}
    return http, parsed


def fail_call(service: str, operation: str, code: str, message: str, status: int = 400, when=None):
    """A before-call hook: ``operation`` fails with ``code`` where ``when(params, context)`` holds."""
    calls = []

    def handler(params, context, **_):
        if when is None or when(params, context):
            calls.append(params)
            return _error(status, code, message)
        return None

    handler.calls = calls
    return (f"before-call.{service}.{operation}", handler)


def in_region(region):
    return lambda params, context: context.get("client_region") == region


def throttle(service: str, operation: str, times: int):
    """A before-send hook: the first ``times`` requests get HTTP 400 Throttling (query protocol)."""
    lock = threading.Lock()
    state = {"left": times, "throttled": 0}
    body = (b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
            b"<Message>Rate exceeded</Message></Error><RequestId>fault</RequestId></ErrorResponse>")

    def handler(request, **_):
        with lock:
            if state["left"] <= 0:
                return None
            state["left"] -= 1
            state["throttled"] += 1
        return AWSResponse(request.url, 400, {"Content-Type": "text/xml"}, _Raw(body))

    handler.state = state
    return (f"before-send.{service}.{operation}", handler)


def answer(operation: str, parsed: dict, service: str = "rds"):
    """An (event, handler) pair that answers ``operation`` with ``parsed``, as botocore's parser hands it over:
    recorded-shape answers for what moto does not implement."""
    class Http:
        status_code = 200

    def handler(**_):
        return Http(), {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200, "RequestId": "recorded"}}

    return (f"before-call.{service}.{operation}", handler)
