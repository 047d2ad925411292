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

from neptune_audit._version import __version__
from neptune_audit.cli import calendar, continuous, demo, evidence, iac, remediate, scan
from neptune_audit.cli.common import FLAGS, PROG, Parser
from neptune_audit.errors import NeptuneAuditError, OptionError, one_line
from neptune_audit.vocabulary import EXIT_INTERNAL

# One module per group of commands, each adding its own subparsers, in the order --help lists them.
GROUPS = (scan, remediate, evidence, iac, calendar, continuous, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog=PROG, description="Audit Amazon Neptune instances for Auto Minor Version "
                                            "Upgrade (Conformity Neptune-001).")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="say more on stderr: -v what the scan did, -vv debugging detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for group in GROUPS:
        group.add_parsers(sub)
    for command in sub.choices.values():  # -v after the command too (`scan -v`), as people type it
        if any("--verbose" in a.option_strings for a in command._actions):
            continue
        command.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                             help="say more on stderr: -v what the scan did, -vv debugging detail")
    return parser


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
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt)
    try:
        code = main(own_process=True)
    except (KeyboardInterrupt, Terminated) as exc:  # one arriving after main() had handled the first
        code = 130 if isinstance(exc, KeyboardInterrupt) else 143
    # The run is over, its exit status decided: a signal arriving now (a second Ctrl-C, one a library relays to the
    # process group) must not kill the process on its way out and change that status.
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) in (_interrupt, _terminate):
            signal.signal(signum, signal.SIG_IGN)
    # At exit the interpreter would collect everything still loaded (service models, pandas): 0.25-0.34 s after a
    # scan.  Frozen objects are freed by reference counting alone.
    gc.freeze()
    sys.exit(code)


_interrupted: list[bool] = []


def _interrupt(signum, frame):
    """Ctrl-C: the first unwinds the run (every clean-up runs); another while it unwinds is ignored, so the
    clean-up (the kernel's key file removed) is never cut short."""
    if not _interrupted:
        _interrupted.append(True)
        raise KeyboardInterrupt
