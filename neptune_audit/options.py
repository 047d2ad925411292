"""What a scan covers: one frozen ``ScanOptions`` that ``scan``, ``report``, the CLI and the notebooks share.

Its fields are the notebooks' papermill parameters (a test holds each notebook's parameters cell to
them), so a new option is added here once.
"""
from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

from neptune_audit.defaults import DEFAULT_ROLE_NAME, DEFAULT_WORKERS, MAX_ORGANIZATION_WORKERS, ROLE_NAME
from neptune_audit.errors import OptionError

ALL_REGIONS = "all"
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
# a region name as AWS spells them, the sovereign partitions included (eusc-de-east-1: botocore endpoints data)
REGION = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$")
_ROLE_NAME = re.compile(ROLE_NAME)  # a role name, with an optional IAM path


def _tuple(value) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, os.PathLike)):
        return (str(value),)
    return tuple(str(v) for v in value)


def auto_workers(max_workers: int | None, regions: int, accounts: int = 1) -> int:
    """The pool for a scan: ``max_workers`` if given; else one per account-region of the first accounts (for one
    account: one per region to scan), at least 16 and at most 64."""
    if max_workers:
        return max_workers
    return min(MAX_ORGANIZATION_WORKERS, max(DEFAULT_WORKERS, regions * accounts))


def validate_role_arn(arn: str) -> str:
    if not ROLE_ARN.match(arn):
        raise OptionError("role_arns", f"holds {arn!r}, not an IAM role ARN (expected arn:aws:iam::123456789012:role/NAME)")
    return arn


def parse_regions(value: str | None) -> list[str] | None:
    """``all`` (or nothing) -> None; ``R1,R2`` -> a checked list.  Syntax only; existence is checked later."""
    if value is None or value.strip().lower() == ALL_REGIONS:
        return None
    regions = [r.strip() for r in value.split(",") if r.strip()]
    if not regions:
        raise OptionError("regions", "needs 'all' or a comma-separated list such as us-east-1,eu-west-1")
    for r in regions:
        if not REGION.match(r):
            raise OptionError("regions", f"holds an unknown region {r!r} (expected a name such as us-east-1, or 'all')")
    return list(dict.fromkeys(regions))



PathText = Union[str, "os.PathLike[str]"]
# a tag key as AWS allows it (Tagging AWS resources: up to 128 characters), and an optional =VALUE (up to 256)
_OWNER_TAG = re.compile(r"^([^=]{1,128})(?:=(.{0,256}))?$")


def parse_owner_tag(value: str | None) -> tuple[str, str | None] | None:
    """``KEY`` or ``KEY=VALUE`` (``managed_by_tag``) as (key, value or None)."""
    if value is None:
        return None
    m = _OWNER_TAG.match(value) if isinstance(value, str) else None
    if not m or not m.group(1).strip():
        raise OptionError("managed_by_tag", f"takes KEY or KEY=VALUE, such as ManagedBy=terraform, not {value!r}")
    return m.group(1).strip(), m.group(2)


def relative(path) -> str:
    """``path`` relative to the working folder (``../x`` where it lies outside), as deliverables show paths."""
    try:
        return os.path.relpath(os.path.abspath(os.fspath(path)))
    except ValueError:  # another drive (Windows): no relative path exists
        return os.path.abspath(os.fspath(path))


