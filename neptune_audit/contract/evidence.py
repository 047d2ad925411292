"""The report as evidence: the run's contract JSON embedded in the HTML (or the executed notebook), its SHA-256 in
the header, and, when signed, a detached signature over every byte of the file (``signing``).

The JSON (byte for byte what ``scan --format json`` writes for the run) is stored gzip-compressed and
base64-encoded inside ``<script type="application/json" id="neptune-audit-evidence">`` — as a JSON string, so
the element can never be closed early — and the header shows the SHA-256 of those bytes.  The hash alone is a
checksum: it catches accidental change, not a forger, who can rewrite both.  A signature catches both, and any
edit of a visible cell.  ``verify()`` (``neptune-audit evidence``) refuses a file unless everything agrees.
Nothing in the file is believed before it is checked: the decompressed size is bounded (and streamed), and the
document must be a valid ``neptune-audit/1`` run.
"""
from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import html
import json
import zlib
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from neptune_audit.errors import InputError
from neptune_audit.contract.export import dumps
from neptune_audit.contract.facts import check_facts
from neptune_audit.inputs import MB, contract_document, read_bytes, strict_json

ELEMENT_ID = "neptune-audit-evidence"
HASH_ID = "neptune-audit-evidence-sha256"
SIGNER_ID = "neptune-audit-signer"
ENCODING = "gzip+base64"
MAX_FILE = 512 * MB
# The run's JSON compresses ~10-30x (a 10,000-instance run: ~19 MB to ~1 MB); a ratio or a size far beyond that
# is a decompression bomb, refused as soon as it shows, with a few chunks in memory.
MAX_RATIO = 200
MAX_JSON = 256 * MB
_CHUNK = 1 * MB


