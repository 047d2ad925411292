"""The ``neptune-audit`` command: a thin wrapper over the package's functions.

Exit codes: 0 all pass (or excepted) and every target scanned; 1 at least one FAIL;
2 bad input, bad credentials or usage (one line on stderr); 3 no FAIL but scope not scanned.
"""
from __future__ import annotations

import argparse
import gc
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
            "organization": args.organization, "demo": args.demo, "max_workers": args.max_workers,
            **({"role_name": args.role_name} if args.role_name else {})}


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

    report = sub.add_parser("report", help="run the audit notebook and write a self-contained HTML report")
    _add_targets(report)
    report.add_argument("-o", "--output", metavar="FILE.html",
                        help="where to write the report (default: neptune-audit-report-DATE.html)")
    report.add_argument("--exceptions", metavar="FILE", help="YAML file of reviewed exceptions")
    report.add_argument("--history", metavar="DIR", help="folder of past runs: adds trends and changes")
    report.add_argument("--keep-notebook", metavar="FILE.ipynb", help="also keep the executed notebook")
    report.set_defaults(func=cmd_report)

    rem = sub.add_parser("remediate", help="plan (default), apply and verify turning the setting on")
    _add_targets(rem)
    rem.add_argument("--instance", action="append", default=[], metavar="ID", dest="instances",
                     help="only this instance (id or ARN; repeatable); default: every failing instance")
    rem.add_argument("--exceptions", metavar="FILE", help="YAML file of reviewed exceptions (excepted ones are left alone)")
    rem.add_argument("--apply", action="store_true", help="make the changes (without it: a dry run)")
    rem.add_argument("--apply-immediately", action="store_true",
                     help="send ApplyImmediately: also applies every pending modification now (may restart instances)")
    rem.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    rem.add_argument("--audit-log", metavar="FILE", help="JSON-lines audit log (default: in your user data folder)")
    rem.add_argument("--script", metavar="FILE", help="write a reviewed AWS CLI script instead of changing anything")
    rem.set_defaults(func=cmd_remediate)

    pol = sub.add_parser("policy", help="print the least-privilege IAM policy for the audit or for remediation")
    pol.add_argument("kind", choices=["audit", "remediate"])
    pol.add_argument("--organization", action="store_true",
                     help="add listing the Organization's accounts and assuming the member role")
    pol.add_argument("--role-name", default=None, metavar="NAME",
                     help="member role assumed with --organization (default: OrganizationAccountAccessRole)")
    pol.set_defaults(func=cmd_policy)

    demo = sub.add_parser("demo", help="write the demo report from the simulated account, or serve it (--serve)")
    demo.add_argument("--serve", action="store_true",
                      help="start the simulated account as a local endpoint and print how to use it")
    demo.add_argument("--port", type=int, default=5000, help="port for --serve (default: 5000)")
    demo.add_argument("--lab", action="store_true",
                      help="serve the simulated account and open JupyterLab on the notebooks")
    demo.add_argument("-o", "--output", metavar="FILE.html",
                      help="where to write the demo report (default: reports/neptune-audit-demo-DATE.html)")
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


def _plan_text(plan_df) -> str:
    if plan_df.empty:
        return "Nothing to remediate: no selected instance has Auto Minor Version Upgrade off.\n"
    view = plan_df[["account_id", "region", "cluster_id", "instance_id", "role", "status"]].copy()
    view.columns = ["ACCOUNT", "REGION", "CLUSTER", "INSTANCE", "ROLE", "STATUS"]
    lines = [f"Plan: turn Auto Minor Version Upgrade on for {len(plan_df)} instance(s)", "", view.to_string(index=False)]
    warned = [(r.instance_id, w) for r in plan_df.itertuples() for w in r.warnings]
    if warned:
        lines += ["", "Warnings:"] + [f"  {i}: {w}" for i, w in warned]
    return "\n".join(lines) + "\n"


