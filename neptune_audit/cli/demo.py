"""`demo`, `notebooks` and `completion`: the simulated account, the shipped files, the shell."""
from __future__ import annotations

import sys

from neptune_audit.cli.common import PROG, needs_demo_extra, port
from neptune_audit.cli.scan import report_summary
from neptune_audit.vocabulary import EXIT_OK


def add_parsers(sub) -> None:
    demo = sub.add_parser("demo", help="write the demo report from the simulated account, or serve it (--serve)")
    demo.add_argument("--serve", action="store_true",
                      help="start the simulated account as a local endpoint and print how to use it")
    demo.add_argument("--port", type=port, default=5000, help="port for --serve and --lab (default: 5000)")
    demo.add_argument("--lab", action="store_true",
                      help="serve the simulated account and open JupyterLab on working copies of the notebooks")
    demo.add_argument("--lab-dir", metavar="DIR", default="lab",
                      help="folder of the working copies for --lab (default: ./lab; kept between runs)")
    demo.add_argument("-o", "--output", metavar="FILE.html",
                      help="where to write the demo report (default: reports/neptune-audit-demo-DATE.html)")
    demo.set_defaults(func=cmd_demo)

    nbs = sub.add_parser("notebooks", help="copy the notebooks, the example exceptions and the Airflow DAG out of "
                                           "the installed kit into DIR")
    nbs.add_argument("folder", metavar="DIR")
    nbs.set_defaults(func=cmd_notebooks)

    comp = sub.add_parser("completion", help="print the shell completion script (eval it, or save it where your "
                                             "shell loads completions)")
    comp.add_argument("shell", choices=("bash", "zsh", "fish"))
    comp.set_defaults(func=cmd_completion)


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

    needs_demo_extra()
    from neptune_audit.options import ScanOptions
    from neptune_audit.present.report import default_output, run_report
    from neptune_audit.simulate.estate import example_code, example_exceptions

    out = Path(args.output) if args.output else Path("reports") / default_output("neptune-audit-demo")
    if not args.output:
        out.parent.mkdir(parents=True, exist_ok=True)
    options = ScanOptions(demo=True, organization=True, exceptions_file=example_exceptions(),
                          iac_paths=(example_code(),))
    rep = run_report(options, output=out, history_dir=out.parent / "history", progress=sys.stderr.isatty())
    print(report_summary(rep))
    return EXIT_OK  # the simulated estate fails on purpose; the demo succeeded once the report is written
