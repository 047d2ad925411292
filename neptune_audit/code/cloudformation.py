"""CloudFormation templates (YAML with the short-form intrinsics, and JSON) and CDK cloud assemblies.

The template is composed, not loaded, so every node keeps its line: the finding points at the property's line (or
the resource's when it is omitted), and a fix changes exactly that line.  ``!Ref X`` is ``{"Ref": X}``, ``!If`` is
``{"Fn::If": ...}`` and so on, as CloudFormation reads them.  A template may not use YAML anchors or aliases (they
would let a few lines expand to gigabytes) and may not repeat a key.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from neptune_audit.code.model import CFN_TYPE, Resource, Suppression, Value
from neptune_audit.errors import InputError, one_line

RULE_KEY = "neptune-audit"  # Metadata: {neptune-audit: {skip: [{id: Neptune-001, reason: ..., expires: ...}]}}
TRUE, FALSE = ("true",), ("false",)


class _Node:
    """A composed value with the line it starts on (1-based)."""

    __slots__ = ("value", "line")

    def __init__(self, value, line):
        self.value, self.line = value, line


def _yaml():
    import yaml

    return yaml, getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# CloudFormation's short-form tags (template reference, "Intrinsic function reference"), and the Transform's
INTRINSICS = {"Ref", "Condition", "GetAtt", "Sub", "If", "Join", "Select", "Split", "FindInMap", "Base64", "Cidr",
              "ImportValue", "GetAZs", "Equals", "And", "Or", "Not", "Transform", "Length", "ToJsonString",
              "ForEach", "ValueOf", "EachMemberEquals", "EachMemberIn", "RefAll", "Contains"}


def _convert(node, seen: set, depth: int = 0):
    """A composed YAML node as CloudFormation means it, every mapping value a ``_Node`` (value, line)."""
    import yaml

    if depth > 64:
        raise InputError("nested more than 64 deep")
    if id(node) in seen and not isinstance(node, yaml.ScalarNode):
        raise InputError("anchors and aliases (& and *) are not allowed in a template")
    seen.add(id(node))
    line = node.start_mark.line + 1
    tag = node.tag or ""
    if tag.startswith("!"):  # a short-form intrinsic: !Ref X, !GetAtt A.B, !If [..], !Sub ...
        name = tag[1:]
        if name not in INTRINSICS:
            raise InputError(f"line {line}: unknown tag !{one_line(name, limit=30)} (CloudFormation's short forms are "
                             "!Ref, !GetAtt, !Sub, !If and the other Fn:: functions)")
        inner = _convert(_untagged(node), seen, depth + 1)
        if name == "GetAtt" and isinstance(inner.value, str):
            inner = _Node(inner.value.split(".", 1), line)
        return _Node({"Ref" if name == "Ref" else ("Condition" if name == "Condition" else f"Fn::{name}"): inner},
                     line)
    if isinstance(node, yaml.MappingNode):
        out = {}
        for k, v in node.value:
            key = _convert(k, seen, depth + 1).value
            if not isinstance(key, (str, int, float, bool)) or str(key) in out:
                raise InputError(f"line {k.start_mark.line + 1}: duplicate or invalid key {one_line(key, limit=40)!r}")
            out[str(key)] = _convert(v, seen, depth + 1)
        return _Node(out, line)
    if isinstance(node, yaml.SequenceNode):
        return _Node([_convert(v, seen, depth + 1) for v in node.value], line)
    return _Node(_scalar(node), line)


def _untagged(node):
    import yaml

    cls = type(node)
    if isinstance(node, yaml.ScalarNode):
        return cls("tag:yaml.org,2002:str", node.value, node.start_mark, node.end_mark, style=node.style)
    tag = "tag:yaml.org,2002:map" if isinstance(node, yaml.MappingNode) else "tag:yaml.org,2002:seq"
    return cls(tag, node.value, node.start_mark, node.end_mark, flow_style=node.flow_style)


_SCALARS = None


def _scalar(node):
    global _SCALARS
    yaml, _ = _yaml()
    if _SCALARS is None:
        _SCALARS = yaml.constructor.SafeConstructor()
    if node.tag == "tag:yaml.org,2002:timestamp":
        return node.value  # a date stays the text written
    return _SCALARS.construct_object(node)


def plain(n):
    """A ``_Node`` tree as plain Python (lines dropped)."""
    v = n.value if isinstance(n, _Node) else n
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


def parse(text: str, where: str) -> _Node:
    """A template's text (YAML or JSON) as a ``_Node`` tree; InputError when it is not one."""
    yaml, loader = _yaml()
    try:
        root = yaml.compose(text, Loader=loader)
    except yaml.YAMLError as exc:
        if where.endswith(".json"):  # JSON with tabs or other things YAML's flow style refuses: JSON's own parser
            try:
                return _from_json(json.loads(text))
            except ValueError:
                pass
        raise InputError(f"not YAML or JSON ({one_line(exc, limit=160)})") from None
    if root is None:
        raise InputError("empty")
    try:
        return _convert(root, set())
    finally:
        if _SCALARS is not None:  # the constructor remembers every node it built: forget this file's
            _SCALARS.constructed_objects.clear()


