"""What ``neptune-audit iac`` writes: the ``neptune-audit-iac/1`` JSON, SARIF 2.1.0 for code scanning, a table that
never cuts, and a unified diff that turns every FAIL into a PASS by changing only the line that decides it."""
from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import textwrap
from typing import Any
from pathlib import Path

from neptune_audit._version import __version__
from neptune_audit.code import cdk_source
from neptune_audit.code.scan import SCHEMA, IacResult
from neptune_audit.vocabulary import EXCEPTED, FAIL
from neptune_audit.rule import model

SCHEMA_FILE = "neptune-audit-iac-1.schema.json"
FORMATS = ("table", "json", "sarif")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT = "neptuneAuditResource/v1"


def schema_text() -> str:
    return (Path(__file__).parent / SCHEMA_FILE).read_text(encoding="utf-8")


def to_document(result: IacResult) -> dict:
    return {"schema": SCHEMA, "rule": model.header(), "generated_at": result.generated_at,
            "tool_version": __version__, "findings": result.findings, "files": result.files,
            "summary": result.summary}


def to_json(result: IacResult) -> str:
    return json.dumps(to_document(result), indent=2, ensure_ascii=False) + "\n"


SRCROOT = "%SRCROOT%"


def _uri(file: str) -> str:
    """A file as SARIF names it: relative to the repository root (``%SRCROOT%``), percent-encoded; never a
    ``file:///`` address of the machine it ran on."""
    from urllib.parse import quote

    return quote(repository_path(file), safe="/")


def _artifact(file: str) -> dict:
    return {"uri": _uri(file), "uriBaseId": SRCROOT}


def fingerprint(finding: dict) -> str:
    """Stable per resource: the file as scanned and the logical id or address (not the line, which moves)."""
    return hashlib.sha256(f"{_uri(finding['file'])}\0{finding['resource']}".encode()).hexdigest()


def to_sarif(result: IacResult) -> str:
    """SARIF 2.1.0 as GitHub code scanning reads it: the rule's metadata from ``rule.yaml``, one result per FAIL or
    EXCEPTED resource (an excepted one carries its suppression), located at the property's line, else the
    resource's."""
    meta = model.metadata()
    rule = {"id": meta.id, "name": "NeptuneAutoMinorVersionUpgrade",
            "shortDescription": {"text": meta.title}, "fullDescription": {"text": meta.rationale},
            "helpUri": meta.reference, "help": {"text": meta.remediation},
            "defaultConfiguration": {"level": "warning"},
            # GitHub reads security-severity (0-10) for its severity column: 4.0-6.9 is Medium, the rule's risk
            "properties": {"security-severity": "5.0", "tags": ["security", *meta.standards],
                           "precision": "very-high"}}
    results = []
    by_key = {(r.file, r.resource): r for r in result.resources}
    for f in result.findings:
        if f["result"] not in (FAIL, EXCEPTED):
            continue
        location: dict = {"physicalLocation": {"artifactLocation": _artifact(f["file"])},
                          "logicalLocations": [{"name": f["resource"], "kind": "resource"}]}
        if f["line"]:
            location["physicalLocation"]["region"] = {"startLine": int(f["line"])}
        item = {"ruleId": meta.id, "ruleIndex": 0, "level": "warning", "kind": "fail",
                "message": {"text": f["reason"]}, "locations": [location],
                "partialFingerprints": {FINGERPRINT: fingerprint(f)}}
        decides = getattr(getattr(by_key.get((f["file"], f["resource"])), "value", None), "fix_at", None)
        if decides and decides[1] and (decides[0], decides[1]) != (f["file"], f["line"]):
            # a variable's default, a caller's argument, a constant: where the value that decides is set
            item["relatedLocations"] = [{"id": 1, "message": {"text": "the value that decides is set here"},
                                         "physicalLocation": {"artifactLocation": _artifact(decides[0]),
                                                              "region": {"startLine": int(decides[1])}}}]
        if f["result"] == EXCEPTED:
            inline = str(f["exception"]["match"]).startswith("inline")
            item["suppressions"] = [{"kind": "inSource" if inline else "external",
                                     "justification": str(f["exception"]["reason"])}]
        results.append(item)
    doc = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "neptune-audit", "version": __version__, "semanticVersion": __version__,
                            "informationUri": "https://github.com/neptune-audit/neptune-audit", "rules": [rule]}},
        "results": results,
        # no uri: the root is wherever the repository is checked out (GitHub code scanning maps it to the checkout)
        "originalUriBaseIds": {SRCROOT: {"description": {"text": "the root of the repository scanned (else the "
                                                                  "working folder)"}}},
        "invocations": [{"executionSuccessful": not result.summary["files_in_error"],
                         "toolExecutionNotifications": [
                             {"level": "error", "message": {"text": f"{e['file']}: {e['error']}"}}
                             for e in result.files if e["state"] == "error"]}]}]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def to_table(result: IacResult, width: int | None = None) -> str:
    """One record per resource, wrapped to the width: nothing is ever cut."""
    from neptune_audit.records import terminal_text

    width = max(40, width or 100)
    out = []
    pad = "  "
    wrap: dict[str, Any] = dict(width=width, break_on_hyphens=False, break_long_words=False)  # overflow, never cut
    for f in result.findings:
        where = f"{f['file']}:{f['line']}" if f["line"] else f["file"]
        out += textwrap.wrap(terminal_text(f"{f['result']}  {where}"), subsequent_indent=pad, **wrap)
        out += textwrap.wrap(terminal_text(f"{f['resource']} ({f['source']})"), initial_indent=pad,
                             subsequent_indent=pad, **wrap)
        out += textwrap.wrap(terminal_text(f["reason"]), initial_indent=pad, subsequent_indent=pad, **wrap)
    for e in result.files:
        if e["state"] == "error":
            out += textwrap.wrap(terminal_text(f"NOT READ {e['file']}: {e['error']}"), subsequent_indent=pad,
                                 **wrap)
    s = result.summary
    out += textwrap.wrap(f"{s['resources']} Neptune DB instance(s) in code: {s['pass']} pass, {s['fail']} fail, "
                         f"{s['excepted']} excepted; {s['files_scanned']} file(s) read, {s['files_in_error']} not "
                         "read", width, break_on_hyphens=False)
    return "\n".join(out) + "\n"


