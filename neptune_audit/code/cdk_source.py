"""CDK apps read where people write them: Python (``ast``) and TypeScript/JavaScript (tree-sitter's grammar).

The Neptune constructs, each judged with its own default:

- L1 ``CfnDBInstance`` (``aws-cdk-lib/aws-neptune``, v1 ``@aws-cdk/aws-neptune``): the property left out is left out
  of the template, and Neptune's default (true) applies;
- L2 ``DatabaseInstance`` (``@aws-cdk/aws-neptune-alpha``, v1 ``@aws-cdk/aws-neptune``): the same;
- L2 ``DatabaseCluster``: ``autoMinorVersionUpgrade`` is documented "Default: - false" (CDK API reference,
  ``DatabaseClusterProps``), and the construct writes ``AutoMinorVersionUpgrade: false`` into every instance it
  creates: left out, it fails.  Only since the property came (aws-cdk pull request 18394): ``@aws-cdk/aws-neptune``
  1.140.0 and ``aws-neptune-alpha`` 2.9.0-alpha.0 (checked in the published packages' ``cluster.js``; 1.139.0 and
  2.8.0-alpha.0 write nothing, so AWS's default applies).  The app's own manifest says which it builds with.

Only constructs of a Neptune module count (``aws_rds.DatabaseCluster`` never does): the name must come from an import
of ``aws_neptune``/``aws-neptune``/``aws-neptune-alpha``.  A value is a literal or a constant of the same file; any
other expression is said to decide, unresolved.  The resource is the construct id; the line is the property's, or
the construct call's when the property is left out.
"""
from __future__ import annotations

import ast
import re
import warnings
from pathlib import Path
from typing import Any

from neptune_audit.code import cdk_versions
from neptune_audit.code.model import CFN_TYPE, Resource, Value

CONSTRUCTS = ("CfnDBInstance", "DatabaseCluster", "DatabaseInstance")
_NEPTUNE_MODULE = re.compile(r"(^|[./_-])aws[_-]neptune([_-]alpha)?$")
CLUSTER_DEFAULT = ("not set on DatabaseCluster, whose autoMinorVersionUpgrade defaults to false (CDK API reference, "
                   "DatabaseClusterProps): it writes false into every instance it creates")
PY_KEY, TS_KEY = "auto_minor_version_upgrade", "autoMinorVersionUpgrade"
SOURCE_SUFFIXES = (".py", ".ts", ".js", ".mjs", ".cjs", ".tsx")


def mentions_neptune(text: str) -> bool:
    return "neptune" in text.lower() and any(c in text for c in CONSTRUCTS)


def read(path: Path, text: str) -> list[Resource]:
    """The Neptune DB instances a CDK app's source file defines."""
    if path.suffix.lower() == ".py":
        return _python(path, text)
    return _typescript(path, text)


def _resource(path: Path, construct: str, construct_id: str | None, line: int, value: Value,
              prop_line: int | None) -> Resource:
    return Resource(file=str(path), line=line, resource=construct_id or f"{construct}@{line}", type=CFN_TYPE,
                    source="cdk", value=value, prop_line=prop_line, construct_path=construct_id)


def _omitted(construct: str, path: Path, line: int) -> Value:
    if construct != "DatabaseCluster":
        return Value("omitted")
    writes = cdk_versions.cluster_writes_false(path)
    if writes.decided is False:
        return Value("omitted", text=writes.why)
    if writes.decided is None:
        return Value("unresolved", text=writes.why, fix_at=(str(path), line))
    text = CLUSTER_DEFAULT + (f" ({writes.why})" if writes.why else "")
    return Value("construct-default", value=False, text=text, fix_at=(str(path), line))


# ---- Python ----

def _python(path: Path, text: str) -> list[Resource]:
    try:
        with warnings.catch_warnings():  # someone else's "\d" is their warning, not the caller's
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            tree = ast.parse(text, filename=str(path))
    except (SyntaxError, ValueError, RecursionError):
        return []
    modules: set[str] = set()     # names bound to a Neptune module (import ... as neptune)
    names: dict[str, str] = {}    # names bound to a construct class (from ... import DatabaseCluster)
    constants: dict[str, tuple[object, int]] = {}  # NAME = True at module level: (value, line)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if _NEPTUNE_MODULE.search(a.name):
                    modules.add(a.asname or a.name)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                if _NEPTUNE_MODULE.search(node.module) and a.name in CONSTRUCTS:
                    names[a.asname or a.name] = a.name
                elif _NEPTUNE_MODULE.search(f"{node.module}.{a.name}"):
                    modules.add(a.asname or a.name)
    for node in tree.body:  # module-level constants: NAME = True
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    constants[target.id] = (node.value.value, node.lineno)
    bound: dict[int, str] = {}      # id(construct call) -> the name it is assigned to (db = CfnDBInstance(...))
    later: dict[str, ast.expr] = {}  # name -> the last value assigned to name.auto_minor_version_upgrade
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(node.value, ast.Call) and isinstance(target, (ast.Name, ast.Attribute)):
                bound[id(node.value)] = _dotted(target)
            elif isinstance(target, ast.Attribute) and target.attr == PY_KEY and _dotted(target.value):
                name = _dotted(target.value)
                if name not in later or node.lineno > later[name].lineno:
                    later[name] = node.value
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        construct = None
        if isinstance(f, ast.Attribute) and f.attr in CONSTRUCTS and _dotted(f.value) in modules:
            construct = f.attr
        elif isinstance(f, ast.Name) and f.id in names:
            construct = names[f.id]
        if construct is None:
            continue
        cid = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "id"), None)
        construct_id = _py_id(cid, text)
        kw = next((k.value for k in node.keywords if k.arg == PY_KEY), None)
        if construct == "CfnDBInstance" and bound.get(id(node)) in later:  # db.auto_minor_version_upgrade = ...
            kw = later[bound[id(node)]]
        if kw is None:
            value, prop_line = _omitted(construct, path, node.lineno), None
        else:
            prop_line = kw.lineno
            value = _py_value(kw, constants, path, prop_line)
        out.append(_resource(path, construct, construct_id, node.lineno, value, prop_line))
    return out


