"""`scan`, `report`, `policy` and `schema`: a scan, what it writes, and what it needs."""
from __future__ import annotations

import sys

from neptune_audit.cli.common import add_targets, formats, scan_options
from neptune_audit.defaults import DEFAULT_ROLE_NAME, POLICY_KINDS
from neptune_audit.errors import UsageError
from neptune_audit.vocabulary import EXIT_OK, FORMATS, RESULTS


def add_parsers(sub) -> None:
    scan = sub.add_parser("scan", help="scan and print findings")
    add_targets(scan)
    scan.add_argument("--format", default="table", type=formats, metavar="|".join(FORMATS),
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
    add_targets(report)
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

    schema = sub.add_parser("schema", help="print the JSON Schema of the scan's JSON output (neptune-audit/1)")
    schema.set_defaults(func=cmd_schema)


def cmd_scan(args) -> int:
    from neptune_audit import api
    from neptune_audit.contract.export import FILE_NAMES
    from neptune_audit.contract.files import guard_outputs

    options = scan_options(args)
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


def cmd_schema(args) -> int:
    from neptune_audit.vocabulary import schema_text

    sys.stdout.write(schema_text())
    return EXIT_OK


def report_summary(rep) -> str:
    """One line for the scheduler's log, with the evidence hash: a record of it outside the report itself."""
    from neptune_audit.vocabulary import summary_line
    from neptune_audit.contract.evidence import digest

    signed = f"; signed by key {rep.signature['key_id']}" if rep.signature else "; unsigned"
    return (f"{rep.html_path} ({rep.html_path.stat().st_size / 1e6:.1f} MB, {rep.seconds:.1f} s): "
            f"{summary_line(rep.summary)}; evidence SHA-256 {digest(rep.document)}{signed}")


def cmd_report(args) -> int:
    from neptune_audit.options import ScanOptions
    from neptune_audit.present.report import run_report

    options = scan_options(args)
    if args.from_files and options != ScanOptions(max_workers=options.max_workers):
        raise UsageError("--from renders saved scans: it takes no targets or --exceptions (they were applied "
                         "when the scans ran)")
    rep = run_report(options, output=args.output, keep_notebook=args.notebook, history_dir=args.history,
                     progress=sys.stderr.isatty(),
                     from_files=args.from_files, sign=args.sign)
    print(report_summary(rep))
    return rep.exit_code
