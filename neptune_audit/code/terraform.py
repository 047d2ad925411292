"""Terraform: HCL modules (variables with defaults, ``.tfvars``, local modules, ``count``/``for_each``) and plan JSON
(``terraform show -json plan.out``, where every value is resolved).

python-hcl2 reads the values; the lines are found in the text (the block's header, then the attribute inside the
block's braces), so that a finding points at the line and a fix changes only it.
"""
from __future__ import annotations

import os
import re
from typing import Any
from pathlib import Path

from neptune_audit.code import hclexpr
from neptune_audit.code.model import TF_TYPE, Resource, Suppression, Value
from neptune_audit.rule.in_code import PLAN_ROUTE, as_bool
from neptune_audit.errors import InputError, one_line
from neptune_audit.inputs import read_bytes

# python-hcl2 is pure Python (~30 KB of HCL a second here): a 640 KB file took 22 s.  Hand-written modules are
# kilobytes; a file past this is generated, and its plan (terraform show -json) is read in milliseconds.
MAX_TF = 256 * 1024
_VAR = re.compile(r"^\$\{\s*var\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}$")
_COND = re.compile(r"^\$\{(?P<cond>.+?)\?\s*(?P<a>true|false|\"true\"|\"false\")\s*:\s*(?P<b>true|false|\"true\"|"
                   r"\"false\")\s*\}$", re.S)
_SKIP = re.compile(r"(?:#|//)\s*neptune-audit:skip=Neptune-001\b(?P<rest>.*)$", re.I)
_EXPIRES = re.compile(r"\bexpires=(\S+)")  # any text: a malformed date is said, never read as "no expiry"
_STRING = re.compile(r'"(?:\\.|[^"\\])*"')
_HEREDOC = re.compile(r"<<-?\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")


def _hcl(text: str, where: str) -> dict:
    import hcl2
    from hcl2.utils import SerializationOptions

    try:
        # Windows line ends are HCL (Terraform reads them); python-hcl2 8.1.0 fails on some (a CRLF after a
        # quoted string), and the count of lines is the same either way
        return hcl2.loads(text.replace("\r\n", "\n"),
                          serialization_options=SerializationOptions(strip_string_quotes=True, with_comments=False))
    except Exception as exc:  # lark's UnexpectedToken/Characters, and python-hcl2's own errors
        raise InputError(f"not Terraform HCL ({one_line(exc, limit=160)})") from None


def read_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_TF:
            raise InputError(f"larger than {MAX_TF // 1024} KB, more than HCL is read here (it would take minutes): "
                             f"{PLAN_ROUTE}")
        return read_bytes(path, MAX_TF, "Terraform file").decode("utf-8")
    except OSError as exc:
        raise InputError(f"cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text") from None


def _blocks(data: dict, kind: str):
    for item in data.get(kind) or []:
        if isinstance(item, dict):
            yield from item.items()


_bool = as_bool  # one reading of a written boolean, beside the verdict that uses it (rule.in_code)


# ---- lines, found in the text ----

def _block_span(lines: list[str], header: re.Pattern) -> tuple[int, int] | None:
    """(first, last) 0-based line of the block whose header matches, by counting braces outside strings."""
    for i, line in enumerate(lines):
        if header.search(line):
            depth, started = 0, False
            for j in range(i, len(lines)):
                text = re.sub(r'"(?:\\.|[^"\\])*"', '""', lines[j].split("#", 1)[0].split("//", 1)[0])
                depth += text.count("{") - text.count("}")
                started = started or "{" in text
                if started and depth <= 0:
                    return i, j
            return i, len(lines) - 1
    return None


def _attr_line(lines: list[str], span, name: str) -> int | None:
    if span is None:
        return None
    pattern = re.compile(rf"^\s*{re.escape(name)}\s*=")
    for j in range(span[0] + 1, span[1] + 1):
        if pattern.search(lines[j]):
            return j + 1
    # a one-line block (variable "v" { default = false }): the attribute sits on the header's own line
    if re.search(rf"[{{;,]\s*{re.escape(name)}\s*=", lines[span[0]].split("#", 1)[0]):
        return span[0] + 1
    return None