# ---- the fix, as a diff ----

_AFTER_KEY = re.compile(r"(?i)auto_?minor_?version_?upgrade[\"']?\s*[:=]\s*[\"']?(false)(?![\w-])")
_FALSE = re.compile(r"(?i)(?<![\w-])\"?(false)\"?(?![\w-])")


def _flip(line: str) -> str | None:
    """The line with the false that decides written as true (quotes and case style kept): the one after the
    setting's own key, else the line's only false (a variable's default); None when neither is there (one-line
    JSON may hold other keys' "false": never those)."""
    code = line.split("#", 1)[0] if "#" in line else line
    m = _AFTER_KEY.search(code)
    if m is None:
        found = list(_FALSE.finditer(code))
        if len(found) != 1:
            return None
        m = found[0]
    word = m.group(1)
    true = "TRUE" if word.isupper() else "True" if word[0].isupper() else "true"
    return line[:m.start(1)] + true + line[m.end(1):]


def repository_path(file: str) -> str:
    """``file`` as ``git apply`` run from the repository root names it: relative to the root of the git work tree
    that holds it, else to the working folder; forward slashes."""
    path = Path(os.path.abspath(file))
    for folder in path.parents:
        if (folder / ".git").exists():
            return path.relative_to(folder).as_posix()
    return Path(os.path.relpath(path)).as_posix()


def _git_quoted(name: str) -> str:
    """A diff header's file name as git writes it: quoted, with C escapes, when it holds a quote, a backslash, a
    control or a non-ASCII character (git's quote_c_style with core.quotePath, its default)."""
    if not any(c in name for c in '"\\') and name.isascii() and name.isprintable():
        return name
    escapes = {'"': '\\"', "\\": "\\\\", "\t": "\\t", "\n": "\\n"}
    out = []
    for ch in name:
        if ch in escapes:
            out.append(escapes[ch])
        elif ch.isascii() and ch.isprintable():
            out.append(ch)
        else:
            out.extend(f"\\{b:03o}" for b in ch.encode("utf-8"))
    return '"' + "".join(out) + '"'


def fix_diff(result: IacResult) -> tuple[str, list[str]]:
    """(a unified diff git can apply, notes on what it cannot fix): each FAIL's deciding line, false -> true."""
    edits: dict[str, set[int]] = {}
    notes = []
    by_key = {(r.file, r.resource): r for r in result.resources}
    for f in result.findings:
        if f["result"] != FAIL:
            continue
        r = by_key[(f["file"], f["resource"])]
        v = r.value
        label = f"{f['resource']} ({f['file']})"
        if v.kind == "construct-default":  # nothing written to flip: the property must be added to the construct
            notes.append(f"{label}: add autoMinorVersionUpgrade: true (Python: auto_minor_version_upgrade=True) to "
                         f"the DatabaseCluster at {f['file']}:{r.line}")
        elif r.source == "cdk" and not r.file.endswith(cdk_source.SOURCE_SUFFIXES):
            # cdk synth writes the assembly again: a change there is lost at the next synth
            notes.append(f"{label}: a CDK assembly is written again by every cdk synth, so it is not patched; set "
                         f"autoMinorVersionUpgrade: true (Python: auto_minor_version_upgrade=True) on the construct "
                         f"{r.construct_path or f['resource']} in the app's source"
                         + (f", written at {r.written_at[0]}:{r.written_at[1]}" if r.written_at else
                            " (--cdk-app DIR names where)"))
        elif v.kind == "parameter" and v.given is not None and v.text not in ("caller", "tfvars"):
            notes.append(f"{label}: {v.name} is given from outside the file ({v.given!r}): change it where it is set")
        elif v.kind in ("literal", "parameter", "evaluated") and v.fix_at and v.fix_at[1]:
            edits.setdefault(v.fix_at[0], set()).add(int(v.fix_at[1]))
        elif v.kind == "parameter":
            notes.append(f"{label}: {v.name} has no default in the file: set it to true where the stack is deployed")
        else:
            notes.append(f"{label}: {f['reason']} No single line decides it: set AutoMinorVersionUpgrade to true "
                         "where the value comes from")
    chunks = []
    for file, lines_to_fix in sorted(edits.items()):
        with open(file, encoding="utf-8", newline="") as fh:  # as written: a CRLF file keeps its CRLF
            text = fh.read()
        old = text.splitlines(keepends=True)
        new = list(old)
        for n in sorted(lines_to_fix):
            flipped = _flip(new[n - 1]) if 0 < n <= len(new) else None
            if flipped is None:
                notes.append(f"{file}:{n}: no false to change on that line")
                continue
            new[n - 1] = flipped
        rel = repository_path(file)
        before, after = _git_quoted(f"a/{rel}"), _git_quoted(f"b/{rel}")
        for line in difflib.unified_diff(old, new, fromfile=before, tofile=after, lineterm="\n"):
            chunks.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(chunks), notes
