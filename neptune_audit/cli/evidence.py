"""`evidence` and `merge`: what a report or saved scan vouches for, and shards made one."""
from __future__ import annotations

import sys

from neptune_audit.errors import UsageError
from neptune_audit.vocabulary import EXIT_OK


def add_parsers(sub) -> None:
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

    merge = sub.add_parser("merge", help="merge saved scans (shards of one audit) into one JSON document")
    merge.add_argument("files", nargs="+", metavar="FILE.json")
    merge.add_argument("-o", "--output", metavar="FILE.json", required=True, help="where to write the merged JSON")
    merge.set_defaults(func=cmd_merge)


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
