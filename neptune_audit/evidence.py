"""The report as evidence: the run's contract JSON embedded in the HTML, its SHA-256 in the header.

The JSON (byte for byte what ``scan --format json`` writes for the run) is stored gzip-compressed and
base64-encoded inside ``<script type="application/json" id="neptune-audit-evidence">`` — as a JSON string, so
the element can never be closed early — and the header shows the SHA-256 of those bytes, so an auditor can
also check a downloaded copy with ``sha256sum``.  ``extract()`` (``neptune-audit evidence``) decodes it and
refuses it unless both agree.  The report's "Download evidence (JSON)" link decompresses it in the browser
(``DecompressionStream``): nothing is fetched.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import html
import json
import zlib
from html.parser import HTMLParser

from .errors import UsageError
from .export import dumps

ELEMENT_ID = "neptune-audit-evidence"
HASH_ID = "neptune-audit-evidence-sha256"
ENCODING = "gzip+base64"


class _Finder(HTMLParser):
    """The text of the elements with our two ids, wherever an exporter put their attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: dict[str, list[str]] = {ELEMENT_ID: [], HASH_ID: []}
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        element_id = dict(attrs).get("id")
        if element_id in self.found:
            self._in = element_id
            self.found[element_id].append("")

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in:
            self.found[self._in][-1] += data


def _bytes(doc: dict) -> bytes:
    return dumps(doc).encode("utf-8")


def digest(doc: dict) -> str:
    return hashlib.sha256(_bytes(doc)).hexdigest()


def element(doc: dict) -> str:
    """The embedded evidence and the script behind its download link (inert until clicked, offline)."""
    packed = base64.b64encode(gzip.compress(_bytes(doc), mtime=0)).decode("ascii")
    return (f'<script type="application/json" id="{ELEMENT_ID}" data-encoding="{ENCODING}">'
            f'{json.dumps(packed)}</script>'
            "<script>function naEvidence(ev){ev.preventDefault();"
            f"const b=atob(JSON.parse(document.getElementById('{ELEMENT_ID}').textContent));"
            "const u=Uint8Array.from(b,c=>c.charCodeAt(0));"
            "new Response(new Blob([u]).stream().pipeThrough(new DecompressionStream('gzip'))).blob().then(j=>{"
            "const a=document.createElement('a');a.href=URL.createObjectURL(new Blob([j],{type:'application/json'}));"
            "a.download='neptune-audit-evidence.json';a.click();});}</script>")


def header_rows(doc: dict) -> list[tuple[str, str]]:
    """Rows for the report header: the hash an auditor compares, and the download link."""
    return [("Evidence (SHA-256)", f'<code id="{HASH_ID}">{digest(doc)}</code> of the run\'s JSON '
                                   f"(schema {html.escape(doc['schema'])}), embedded below"),
            ("Download", '<a href="#" onclick="naEvidence(event)">Download evidence (JSON)</a> '
                         "&mdash; or <code>neptune-audit evidence REPORT.html</code>")]


def extract(text: str, where: str = "the report") -> dict:
    """The embedded run, checked against the hash in the header; any alteration is a UsageError."""
    finder = _Finder()
    finder.feed(text)
    found, shown = finder.found[ELEMENT_ID], [h.strip() for h in finder.found[HASH_ID]]
    if len(found) != 1 or len(shown) != 1:
        raise UsageError(f"{where} holds no neptune-audit evidence (or more than one): was it made by "
                         "`neptune-audit report`?")
    payload = found[0]
    try:
        data = gzip.decompress(base64.b64decode(json.loads(payload), validate=True))
    except (ValueError, OSError, EOFError, zlib.error) as exc:
        raise UsageError(f"{where}: the embedded evidence is damaged ({type(exc).__name__}): it was altered") from None
    if hashlib.sha256(data).hexdigest() != shown[0]:
        raise UsageError(f"{where}: the embedded evidence does not match the SHA-256 in its header: it was altered")
    return json.loads(data.decode("utf-8"))
