"""A notebook's content, told apart from the housekeeping JupyterLab rewrites when someone opens and saves it.

A signed notebook (``report --notebook --sign``) is covered twice by its statement: every byte (the file's SHA-256,
for a file nobody has opened) and its *content*: every cell's type, source, tags, execution count and outputs (each
output's text, data and metadata), the notebook format and the papermill record (its parameters among them).  The
embedded evidence is an output, so it is content.  Everything else is housekeeping: notebook metadata such as
``kernelspec``, ``language_info`` and ``widgets``, which JupyterLab writes when a kernel starts or a notebook is
saved, cell ids and cell metadata (``collapsed``, ``scrolled``), and the PNG that plotly's JupyterLab renderer
stores beside each chart it has drawn (a picture of the signed figure, made by the viewer).  Their digests are
signed too, so ``evidence`` names exactly which of them changed, and says they are not vouched for.

Canonical form: JSON with sorted keys, no spaces, UTF-8; multi-line text joined (nbformat stores it either way);
a float with an integral value written as an integer, because JupyterLab re-serializes JSON outputs (plotly's,
the run's own) in JavaScript, where ``1.0`` is ``1``.  The README shows the same computation in a few lines of
standard-library Python.
"""
from __future__ import annotations

import hashlib
import json

CONTENT_VERSION = 1
CELL_DIGEST_CHARS = 16  # per-cell digests only say *where* content changed; content_sha256 is the claim
# plotly's JupyterLab renderer, once it has drawn a chart, stores a PNG of it (at the viewer's width) in the output
# beside the figure: a picture of the signed figure, drawn by the receiver, so housekeeping and named as such
PLOTLY, PICTURE = "application/vnd.plotly.v1+json", "image/png"


def _canonical(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def _text(value):
    return "".join(value) if isinstance(value, list) else value


def _is_json_mime(mime: str) -> bool:
    return mime.startswith("application/") and mime.endswith("json")  # nbformat keeps these as JSON, not lines


def _output(out: dict) -> dict:
    o = {k: v for k, v in out.items() if k not in ("metadata", "transient")}
    if "text" in o:
        o["text"] = _text(o["text"])
    if isinstance(o.get("data"), dict):
        o["data"] = {m: (v if _is_json_mime(m) else _text(v)) for m, v in o["data"].items()
                     if not (m == PICTURE and PLOTLY in o["data"])}
    if out.get("output_type") in ("display_data", "execute_result"):
        o["metadata"] = out.get("metadata") or {}
    return o


def _cell(cell: dict) -> dict:
    c = {"cell_type": cell.get("cell_type"), "source": _text(cell.get("source", "")),
         "tags": list((cell.get("metadata") or {}).get("tags") or [])}
    if cell.get("cell_type") == "code":
        c["execution_count"] = cell.get("execution_count")
        c["outputs"] = [_output(o) for o in cell.get("outputs") or []]
    if cell.get("attachments"):
        c["attachments"] = cell["attachments"]
    return c


def _sha(value) -> str:
    text = json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def digests(nb: dict) -> dict:
    """What a signature states about a notebook (parsed JSON): its content digest, a short digest per cell, and a
    digest per housekeeping field."""
    cells = [_cell(c) for c in nb.get("cells") or []]
    meta = nb.get("metadata") or {}
    content = {"nbformat": nb.get("nbformat"), "cells": cells, "papermill": meta.get("papermill")}
    housekeeping = {f"metadata.{k}": _sha(v) for k, v in meta.items() if k != "papermill"}
    housekeeping["nbformat_minor"] = _sha(nb.get("nbformat_minor"))
    housekeeping["cell ids"] = _sha([c.get("id") for c in nb.get("cells") or []])
    pictures = [[i, (o.get("data") or {}).get(PICTURE)] for i, c in enumerate(nb.get("cells") or [], 1)
                for o in c.get("outputs") or [] if PLOTLY in (o.get("data") or {})]
    housekeeping["chart pictures (image/png drawn by the viewer's plotly)"] = _sha(pictures)
    housekeeping["cell metadata"] = _sha([{k: v for k, v in (c.get("metadata") or {}).items() if k != "tags"}
                                          for c in nb.get("cells") or []])
    return {"content_version": CONTENT_VERSION, "content_sha256": _sha(content),
            "cells": [_sha(c)[:CELL_DIGEST_CHARS] for c in cells], "housekeeping": housekeeping}


def compare(signed: dict, now: dict) -> tuple[list[str], list[str]]:
    """(content changes, housekeeping changes) between the signed digests and the file's, in words."""
    content = []
    if signed.get("content_sha256") != now["content_sha256"]:
        before, after = signed.get("cells") or [], now["cells"]
        if len(before) != len(after):
            content.append(f"{len(after)} cells where {len(before)} were signed")
        content += [f"cell {i + 1}" for i, (a, b) in enumerate(zip(before, after)) if a != b]
        content = content or ["the notebook format or its papermill record"]
    old, new = signed.get("housekeeping") or {}, now["housekeeping"]
    kept = [f"{k} (changed)" for k in sorted(set(old) & set(new)) if old[k] != new[k]]
    return content, kept + [f"{k} (added)" for k in sorted(set(new) - set(old))] + [
        f"{k} (removed)" for k in sorted(set(old) - set(new))]