def _resource_header(rtype: str, name: str) -> re.Pattern:
    return re.compile(rf'^\s*resource\s+"?{re.escape(rtype)}"?\s+"?{re.escape(name)}"?\s*\{{')


def _suppressions(lines: list[str], span) -> list[Suppression]:
    out: list[Suppression] = []
    if span is None:
        return out
    heredoc = None
    for j in range(max(0, span[0] - 1), span[1] + 1):  # the line above the block counts too
        if heredoc is not None:  # a heredoc's text is a string, never a comment
            if lines[j].strip() == heredoc:
                heredoc = None
            continue
        code = _STRING.sub('""', lines[j])  # a marker inside a string is not a comment
        opened = _HEREDOC.search(code.split("#", 1)[0].split("//", 1)[0])
        if opened:
            heredoc = opened.group(1)
        m = _SKIP.search(code)
        if m:
            m = _SKIP.search(lines[j][m.start():]) or m  # the reason as written (its quotes kept)
            rest = m.group("rest")
            exp = _EXPIRES.search(rest)
            reason = _EXPIRES.sub("", rest).strip(" :-")
            out.append(Suppression(reason, exp.group(1) if exp else None, j + 1))
    return out


# ---- HCL modules ----

def tfvars(path: Path) -> dict:
    """A ``.tfvars`` (HCL) or ``.tfvars.json`` file's values."""
    text = read_text(path)
    if path.name.endswith(".json"):
        from neptune_audit.inputs import strict_json

        data = strict_json(text, str(path))
        if not isinstance(data, dict):
            raise InputError(f"{path}: not an object of variables")
        return data
    return {k: v for k, v in _hcl(text, str(path)).items() if not k.startswith("__")}


def tfvars_lines(path: Path, names) -> dict[str, tuple[str, int]]:
    """Where each variable is set in a ``.tfvars`` file: (file, line), for the fix and the reason."""
    try:
        lines = read_text(path).splitlines()
    except InputError:
        return {}
    out = {}
    for name in names:
        pattern = re.compile(rf'^\s*"?{re.escape(str(name))}"?\s*[=:]')
        hit = next((i for i, line in enumerate(lines) if pattern.search(line)), None)
        if hit is not None:
            out[str(name)] = (str(path), hit + 1)
    return out


def _parse_one(path: str) -> tuple[str, list[str] | None, Any]:
    """(path, lines, values) of one .tf file, or (path, None, the error): what a worker process returns."""
    try:
        text = read_text(Path(path))
        return path, text.splitlines(), _hcl(text, path)
    except InputError as exc:
        return path, None, str(exc)


def _root_job(job: tuple) -> tuple[list[Resource], dict[str, str | None]]:
    """One root module (and the local modules it calls): its Neptune instances, and each file read (None) or its
    error.  What a worker process returns: no parse tree crosses back."""
    folder, given, roots, given_at = (*job, (), {})[:4]
    modules: dict[Path, Module] = {}

    def module_of(f: Path) -> Module:
        key = f.resolve()
        if key not in modules:
            modules[key] = Module(f, sorted(f.glob("*.tf")))
        return modules[key]

    root = module_of(Path(folder))
    budget: dict[str, Any] = {"calls": 0, "cut": None, "roots": tuple(Path(r) for r in roots), "outside": {},
                              "fetched": fetched_modules(Path(folder))}
    found = module_resources(root, given, modules_of=module_of, seen=frozenset({Path(folder).resolve()}),
                             given_at=dict(given_at) or None, budget=budget)
    states: dict[str, str | None] = {}
    for mod in modules.values():
        states.update({str(f): None for f in mod.parsed})
        states.update({str(f): e for f, e in mod.errors.items()})
    if budget["cut"]:  # said as a file not read: the run is never a pass with part of the module graph unjudged
        states[budget["cut"][0]] = budget["cut"][1]
    for file, text in budget["outside"].items():
        states[file] = text
    return found, states


MANIFEST = Path(".terraform") / "modules" / "modules.json"


