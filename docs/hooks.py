"""MkDocs hooks: the reference pages generated from the kit itself, and the demo rendered into the site.

- ``reference/cli.md`` from the argparse parser (``neptune-audit COMMAND --help``, every command);
- ``reference/schema.md`` from the contract's JSON Schema (every object, field, type and description);
- ``reference/policy.md`` from ``neptune-audit policy`` (the policies as the kit derives them);
- ``demo/``: the simulated Organization's report, its executed notebook and that notebook as HTML.

Generated at build time, never committed: a page cannot drift from the code it describes.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent


def _cli() -> str:
    from neptune_audit import cli

    parser = cli.build_parser()
    os.environ.setdefault("COLUMNS", "100")  # argparse wraps help to the terminal; a page has its own width
    out = ["# Command line", "", "Generated from the parser itself (`neptune-audit COMMAND --help`).", "",
           "```text", parser.format_help().rstrip(), "```", ""]
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001 - argparse keeps its commands here
    for name, sub in commands.items():
        out += [f"## `neptune-audit {name}`", "", "```text", sub.format_help().rstrip(), "```", ""]
    return "\n".join(out)


def _type(spec: dict, defs: dict) -> str:
    if "$ref" in spec:
        name = spec["$ref"].rsplit("/", 1)[-1]
        target = defs.get(name, {})
        return f"[{name}](#{name})" if target.get("type") == "object" else f"[`{name}`](#types)"
    if "const" in spec:
        return f"`{json.dumps(spec['const'])}`"
    if "enum" in spec:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in spec["enum"])
    if "oneOf" in spec or "anyOf" in spec:
        return " or ".join(_type(s, defs) for s in spec.get("oneOf") or spec.get("anyOf"))
    kind = spec.get("type", "any")
    kind = " or ".join(kind) if isinstance(kind, list) else kind
    if kind == "array" and isinstance(spec.get("items"), dict):
        return f"array of {_type(spec['items'], defs)}"
    if spec.get("pattern"):
        return f"{kind} (`{spec['pattern']}`)"
    return kind


def _object(title: str, spec: dict, defs: dict) -> list[str]:
    required = set(spec.get("required", []))
    rows = [f"## {title}", ""]
    if spec.get("description"):
        rows += [spec["description"], ""]
    rows += ["| field | type | required | meaning |", "|---|---|---|---|"]
    for field, sub in spec.get("properties", {}).items():
        text = (sub.get("description") or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{field}` | {_type(sub, defs)} | {'yes' if field in required else ''} | {text} |")
    return rows + [""]


def _schema() -> str:
    schema = json.loads((ROOT / "neptune_audit/contract/neptune-audit-1.schema.json").read_text())
    defs = schema.get("$defs", {})
    out = ["# JSON contract", "", f"Schema `{schema['title']}` (`{schema['$id']}`), generated from the JSON Schema "
           "the kit validates every document against (`neptune-audit schema` prints it).", "",
           schema.get("description", ""), ""]
    out += _object("document", schema, defs)
    for name, spec in defs.items():
        if spec.get("type") == "object":
            out += _object(name, spec, defs)
    out += ["## types", "", "| name | is |", "|---|---|"]
    out += [f"| `{name}` | {_type(spec, defs)} |" for name, spec in defs.items() if spec.get("type") != "object"]
    return "\n".join(out) + "\n"


def _policy() -> str:
    import neptune_audit

    out = ["# IAM policies", "", "What `neptune-audit policy` prints: least privilege, derived from the AWS calls "
           "the kit declares beside each call site (a test fails on any call none covers).", ""]
    for title, kind, kw in (("Audit", "audit", {}), ("Audit an Organization", "audit", {"organization": True}),
                            ("Remediate", "remediate", {}),
                            ("Remediate, with drift detection for CloudFormation", "remediate", {"iac": True})):
        out += [f"## {title}", "", f"`neptune-audit policy {kind}"
                + "".join(f" --{k.replace('_', '-')}" for k in kw) + "`", "", "```json",
                json.dumps(neptune_audit.policy(kind, **kw), indent=2), "```", ""]
    return "\n".join(out)


GENERATED = {"reference/cli.md": _cli, "reference/schema.md": _schema, "reference/policy.md": _policy}


def _demo() -> dict[str, bytes]:
    """The demo, run as `neptune-audit demo` runs it: report, executed notebook, that notebook as HTML.  With
    NEPTUNE_AUDIT_DOCS_DEMO=0 (a quick build), a page saying so stands in for each."""
    if os.environ.get("NEPTUNE_AUDIT_DOCS_DEMO") == "0":
        note = b"<p>This site was built with NEPTUNE_AUDIT_DOCS_DEMO=0: run <code>make docs</code> for the demo.</p>"
        return {"demo/report.html": note, "demo/notebook.html": note, "demo/audit.ipynb": b"{}"}
    import tempfile

    import nbformat
    from nbconvert import HTMLExporter

    from neptune_audit.options import ScanOptions
    from neptune_audit.present.report import run_report
    from neptune_audit.simulate.estate import example_code, example_exceptions

    with tempfile.TemporaryDirectory(prefix="neptune-audit-docs-") as tmp:
        out = Path(tmp)
        options = ScanOptions(demo=True, organization=True, exceptions_file=example_exceptions(),
                              iac_paths=(example_code(),))
        run_report(options, output=out / "report.html", keep_notebook=out / "audit.ipynb")
        nb = nbformat.read(out / "audit.ipynb", as_version=4)
        # the kit's offline template (the report's), code shown: no require.js or MathJax from a CDN
        import neptune_audit.present as present_pkg

        templates = str(Path(present_pkg.__file__).resolve().parent / "templates")
        body, _ = HTMLExporter(template_name="offline", extra_template_basedirs=[templates]).from_notebook_node(nb)
        return {"demo/report.html": (out / "report.html").read_bytes(), "demo/audit.ipynb": (out / "audit.ipynb").read_bytes(),
                "demo/notebook.html": body.encode("utf-8")}


def on_files(files, config):
    for uri, make in GENERATED.items():
        files.append(File.generated(config, uri, content=make()))
    for uri, data in _demo().items():
        files.append(File.generated(config, uri, content=data))
    return files