def _from_json(value, line=None):
    if isinstance(value, dict):
        return _Node({k: _from_json(v) for k, v in value.items()}, line)
    if isinstance(value, list):
        return _Node([_from_json(v) for v in value], line)
    return _Node(value, line)


def is_template(root: _Node) -> bool:
    v = root.value
    if not isinstance(v, dict) or not isinstance(v.get("Resources"), _Node):
        return False
    res = v["Resources"].value
    return isinstance(res, dict) and ("AWSTemplateFormatVersion" in v or any(
        isinstance(r.value, dict) and isinstance(r.value.get("Type"), _Node)
        and str(r.value["Type"].value).startswith(("AWS::", "Custom::")) for r in res.values()))


def _bool(v):
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in TRUE + FALSE:
        return v.strip().lower() == "true"
    return None


def _value(node: _Node | None, params: dict, conditions: dict, overrides: dict, file: str, depth: int = 0) -> Value:
    if node is None:
        return Value("omitted")
    raw = node.value
    b = _bool(raw)
    if b is not None:
        return Value("literal", value=b, fix_at=(file, node.line))
    if isinstance(raw, dict) and len(raw) == 1:
        (fn, arg), = raw.items()
        arg_plain = plain(arg)
        if fn == "Ref" and isinstance(arg_plain, str) and arg_plain in params:
            p = params[arg_plain].value if isinstance(params[arg_plain].value, dict) else {}
            default = p.get("Default")
            allowed = p.get("AllowedValues")
            return Value("parameter", name=arg_plain, default=plain(default) if default else None,
                         has_default=default is not None,
                         allowed=tuple(plain(allowed)) if allowed and isinstance(plain(allowed), list) else None,
                         given=overrides.get(arg_plain),
                         fix_at=(file, default.line) if default is not None and default.line else None)
        if fn == "Fn::If" and isinstance(arg.value, list) and len(arg.value) == 3 and depth < 8:
            cond = plain(arg.value[0])
            return Value("choice", name=str(cond), options=tuple(
                _value(x, params, conditions, overrides, file, depth + 1) for x in arg.value[1:]))
    return Value("unresolved", text=one_line(json.dumps(plain(node), default=str), limit=120))


def _suppressions(meta) -> list[Suppression]:
    out: list[Suppression] = []
    if not isinstance(meta, dict) or not isinstance(meta.get(RULE_KEY), _Node):
        return out
    skips = meta[RULE_KEY].value.get("skip") if isinstance(meta[RULE_KEY].value, dict) else None
    for s in (skips.value if skips is not None and isinstance(skips.value, list) else []):
        d = plain(s)
        if isinstance(d, dict) and str(d.get("id", "")).lower() == "neptune-001":
            reason = d.get("reason") or d.get("comment")
            expires = d.get("expires")
            shown = None if expires is None else expires if isinstance(expires, str) else json.dumps(expires,
                                                                                                  default=str)
            out.append(Suppression(str(reason) if reason else "", shown, s.line))
    return out


