"""The ``neptune-audit`` command: a thin wrapper over the package's functions.

Exit codes: 0 all pass (or excepted) and every target scanned; 1 at least one FAIL;
2 bad input, bad credentials or usage (one line on stderr); 3 no FAIL but scope not scanned.
"""
from __future__ import annotations

import argparse
import os
import sys

from . import __version__
from .errors import UsageError

PROG = "neptune-audit"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2: argparse's default prints the whole usage first
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _add_targets(p: argparse.ArgumentParser) -> None:
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
                   help="role assumed in each member account with --organization "
                        "(default: OrganizationAccountAccessRole)")
    g.add_argument("--demo", action="store_true", help="scan the built-in simulated AWS account (no credentials)")
    g.add_argument("--max-workers", type=int, default=16, metavar="N",
                   help="account-regions scanned at once (default: 16)")


def _target_kwargs(args) -> dict:
    if args.role_name and not args.organization:
        raise UsageError("--role-name goes with --organization")
    return {"regions": args.regions, "profiles": args.profiles, "role_arns": args.role_arns,
            "organization": args.organization, "role_name": args.role_name or "OrganizationAccountAccessRole",
            "demo": args.demo, "max_workers": args.max_workers}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Audit Amazon Neptune instances for Auto Minor Version "
                                            "Upgrade (Conformity Neptune-001).")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    scan = sub.add_parser("scan", help="scan and print findings")
    _add_targets(scan)
    scan.add_argument("--format", default="table", choices=["table", "csv", "json", "ocsf"])
    scan.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    scan.add_argument("--exceptions", metavar="FILE", help="YAML file of reviewed exceptions")
    scan.set_defaults(func=cmd_scan)

    demo = sub.add_parser("demo", help="run the audit on the simulated account, or serve it (--serve)")
    demo.add_argument("--serve", action="store_true",
                      help="start the simulated account as a local endpoint and print how to use it")
    demo.add_argument("--port", type=int, default=5000, help="port for --serve (default: 5000)")
    demo.set_defaults(func=cmd_demo)
    return parser


def cmd_scan(args) -> int:
    from . import audit
    from .export import check_writable

    if args.output:
        check_writable(args.output)
    result = audit.scan(exceptions_file=args.exceptions, progress=sys.stderr.isatty(), **_target_kwargs(args))
    text = result.write(args.format, args.output)
    if not args.output:
        sys.stdout.write(text)
    return result.exit_code


def example_exceptions() -> str:
    """Path of the example exceptions file (in a checkout, or inside the installed package)."""
    from pathlib import Path

    here = Path(__file__).resolve().parent
    for candidate in (here / "examples" / "exceptions.yml", here.parent / "examples" / "exceptions.yml"):
        if candidate.exists():
            return str(candidate)
    raise UsageError("the example exceptions file is missing from this installation")


def cmd_demo(args) -> int:
    if args.serve:
        return serve_demo(args.port)
    from . import audit

    result = audit.scan(demo=True, organization=True, exceptions_file=example_exceptions(),
                        progress=sys.stderr.isatty())
    sys.stdout.write(result.write("table"))
    return 0  # the simulated estate fails on purpose; the demo succeeded if it ran


def serve_demo(port: int) -> int:
    import threading

    from .simulate import DemoServer

    try:
        server = DemoServer(port=port)
    except OSError as exc:
        raise UsageError(f"cannot listen on port {port}: {exc.strerror or exc}") from None
    print(f"Simulated AWS account running at {server.endpoint_url} (Ctrl-C to stop).\n"
          "Use it from another shell or from JupyterLab with these dummy credentials:\n\n"
          f"  export AWS_ENDPOINT_URL={server.endpoint_url}\n"
          "  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1\n"
          "  neptune-audit scan --organization\n", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.func(args)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # never a traceback for users; NEPTUNE_AUDIT_DEBUG=1 shows it
        if os.environ.get("NEPTUNE_AUDIT_DEBUG"):
            raise
        print(f"{PROG}: error: {type(exc).__name__}: {exc} (set NEPTUNE_AUDIT_DEBUG=1 for details)",
              file=sys.stderr)
        return 2