def fetched_modules(root: Path) -> dict[str, tuple[str, Path, str | None]]:
    """The modules ``terraform init`` fetched for this root (its ``.terraform/modules/modules.json``): each call's
    key ("name", "name.child") -> (the source it was fetched from, its folder, its version from a registry).
    Nothing when init never ran here, or the manifest cannot be read (its calls are then listed as not read)."""
    import json

    try:
        doc = json.loads(read_bytes(root / MANIFEST, 16 * 1024 * 1024, "module manifest"))
    except (InputError, ValueError):
        return {}
    out = {}
    for m in doc.get("Modules") or [] if isinstance(doc, dict) else []:
        if isinstance(m, dict) and m.get("Key") and isinstance(m.get("Dir"), str) and isinstance(m.get("Source"), str):
            folder = Path(os.path.normpath(root / m["Dir"]))
            # only a folder inside the root's own .terraform: a manifest never sends the scan elsewhere on disk
            if (root / ".terraform").resolve() in folder.resolve().parents:
                out[m["Key"]] = (m["Source"], folder, m.get("Version") if isinstance(m.get("Version"), str) else None)
    return out


def _version(text: str) -> tuple | None:
    m = re.fullmatch(r"v?(\d+(?:\.\d+)*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?", text.strip())
    return (tuple(int(x) for x in m.group(1).split(".")), m.group(2)) if m else None


def version_allows(constraint: str, version: str) -> bool | None:
    """Whether ``version`` meets a module call's ``version`` constraint as Terraform reads one (conditions separated
    by commas; =, !=, >, >=, <, <=, and ~> letting only the rightmost given part grow; a pre-release version only
    by its exact number: Terraform language docs, "Version constraints").  None: a constraint or version it cannot
    read (the module is read all the same: init would have refused it)."""
    have = _version(version)
    if have is None:
        return None
    (nums, pre) = have

    def padded(a: tuple, n: int) -> tuple:
        return a + (0,) * (n - len(a))

    for part in constraint.split(","):
        m = re.fullmatch(r"\s*(=|!=|>=|<=|>|<|~>)?\s*(\S+)\s*", part)
        want = _version(m.group(2)) if m else None
        if m is None or want is None:
            return None
        op, (wnums, wpre) = m.group(1) or "=", want
        n = max(len(nums), len(wnums))
        a, b = padded(nums, n), padded(wnums, n)
        if pre and (op != "=" or (a, pre) != (b, wpre)):
            return False  # a pre-release is chosen only by its exact number
        ok = {"=": a == b and pre == wpre, "!=": a != b, ">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b,
              "~>": a >= b and nums[:max(len(wnums) - 1, 1)] == wnums[:max(len(wnums) - 1, 1)]}[op]
        if not ok:
            return False
    return True


def fetches_neptune(root: Path) -> bool:
    """Whether a module ``terraform init`` fetched for this root names a Neptune instance (its calls' sources need
    not say so: "terraform-aws-modules/graph/aws")."""
    return any(_defines_neptune(folder) for _source, folder, _version in fetched_modules(root).values())


def _defines_neptune(folder: Path) -> bool:
    for f in folder.glob("*.tf"):
        try:
            if TF_TYPE in read_text(f):
                return True
        except InputError:
            return True  # unreadable: judged, so that the file is listed as not read
    return False


def _same_source(called: str, fetched: str) -> bool:
    """Whether the manifest's source is the call's: a registry address is recorded with its host
    ("registry.terraform.io/ns/name/provider" for "ns/name/provider").  Another source means init is out of date."""
    return fetched == called or fetched == f"registry.terraform.io/{called}"


def _names_neptune(source: str, args: dict) -> bool:
    """A remote module call that says it is about Neptune (its source, or the setting among its arguments):
    one we must not pass over in silence.  Any other remote module (a VPC, a bucket) is not ours to list."""
    return "neptune" in source.lower() or "auto_minor_version_upgrade" in args


PARALLEL_FROM = 64  # root modules: below this a process pool costs more than it saves (HCL is ~16 ms a small file)