class _Finder(HTMLParser):
    """The text of the elements with our ids, wherever an exporter put their attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: dict[str, list[str]] = {ELEMENT_ID: [], HASH_ID: [], SIGNER_ID: []}
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


def header_rows(doc: dict, signature: dict | None = None) -> list[tuple[str, str]]:
    """Rows for the report header: the hash an auditor compares, the signer, and the download link."""
    e = html.escape
    rows = [("Evidence (SHA-256)", f'<code id="{HASH_ID}">{digest(doc)}</code> of the run\'s JSON '
                                   f"(schema {e(doc['schema'])}), embedded below")]
    if signature:
        who = "".join(f"; {label} {e(signature[k])}" for label, k in (("KMS key", "kms_key_arn"),
                                                                       ("by", "signed_by"),
                                                                       ("key checked at", "signed_at"))
                      if signature.get(k))
        rows.append(("Signed", f'key <code id="{SIGNER_ID}">{e(signature["key_id"])}</code> '
                               f"({e(signature['algorithm'])}){who}. The signature covers every byte of this file "
                               "and travels beside it as <code>FILE.sig</code>: "
                               "<code>neptune-audit evidence FILE --public-key PUB.pem</code>"))
    else:
        rows.append(("Signed", "no: the SHA-256 above shows accidental change only; anyone can recompute it"))
    rows.append(("Download", '<a href="#" onclick="naEvidence(event)">Download evidence (JSON)</a> '
                             "&mdash; or <code>neptune-audit evidence FILE</code>"))
    return rows


def _inflate(packed: bytes, where: str, expected_sha256: str) -> bytes:
    """Decompress in chunks, twice: first only hashing and counting (nothing kept), then keeping the bytes."""
    limit = min(MAX_JSON, max(16 * MB, MAX_RATIO * len(packed)))

    def chunks():
        d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip
        data, total = packed, 0
        while not d.eof:
            out = d.decompress(data, _CHUNK)
            data = d.unconsumed_tail
            if not out and not data:
                break  # input used up before the end of the stream: truncated
            total += len(out)
            if total > limit:
                raise InputError(f"{where}: the embedded evidence decompresses to more than {limit // MB} MB "
                                 f"({len(packed) // 1024} KB compressed): refused as a decompression bomb")
            yield out
        if not d.eof or d.unused_data:
            raise InputError(f"{where}: the embedded evidence is damaged (truncated or trailing gzip data): "
                             "it was altered")

    try:
        h = hashlib.sha256()
        for out in chunks():
            h.update(out)
        if h.hexdigest() != expected_sha256:
            raise InputError(f"{where}: the embedded evidence does not match the SHA-256 in its header: it was "
                             "altered")
        return b"".join(chunks())
    except zlib.error:
        raise InputError(f"{where}: the embedded evidence is damaged (not gzip): it was altered") from None


def _html_of_notebook(data: bytes, where: str) -> str:
    """Every HTML output of an executed notebook, where the header (and so the evidence) was displayed."""
    nb = strict_json(data, where)
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise InputError(f"{where} is not a Jupyter notebook")
    parts = []
    for cell in cells:
        for out in (cell.get("outputs") or []) if isinstance(cell, dict) else []:
            text = out.get("data", {}).get("text/html") if isinstance(out, dict) else None
            if isinstance(text, list):
                text = "".join(t for t in text if isinstance(t, str))
            if isinstance(text, str):
                parts.append(text)
    return "\n".join(parts)


@dataclass(frozen=True)
class Embedded:
    document: dict
    sha256: str
    signer_key_id: str | None   # the key the artefact's header names, if any


def extract_embedded(text: str, where: str = "the report") -> Embedded:
    finder = _Finder()
    finder.feed(text)
    found, shown = finder.found[ELEMENT_ID], [h.strip() for h in finder.found[HASH_ID]]
    signers = {s.strip() for s in finder.found[SIGNER_ID]}
    if len(found) != 1 or len(shown) != 1 or len(signers) > 1:
        raise InputError(f"{where} holds no neptune-audit evidence (or more than one): was it made by "
                         "`neptune-audit report`?")
    try:
        packed = json.loads(found[0])
        if not isinstance(packed, str):
            raise ValueError
        packed = base64.b64decode(packed, validate=True)
    except (ValueError, binascii.Error):
        raise InputError(f"{where}: the embedded evidence is damaged (not base64 text): it was altered") from None
    data = _inflate(packed, where, shown[0])
    doc = contract_document(data, f"{where}: the embedded evidence")
    return Embedded(doc, shown[0], next(iter(signers), None))


def extract(text: str, where: str = "the report") -> dict:
    """The embedded run, checked against the hash in the header; any alteration is an InputError."""
    return extract_embedded(text, where).document


@dataclass(frozen=True)
class Verification:
    """What ``neptune-audit evidence`` found: the run, and what was proven about the file."""

    document: dict
    sha256: str
    signed: bool            # a signature lies beside the file (or its header names a signer)
    verified_key: str | None  # the key whose signature verified, None when none was checked
    predicate: dict | None
    rewritten: tuple[str, ...] | None = None  # a notebook re-saved since: its content verified, these fields not

    def lines(self, path) -> list[str]:
        out = [f"{path}: the run of {self.document['generated_at']}; evidence SHA-256 {self.sha256} matches its "
               "header"]
        if self.verified_key:
            p = self.predicate or {}
            who = "".join(f", {label} {p[k]}" for label, k in (("KMS key", "kms_key_arn"), ("by", "signed_by"),
                                                                ("at", "signed_at")) if p.get(k))
            if self.rewritten is None:
                out.append(f"signature verified: every byte of {Path(path).name} was signed by key "
                           f"{self.verified_key}{who}")
            else:
                out.append(f"signature verified: the content of {Path(path).name} (every cell's source and outputs, "
                           f"the parameters, the evidence) was signed by key {self.verified_key}{who}")
                out.append("the file was saved again since (by JupyterLab, say): only housekeeping changed, "
                           f"which the signature does not vouch for: {', '.join(self.rewritten) or 'formatting'}")
        elif self.signed:
            out.append("signed, but the signature was not checked: give --public-key PUB.pem (or --kms-key KEY) "
                       "to verify who signed it")
        else:
            out.append("unsigned: the SHA-256 shows accidental change only; anyone who edits the file can "
                       "recompute it")
        return out


def verify(path, public_key=None, signature=None) -> Verification:
    """Extract and check the evidence of a report (HTML) or executed notebook (.ipynb); with ``public_key``, also
    that its detached signature covers every byte and was made by that key."""
    from neptune_audit.contract import signing

    p = Path(path)
    data = read_bytes(p, MAX_FILE, "report")
    verified = None
    if public_key is not None:
        verified = signing.verify_file(p, data, public_key, signature)
    try:
        text = _html_of_notebook(data, str(p)) if p.suffix == ".ipynb" else data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{p} is not UTF-8 text: refused") from None
    embedded = extract_embedded(text, str(p))
    if verified and embedded.signer_key_id not in (None, verified.key_id):
        raise InputError(f"{p} names signer {embedded.signer_key_id} in its header, but was signed by "
                         f"{verified.key_id}: refused")
    if verified and verified.predicate.get("evidence_sha256") not in (None, embedded.sha256):
        raise InputError(f"{p}: the signed statement vouches for other evidence: refused")
    # facts over labels, signed or not: a relabelled run with its hash recomputed is refused here as merge refuses it
    check_facts(embedded.document, p.name)
    signed = bool(embedded.signer_key_id) or signing.signature_path(p).exists() or bool(signature)
    return Verification(embedded.document, embedded.sha256, signed, verified.key_id if verified else None,
                        verified.predicate if verified else None,
                        verified.rewritten if verified and not verified.bytes_intact else None)
