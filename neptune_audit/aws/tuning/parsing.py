"""An answer seen before, byte for byte, is parsed once (private API: a QueryParser subclass)."""
from __future__ import annotations

import hashlib
import threading

from botocore.parsers import QueryParser, ResponseParserFactory

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