def root_modules(jobs: list[tuple]):
    """``_root_job`` for each (folder, variables), on every core when there are many (python-hcl2 is pure
    Python: the parse is the cost).  Yields as they finish, in order."""
    if len(jobs) < PARALLEL_FROM or (os.cpu_count() or 1) < 2:
        yield from map(_root_job, jobs)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the caller may be a kernel or a worker with threads of its own
    with ProcessPoolExecutor(max_workers=os.cpu_count(), mp_context=multiprocessing.get_context("spawn")) as pool:
        yield from pool.map(_root_job, jobs, chunksize=max(1, len(jobs) // (8 * (os.cpu_count() or 1))))


def parse_errors(files: list[Path]) -> dict[Path, str | None]:
    """Each file parsed on its own: its error, or None."""
    return {f: (None if lines is not None else data) for f, lines, data in
            ((f, *_parse_one(str(f))[1:]) for f in files)}


def relevant(text: str) -> bool:
    """Whether a .tf file can matter to the rule: it names a Neptune instance or calls a local module (which may);
    a folder with no such file defines no Neptune instance and is not parsed."""
    return TF_TYPE in text or re.search(r'source\s*=\s*"(\.{1,2}/|[^"]*neptune)', text, re.IGNORECASE) is not None


class Module:
    """One folder of ``.tf`` files: what it declares, by file."""

    def __init__(self, folder: Path, files: list[Path]):
        self.folder = folder
        self.parsed: dict[Path, tuple[list[str], dict]] = {}
        self.errors: dict[Path, str] = {}
        for f in files:
            lines, data = _parse_one(str(f))[1:]
            if lines is None:
                self.errors[f] = data
            else:
                self.parsed[f] = (lines, data)

    def locals(self) -> dict:
        """``locals`` blocks' values, raw (evaluated when an expression reads them)."""
        out: dict = {}
        for _f, (_lines, data) in self.parsed.items():
            for block in data.get("locals") or []:
                if isinstance(block, dict):
                    out.update({k: v for k, v in block.items() if not str(k).startswith("__")})
        return out

    def variables(self) -> dict:
        out = {}
        for f, (lines, data) in self.parsed.items():
            for name, body in _blocks(data, "variable"):
                body = body if isinstance(body, dict) else {}
                span = _block_span(lines, re.compile(rf'^\s*variable\s+"?{re.escape(name)}"?\s*\{{'))
                default = body.get("default")
                # python-hcl2 before 8.2 hands null over as the text "null"
                out[name] = {"has_default": "default" in body, "default": None if default == "null" else default,
                             "fix_at": (str(f), _attr_line(lines, span, "default")) if "default" in body else None}
        return out



def _scope(variables: dict, given: dict, locals_: dict, each=None, count=None) -> hclexpr.Scope:
    """Each variable's value as Terraform takes it: the caller's argument (or tfvars), else its default."""
    values = {name: given[name] if name in given else (v["default"] if v["has_default"] else hclexpr.UNKNOWN)
              for name, v in variables.items()}
    values = {name: hclexpr.evaluate(v, hclexpr.Scope({}, {})) if isinstance(v, (str, dict, list)) else v
              for name, v in values.items()}
    return hclexpr.Scope(values, locals_, each, count)


def _given_by(at) -> str | None:
    """How a variable got its value: "caller" (a module call's argument, in a .tf file) or "tfvars" (a .tfvars file
    or --var-file); None when neither says."""
    if not at:
        return None
    return "caller" if str(at[0]).endswith(".tf") else "tfvars"


def _value(raw, present: bool, variables: dict, given: dict, file: str, line, given_at=None,
           scope: hclexpr.Scope | None = None) -> Value:
    if not present:
        return Value("omitted")
    b = _bool(raw)
    if b is not None:
        return Value("literal", value=b, fix_at=(file, line))
    if raw is None:  # auto_minor_version_upgrade = null: unset
        return Value("evaluated", value=None, text="null", fix_at=(file, line))
    if isinstance(raw, str):
        m = _VAR.match(raw.strip())
        if m and m.group(1) in variables and (scope is None or (scope.each is None and scope.count is None)):
            v = variables[m.group(1)]
            name = m.group(1)
            # the line that decides: the caller's argument when a module call passes it, else the default
            fix = (given_at or {}).get(name) if name in given else (
                v["fix_at"] if v["fix_at"] and v["fix_at"][1] else None)
            return Value("parameter", name=f"var.{name}", default=v["default"], has_default=v["has_default"],
                         given=given.get(name), fix_at=fix, text=_given_by((given_at or {}).get(name)))
        if scope is not None:
            scope.read = []
            got = hclexpr.as_bool(hclexpr.evaluate(raw, scope))
            if got is not hclexpr.UNKNOWN:
                expr = one_line(raw.strip()[2:-1] if raw.strip().startswith("${") else raw, limit=80)
                read = list(dict.fromkeys(scope.read))
                fix = (file, line)
                if len(read) == 1 and read[0] in variables:  # one variable decides: its value is fixed where set
                    name = read[0]
                    fix = ((given_at or {}).get(name) if name in given else variables[name]["fix_at"]) or fix
                return Value("evaluated", value=got, text=expr, name=", ".join(f"var.{r}" for r in read) or None,
                             fix_at=fix)
        c = _COND.match(raw.strip())
        if c:
            return Value("choice", name=one_line(c.group("cond"), limit=80).strip(), options=(
                Value("literal", value=_bool(c.group("a"))), Value("literal", value=_bool(c.group("b")))))
    return Value("unresolved", text=one_line(raw, limit=120))


MAX_INSTANCES = 1000  # count/for_each beyond this are judged as one resource, and the reason says so


def _instances(body: dict, scope: hclexpr.Scope) -> list[tuple[str, object, object]] | str:
    """(address suffix, each, count) for every instance ``count``/``for_each`` makes; a reason when only a plan
    knows them."""
    if "for_each" in body:
        value = hclexpr.evaluate(body["for_each"], scope)
        if isinstance(value, dict):
            keys = sorted(value)
            pairs = [(k, value[k]) for k in keys]
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            pairs = [(v, v) for v in sorted(set(value))]
        else:
            return f"for_each is {one_line(body['for_each'], limit=60)}: {PLAN_ROUTE}"
        if len(pairs) > MAX_INSTANCES:
            return f"for_each makes {len(pairs)} instances, more than {MAX_INSTANCES} judged one by one: {PLAN_ROUTE}"
        return [(f'["{k}"]', (k, v), None) for k, v in pairs]
    if "count" in body:
        n = hclexpr.evaluate(body["count"], scope)
        if isinstance(n, bool) or not isinstance(n, (int, float)) or n < 0 or n != int(n):
            return f"count is {one_line(body['count'], limit=60)}: {PLAN_ROUTE}"
        if n > MAX_INSTANCES:
            return f"count is {int(n)}, more than {MAX_INSTANCES} judged one by one: {PLAN_ROUTE}"
        return [(f"[{i}]", None, i) for i in range(int(n))]
    return [("", None, None)]


MAX_MODULE_CALLS = 2000  # module instances one root may expand (a call graph that fans out doubles at each level)
MAX_MODULE_DEPTH = 32


def module_resources(module: Module, given: dict, prefix: str = "", seen: frozenset = frozenset(),
                     modules_of=None, given_at: dict | None = None, budget: dict | None = None,
                     key: str = "") -> list[Resource]:
    """Neptune instances of a module and the modules it calls (``module.NAME.`` addresses), with ``given`` the
    values of its variables (the caller's arguments, or the root's tfvars and --var-file).  A called module is read
    from its folder: a local path, or where ``terraform init`` fetched it (``key``: the call's place in the root's
    manifest, "name.child")."""
    variables = module.variables()
    locals_ = module.locals()
    out = []
    clusters = {}
    for _file, (_lines, data) in module.parsed.items():
        for rtype, named in _blocks(data, "resource"):
            if rtype == "aws_neptune_cluster" and isinstance(named, dict):
                for name, body in named.items():
                    if isinstance(body, dict) and isinstance(body.get("engine_version"), str):
                        clusters[name] = body["engine_version"]
    for f, (lines, data) in module.parsed.items():
        for rtype, named in _blocks(data, "resource"):
            if rtype != TF_TYPE or not isinstance(named, dict):
                continue
            for name, body in named.items():
                body = body if isinstance(body, dict) else {}
                span = _block_span(lines, _resource_header(rtype, name))
                prop_line = _attr_line(lines, span, "auto_minor_version_upgrade")
                cluster = body.get("cluster_identifier")
                m = re.match(r"^\$\{\s*aws_neptune_cluster\.([A-Za-z0-9_-]+)\.(id|cluster_identifier)\s*\}$",
                             cluster.strip()) if isinstance(cluster, str) else None
                ident = body.get("identifier")
                base = _scope(variables, given, locals_)
                made = _instances(body, base)
                value = None
                if isinstance(made, str):  # count/for_each only a plan can expand: one resource, said so
                    value, made = Value("unresolved", text=made), [("", None, None)]
                for suffix, each, count in made:
                    scope = _scope(variables, given, locals_, each, count)
                    out.append(Resource(
                        file=str(f), line=span[0] + 1 if span else None, resource=f"{prefix}{rtype}.{name}{suffix}",
                        type=rtype, source="terraform",
                        value=value or _value(body.get("auto_minor_version_upgrade"), "auto_minor_version_upgrade" in body,
                                              variables, given, str(f), prop_line, given_at, scope),
                        prop_line=prop_line, suppressions=_suppressions(lines, span),
                        engine_version=clusters.get(m.group(1)) if m else None,
                        identifier=ident if isinstance(ident, str) and "${" not in ident else None))
        for name, body in _blocks(data, "module"):
            body = body if isinstance(body, dict) else {}
            src = body.get("source")
            if not isinstance(src, str):
                continue
            call_key = f"{key}.{name}" if key else name
            fetched = (budget or {}).get("fetched", {}).get(call_key)
            wanted = body.get("version")
            if fetched is not None and not src.startswith(("./", "../")) and (
                    not _same_source(src, fetched[0]) or (isinstance(wanted, str) and fetched[2] is not None
                                                          and version_allows(wanted, fetched[2]) is False)):
                # the call's source or version changed since init: Terraform itself refuses until init runs again
                # ("Module version requirements have changed"); listed where it (or what was fetched) is Neptune's
                if budget is not None and (_names_neptune(src, body) or _defines_neptune(fetched[1])):
                    budget["outside"].setdefault(str(f), f"module.{name} calls {src}"
                                                         + (f" {wanted}" if isinstance(wanted, str) else "")
                                                         + f", not what `terraform init` fetched ({fetched[0]}"
                                                         + (f" {fetched[2]}" if fetched[2] else "") + "): not read "
                                                         "(run `terraform init` again; the Neptune instances it would "
                                                         f"define are not judged): {PLAN_ROUTE}")
                continue
            if fetched is not None:  # where init put it (a local call inside a fetched module is listed too)
                folder = fetched[1]
            elif not src.startswith(("./", "../")):  # a registry or remote module not fetched here
                if budget is not None and _names_neptune(src, body):
                    budget["outside"].setdefault(str(f), f"module.{name} calls {src}, a module not on disk: not read "
                                                         "(the Neptune instances it would define are not judged; "
                                                         "`terraform init` in this folder fetches it into "
                                                         f".terraform/modules, which is read): {PLAN_ROUTE}")
                continue
            else:
                folder = Path(os.path.normpath(module.folder / src))
            if folder.resolve() in seen or not folder.is_dir() or modules_of is None:
                continue  # a cycle (a module that calls itself, or one of its callers) is followed once
            if budget is not None:
                budget["calls"] += 1
                if budget["calls"] > MAX_MODULE_CALLS or len(seen) > MAX_MODULE_DEPTH:
                    if budget["cut"] is None:
                        budget["cut"] = (str(f), f"module calls cut at module.{name} ({prefix or 'root'}): more than "
                                                 f"{MAX_MODULE_CALLS} module instances or {MAX_MODULE_DEPTH} levels "
                                                 f"from this root; the instances beyond were not judged ({PLAN_ROUTE})")
                    continue
            roots = budget.get("roots") if budget is not None else ()
            if budget is not None and roots and not any(folder.resolve() == r or r in folder.resolve().parents
                                                        for r in roots):
                # outside what was named: never read behind the user's back, never a silent pass either
                budget["outside"].setdefault(str(f), f"module.{name} calls {src}, outside the scanned tree: not read "
                                                     "(the Neptune instances it would define are not judged; scan that "
                                                     "folder too)")
                continue
            child = modules_of(folder)
            args = {k: v for k, v in body.items()
                    if not k.startswith("__") and k not in ("source", "for_each", "count", "depends_on", "providers",
                                                             "version")}
            span = _block_span(lines, re.compile(rf'^\s*module\s+"?{re.escape(name)}"?\s*\{{'))
            made = _instances(body, _scope(variables, given, locals_))
            if isinstance(made, str):  # a module for_each/count only a plan expands: judged once, unexpanded
                made = [("", None, None)]
            for suffix, each, count in made:
                scope = _scope(variables, given, locals_, each, count)
                # each argument as the caller evaluates it (its variables, locals, each/count), with the line that
                # sets it: the caller's own argument, or, where it only passes one variable on, where that is set
                resolved, at = {}, {}
                for k, v in args.items():
                    scope.read = []
                    value = hclexpr.evaluate(v, scope)
                    resolved[k] = v if value is hclexpr.UNKNOWN else value
                    read = list(dict.fromkeys(scope.read))
                    line = _attr_line(lines, span, k)
                    own = None
                    if len(read) == 1 and read[0] in variables:
                        name_read = read[0]
                        own = (given_at or {}).get(name_read) if name_read in given else variables[name_read]["fix_at"]
                    if own and own[1]:
                        at[k] = own
                    elif line:
                        at[k] = (str(f), line)
                out += module_resources(child, resolved, f"{prefix}module.{name}{suffix}.", seen | {folder.resolve()},
                                        modules_of, at, budget, call_key)
    return out


# ---- plan JSON ----

def is_plan(doc) -> bool:
    """A plan (``terraform show -json plan.out``) or a state (``terraform show -json``)."""
    return isinstance(doc, dict) and "format_version" in doc and any(
        isinstance(doc.get(k), dict) for k in ("planned_values", "values"))


def plan_resources(doc: dict, file: str) -> list[Resource]:
    """Neptune instances of a plan (``planned_values``) or a state (``values``), every module, values as Terraform
    resolved them (a state also knows each instance's ARN)."""
    top = doc["planned_values"] if isinstance(doc.get("planned_values"), dict) else doc.get("values") or {}
    if not isinstance(top, dict):
        raise InputError("values is not an object: not a plan or state as terraform show -json writes it")
    out, clusters, stack = [], {}, [top.get("root_module") or {}]
    found = []
    while stack:
        mod = stack.pop()
        if not isinstance(mod, dict) or not isinstance(mod.get("resources") or [], list) \
                or not isinstance(mod.get("child_modules") or [], list):
            raise InputError("a module of the plan is not as terraform show -json writes it")
        for r in mod.get("resources") or []:
            if not isinstance(r, dict) or not isinstance(r.get("address"), str) \
                    or not isinstance(r.get("values") or {}, dict):
                import json

                shown = json.dumps(r, default=str) if isinstance(r, (dict, list)) else str(r)
                raise InputError(f"a resource of the plan ({one_line(shown, limit=60)}) has no address or values as "
                                 "terraform show -json writes them")
            if r.get("mode", "managed") != "managed":
                continue
            values = r.get("values") or {}
            if r.get("type") == "aws_neptune_cluster":
                clusters[values.get("cluster_identifier")] = values.get("engine_version")
            if r.get("type") == TF_TYPE:
                found.append((r, values))
        stack += mod.get("child_modules") or []
    for r, values in found:
        setting = values.get("auto_minor_version_upgrade")
        value = Value("omitted") if setting is None else (
            Value("literal", value=setting) if isinstance(setting, bool) else Value("unresolved", text=str(setting)))
        ident = values.get("identifier")
        out.append(Resource(file=file, line=None, resource=str(r.get("address")), type=TF_TYPE,
                            source="terraform-plan", value=value,
                            engine_version=values.get("engine_version") or clusters.get(values.get("cluster_identifier")),
                            identifier=ident if isinstance(ident, str) else None,
                            arn=values.get("arn") if isinstance(values.get("arn"), str) else None))
    return out
