"""Exceptions: a reviewed YAML list of instances allowed to fail the rule, each with a reason.

```yaml
exceptions:
  - instance: kg-legacy-writer        # instance id, or its ARN
    account: "123456789012"           # optional: narrow an id to one account (ids repeat across accounts)
    region: us-east-1                 # optional
    reason: Vendor certification pins engine 1.2.0.2 until the Q1 upgrade
    expires: 2027-03-31               # optional ISO date; excepts through the end of that day (UTC)
    approved_by: cloud-risk@example.com   # optional
  - tag: {Environment: sandbox}       # or "Environment=sandbox"
    reason: Sandboxes are rebuilt weekly from the latest engine
```
An expired exception no longer excepts; the finding says that it expired.
"""
from __future__ import annotations

import re

from dataclasses import dataclass
from datetime import date
from typing import NoReturn
from pathlib import Path

from neptune_audit.errors import InputError

MAX_BYTES = 2 * 1024 * 1024   # a reviewed list of exceptions is kilobytes; megabytes mean a wrong file
MAX_ENTRIES = 10_000


from neptune_audit.inputs import parse_date, strict_yaml_loader as _loader  # noqa: E402 - one loader for reviewed files


_KEYS = {"instance", "arn", "tag", "account", "region", "reason", "expires", "approved_by"}
_SELECTORS = ("instance", "arn", "tag")


@dataclass(frozen=True)
class ExceptionRule:
    """One entry of the exceptions file."""

    index: int
    reason: str
    instance: str | None = None
    tag: tuple[str, str] | None = None
    account: str | None = None
    region: str | None = None
    expires: date | None = None
    approved_by: str | None = None

    @property
    def match_text(self) -> str:
        if self.tag:
            return f"tag {self.tag[0]}={self.tag[1]}"
        return f"instance {self.instance}"

    def expired(self, today: date) -> bool:
        return self.expires is not None and today > self.expires

    def matches(self, row) -> bool:
        if self.account and str(row["account_id"]) != self.account:
            return False
        if self.region and row["region"] != self.region:
            return False
        if self.tag:
            return (row["tags"] or {}).get(self.tag[0]) == self.tag[1]
        return self.instance in (row["instance_id"], row["arn"])

    def as_dict(self, today: date) -> dict:
        """The finding's ``exception`` field."""
        return {"match": self.match_text, "reason": self.reason,
                "expires": self.expires.isoformat() if self.expires else None,
                "approved_by": self.approved_by, "expired": self.expired(today)}


def _fail(where: str, what: str) -> NoReturn:
    raise InputError(f"exceptions file {where}: {what}")


def _parse_tag(value, where: str) -> tuple[str, str]:
    if isinstance(value, dict) and any(isinstance(v, (dict, list)) for v in (*value, *value.values())):
        _fail(where, "a tag's key and value must be text")
    if isinstance(value, dict) and len(value) == 1:
        (k, v), = value.items()
        return str(k), "" if v is None else str(v)
    if isinstance(value, dict) and set(value) == {"key", "value"}:
        return str(value["key"]), str(value["value"])
    if isinstance(value, str) and "=" in value:
        k, v = value.split("=", 1)
        if k.strip():
            return k.strip(), v.strip()
    _fail(where, "tag must be {Key: Value}, {key: K, value: V} or 'Key=Value'")


def _text(entry: dict, key: str, where: str, digits_ok: bool = False) -> str | None:
    """A field that must be text (an account id may be written as a number); lists and mappings are refused."""
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int) if digits_ok else str):
        _fail(where, f"{key} must be text, not {type(value).__name__}")
    return str(value).strip()


def parse_entry(index: int, entry, where: str) -> ExceptionRule:
    where = f"{where}, entry {index + 1}"
    if not isinstance(entry, dict):
        _fail(where, "each exception must be a mapping with a selector and a reason")
    unknown = sorted(set(map(str, entry)) - _KEYS)
    if unknown:
        _fail(where, f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_KEYS))})")
    for key in ("instance", "arn", "region", "reason", "approved_by"):
        _text(entry, key, where)
    _text(entry, "account", where, digits_ok=True)
    selectors = [k for k in _SELECTORS if entry.get(k) not in (None, "")]
    if len(selectors) != 1:
        _fail(where, "needs exactly one of instance, arn or tag")
    reason = entry.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        _fail(where, "reason is required (say why this instance may keep the setting off)")
    tag = _parse_tag(entry["tag"], where) if selectors[0] == "tag" else None
    instance = None if tag else str(entry[selectors[0]]).strip()
    account = entry.get("account")
    if account is not None:
        account = str(account).strip()
        if not re.fullmatch(r"\d{12}", account):
            _fail(where, f"account {account!r} is not a 12-digit AWS account id (write all 12 digits, quoted: "
                         "account: \"001234567012\")")
    expires = parse_date(entry.get("expires"), f"exceptions file {where}", what="an expiry date", times=True)
    return ExceptionRule(index=index, reason=reason.strip(), instance=instance, tag=tag, account=account,
                         region=_text(entry, "region", where), expires=expires,
                         approved_by=_text(entry, "approved_by", where))


def parse(text: str, where: str = "<text>") -> list[ExceptionRule]:
    """Parse the YAML text of an exceptions file; any defect is an InputError naming the entry."""
    yaml, loader = _loader()
    try:
        doc = yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark else ""
        _fail(where, f"is not valid YAML{line}: {getattr(exc, 'problem', None) or exc}")
    if doc is None:
        return []
    entries = doc.get("exceptions") if isinstance(doc, dict) else doc
    if isinstance(doc, dict) and set(doc) - {"exceptions"}:
        _fail(where, "the top level must be a list, or a mapping with one key 'exceptions'")
    if entries is None:
        return []
    if not isinstance(entries, list):
        _fail(where, "'exceptions' must be a list")
    if len(entries) > MAX_ENTRIES:
        _fail(where, f"has {len(entries)} entries, more than the {MAX_ENTRIES} allowed (is it the right file?)")
    return [parse_entry(i, e, where) for i, e in enumerate(entries)]


def load(path: str | Path | None) -> list[ExceptionRule]:
    """Read an exceptions file; ``None`` means no exceptions."""
    if path is None:
        return []
    from neptune_audit.inputs import read_bytes

    p = Path(path)
    if not p.exists():
        raise InputError(f"exceptions file not found: {p}")
    data = read_bytes(p, MAX_BYTES, "exceptions file")  # a regular file, at most MAX_BYTES: never /dev/zero
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"cannot read exceptions file {p}: not UTF-8 text") from None
    return parse(text, str(p))


def find(rules: list[ExceptionRule], row, today: date) -> ExceptionRule | None:
    """The exception that applies to a finding: an active one first, else an expired one (to report it)."""
    matching = [r for r in rules if r.matches(row)]
    active = [r for r in matching if not r.expired(today)]
    return next(iter(active or matching), None)
