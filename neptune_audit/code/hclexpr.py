"""Terraform expressions, evaluated as Terraform evaluates them, as far as the code alone decides them.

python-hcl2 hands an expression over as its text (``${var.cfg.amvu}``); this reads that text (literals, ``var.``,
``local.``, ``each.``, ``count.index``, attribute and index access, ``lookup``, ``try``, ``coalesce``, ``tobool``,
conditionals, ``== != && || !``, lists and objects) and gives its value, or `UNKNOWN` where it depends on
something only a plan knows (another resource's attribute, a data source, a function not read here).  ``null`` is
``None``: for a resource argument, unset.
"""
from __future__ import annotations

import re

UNKNOWN = type("Unknown", (), {"__repr__": lambda self: "UNKNOWN", "__bool__": lambda self: False})()
MAX_DEPTH = 64  # nested parentheses, locals that refer to locals: a hostile file never recurses without bound

_TOKEN = re.compile(r"""\s*(?:
    (?P<num>\d+(?:\.\d+)?)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<op>==|!=|&&|\|\||<=|>=|=>|\.\.\.|[?:!()\[\]{},.=<>+\-*/%])
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
)""", re.X)


class _Unsupported(Exception):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise _Unsupported(text[pos:pos + 20])
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class Scope:
    """What names mean in one module, for one instance of a resource: ``variables`` (name -> value),
    ``locals`` (name -> raw expression, evaluated when read), ``each`` (key, value) and ``count`` (index)."""

    def __init__(self, variables: dict, locals_: dict | None = None, each: tuple | None = None,
                 count: int | None = None):
        self.variables, self.locals, self.each, self.count = variables, locals_ or {}, each, count
        self.read: list[str] = []  # the variables the last evaluation read (where its value comes from)
        self._evaluating: set[str] = set()
        self.bound: dict[str, object] = {}  # the names a for expression binds, while its body is evaluated


def evaluate(raw, scope: Scope, depth: int = 0):
    """The value of ``raw`` as python-hcl2 hands it over (a literal, a list, a dict, or ``${...}`` text)."""
    if depth > MAX_DEPTH:
        return UNKNOWN
    if isinstance(raw, dict):
        return {k: evaluate(v, scope, depth + 1) for k, v in raw.items() if not str(k).startswith("__")}
    if isinstance(raw, list):
        return [evaluate(v, scope, depth + 1) for v in raw]
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if text.startswith("${") and text.endswith("}") and text.count("${") == 1:
        try:
            parser = _Parser(_tokens(text[2:-1]), scope, depth)
            value = parser.expression()
            if parser.pos != len(parser.toks):
                return UNKNOWN
            return value
        except (_Unsupported, IndexError, KeyError, TypeError, ValueError, RecursionError):
            return UNKNOWN
    if "${" in text:
        return UNKNOWN  # a template with interpolations: a string, never a boolean
    if raw == "null":  # python-hcl2 before 8.2 hands null over as its text
        return None
    return raw


def as_bool(value):
    """A Terraform value converted to bool as Terraform converts for a bool argument; None for null, UNKNOWN."""
    if value is None or value is UNKNOWN or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return UNKNOWN


