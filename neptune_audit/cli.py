# PYTHON_ARGCOMPLETE_OK  (argcomplete: `neptune-audit completion bash|zsh|fish`)
"""The ``neptune-audit`` command: a thin wrapper over the package's functions.

Exit codes (``contract.EXIT_*``): 0 all pass (or excepted) and every target scanned; 1 at least one
FAIL; 2 bad input, bad credentials or usage (one line on stderr); 3 no FAIL but scope not scanned,
or nothing scanned at all; 4 internal error (a bug: one line; NEPTUNE_AUDIT_DEBUG=1 shows the traceback).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from neptune_audit import __version__
from neptune_audit.vocabulary import EXIT_INTERNAL, EXIT_OK, FORMATS, RESULTS
from neptune_audit.errors import NeptuneAuditError, OptionError, UsageError, one_line
from neptune_audit.defaults import DEFAULT_ROLE_NAME, POLICY_KINDS

PROG = "neptune-audit"
# ScanOptions' parameters as the command line spells them: the library's messages name the parameter, ours the flag
FLAGS = {"regions": "--regions", "profiles": "--profile", "role_arns": "--role-arn", "organization": "--organization",
         "role_name": "--role-name", "shard": "--shard", "accounts": "--accounts", "demo": "--demo",
         "max_workers": "--max-workers", "exceptions_file": "--exceptions", "engine_calendar": "--engine-calendar",
         "iac_paths": "--iac", "managed_by_tag": "--managed-by-tag"}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2: argparse's default prints the whole usage first
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be a number from 1 to 65535, not {text!r}")
    return port


def _formats(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in FORMATS]
    if "sarif" in bad:
        raise argparse.ArgumentTypeError(f"sarif is the format of findings in code: neptune-audit iac PATH --format "
                                         f"sarif (scan writes {', '.join(FORMATS)})")
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown format {', '.join(bad) or repr(text)} "
                                         f"(choose from {', '.join(FORMATS)})")
    return list(dict.fromkeys(names))


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


def _needs_demo_extra() -> None:
    """Refuse --demo in one line, before any work, where the demo extra (moto) is not installed."""
    from neptune_audit import simulate

    if simulate.moto_missing():
        raise UsageError(simulate.NEEDS_DEMO_EXTRA)


def _options(args):
    """The parsed arguments as ScanOptions (imported here: ``--help`` needs no dataclasses)."""
    from neptune_audit.options import ScanOptions

    if args.role_name and not args.organization:
        raise UsageError("--role-name goes with --organization")
    if args.demo:
        _needs_demo_extra()
    return ScanOptions(regions=args.regions, profiles=args.profiles, role_arns=args.role_arns,
                       organization=args.organization, role_name=args.role_name or DEFAULT_ROLE_NAME,
                       exceptions_file=args.exceptions_file, demo=args.demo, max_workers=args.max_workers,
                       accounts=args.accounts, shard=args.shard, engine_calendar=args.engine_calendar,
                       iac_paths=args.iac_paths, managed_by_tag=args.managed_by_tag).validate()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Audit Amazon Neptune instances for Auto Minor Version "
                                            "Upgrade (Conformity Neptune-001).")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="say more on stderr: -v what the scan did, -vv debugging detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    scan = sub.add_parser("scan", help="scan and print findings")
    _add_targets(scan)
    scan.add_argument("--format", default="table", type=_formats, metavar="|".join(FORMATS),
                      help="output format (default: table); several, comma-separated, with --output-dir")
    out = scan.add_mutually_exclusive_group()
    out.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    out.add_argument("--output-dir", metavar="DIR",
                     help="write each --format to DIR/neptune-audit.<format> (one scan, each file atomic)")
    scan.add_argument("--status", action="append", choices=RESULTS, metavar="|".join(RESULTS),
                      help="only rows with this result in table and csv (repeatable); json, ocsf and asff "
                           "always hold the whole run")
    scan.add_argument("--security-hub", action="store_true",
                      help="import the findings into AWS Security Hub (each in its own account; a re-run "
                           "updates them and archives those of instances that are gone)")
    scan.add_argument("--security-hub-region", metavar="REGION",
                      help="with --security-hub: send every finding to this one region (an aggregation region) "
                           "instead of each instance's own")
    scan.add_argument("-q", "--quiet", action="store_true",
                      help="no progress bar or notices; the table is just the summary line")
    scan.add_argument("--no-color", action="store_true", help="no colours (also: NO_COLOR set, or not a terminal)")
    scan.set_defaults(func=cmd_scan)

    report = sub.add_parser("report", help="run the audit notebook and write a self-contained HTML report")
    _add_targets(report)
    report.add_argument("-o", "--output", metavar="FILE.html",
                        help="where to write the report (default: neptune-audit-report-DATE.html)")
    report.add_argument("--history", metavar="DIR", help="folder of past runs: adds trends and changes")
    report.add_argument("--notebook", "--keep-notebook", metavar="FILE.ipynb", dest="notebook",
                        help="also write the executed notebook (static outputs, the same evidence)")
    report.add_argument("--sign", metavar="KEY.pem|kms:KEY",
                        help="sign every byte of the report (and notebook) with a local Ed25519 / ECDSA P-256 "
                             "private key or an AWS KMS SIGN_VERIFY key; the signature is written to FILE.sig")
    report.add_argument("--from", nargs="+", default=[], metavar="FILE.json", dest="from_files",
                        help="render saved scans (`scan --format json`) instead of scanning; several = shards")
    report.set_defaults(func=cmd_report)

    rem = sub.add_parser("remediate", help="plan (default), apply and verify turning the setting on")
    _add_targets(rem)
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

    pol = sub.add_parser("policy", help="print the least-privilege IAM policy for the audit or for remediation")
    pol.add_argument("kind", choices=POLICY_KINDS)
    pol.add_argument("--organization", action="store_true",
                     help="add listing the Organization's accounts and assuming the member role")
    pol.add_argument("--role-name", default=None, metavar="NAME",
                     help=f"member role assumed with --organization (default: {DEFAULT_ROLE_NAME})")
    pol.add_argument("--sign", metavar="kms:KEY", dest="kms_key",
                     help="add what `report --sign kms:KEY` needs (kms:GetPublicKey, kms:Sign on that key)")
    pol.add_argument("--security-hub", action="store_true",
                     help="add what `scan --security-hub` needs (securityhub:BatchImportFindings, GetFindings)")
    pol.add_argument("--iac", action="store_true",
                     help="add what `remediate --iac --allow-drift` needs to check a stack's drift after a change "
                          "(cloudformation:DetectStackResourceDrift)")
    pol.set_defaults(func=cmd_policy)

    ev = sub.add_parser("evidence", help="extract the run's JSON embedded in a report or executed notebook, checking "
                                         "its SHA-256 and, with a public key, its signature")
    ev.add_argument("report", metavar="FILE.html|FILE.ipynb", nargs="?")
    ev.add_argument("-o", "--output", metavar="FILE.json", help="write it to FILE.json instead of standard output")
    key = ev.add_mutually_exclusive_group()
    key.add_argument("--public-key", metavar="PUB.pem", help="verify FILE.sig with this public key (offline)")
    key.add_argument("--kms-key", metavar="KEY", help="verify FILE.sig with this KMS key's public key (online)")
    key.add_argument("--export-public-key", metavar="kms:KEY",
                     help="print the PEM public key of a KMS signing key (to verify offline later), and stop")
    ev.add_argument("--signature", metavar="FILE.sig", help="the signature, when it is not FILE.sig beside FILE")
    ev.set_defaults(func=cmd_evidence)

    iac = sub.add_parser("iac", help="the rule on code before it is deployed: CloudFormation, CDK assemblies, "
                                     "Terraform HCL and plan JSON")
    iac.add_argument("paths", nargs="+", metavar="PATH", help="files or folders to read (folders are walked)")
    iac.add_argument("--format", default="table", choices=("table", "json", "sarif"),
                     help="output format (default: table); sarif: SARIF 2.1.0 for code scanning")
    iac.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    iac.add_argument("--exceptions", metavar="FILE", dest="exceptions_file",
                     help="YAML file of reviewed exceptions (instance: a logical id or Terraform address)")
    iac.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE", dest="parameters",
                     help="a CloudFormation parameter's value (repeatable; default: each parameter's Default)")
    iac.add_argument("--var-file", action="append", default=[], metavar="FILE", dest="var_files",
                     help="a Terraform .tfvars file (repeatable; terraform.tfvars and *.auto.tfvars are read as "
                          "Terraform reads them)")
    iac.add_argument("--fix-diff", metavar="FILE.diff",
                     help="write a unified diff (git apply) that turns every FAIL into PASS, changing only that line")
    iac.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                     help="say which files were passed over, and why (and, as for every command, more on stderr)")
    iac.set_defaults(func=cmd_iac)

    merge = sub.add_parser("merge", help="merge saved scans (shards of one audit) into one JSON document")
    merge.add_argument("files", nargs="+", metavar="FILE.json")
    merge.add_argument("-o", "--output", metavar="FILE.json", required=True, help="where to write the merged JSON")
    merge.set_defaults(func=cmd_merge)

    nbs = sub.add_parser("notebooks", help="copy the notebooks, the example exceptions and the Airflow DAG out of "
                                           "the installed kit into DIR")
    nbs.add_argument("folder", metavar="DIR")
    nbs.set_defaults(func=cmd_notebooks)

    comp = sub.add_parser("completion", help="print the shell completion script (eval it, or save it where your "
                                             "shell loads completions)")
    comp.add_argument("shell", choices=("bash", "zsh", "fish"))
    comp.set_defaults(func=cmd_completion)

    schema = sub.add_parser("schema", help="print the JSON Schema of the scan's JSON output (neptune-audit/1)")
    schema.set_defaults(func=cmd_schema)

    demo = sub.add_parser("demo", help="write the demo report from the simulated account, or serve it (--serve)")
    demo.add_argument("--serve", action="store_true",
                      help="start the simulated account as a local endpoint and print how to use it")
    demo.add_argument("--port", type=_port, default=5000, help="port for --serve and --lab (default: 5000)")
    demo.add_argument("--lab", action="store_true",
                      help="serve the simulated account and open JupyterLab on working copies of the notebooks")
    demo.add_argument("--lab-dir", metavar="DIR", default="lab",
                      help="folder of the working copies for --lab (default: ./lab; kept between runs)")
    demo.add_argument("-o", "--output", metavar="FILE.html",
                      help="where to write the demo report (default: reports/neptune-audit-demo-DATE.html)")
    demo.set_defaults(func=cmd_demo)
    for command in sub.choices.values():  # -v after the command too (`scan -v`), as people type it
        if any("--verbose" in a.option_strings for a in command._actions):
            continue
        command.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                             help="say more on stderr: -v what the scan did, -vv debugging detail")
    return parser


def cmd_scan(args) -> int:
    from neptune_audit import api
    from neptune_audit.contract.export import FILE_NAMES
    from neptune_audit.contract.files import guard_outputs

    options = _options(args)
    inputs = {"--exceptions": args.exceptions_file, "--engine-calendar": args.engine_calendar}
    if len(args.format) > 1 and not args.output_dir:
        raise UsageError("several formats go with --output-dir DIR (one file each)")
    if args.security_hub_region and not args.security_hub:
        raise UsageError("--security-hub-region goes with --security-hub")
    if args.security_hub_region:
        from neptune_audit.options import parse_regions

        if len(parse_regions(args.security_hub_region) or []) != 1:
            raise UsageError("--security-hub-region takes one region, such as us-east-1")
    if args.output_dir:
        from pathlib import Path

        if not Path(args.output_dir).is_dir():
            raise UsageError(f"output folder does not exist: {args.output_dir}")
        named = guard_outputs({f"--output-dir file {FILE_NAMES[fmt]}": Path(args.output_dir) / FILE_NAMES[fmt]
                               for fmt in args.format}, inputs)
        paths = dict(zip(args.format, named.values()))
    elif args.output:
        paths = {args.format[0]: guard_outputs({"-o": args.output}, inputs, stdout_ok=("-o",))["-o"]}
        if str(paths[args.format[0]]) == "-":
            paths = {args.format[0]: None}
    else:
        paths = {args.format[0]: None}
    # only the terminal table reads DataFrames; JSON, CSV, OCSF, ASFF and Security Hub read the rows
    frames = any(fmt == "table" and not (args.quiet and path is None) for fmt, path in paths.items())
    result = api.scan(options, progress=sys.stderr.isatty() and not args.quiet, frames=frames)
    if args.security_hub:
        sent = api.send_to_security_hub(result, region=args.security_hub_region)
        if not args.quiet:
            print(sent.line(), file=sys.stderr)
    from neptune_audit.present.terminal import to_table, use_color

    def render(fmt: str, color: bool) -> str:
        return to_table(result, statuses=args.status, color=color) if fmt == "table" else result.write(
            fmt, statuses=args.status)

    if args.output_dir:  # every format, or none: a pipeline never picks up a mixed set
        from neptune_audit.contract.files import write_set

        write_set({path: render(fmt, False) for fmt, path in paths.items()})
        return result.exit_code
    for fmt, path in paths.items():
        color = fmt == "table" and path is None and use_color(sys.stdout, no_color=args.no_color)
        if fmt == "table" and args.quiet and path is None:
            from neptune_audit.vocabulary import summary_line

            sys.stdout.write(summary_line(result.summary) + "\n")
            continue
        text = render(fmt, color)
        if path is None:
            sys.stdout.write(text)
        else:
            from neptune_audit.contract.files import write_atomic

            write_atomic(path, text)
    return result.exit_code


def _plan_text(rem) -> str:
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

    options = _options(args)
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
                   "--engine-calendar": args.engine_calendar, **{f"--iac {p}": p for p in args.iac_paths}})
    result = api.scan(options, progress=sys.stderr.isatty())
    rem = remediate.Remediation(result, args.instances, apply_immediately=args.apply_immediately,
                                include_excepted=args.include_excepted, audit_log=args.audit_log,
                                allow_drift=args.allow_drift)
    sys.stdout.write(_plan_text(rem))
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


def cmd_policy(args) -> int:
    import json

    from neptune_audit import api

    kw = {"role_name": args.role_name} if args.role_name else {}
    if args.kms_key:
        if not args.kms_key.startswith("kms:") or not args.kms_key[4:]:
            raise UsageError("policy --sign takes a KMS key, kms:KEY-ID|ARN|alias/NAME (a local key needs no policy)")
        kw["kms_key"] = args.kms_key[4:]
    sys.stdout.write(json.dumps(api.policy(args.kind, organization=args.organization,
                                           security_hub=args.security_hub, iac=args.iac, **kw), indent=2) + "\n")
    return EXIT_OK


def cmd_evidence(args) -> int:
    from neptune_audit.contract.evidence import verify
    from neptune_audit.contract.export import dumps
    from neptune_audit.contract.files import guard_outputs, write_atomic
    from neptune_audit.contract.signing import kms_public_key, load_public_key, public_pem

    if args.export_public_key:
        if args.report or args.signature or not args.export_public_key.startswith("kms:"):
            raise UsageError("--export-public-key takes kms:KEY and no FILE")
        if args.output:
            guard_outputs({"-o": args.output}, stdout_ok=("-o",))
        pem = public_pem(kms_public_key(args.export_public_key[4:]))
        if args.output and args.output != "-":
            write_atomic(args.output, pem)
            print(f"{args.output}: the public key of {args.export_public_key}", file=sys.stderr)
        else:
            sys.stdout.write(pem)
        return EXIT_OK
    if not args.report:
        raise UsageError("give the report or notebook to check (FILE.html or FILE.ipynb)")
    if args.output:
        guard_outputs({"-o": args.output}, {"FILE": args.report, "--signature": args.signature,
                                            "--public-key": args.public_key}, stdout_ok=("-o",))
    public_key = None
    if args.public_key:
        public_key = load_public_key(args.public_key)
    elif args.kms_key:
        public_key = kms_public_key(args.kms_key[4:] if args.kms_key.startswith("kms:") else args.kms_key)
    elif args.signature:
        raise UsageError("--signature goes with --public-key or --kms-key")
    found = verify(args.report, public_key, args.signature)
    to_file = args.output and args.output != "-"
    if to_file:
        write_atomic(args.output, dumps(found.document))
    else:
        sys.stdout.write(dumps(found.document))
    print("\n".join(found.lines(args.report)), file=sys.stdout if to_file else sys.stderr)
    return EXIT_OK


def cmd_merge(args) -> int:
    from neptune_audit.contract import saved
    from neptune_audit.vocabulary import exit_code, summary_line
    from neptune_audit.contract.export import dumps
    from neptune_audit.contract.files import guard_outputs, write_atomic

    guard_outputs({"-o": args.output}, {f"input {p}": p for p in args.files}, stdout_ok=("-o",))
    doc = saved.merge([saved.read(p) for p in args.files])
    write_atomic(args.output, dumps(doc))
    print(f"{args.output}: {len(args.files)} file(s) merged; {summary_line(doc['summary'])}",
          file=sys.stderr if args.output == "-" else sys.stdout)
    return exit_code(doc["summary"])


def cmd_iac(args) -> int:
    from neptune_audit.code import output
    from neptune_audit.code.scan import scan
    from neptune_audit.contract.files import guard_outputs, write_atomic

    inputs = {"--exceptions": args.exceptions_file, **{f"--var-file {v}": v for v in args.var_files},
              **{f"PATH {p}": p for p in args.paths}}
    outs = guard_outputs({"-o": args.output, "--fix-diff": args.fix_diff}, inputs, stdout_ok=("-o",))
    result = scan(args.paths, parameters=args.parameters, var_files=args.var_files,
                  exceptions_file=args.exceptions_file)
    if args.verbose:
        for line in result.ignored:
            print(f"passed over: {one_line(line, limit=None)}", file=sys.stderr)
    if args.format == "json":
        text = output.to_json(result)
    elif args.format == "sarif":
        text = output.to_sarif(result)
    else:
        import shutil

        text = output.to_table(result, shutil.get_terminal_size((100, 24)).columns)
    if args.fix_diff:
        diff, notes = output.fix_diff(result)
        write_atomic(outs["--fix-diff"], diff)
        for note in notes:
            print(f"not in the diff: {one_line(note, limit=None)}", file=sys.stderr)
    if args.output and args.output != "-":
        write_atomic(outs["-o"], text)
    else:
        sys.stdout.write(text)
    return result.exit_code


def cmd_schema(args) -> int:
    from neptune_audit.vocabulary import schema_text

    sys.stdout.write(schema_text())
    return EXIT_OK


def _report_summary(rep) -> str:
    """One line for the scheduler's log, with the evidence hash: a record of it outside the report itself."""
    from neptune_audit.vocabulary import summary_line
    from neptune_audit.contract.evidence import digest

    signed = f"; signed by key {rep.signature['key_id']}" if rep.signature else "; unsigned"
    return (f"{rep.html_path} ({rep.html_path.stat().st_size / 1e6:.1f} MB, {rep.seconds:.1f} s): "
            f"{summary_line(rep.summary)}; evidence SHA-256 {digest(rep.document)}{signed}")


