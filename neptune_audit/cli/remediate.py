"""`remediate`: the plan (a dry run by default), the apply and the verify."""
from __future__ import annotations

import sys

from neptune_audit.cli.common import add_targets, scan_options
from neptune_audit.errors import UsageError, one_line
from neptune_audit.vocabulary import EXIT_OK


def add_parsers(sub) -> None:
    rem = sub.add_parser("remediate", help="plan (default), apply and verify turning the setting on")
    add_targets(rem)
    rem.add_argument("--instance", action="append", default=[], metavar="ID", dest="instances",
                     help="only this instance (id or ARN; repeatable); default: every failing instance")
    rem.add_argument("--include-excepted", action="store_true",
                     help="also change instances named with --instance that an exception allows to stay off")
    rem.add_argument("--apply", action="store_true", help="make the changes (without it: a dry run)")
    rem.add_argument("--apply-immediately", action="store_true",
                     help="send ApplyImmediately: also applies every pending modification now (may restart instances)")
    rem.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    rem.add_argument("--accept-restart", action="store_true",
                     help="apply even where the plan warns that a cluster's maintenance window is open (or about to "
                          "open) and the change starts an engine upgrade at once, restarting every instance")
    rem.add_argument("--audit-log", metavar="FILE", help="JSON-lines audit log (default: in your user data folder)")
    rem.add_argument("--script", metavar="FILE", help="write a reviewed AWS CLI script instead of changing anything")
    rem.add_argument("--fix-diff", metavar="FILE.diff",
                     help="with --iac: write the code fix (a unified diff) for the planned instances code defines")
    rem.add_argument("--allow-drift", action="store_true",
                     help="change through the API instances that code defines (the next deploy may revert it)")
    rem.set_defaults(func=cmd_remediate)


def plan_text(rem) -> str:
    plan_df = rem.plan
    # every value from AWS or a saved scan on one line: a newline in an instance id would forge a plan line
    lines = [f"Left alone: {one_line(s, limit=None)}" for s in rem.skipped]
    if plan_df.empty:
        lines.append("Nothing to remediate: no selected instance has Auto Minor Version Upgrade off.")
        return "\n".join(lines) + "\n"
    view = plan_df[["account_id", "region", "cluster_id", "instance_id", "role", "status"]].astype(object).map(
        lambda v: v if v is None else one_line(v, limit=None))
    view.columns = ["ACCOUNT", "REGION", "CLUSTER", "INSTANCE", "ROLE", "STATUS"]
    lines += [f"Plan: turn Auto Minor Version Upgrade on for {len(plan_df)} instance(s)", "", view.to_string(index=False)]
    warned = [(one_line(r.instance_id, limit=None), one_line(w, limit=None)) for r in plan_df.itertuples()
              for w in r.warnings]
    if warned:
        lines += ["", "Warnings:"] + [f"  {i}: {w}" for i, w in warned]
    from neptune_audit.records import terminal_text

    return "\n".join(terminal_text(line) for line in lines) + "\n"


def cmd_remediate(args) -> int:
    from neptune_audit import api
    from neptune_audit.act import remediate
    from neptune_audit.contract.files import guard_outputs, write_atomic

    options = scan_options(args)
    if args.script and args.apply:
        raise UsageError("--script writes a script for review and changes nothing: drop --apply")
    if args.apply_immediately and not args.apply:
        raise UsageError("--apply-immediately goes with --apply")
    if args.apply and not args.yes and not sys.stdin.isatty():
        raise UsageError("--apply asks for confirmation on a terminal; add --yes to run unattended")
    if args.fix_diff and not args.iac_paths:
        raise UsageError("--fix-diff goes with --iac PATH (the code that defines the instances)")
    guard_outputs({"--script": args.script, "--fix-diff": args.fix_diff},
                  {"--exceptions": args.exceptions_file, "--audit-log": args.audit_log,
                   "--engine-calendar": args.engine_calendar, **{f"--iac {p}": p for p in args.iac_paths}},
                  scanned=args.iac_paths)
    result = api.scan(options, progress=sys.stderr.isatty())
    rem = remediate.Remediation(result, args.instances, apply_immediately=args.apply_immediately,
                                include_excepted=args.include_excepted, audit_log=args.audit_log,
                                allow_drift=args.allow_drift)
    sys.stdout.write(plan_text(rem))
    if args.fix_diff:  # the code fix first: it lasts, where an API change is drift
        diff, notes = rem.code_fix()
        write_atomic(args.fix_diff, diff)
        print(f"Wrote {args.fix_diff}: the code fix for {len(rem.code_owned)} instance(s) code defines "
              f"(git apply {args.fix_diff}, then deploy)")
        for note in notes:
            print(f"  not in the diff: {one_line(note, limit=None)}")
    if args.script:
        write_atomic(args.script, remediate.to_script(rem.plan, result.generated_at))  # not executable: run it deliberately
        print(f"Wrote {args.script} ({len(rem.plan)} command(s)); nothing was changed. Review it, then: sh {args.script}")
        return EXIT_OK
    if not args.apply or rem.plan.empty:
        if not rem.plan.empty:
            print("\nDry run: nothing was changed. Re-run with --apply to make these changes.")
        return EXIT_OK
    rem.check_drift_allowed()  # before anything is asked or changed
    restarting = remediate.restarting(rem.plan)
    if restarting and not args.accept_restart:  # --yes answers "apply?", not "restart these clusters now?"
        raise UsageError(f"the plan warns that changing {', '.join(restarting)} now starts an engine upgrade at once "
                         "and every instance of its cluster restarts: apply outside the maintenance window, or add "
                         "--accept-restart")
    stale = rem.prepare()  # a damaged audit log is refused here, before anything is asked or changed
    if args.apply_immediately:
        print("\n--apply-immediately also applies these pending modifications now:")
        print("\n".join(f"  {i}: {p}" for i, p in rem.flushed) if rem.flushed else "  (none pending)")
    if stale:
        print(f"\nNote: {len(stale)} change(s) in {rem.audit_log_path} from an earlier run have no recorded outcome; "
              "this run re-reads each instance, so repeating them is safe.")
    if not args.yes:
        answer = input(f"\nApply {len(rem.plan)} change(s)? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("Nothing was changed.")
            return EXIT_OK
    results = rem.run()
    columns = ["account_id", "region", "instance_id", "outcome", "verified", "error"]
    if results["drift"].notna().any():
        columns.append("drift")
    view = results[columns].astype(object)
    view = view.where(view.notna(), "")
    print("\n" + view.to_string(index=False))
    print(f"\nAudit log: {rem.audit_log_path}")
    return EXIT_OK if rem.succeeded else 1