def _py_id(node, text: str) -> str | None:
    """A construct id as written: a string, or an f-string's source (f"{prefix}Db" -> {prefix}Db)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        segment = ast.get_source_segment(text, node) or ""
        return segment.lstrip("fFrR").strip("'\"") or None
    return None


def _dotted(node) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _py_value(node, constants: dict, path: Path, line: int) -> Value:
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return Value("literal", value=node.value, fix_at=(str(path), line))
    if isinstance(node, ast.Constant) and node.value is None:
        return Value("evaluated", value=None, text="None", fix_at=(str(path), line))
    if isinstance(node, ast.Name) and node.id in constants and isinstance(constants[node.id][0], bool):
        value, where = constants[node.id]
        return Value("evaluated", value=value, text=node.id, name=node.id, fix_at=(str(path), where))
    return Value("unresolved", text=f"{ast.unparse(node)[:80]}, which the file alone does not decide")


# ---- TypeScript / JavaScript ----

def _parser():
    from tree_sitter import Language, Parser
    import tree_sitter_typescript

    return Parser(Language(tree_sitter_typescript.language_typescript()))


def _required(value, src) -> str | None:
    """The module a ``require('...')`` call names, or None."""
    if value.type != "call_expression":
        return None
    fn, args = value.child_by_field_name("function"), value.child_by_field_name("arguments")
    if fn is None or src(fn) != "require" or args is None:
        return None
    strings = [c for c in args.children if c.type == "string"]
    return src(strings[0]).strip("'\"`") if strings else None


def _typescript(path: Path, text: str) -> list[Resource]:
    data = text.encode("utf-8")
    root = _parser().parse(data).root_node

    def src(node) -> str:
        return data[node.start_byte:node.end_byte].decode("utf-8", "replace")

    modules: set[str] = set()
    names: dict[str, str] = {}
    constants: dict[str, tuple[bool, int]] = {}  # const NAME = true at the top level: (value, line)
    stack = [root]
    news = []
    bound: dict[int, str] = {}  # new-expression node id -> the name it is assigned to
    later: dict[str, Any] = {}  # name -> the node last assigned to name.autoMinorVersionUpgrade
    casts: list[tuple[str, str, Any]] = []  # (name, included resource id, the cast)
    while stack:
        node = stack.pop()
        stack.extend(reversed(node.children))
        if node.type == "import_statement":
            source = node.child_by_field_name("source")
            module = src(source).strip("'\"") if source is not None else ""
            clause = next((c for c in node.children if c.type == "import_clause"), None)
            if clause is None:
                continue
            for part in clause.children:
                if part.type == "namespace_import" and _NEPTUNE_MODULE.search(module):
                    ident = next((c for c in part.children if c.type == "identifier"), None)
                    if ident is not None:
                        modules.add(src(ident))
                elif part.type == "named_imports":
                    for spec in part.children:
                        if spec.type != "import_specifier":
                            continue
                        name, alias = spec.child_by_field_name("name"), spec.child_by_field_name("alias")
                        imported, local = src(name), src(alias or name)
                        if _NEPTUNE_MODULE.search(module) and imported in CONSTRUCTS:
                            names[local] = imported
                        elif _NEPTUNE_MODULE.search(f"{module}/{imported}"):  # { aws_neptune as neptune }
                            modules.add(local)
        elif node.type in ("lexical_declaration", "variable_declaration"):
            for decl in node.children:
                if decl.type != "variable_declarator":
                    continue
                name, value = decl.child_by_field_name("name"), decl.child_by_field_name("value")
                if name is None or value is None:
                    continue
                if value.type in ("true", "false") and node.parent is not None and node.parent.type == "program":
                    constants[src(name)] = (value.type == "true", value.start_point[0] + 1)
                inner = _unwrap(value)
                if inner.type == "new_expression":
                    bound[inner.id] = src(name)
                elif value.type == "as_expression":  # template.getResource('Db') as neptune.CfnDBInstance
                    included = _included_id(value, src)
                    if included:
                        casts.append((src(name), included, value))
                required = _required(value, src)  # CommonJS: const neptune = require('@aws-cdk/aws-neptune-alpha')
                if required is None:
                    continue
                if name.type == "identifier" and _NEPTUNE_MODULE.search(required):
                    modules.add(src(name))
                elif name.type == "object_pattern":  # const { DatabaseCluster, aws_neptune: l1 } = require(...)
                    for part in name.children:
                        key = part.child_by_field_name("key") if part.type == "pair_pattern" else part
                        local = part.child_by_field_name("value") if part.type == "pair_pattern" else part
                        if key is None or local is None:
                            continue
                        imported = src(key)
                        if _NEPTUNE_MODULE.search(required) and imported in CONSTRUCTS:
                            names[src(local)] = imported
                        elif _NEPTUNE_MODULE.search(f"{required}/{imported}"):
                            modules.add(src(local))
        elif node.type == "new_expression":
            news.append(node)
        elif node.type == "assignment_expression":  # db.autoMinorVersionUpgrade = true, after construction
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if left is not None and right is not None and left.type == "member_expression":
                prop, obj = left.child_by_field_name("property"), left.child_by_field_name("object")
                if prop is not None and obj is not None and src(prop) == TS_KEY:
                    later[src(obj)] = right  # the walk is in source order: the last one stays
    out = []
    for var, included_id, cast in casts:  # a resource of an included template, set from the app
        kind = cast.child_by_field_name("type") if cast.child_by_field_name("type") else cast.children[-1]
        if var in later and src(kind).split(".")[-1] == "CfnDBInstance" and (
                src(kind) in names or src(kind).rsplit(".", 1)[0] in modules):
            v = later[var]
            out.append(_resource(path, "CfnDBInstance", included_id, cast.start_point[0] + 1,
                                 _ts_value(v, src, constants, path), v.start_point[0] + 1))
    for node in news:
        ctor = node.child_by_field_name("constructor")
        construct = None
        if ctor is not None and ctor.type == "member_expression":
            obj, prop = ctor.child_by_field_name("object"), ctor.child_by_field_name("property")
            if obj is not None and prop is not None and src(prop) in CONSTRUCTS and src(obj) in modules:
                construct = src(prop)
        elif ctor is not None and ctor.type == "identifier" and src(ctor) in names:
            construct = names[src(ctor)]
        if construct is None:
            continue
        args = node.child_by_field_name("arguments")
        values = [c for c in args.children if c.is_named and c.type != "comment"] if args is not None else []
        cid = values[1] if len(values) > 1 else None
        construct_id = src(cid).strip("'\"`") if cid is not None and cid.type == "string" else None
        props = values[2] if len(values) > 2 and values[2].type == "object" else None
        pair = None
        for p in (props.children if props is not None else []):
            if p.type == "pair" and src(p.child_by_field_name("key")).strip("'\"") == TS_KEY:
                pair = p
            elif p.type == "shorthand_property_identifier" and src(p) == TS_KEY:
                pair = p
        line = node.start_point[0] + 1
        v = pair.child_by_field_name("value") if pair is not None and pair.type == "pair" else pair
        if construct == "CfnDBInstance" and bound.get(node.id) in later:  # set after construction
            v = later[bound[node.id]]
        if v is None:
            value, prop_line = _omitted(construct, path, line), None
        else:
            prop_line = v.start_point[0] + 1
            value = _ts_value(v, src, constants, path)
        out.append(_resource(path, construct, construct_id, line, value, prop_line))
    return out


def _ts_value(v, src, constants: dict, path: Path) -> Value:
    line = v.start_point[0] + 1
    if v.type in ("true", "false"):
        return Value("literal", value=v.type == "true", fix_at=(str(path), line))
    if v.type in ("identifier", "shorthand_property_identifier") and src(v) in constants:
        known, where = constants[src(v)]
        return Value("evaluated", value=known, text=src(v), name=src(v), fix_at=(str(path), where))
    return Value("unresolved", text=f"{src(v)[:80]}, which the file alone does not decide")


def _unwrap(node):
    """The expression inside parentheses, ``x!`` and ``x as T``."""
    while node.type in ("parenthesized_expression", "non_null_expression", "as_expression", "satisfies_expression") \
            and node.named_children:
        node = node.named_children[0]
    return node


def _included_id(cast, src) -> str | None:
    """'Db' of ``something.getResource('Db') as ...`` (CfnInclude), else None."""
    call = _unwrap(cast)
    if call.type != "call_expression":
        return None
    fn, args = call.child_by_field_name("function"), call.child_by_field_name("arguments")
    if fn is None or args is None or fn.type != "member_expression" or \
            src(fn.child_by_field_name("property")) != "getResource":
        return None
    strings = [c for c in args.named_children if c.type == "string"]
    return src(strings[0]).strip("'\"`") if strings else None