def cmd_remediate(args) -> int:
    from . import audit, auditlog, remediate
    from .export import check_writable, write_atomic

    if args.script:
        check_writable(args.script)
    if args.script and args.apply:
        raise UsageError("--script writes a script for review and changes nothing: drop --apply")
    if args.apply_immediately and not args.apply:
        raise UsageError("--apply-immediately goes with --apply")
    if args.apply and not args.yes and not sys.stdin.isatty():
        raise UsageError("--apply asks for confirmation on a terminal; add --yes to run unattended")
    log = auditlog.AuditLog(args.audit_log) if args.apply else None
    result = audit.scan(exceptions_file=args.exceptions, progress=sys.stderr.isatty(), **_target_kwargs(args))
    plan_df = remediate.plan(result.findings, args.instances, apply_immediately=args.apply_immediately)
    sys.stdout.write(_plan_text(plan_df))
    if args.script:
        write_atomic(args.script, remediate.to_script(plan_df, result.generated_at))
        os.chmod(args.script, 0o755)
        print(f"Wrote {args.script} ({len(plan_df)} command(s)); nothing was changed.")
        return 0
    if not args.apply or plan_df.empty:
        if not plan_df.empty:
            print("\nDry run: nothing was changed. Re-run with --apply to make these changes.")
        return 0
    if args.apply_immediately:
        flushed = [(r.instance_id, r.pending_modifications) for r in plan_df.itertuples() if r.pending_modifications]
        print("\n--apply-immediately also applies these pending modifications now:")
        print("\n".join(f"  {i}: {p}" for i, p in flushed) if flushed else "  (none pending)")
    if not args.yes:
        answer = input(f"\nApply {len(plan_df)} change(s)? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("Nothing was changed.")
            return 0
    stale = auditlog.dangling(log.path)
    if stale:
        print(f"Note: {len(stale)} change(s) in {log.path} from an earlier run have no recorded outcome; "
              "this run re-reads each instance, so repeating them is safe.")
    results = remediate.apply(plan_df, result, apply_immediately=args.apply_immediately, audit_log=log,
                              max_workers=args.max_workers)
    results = remediate.verify(results, result, wait_seconds=60 if (results["outcome"] == "changed").any() else 0)
    view = results[["account_id", "region", "instance_id", "outcome", "verified", "error"]].fillna("")
    print("\n" + view.to_string(index=False))
    print(f"\nAudit log: {log.path}")
    return 0 if remediate.succeeded(results) else 1


def cmd_policy(args) -> int:
    from . import iam_policy

    kw = {"role_name": args.role_name} if args.role_name else {}
    sys.stdout.write(iam_policy.to_json(args.kind, organization=args.organization, **kw))
    return 0


def example_exceptions() -> str:
    """Path of the example exceptions file (in a checkout, or inside the installed package)."""
    from pathlib import Path

    here = Path(__file__).resolve().parent
    for candidate in (here / "examples" / "exceptions.yml", here.parent / "examples" / "exceptions.yml"):
        if candidate.exists():
            return str(candidate)
    raise UsageError("the example exceptions file is missing from this installation")


def _report_summary(rep) -> str:
    s = rep.summary
    return (f"{rep.html_path} ({rep.html_path.stat().st_size / 1e6:.1f} MB, {rep.seconds:.1f} s): "
            f"{s['instances']} instances, {s['fail']} fail, {s['pass']} pass, {s['excepted']} excepted; "
            f"{s['targets_not_scanned']} account-regions not scanned")


def cmd_report(args) -> int:
    from .report import run_report

    rep = run_report(output=args.output, keep_notebook=args.keep_notebook, history_dir=args.history,
                     exceptions_file=args.exceptions, **_target_kwargs(args))
    print(_report_summary(rep))
    return rep.exit_code


def cmd_demo(args) -> int:
    if args.serve:
        return serve_demo(args.port)
    if args.lab:
        return lab_demo(args.port)
    from pathlib import Path

    from .report import default_output, run_report

    out = Path(args.output) if args.output else Path("reports") / default_output("neptune-audit-demo")
    if not args.output:
        out.parent.mkdir(parents=True, exist_ok=True)
    rep = run_report(output=out, demo=True, organization=True, exceptions_file=example_exceptions(),
                     history_dir=out.parent / "history")
    print(_report_summary(rep))
    return 0  # the simulated estate fails on purpose; the demo succeeded once the report is written


def lab_demo(port: int) -> int:
    import subprocess

    from .report import notebook_path
    from .simulate import DemoServer

    try:
        server = DemoServer(port=port)
    except OSError as exc:
        raise UsageError(f"cannot listen on port {port}: {exc.strerror or exc}") from None
    env = dict(os.environ, AWS_ENDPOINT_URL=server.endpoint_url, AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)
    print(f"Simulated AWS account at {server.endpoint_url}; JupyterLab sees it through AWS_ENDPOINT_URL.", flush=True)
    try:
        return subprocess.call([sys.executable, "-m", "jupyterlab", str(notebook_path("audit.ipynb").parent)], env=env)
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


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


def run() -> None:
    """The console script: ``main()``, then exit."""
    code = main()
    # At exit the interpreter runs full garbage collections over everything still loaded (service models,
    # pandas): ~0.25 s after a scan.  Frozen objects are freed by reference counting alone.
    gc.freeze()
    sys.exit(code)
