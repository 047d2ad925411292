"""`iac`: the rule on code before it is deployed."""
from __future__ import annotations

import argparse
import sys

from neptune_audit.errors import one_line


def add_parsers(sub) -> None:
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
    iac.add_argument("--cdk-app", action="append", default=[], metavar="DIR", dest="cdk_apps",
                     help="a CDK app's folder: each instance of its cloud assembly (cdk.out, among PATH) names the "
                          "construct in the app's source that makes it, where the fix belongs (repeatable)")
    iac.add_argument("--fix-diff", metavar="FILE.diff",
                     help="write a unified diff (git apply) that turns every FAIL into PASS, changing only that line")
    iac.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                     help="say which files were passed over, and why (and, as for every command, more on stderr)")
    iac.set_defaults(func=cmd_iac)


def cmd_iac(args) -> int:
    from neptune_audit.code import output
    from neptune_audit.code.scan import scan
    from neptune_audit.contract.files import guard_outputs, write_atomic

    inputs = {"--exceptions": args.exceptions_file, **{f"--var-file {v}": v for v in args.var_files},
              **{f"PATH {p}": p for p in args.paths}}
    outs = guard_outputs({"-o": args.output, "--fix-diff": args.fix_diff}, inputs, stdout_ok=("-o",),
                         scanned=args.paths)
    result = scan(args.paths, parameters=args.parameters, var_files=args.var_files,
                  exceptions_file=args.exceptions_file, cdk_apps=args.cdk_apps)
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
