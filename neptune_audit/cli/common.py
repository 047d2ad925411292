"""What the commands share: the parser that fails in one line, the targets every scanning command takes, and the
ScanOptions they make."""
from __future__ import annotations

import argparse

from neptune_audit.defaults import DEFAULT_ROLE_NAME
from neptune_audit.errors import UsageError
from neptune_audit.vocabulary import FORMATS

PROG = "neptune-audit"
# ScanOptions' parameters as the command line spells them: the library's messages name the parameter, ours the flag
FLAGS = {"regions": "--regions", "profiles": "--profile", "role_arns": "--role-arn", "organization": "--organization",
         "role_name": "--role-name", "shard": "--shard", "accounts": "--accounts", "demo": "--demo",
         "max_workers": "--max-workers", "exceptions_file": "--exceptions", "engine_calendar": "--engine-calendar",
         "iac_paths": "--iac", "managed_by_tag": "--managed-by-tag"}


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2: argparse's default prints the whole usage first
        raise UsageError(f"{message} (see '{self.prog} --help')")


def port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be a number from 1 to 65535, not {text!r}")
    return port


def formats(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in FORMATS]
    if "sarif" in bad:
        raise argparse.ArgumentTypeError(f"sarif is the format of findings in code: neptune-audit iac PATH --format "
                                         f"sarif (scan writes {', '.join(FORMATS)})")
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown format {', '.join(bad) or repr(text)} "
                                         f"(choose from {', '.join(FORMATS)})")
    return list(dict.fromkeys(names))


def add_targets(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("targets")
    g.add_argument("--regions", default="all", metavar="all|R1,R2",
                   help="regions to scan (default: every region enabled for each account)")
    g.add_argument("--profile", action="append", default=[], metavar="NAME", dest="profiles",
                   help="named AWS profile (repeatable)")
    g.add_argument("--role-arn", action="append", default=[], metavar="ARN", dest="role_arns",
                   help="IAM role to assume in another account (repeatable)")
    g.add_argument("--organization", action="store_true",
                   help="scan every ACTIVE account of the caller's AWS Organization")
    g.add_argument("--role-name", default=None, metavar="NAME",
                   help=f"role assumed in each member account with --organization (default: {DEFAULT_ROLE_NAME})")
    g.add_argument("--shard", metavar="K/N", help="with --organization: only the K-th of N shards of its accounts "
                                                   "(N runs with the same N cover it exactly once)")
    g.add_argument("--accounts", metavar="ID,ID", default="", help="only these account ids")
    g.add_argument("--demo", action="store_true", help="scan the built-in simulated AWS account (no credentials)")
    g.add_argument("--max-workers", type=int, default=None, metavar="N",
                   help="account-regions scanned at once (default: one per account-region, "
                        "at least 16, at most 64)")
    p.add_argument("--exceptions", metavar="FILE", dest="exceptions_file", help="YAML file of reviewed exceptions")
    p.add_argument("--engine-calendar", metavar="FILE", dest="engine_calendar",
                   help="YAML file of Neptune engine end-of-life dates (default: the one shipped with the kit)")
    p.add_argument("--iac", action="append", default=[], metavar="PATH", dest="iac_paths",
                   help="templates, Terraform or plan/state JSON that define the instances: each finding says the "
                        "file and line that owns it (repeatable)")
    p.add_argument("--managed-by-tag", metavar="KEY[=VALUE]", dest="managed_by_tag",
                   help="instances with this tag are owned by Terraform, as --iac would show (e.g. ManagedBy=terraform): "
                        "remediate then changes them only with --allow-drift")


def needs_demo_extra() -> None:
    """Refuse --demo in one line, before any work, where the demo extra (moto) is not installed."""
    from neptune_audit import simulate

    if simulate.moto_missing():
        raise UsageError(simulate.NEEDS_DEMO_EXTRA)


def scan_options(args):
    """The parsed arguments as ScanOptions (imported here: ``--help`` needs no dataclasses)."""
    from neptune_audit.options import ScanOptions

    if args.role_name and not args.organization:
        raise UsageError("--role-name goes with --organization")
    if args.demo:
        needs_demo_extra()
    return ScanOptions(regions=args.regions, profiles=args.profiles, role_arns=args.role_arns,
                       organization=args.organization, role_name=args.role_name or DEFAULT_ROLE_NAME,
                       exceptions_file=args.exceptions_file, demo=args.demo, max_workers=args.max_workers,
                       accounts=args.accounts, shard=args.shard, engine_calendar=args.engine_calendar,
                       iac_paths=args.iac_paths, managed_by_tag=args.managed_by_tag).validate()