def cmd_report(args) -> int:
    from neptune_audit.options import ScanOptions
    from neptune_audit.present.report import run_report

    options = _options(args)
    if args.from_files and options != ScanOptions(max_workers=options.max_workers):
        raise UsageError("--from renders saved scans: it takes no targets or --exceptions (they were applied "
                         "when the scans ran)")
    rep = run_report(options, output=args.output, keep_notebook=args.notebook, history_dir=args.history,
                     from_files=args.from_files, sign=args.sign)
    print(_report_summary(rep))
    return rep.exit_code


def cmd_notebooks(args) -> int:
    from neptune_audit.lab import copy_shipped

    written, kept = copy_shipped(args.folder)
    for path in written:
        print(path)
    for path in kept:
        print(f"{path}: kept (already there; delete it for the kit's copy)", file=sys.stderr)
    return EXIT_OK


def cmd_completion(args) -> int:
    import argcomplete

    sys.stdout.write(argcomplete.shellcode([PROG], shell=args.shell))
    return EXIT_OK


def cmd_demo(args) -> int:
    if args.serve or args.lab:
        from neptune_audit.lab import serve_demo

        return serve_demo(args.port, lab=args.lab_dir if args.lab else None)
    from pathlib import Path

    _needs_demo_extra()
    from neptune_audit.options import ScanOptions
    from neptune_audit.present.report import default_output, run_report
    from neptune_audit.simulate.estate import example_code, example_exceptions

    out = Path(args.output) if args.output else Path("reports") / default_output("neptune-audit-demo")
    if not args.output:
        out.parent.mkdir(parents=True, exist_ok=True)
    options = ScanOptions(demo=True, organization=True, exceptions_file=example_exceptions(),
                          iac_paths=(example_code(),))
    rep = run_report(options, output=out, history_dir=out.parent / "history")
    print(_report_summary(rep))
    return EXIT_OK  # the simulated estate fails on purpose; the demo succeeded once the report is written