@dataclass(frozen=True, init=False)
class ScanOptions:
    """Targets and how to scan them.  Every parameter is a keyword; lists take any sequence of strings (or one
    string: ``regions="us-east-1,eu-west-1"``, ``accounts="111111111111,222222222222"``)."""

    regions: str = "all"
    profiles: tuple[str, ...] = ()
    role_arns: tuple[str, ...] = ()
    organization: bool = False
    role_name: str = DEFAULT_ROLE_NAME
    exceptions_file: str | None = None
    demo: bool = False
    max_workers: int | None = None   # None: one per account-region, 16-64 (auto_workers)
    accounts: tuple[str, ...] = ()   # only these account ids
    shard: str | None = None         # "K/N": the K-th of N shards of an Organization
    engine_calendar: str | None = None  # YAML file of engine end-of-life dates (default: the one shipped)
    iac_paths: tuple[str, ...] = ()  # code to link each live instance to (templates, Terraform, plan/state JSON)
    managed_by_tag: str | None = None  # "KEY" or "KEY=VALUE": an instance with this tag is Terraform's

    def __init__(self, *, regions: str | Sequence[str] | None = "all", profiles: str | Sequence[str] = (),
                 role_arns: str | Sequence[str] = (), organization: bool = False, role_name: str = DEFAULT_ROLE_NAME,
                 exceptions_file: PathText | None = None, demo: bool = False, max_workers: int | None = None,
                 accounts: str | Sequence[str] = (), shard: str | None = None, engine_calendar: PathText | None = None,
                 iac_paths: PathText | Sequence[PathText] = (), managed_by_tag: str | None = None) -> None:
        if regions is None:
            regions = ALL_REGIONS
        elif not isinstance(regions, str):
            regions = ",".join(str(r) for r in regions)
        account_list = accounts.split(",") if isinstance(accounts, str) else accounts
        values = {"regions": regions, "profiles": _tuple(profiles), "role_arns": _tuple(role_arns),
                  "organization": organization, "role_name": role_name,
                  "exceptions_file": os.fspath(exceptions_file) if exceptions_file else None, "demo": demo,
                  "max_workers": max_workers,
                  "accounts": tuple(a.strip() for a in _tuple(account_list) if a.strip()), "shard": shard,
                  "engine_calendar": os.fspath(engine_calendar) if engine_calendar else None,
                  "iac_paths": tuple(os.fspath(p) for p in _tuple(iac_paths)), "managed_by_tag": managed_by_tag}
        for name, value in values.items():  # frozen: set once, here
            object.__setattr__(self, name, value)

    @classmethod
    def from_fields(cls, **fields) -> ScanOptions:
        """``ScanOptions(**fields)``, with a misspelt name an [`OptionError`][neptune_audit.errors.OptionError] that suggests the
        right one."""
        import difflib

        known = cls.field_names()
        for name in fields:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                raise OptionError(name, "is not a scan option" + (f" (did you mean {close[0]}?)" if close else "")
                                  + f"; the options are {', '.join(known)}")
        return cls(**fields)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_parameters(cls, namespace: dict) -> ScanOptions:
        """The options among a notebook's parameters (its globals): papermill injects them one name each."""
        return cls(**{name: namespace[name] for name in cls.field_names() if name in namespace})

    def as_parameters(self) -> dict:
        """Papermill parameters (JSON types), paths relative to the working folder, where the report's kernel runs:
        the notebook and report handed to someone else carry no absolute path of the maker's (their home folder)."""
        params = dataclasses.asdict(self)
        params["profiles"], params["role_arns"], params["accounts"] = (list(self.profiles), list(self.role_arns),
                                                                       list(self.accounts))
        params["iac_paths"] = [relative(p) for p in self.iac_paths]
        for name in ("exceptions_file", "engine_calendar"):
            if params[name]:
                params[name] = relative(params[name])
        return params

    @property
    def region_list(self) -> list[str] | None:
        """``None`` for every enabled region, else the checked list."""
        return parse_regions(self.regions)

    def validate(self) -> ScanOptions:
        """Every check of the values themselves; raises [`OptionError`][neptune_audit.errors.OptionError] (a
        [`UsageError`][neptune_audit.errors.UsageError]) with one line
        naming the parameter.  The files they name
        are read by ``core.read_inputs``."""
        if self.max_workers is not None and (not isinstance(self.max_workers, int)
                                             or isinstance(self.max_workers, bool) or self.max_workers < 1):
            raise OptionError("max_workers", "must be a whole number, at least 1")
        self.region_list  # noqa: B018 - parses and checks the syntax
        for arn in self.role_arns:
            validate_role_arn(arn)
        if self.demo and self.profiles:
            raise OptionError("profiles", "cannot be combined with {demo} (the simulated account has no profiles)")
        if not isinstance(self.role_name, str) or not _ROLE_NAME.match(self.role_name):
            raise OptionError("role_name", f"is not an IAM role name: {self.role_name!r}")
        if self.role_name != DEFAULT_ROLE_NAME and not self.organization:
            raise OptionError("role_name", "goes with {organization} (the role assumed in each member account)")
        for account in self.accounts:
            if not re.fullmatch(r"\d{12}", account):
                raise OptionError("accounts", f"takes 12-digit AWS account ids, not {account!r}")
        for p in self.iac_paths:
            if not os.path.exists(p):
                raise OptionError("iac_paths", f"names no such file or folder: {p}")
        parse_owner_tag(self.managed_by_tag)
        if self.shard is not None:
            self.shard_numbers  # noqa: B018 - parses and checks
            if not self.organization:
                raise OptionError("shard", "goes with {organization}")
        return self

    @property
    def shard_numbers(self) -> tuple[int, int] | None:
        """``"K/N"`` as (K, N), 1 <= K <= N."""
        if self.shard is None:
            return None
        m = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", str(self.shard))
        if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
            raise OptionError("shard", f"takes K/N with 1 <= K <= N (e.g. 2/4), not {self.shard!r}")
        return int(m.group(1)), int(m.group(2))

    def describe(self) -> dict:
        """The parameters as the report's header shows them."""
        return {"regions": self.regions, "profiles": list(self.profiles), "role_arns": list(self.role_arns),
                "organization": self.organization, "role_name": self.role_name if self.organization else None,
                "exceptions_file": self.exceptions_file, "demo": self.demo, "accounts": list(self.accounts),
                "shard": self.shard, "engine_calendar": self.engine_calendar,
                **({"iac_paths": list(self.iac_paths)} if self.iac_paths else {}),
                **({"managed_by_tag": self.managed_by_tag} if self.managed_by_tag else {})}