@dataclass(frozen=True)
class Nested:
    """A nested stack a template names: its logical id, its ``TemplateURL`` as written, and the file it is on disk
    (None: a URL, or no such file)."""

    logical_id: str
    url: str
    local: Path | None


def _nested(file: Path, logical_id: str, url) -> Nested:
    text = url if isinstance(url, str) else json.dumps(url, default=str)
    if not isinstance(url, str) or "://" in url:
        return Nested(logical_id, text, None)
    candidate = (file.parent / url).resolve()
    return Nested(logical_id, text, candidate if candidate.is_file() else None)


def resources(root: _Node, file: str, overrides: dict, source: str = "cloudformation",
              stack: str | None = None) -> tuple[list[Resource], list[Nested]]:
    """The Neptune DB instances a template defines, and the nested stacks it names."""
    top = root.value
    params = top.get("Parameters").value if isinstance(top.get("Parameters"), _Node) and isinstance(
        top["Parameters"].value, dict) else {}
    conditions = plain(top.get("Conditions")) if top.get("Conditions") else {}
    found, nested = [], []
    res = top["Resources"].value
    clusters = {k: r.value for k, r in res.items() if isinstance(r.value, dict)
                and plain(r.value.get("Type")) == "AWS::Neptune::DBCluster"}
    for logical_id, r in res.items():
        body = r.value if isinstance(r.value, dict) else {}
        rtype = plain(body.get("Type"))
        props = body["Properties"].value if isinstance(body.get("Properties"), _Node) and isinstance(
            body["Properties"].value, dict) else {}
        if rtype == "AWS::CloudFormation::Stack":
            nested.append(_nested(Path(file), logical_id, plain(props.get("TemplateURL"))))
            continue
        if rtype != CFN_TYPE:
            continue
        meta = body["Metadata"].value if isinstance(body.get("Metadata"), _Node) else {}
        prop = props.get("AutoMinorVersionUpgrade")
        cluster_ref = plain(props.get("DBClusterIdentifier"))
        version = None
        if isinstance(cluster_ref, dict) and cluster_ref.get("Ref") in clusters:
            cprops = plain(clusters[cluster_ref["Ref"]].get("Properties")) or {}
            version = cprops.get("EngineVersion") if isinstance(cprops.get("EngineVersion"), str) else None
        ident = plain(props.get("DBInstanceIdentifier"))
        found.append(Resource(
            file=file, line=r.line, resource=logical_id, type=CFN_TYPE,
            source="cdk" if isinstance(meta, dict) and "aws:cdk:path" in meta else source,
            value=_value(prop, params, conditions, overrides, file), prop_line=prop.line if prop else None,
            suppressions=_suppressions(meta),
            construct_path=plain(meta["aws:cdk:path"]) if isinstance(meta, dict) and "aws:cdk:path" in meta else None,
            engine_version=version, identifier=ident if isinstance(ident, str) else None, stack=stack))
    return found, nested


class CdkManifestError(InputError):
    """A CDK cloud assembly's manifest that is one, but damaged (not another tool's manifest.json)."""


def cdk_stacks(manifest: Path) -> dict[Path, str]:
    """A CDK cloud assembly's templates (``manifest.json``: artifacts of type aws:cloudformation:stack) by stack."""
    from neptune_audit.inputs import read_bytes, strict_json

    data = strict_json(read_bytes(manifest, 64 * 1024 * 1024, "CDK manifest"), str(manifest))
    out = {}
    for name, art in (data.get("artifacts") or {}).items() if isinstance(data, dict) else ():
        if isinstance(art, dict) and art.get("type") == "aws:cloudformation:stack":
            props = art.get("properties")
            tf = props.get("templateFile") if isinstance(props, dict) else None
            if not isinstance(tf, str):  # a CDK manifest, damaged: its stacks would go unread
                raise CdkManifestError(f"artifact {one_line(name, limit=40)!r}: properties.templateFile is not a "
                                       "file name")
            if isinstance(tf, str):
                path = (manifest.parent / tf).resolve()
                if manifest.parent.resolve() in path.parents:  # never a file outside the assembly
                    out[path] = name
    return out