def main(argv=None, own_process: bool = False) -> int:
    """Parse, run, and turn every error into its exit code: the one place that does.  ``own_process``: the caller
    is the console script, whose process is the kit's own (its interpreter and botocore may be tuned)."""
    handler = None
    try:
        parser = build_parser()
        if "_ARGCOMPLETE" in os.environ:  # the shell is asking for completions: answer and exit
            import argcomplete

            argcomplete.autocomplete(parser)
        args = parser.parse_args(argv)
        handler = _log_to_stderr(args.verbose)
        if own_process:  # after parsing: --help and usage errors never import botocore
            from neptune_audit.aws.tuning import own_process as tune

            tune()
        return args.func(args)
    except NeptuneAuditError as exc:  # the class says the exit code: usage, input, AWS (2), notebook (4)
        text = exc.for_flags(FLAGS) if isinstance(exc, OptionError) else exc
        print(f"{PROG}: error: {one_line(text, limit=None)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print(f"{PROG}: terminated", file=sys.stderr)
        return 143
    except Exception as exc:  # a bug: never a traceback for users; NEPTUNE_AUDIT_DEBUG=1 shows it
        if os.environ.get("NEPTUNE_AUDIT_DEBUG"):
            raise
        detail = one_line(exc, limit=200)
        print(f"{PROG}: internal error (a bug in neptune-audit, please report it): {type(exc).__name__}: {detail} "
              "(set NEPTUNE_AUDIT_DEBUG=1 to see the traceback)", file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        if handler is not None:
            logger = logging.getLogger("neptune_audit")
            logger.removeHandler(handler)
            logger.setLevel(logging.NOTSET)


def _log_to_stderr(verbose: int) -> logging.Handler:
    """The kit's log records on stderr for this command: warnings always, -v info, -vv (or NEPTUNE_AUDIT_DEBUG)
    debug.  Only the kit's own logger is configured, and only while the command runs."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
    level = logging.DEBUG if verbose >= 2 or os.environ.get("NEPTUNE_AUDIT_DEBUG") else (
        logging.INFO if verbose == 1 else logging.WARNING)
    logger = logging.getLogger("neptune_audit")
    logger.addHandler(handler)
    logger.setLevel(level)
    return handler


class Terminated(SystemExit):
    """SIGTERM (a scheduler stopping the job): unwinds like Ctrl-C, so every cleanup (a report's private kernel
    folder and its kernel) runs.  A SystemExit, because the handler raises it wherever the main thread is: inside
    an asyncio callback (papermill's kernel client) any other exception is logged and dropped by the event loop,
    and the report then waited for a cell that never finished (exit 4 instead of 143)."""


def _terminate(signum, frame):
    raise Terminated(143)  # the exit status of a process stopped by SIGTERM, should it escape main()


def run() -> None:
    """The console script: ``main()``, then exit."""
    import gc
    import signal

    for name in ("SIGTERM", "SIGHUP"):  # a scheduler's stop, a closed terminal; left alone where ignored (nohup)
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) == signal.SIG_DFL:
            signal.signal(signum, _terminate)
    code = main(own_process=True)
    # At exit the interpreter would collect everything still loaded (service models, pandas): 0.25-0.34 s after a
    # scan.  Frozen objects are freed by reference counting alone.
    gc.freeze()
    sys.exit(code)
