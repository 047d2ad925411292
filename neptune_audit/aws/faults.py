"""What AWS and botocore raise, told apart (refused, failed, unparseable, untrusted certificate) and put in one line
for the scope; URLs as the kit records them."""
from __future__ import annotations

import functools
import ssl

from botocore.exceptions import BotoCoreError, ClientError, SSLError
from botocore.parsers import ResponseParserError

from neptune_audit.errors import one_line

_DENIED_CODES = {
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess",
    "AuthorizationError", "AuthorizationErrorException",
}


# What one account-region's calls can raise: AWS's answers, botocore's own faults (network, retries exhausted),
# and a body botocore cannot parse (ResponseParserError is not a BotoCoreError).  Each is recorded, never fatal.
AWS_ERRORS = (ClientError, BotoCoreError, ResponseParserError)


def redact_url(url: str | None) -> str | None:
    """A URL as the kit records it: no user:password, no query string (either can hold a secret)."""
    if not url:
        return url
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "") if "@" in parts.netloc else parts.netloc
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def describe_error(exc: Exception) -> tuple[str, str]:
    """Map an AWS exception to a scope state (``denied`` or ``error``) and a one-line message."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code, msg = err.get("Code", "Unknown"), err.get("Message", "")
        state = "denied" if code in _DENIED_CODES else "error"
        return state, one_line(f"{code}: {msg}".strip().rstrip(":"))
    if isinstance(exc, ResponseParserError):
        return "error", "ResponseParserError: AWS's answer could not be parsed (malformed or cut short)"
    return "error", one_line(f"{type(exc).__name__}: {exc}")


@functools.cache  # asked only once an SSLError has happened
def _verification_errors() -> tuple:
    """ssl's, and urllib3's own for another host's certificate (it matches host names itself; the module moved
    between the urllib3 versions botocore accepts)."""
    import importlib

    found = [ssl.SSLCertVerificationError]
    for name in ("urllib3.util.ssl_match_hostname", "urllib3.packages.ssl_match_hostname"):
        try:
            found.append(importlib.import_module(name).CertificateError)
        except (ImportError, AttributeError):
            pass
    return tuple(found)


def _untrusted_certificate(exc: BaseException | None) -> bool:
    """botocore's SSLError for a certificate that failed verification (untrusted, expired, another host's), seen
    through urllib3's wrapping, as opposed to a TLS connection cut short."""
    seen, todo = set(), [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, _verification_errors()):
            return True
        todo += [getattr(e, "kwargs", {}).get("error"), e.__cause__, e.__context__,
                 *(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))]
    return False


def no_retry_for_an_untrusted_certificate(caught_exception=None, **_):
    # botocore's standard mode retries every connection error, and the kit allows 10 attempts: a CA bundle that
    # does not trust the endpoint (a TLS-inspecting proxy, a wrong AWS_CA_BUNDLE) kept a scan silent for 26-34 s of
    # backoff before saying so.  Retries are for transient failures (SDKs and Tools Reference Guide, "Retry
    # behavior": https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html); verification fails
    # the same way every time.  A TLS connection cut short is still retried.
    if isinstance(caught_exception, SSLError) and _untrusted_certificate(caught_exception):
        raise caught_exception