class _Parser:
    def __init__(self, toks, scope: Scope, depth: int):
        self.toks, self.pos, self.scope, self.depth = toks, 0, scope, depth

    def peek(self, value=None):
        if self.pos >= len(self.toks):
            return None
        tok = self.toks[self.pos]
        return tok if value is None or tok[1] == value else None

    def take(self, value=None):
        tok = self.peek(value)
        if tok is None:
            raise _Unsupported(value or "end")
        self.pos += 1
        return tok

    def expression(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Unsupported("depth")
        cond = self.or_()
        if self.peek("?"):
            self.take("?")
            a = self.expression()
            self.take(":")
            b = self.expression()
            c = as_bool(cond)
            if c is UNKNOWN or c is None:
                return UNKNOWN
            return a if c else b
        return cond

    def or_(self):
        left = self.and_()
        while self.peek("||"):
            self.take()
            right = self.and_()
            left = _logic(left, right, any)
        return left

    def and_(self):
        left = self.equality()
        while self.peek("&&"):
            self.take()
            right = self.equality()
            left = _logic(left, right, all)
        return left

    def equality(self):
        left = self.unary()
        while self.peek("==") or self.peek("!="):
            op = self.take()[1]
            right = self.unary()
            if left is UNKNOWN or right is UNKNOWN:
                left = UNKNOWN
            else:
                left = (left == right) if op == "==" else (left != right)
        return left

    def unary(self):
        if self.peek("!"):
            self.take()
            v = as_bool(self.unary())
            return UNKNOWN if v is UNKNOWN or v is None else (not v)
        return self.postfix()

    def postfix(self):
        value = self.primary()
        while True:
            if self.peek("."):
                self.take()
                name = self.take()[1]
                value = _index(value, name)
            elif self.peek("["):
                self.take()
                key = self.expression()
                self.take("]")
                value = _index(value, key)
            else:
                return value

    def primary(self):
        kind, text = self.take()
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "str":
            return bytes(text[1:-1], "utf-8").decode("unicode_escape") if "\\" in text else text[1:-1]
        if text == "(":
            v = self.expression()
            self.take(")")
            return v
        if text in ("[", "{") and self.peek("for"):
            return self.for_(text)
        if text == "[":
            items = []
            while not self.peek("]"):
                items.append(self.expression())
                if self.peek(","):
                    self.take()
            self.take("]")
            return items
        if text == "{":
            out: dict = {}
            while not self.peek("}"):
                key = self.take()
                self.take("=") if self.peek("=") else self.take(":")
                out[key[1].strip('"')] = self.expression()
                if self.peek(","):
                    self.take()
            self.take("}")
            return out
        if kind != "name":
            raise _Unsupported(text)
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if self.peek("("):
            return self.call(text)
        return self.reference(text)

    def for_(self, opening: str):
        """``[for v in coll : value if cond]`` and ``{for k, v in coll : key => value... if cond}``."""
        self.take("for")
        names = [self.take()[1]]
        if self.peek(","):
            self.take()
            names.append(self.take()[1])
        self.take("in")
        collection = self.expression()
        self.take(":")
        start = self.pos

        def body(key, value):
            self.pos = start
            saved = dict(self.scope.bound)
            self.scope.bound.update(zip(names, [key, value] if len(names) == 2 else [value]))
            try:
                k = self.expression() if opening == "{" else None
                if opening == "{":
                    self.take("=>")
                v = self.expression()
                grouped = bool(self.peek("...")) and bool(self.take())
                keep = True
                if self.peek("if"):
                    self.take()
                    keep = as_bool(self.expression())
                return k, v, grouped, keep
            finally:
                self.scope.bound = saved

        body(UNKNOWN, UNKNOWN)  # once to find where the body ends, whatever the collection holds
        end = self.pos
        if isinstance(collection, dict):
            pairs = sorted(collection.items(), key=lambda kv: str(kv[0]))
        elif isinstance(collection, list):
            pairs = list(enumerate(collection))
        else:
            pairs = None
        result: object = UNKNOWN
        if pairs is not None:
            out_list: list = []
            out_map: dict = {}
            for key, value in pairs:
                k, v, grouped, keep = body(key, value)
                if keep is UNKNOWN or keep is None or k is UNKNOWN:
                    out_list, out_map, pairs = [], {}, None
                    break
                if not keep:
                    continue
                if opening == "[":
                    out_list.append(v)
                elif grouped:
                    out_map.setdefault(str(k), []).append(v)
                elif str(k) in out_map:  # Terraform: duplicate object key is an error; a plan would not run
                    out_list, out_map, pairs = [], {}, None
                    break
                else:
                    out_map[str(k)] = v
            if pairs is not None:
                result = out_list if opening == "[" else out_map
        self.pos = end
        self.take("]" if opening == "[" else "}")
        return result

    def reference(self, root: str):
        s = self.scope
        if root in s.bound:
            return s.bound[root]
        if root == "var":
            self.take(".")
            name = self.take()[1]
            s.read.append(name)
            return s.variables.get(name, UNKNOWN)
        if root == "local":
            self.take(".")
            name = self.take()[1]
            if name not in s.locals or name in s._evaluating:
                return UNKNOWN
            s._evaluating.add(name)
            try:
                return evaluate(s.locals[name], s, self.depth + 1)
            finally:
                s._evaluating.discard(name)
        if root == "each" and s.each is not None:
            self.take(".")
            part = self.take()[1]
            return s.each[0] if part == "key" else s.each[1] if part == "value" else UNKNOWN
        if root == "count" and s.count is not None:
            self.take(".")
            return s.count if self.take()[1] == "index" else UNKNOWN
        if not self.peek(".") and not self.peek("["):
            # A bare word is no reference in Terraform (every reference has a dot): python-hcl2 before 8.2 hands a
            # quoted string over without its quotes ("key" arrives as key), so it is that string.
            return root
        # another resource's attribute, a data source, a module output: only a plan knows it
        while self.peek("."):
            self.take()
            self.take()
        return UNKNOWN

    def call(self, name: str):
        self.take("(")
        args = []
        while not self.peek(")"):
            start = self.pos
            try:
                args.append(self.expression())
            except _Unsupported:
                if name != "try":
                    raise
                args.append(_Unsupported)  # try(): an argument that cannot be evaluated is skipped
                self.pos = _skip_argument(self.toks, start)
            if self.peek(","):
                self.take()
        self.take(")")
        if name == "lookup" and len(args) in (2, 3):
            m, key = args[0], args[1]
            if m is UNKNOWN or key is UNKNOWN:
                return UNKNOWN
            if isinstance(m, dict) and key in m:
                return m[key]
            return args[2] if len(args) == 3 else UNKNOWN
        if name == "try":
            for a in args:
                if a is not _Unsupported and a is not UNKNOWN:
                    return a
            return UNKNOWN
        if name == "coalesce":
            for a in args:
                if a is UNKNOWN:
                    return UNKNOWN
                if a is not None and a != "":
                    return a
            return UNKNOWN
        if name == "tobool" and len(args) == 1:
            return as_bool(args[0])
        if any(a is UNKNOWN for a in args):
            return UNKNOWN
        if name == "toset" and len(args) == 1 and isinstance(args[0], list):
            return sorted(set(args[0]), key=str)  # a set of strings, as for_each walks it: by value
        if name in ("tolist", "tomap") and len(args) == 1:
            return args[0]
        if name == "merge" and all(isinstance(a, dict) for a in args):
            out: dict = {}
            for a in args:
                out.update(a)
            return out
        return UNKNOWN


def _skip_argument(toks, pos: int) -> int:
    depth = 0
    while pos < len(toks):
        t = toks[pos][1]
        if t in "([{" and len(t) == 1:
            depth += 1
        elif t in ")]}" and len(t) == 1:
            if depth == 0:
                return pos
            depth -= 1
        elif t == "," and depth == 0:
            return pos
        pos += 1
    return pos


def _index(value, key):
    if value is UNKNOWN or key is UNKNOWN:
        return UNKNOWN
    if isinstance(value, dict):
        return value.get(key, UNKNOWN) if not isinstance(key, (int, float)) else UNKNOWN
    if isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value):
        return value[key]
    return UNKNOWN


def _logic(left, right, combine):
    a, b = as_bool(left), as_bool(right)
    if a is UNKNOWN or b is UNKNOWN or a is None or b is None:
        return UNKNOWN
    return combine((a, b))
