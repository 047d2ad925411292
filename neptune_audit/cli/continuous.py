"""`continuous template|package|deploy`: the rule on CloudTrail's events, as a Lambda function in each account and
region (see ``neptune_audit.continuous``)."""
from __future__ import annotations

import re
import sys

from neptune_audit.errors import UsageError
from neptune_audit.vocabulary import EXIT_OK

_SNS_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")


def add_parsers(sub) -> None:
    cont = sub.add_parser("continuous", help="judge each change when it happens: a Lambda function on CloudTrail's "
                                             "RDS events, with a daily rescan (CloudFormation, StackSet-ready)")
    verbs = cont.add_subparsers(dest="continuous_command", metavar="template|package|deploy",
                                parser_class=type(cont))
    verbs.required = True
    tpl = verbs.add_parser("template", help="write the CloudFormation template (one account and region a stack)")
    _stack_options(tpl)
    tpl.add_argument("-o", "--output", metavar="FILE", default="-", help="where to write it (default: stdout)")
    tpl.set_defaults(func=cmd_template)
    pkg = verbs.add_parser("package", help="build the function's deployment zip (manylinux wheels from the index)")
    pkg.add_argument("-o", "--output", metavar="FILE", required=True, help="the zip to write")
    pkg.add_argument("--python-version", default="3.12", metavar="X.Y",
                     help="the function's Python (default 3.12, the template's runtime)")
    pkg.set_defaults(func=cmd_package)
    dep = verbs.add_parser("deploy", help="upload the package to a bucket and create or update the stack, here")
    _stack_options(dep)
    dep.add_argument("--bucket", required=True, help="a bucket in the stack's region for the package")
    dep.add_argument("--package", metavar="ZIP", help="an existing package (default: build one)")
    dep.add_argument("--stack-name", default="neptune-audit-continuous")
    dep.add_argument("--region", help="the region to deploy to (default: your configuration's)")
    dep.add_argument("--profile", help="the AWS profile to deploy with")
    dep.set_defaults(func=cmd_deploy)


def _stack_options(p) -> None:
    p.add_argument("--organization", action="store_true",
                   help="for a service-managed StackSet: the code bucket is PREFIX-REGION in each region")
    p.add_argument("--sns-topic", metavar="ARN", help="also publish each FAIL an event causes to this topic")
    p.add_argument("--auto-remediate", action="store_true",
                   help="turn the setting back on for failing instances no code owns (off by default)")


def _template(args) -> dict:
    from neptune_audit.continuous.template import template

    if args.sns_topic and not _SNS_ARN.match(args.sns_topic):
        raise UsageError(f"--sns-topic: not an SNS topic ARN: {args.sns_topic[:80]!r}")
    return template(organization=args.organization, sns_topic=args.sns_topic, auto_remediate=args.auto_remediate)


def cmd_template(args) -> int:
    from neptune_audit.contract.files import guard_outputs, write_atomic
    from neptune_audit.continuous.template import dump

    outputs = guard_outputs({"-o": args.output}, stdout_ok=("-o",))
    write_atomic(outputs["-o"], dump(_template(args)))
    return EXIT_OK


def cmd_package(args) -> int:
    from neptune_audit.contract.files import guard_outputs
    from neptune_audit.continuous.package import build

    if not re.fullmatch(r"3\.\d{1,2}", args.python_version):
        raise UsageError(f"--python-version: X.Y, not {args.python_version[:20]!r}")
    outputs = guard_outputs({"-o": args.output})
    built = build(outputs["-o"], python_version=args.python_version)
    sys.stderr.write(f"{built['path']}: {built['zipped_bytes'] / 1e6:.1f} MB zipped, "
                     f"{built['unzipped_bytes'] / 1e6:.1f} MB unzipped (Lambda: 50 MB, 250 MB)\n")
    return EXIT_OK


def cmd_deploy(args) -> int:
    import tempfile
    from pathlib import Path

    import boto3

    from neptune_audit.continuous.package import build
    from neptune_audit.continuous.template import dump

    doc = _template(args)
    session = boto3.Session(profile_name=args.profile, region_name=args.region)
    region = session.region_name
    if not region:
        raise UsageError("no region: pass --region or configure one")
    key = "neptune-audit/function.zip"
    with tempfile.TemporaryDirectory() as tmp:
        package = Path(args.package) if args.package else Path(tmp) / "function.zip"
        if not args.package:
            build(package)
        elif not package.is_file():
            raise UsageError(f"--package: no such file: {args.package}")
        session.client("s3").upload_file(str(package), args.bucket, key)
    cfn = session.client("cloudformation")
    params = [{"ParameterKey": "CodeBucketPrefix" if args.organization else "CodeBucket",
               "ParameterValue": args.bucket.removesuffix(f"-{region}") if args.organization else args.bucket},
              {"ParameterKey": "CodeKey", "ParameterValue": key}]
    common = {"StackName": args.stack_name, "TemplateBody": dump(doc), "Parameters": params,
              "Capabilities": ["CAPABILITY_IAM"]}
    try:
        cfn.describe_stacks(StackName=args.stack_name)
        exists = True
    except cfn.exceptions.ClientError:
        exists = False
    if exists:
        cfn.update_stack(**common)
        cfn.get_waiter("stack_update_complete").wait(StackName=args.stack_name)
    else:
        cfn.create_stack(**common)
        cfn.get_waiter("stack_create_complete").wait(StackName=args.stack_name)
    sys.stderr.write(f"stack {args.stack_name} {'updated' if exists else 'created'} in {region}\n")
    return EXIT_OK
