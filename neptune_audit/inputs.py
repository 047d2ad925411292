"""Reading what people hand the kit (saved scans, reports, notebooks, signatures, keys): never trusted.

Every file is read with a byte cap and only if it is a regular file (``/dev/zero`` or a FIFO would otherwise
stream forever); contract JSON is parsed strictly (no duplicate keys, no ``NaN``/``Infinity``, bounded nesting)
and checked against the published schema before anything in it is believed.  Every refusal is a
``UsageError``: one line, exit 2.
"""
from __future__ import annotations

import functools
import json
import os
import re
import stat
from datetime import date, datetime
from pathlib import Path

from neptune_audit import vocabulary
from neptune_audit.errors import InputError, UsageError, one_line

MAX_DEPTH = 64            # the contract nests 5 deep; anything near Python's recursion limit is an attack
MB = 1024 * 1024


def read_bytes(path, limit: int, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, or a UsageError naming it."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block the open
    except OSError as exc:
        raise InputError(f"cannot read {what} {p}: {exc.strerror or exc}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):  # before fdopen: a folder opens, then fails to read (IsADirectoryError)
        os.close(fd)
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise InputError(f"{what} {p} is {kind}: refused")
    if info.st_size > limit:  # refused from its size, before a byte is read
        os.close(fd)
        raise InputError(f"{what} {p} is larger than the {limit // MB} MB the kit reads: refused")
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(info.st_size + 1)  # +1: a file still growing
    if info.st_size > limit or len(data) > limit:
        raise InputError(f"{what} {p} is larger than the {limit // MB} MB the kit reads: refused")
    return data


def _no_duplicates(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise InputError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constants(name):
    raise InputError(f"{name} is not JSON")


def _depth_ok(data) -> None:
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InputError(f"nested more than {MAX_DEPTH} deep")
        if isinstance(value, dict):
            stack += [(v, depth + 1) for v in value.values()]
        elif isinstance(value, list):
            stack += [(v, depth + 1) for v in value]


def strict_json(data: bytes | str, where: str):
    """JSON as RFC 8259 means it: UTF-8, unique keys, finite numbers, bounded depth."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
        _depth_ok(value)
        return value
    except UsageError as exc:
        raise InputError(f"{where}: {exc}: refused") from None
    except UnicodeDecodeError:
        raise InputError(f"{where} is not UTF-8 text: refused") from None
    except RecursionError:
        raise InputError(f"{where}: nested more than {MAX_DEPTH} deep: refused") from None
    except ValueError as exc:
        raise InputError(f"{where} is not JSON ({one_line(exc, limit=80)})") from None


def contract_document(data: bytes | str, where: str) -> dict:
    """A ``neptune-audit/1`` document, parsed strictly and valid against the schema, or a UsageError."""
    doc = strict_json(data, where)
    tag = doc.get("schema") if isinstance(doc, dict) else None
    if tag != vocabulary.SCHEMA:
        kind = f"schema {one_line(tag, limit=40)!r}" if isinstance(doc, dict) else f"a JSON {type(doc).__name__}"
        raise InputError(f"{where} is {kind}, not a {vocabulary.SCHEMA} document: refused")
    try:
        vocabulary.validate(doc)
    except Exception as exc:  # jsonschema.ValidationError: its message, in one line
        at = "/".join(str(x) for x in getattr(exc, "absolute_path", [])) or "the top level"
        raise InputError(f"{where} is not a valid {vocabulary.SCHEMA} document at {at}: "
                         f"{one_line(getattr(exc, 'message', exc), limit=200)}") from None
    from datetime import datetime

    try:  # the schema checks the shape of the time; a real time is checked here (2026-02-30T25:61:61Z is not)
        datetime.strptime(doc["generated_at"], "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise InputError(f"{where}: generated_at {doc['generated_at']} is not a real time: refused") from None
    return doc


_PACKAGE = Path(__file__).resolve().parent


def shipped(relative: str) -> Path:
    """A file shipped with the kit (``notebooks/audit.ipynb``, ``examples/exceptions.yml``): inside the installed
    package (the wheel puts them there), or at the top of a checkout."""
    for candidate in (_PACKAGE / relative, _PACKAGE.parent / relative):
        if candidate.is_file():
            return candidate
    raise UsageError(f"{relative} is missing from this installation")


def safe_yaml(text: str):
    """``yaml.safe_load``, parsed by libyaml when PyYAML has it (same constructor and resolver, ~8x faster: the
    engine calendar took 13 ms in Python on the path to the first request)."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - safe loaders


@functools.lru_cache(maxsize=1)
def strict_yaml_loader():
    """The YAML loader of every file a person hands the kit (exceptions, engine calendar), built on first use: a
    scan without one never imports PyYAML (~20 ms on the path to the first request).  Returns (yaml, Loader)."""
    import yaml

    class Loader(yaml.SafeLoader):
        """SafeLoader for a reviewed file: no implicit timestamps (dates stay text, so a bad one gets a clear
        message), no anchors or aliases (a few lines of nested aliases expand to gigabytes: "billion laughs"),
        and no duplicate keys (last-wins would silently drop the first value)."""

        def compose_node(self, parent, index):
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise yaml.composer.ComposerError(None, None, "anchors and aliases (& and *) are not allowed here",
                                                  event.start_mark)
            return super().compose_node(parent, index)

        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else id(key_node)
                if key in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}",
                                                            key_node.start_mark)
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    # Numbers and booleans stay the text written: YAML 1.1 would read account 001234567012 as octal (175304202),
    # tag value 1.10 as 1.1, 017 as 15 and yes as True; an account id or a tag value is text, compared as written.
    Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in (
            "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
            "tag:yaml.org,2002:bool")]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return yaml, Loader


def parse_date(value, where: str, *, what: str = "a date", required: bool = False,
               times: bool = False) -> date | None:
    """A date as people write it in the YAML files they hand the kit: a YAML date, or text ``YYYY-MM-DD``.
    ``times``: a timestamp stands for its date (else it is refused: a time is not a date).  Anything else is an
    [`InputError`][neptune_audit.errors.InputError] naming ``where``."""
    if value is None:
        if required:
            raise InputError(f"{where} is required ({what}, YYYY-MM-DD)")
        return None
    if isinstance(value, datetime):
        if times:
            return value.date()
        raise InputError(f"{where}: {value} is a time, not {what} (YYYY-MM-DD)")
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise InputError(f"{where}: {one_line(value, limit=40)!r} is not {what} (YYYY-MM-DD)")
