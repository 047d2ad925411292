"""Report: execute the audit notebook with papermill, export it with nbconvert to one offline HTML file.

``run_report()`` is the one core function; ``neptune-audit report`` is a thin wrapper over it.
"""
from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from neptune_audit import vocabulary
from neptune_audit.contract import evidence
from neptune_audit.contract import history
from neptune_audit.rule import model
from neptune_audit.errors import InputError, Interrupted, NotebookFailed, by_name
from neptune_audit.contract.files import guard_outputs, write_atomic
from neptune_audit.inputs import shipped
from neptune_audit.options import ScanOptions

MAX_REPORT_INSTANCES = 50_000  # the 10,000-instance report takes ~40 s and ~10 MB (benchmarks/RESULTS.md)


def notebook_path(name: str) -> Path:
    """A notebook shipped with the kit."""
    return shipped(f"notebooks/{name}")


# The executed notebook handed to someone else (`report --notebook`): Run All there re-renders from the evidence
# embedded in the file itself (no AWS access needed), with the filter bar, and writes no history.
DELIVERABLE_PARAMETERS = {"results_files": ["embedded"], "interactive": True, "history_dir": None,
                          "record_history": False}


def set_parameters(nb, values: dict, tag: str, note: str) -> None:
    """Set ``name = value`` lines of the code cell tagged ``tag`` (papermill's "parameters" or
    "injected-parameters"), in place; names the cell does not assign are left out."""
    import re

    cell = next((c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        return
    lines = cell.source.split("\n")
    for key, value in values.items():
        for i, line in enumerate(lines):
            m = re.match(rf"{re.escape(key)}(\s*:\s*[^=]+?)?\s*=", line)  # the type annotation stays
            if m:
                lines[i] = f"{key}{(m.group(1) or '').rstrip()} = {value!r}  # {note}"
    cell.source = "\n".join(lines)


def kernel_metadata() -> dict:
    """The kernelspec and language_info the kernel will report: JupyterLab writes them into a notebook it opens
    when they differ, and marks it unsaved before anything was run.  (ipykernel's own ``language_info`` is not
    imported for it: importing ``ipykernel.ipkernel`` makes every ipywidget of the process use kernel comms.)"""
    import platform

    try:
        from jupyter_client.kernelspec import KernelSpecManager

        spec = KernelSpecManager().get_kernel_spec("python3")
    except Exception:  # noqa: BLE001 - no kernel spec to read: the shipped metadata stays
        return {}
    return {"kernelspec": {"display_name": spec.display_name, "language": spec.language, "name": "python3"},
            "language_info": {"name": "python", "version": platform.python_version(), "mimetype": "text/x-python",
                              "codemirror_mode": {"name": "ipython", "version": 3}, "pygments_lexer": "ipython3",
                              "nbconvert_exporter": "python", "file_extension": ".py"}}


def default_output(prefix: str = "neptune-audit-report") -> Path:
    return Path(f"{prefix}-{date.today().isoformat()}.html")


@dataclass
class Report:
    html_path: Path
    notebook_path: Path | None
    document: dict          # the run's JSON (schema neptune-audit/1), read back from the notebook
    seconds: float
    signature: dict | None = None   # signing.Signer.describe() when signed; FILE.sig beside each file

    @property
    def summary(self) -> dict:
        return self.document["summary"]

    @property
    def exit_code(self) -> int:
        return vocabulary.exit_code(self.summary)


def _relative(path) -> str | None:
    """A path for the kernel, which runs in this working folder: relative, so no deliverable names the maker's
    folders."""
    from neptune_audit.options import relative

    return relative(path) if path else None


def _children_naming(folder: str) -> list[int]:
    """This process's child processes whose command line names ``folder`` (Linux's /proc; elsewhere none)."""
    found: list[int] = []
    me = os.getpid()
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return found
    for entry in entries:
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                ppid = int(fh.read().rsplit(b")", 1)[1].split()[1])
            if ppid != me:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                if folder.encode() in fh.read():
                    found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return found


_HELD = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def signals_held():
    """Ctrl-C, SIGTERM and SIGHUP wait (then arrive) while this block runs in the main thread; elsewhere, or where
    the platform cannot hold signals, nothing changes."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def release_signals() -> None:
    """In a new kernel process, before it runs: none of the parent's held signals stay held."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)


class KernelRuntime:
    """A private folder (mode 0700) for one report's kernel, and the means to end it, whatever happens.

    The kernel's connection file (with its HMAC key), its IPC sockets and its stderr live here, never in the
    working directory, which a scheduler may give read-only (cron's or systemd's ``/``).  ``close()`` stops
    papermill from starting a kernel, kills (and waits for) one it started, and removes the folder.
    """

    # A Unix socket's path must fit in sun_path: 108 bytes on Linux, 104 on macOS.  A long TMPDIR (a CI job's, a
    # scheduler's per-task folder) made ZeroMQ refuse the kernel's sockets ("File name too long": exit 4).
    MAX_SOCKET_PATH = 100

    def __init__(self):
        self.transport = "ipc" if os.name == "posix" else "tcp"
        self.dir = tempfile.mkdtemp(prefix="neptune-audit-")
        if self.transport == "ipc" and not self._fits(self.dir):
            import shutil

            shutil.rmtree(self.dir, ignore_errors=True)
            short = "/tmp" if os.path.isdir("/tmp") and os.access("/tmp", os.W_OK | os.X_OK) else None
            self.dir = tempfile.mkdtemp(prefix="na-", dir=short)
            if not self._fits(self.dir):  # nowhere short enough: loopback TCP, with the same HMAC-signed messages
                self.transport = "tcp"
        self.closed = False
        self.managers: list = []
        # Held across "still open?" and the write or launch it guards, and by close(): otherwise close() could
        # remove the folder while a kernel starts, unseen, and the kernel (ipykernel) recreates a missing folder
        # to write kernel.json, with its key, into it.
        self.lock = threading.RLock()

    def manager_class(self):
        import os

        from jupyter_client.manager import AsyncKernelManager
        from traitlets import default

        runtime = self

        class PrivateKernelManager(AsyncKernelManager):
            def __init__(self, **kw):
                super().__init__(**kw)
                runtime.managers.append(self)

            @default("transport")
            def _transport_default(self):
                # Unix sockets, not loopback TCP: private to this user, and no plain-text warning.
                return runtime.transport

            @default("connection_file")
            def _connection_file_default(self):
                return os.path.join(runtime.dir, "kernel.json")  # the IPC sockets go beside it (kernel-ipc-N)

            def write_connection_file(self, **kw):
                with runtime.lock:
                    runtime.check_open()
                    return super().write_connection_file(**kw)

            async def _async_launch_kernel(self, kernel_cmd, **kw):
                # The lock is held while the process starts (a Popen, no real wait), so close() sees and kills it.
                # papermill runs this loop in the main thread, where Ctrl-C and SIGTERM land: between the Popen and
                # jupyter_client recording the process, close() would not know the kernel, and the kernel would
                # write its key into the folder once more.  The signals wait until the process is recorded; the
                # kernel itself starts with none held.
                with runtime.lock, signals_held():
                    runtime.check_open()
                    # The kernel's own stderr (shutdown chatter such as "KeyboardInterrupt caught in kernel") is
                    # not the user's concern: errors reach them through the executed notebook, in one line.
                    with open(os.path.join(runtime.dir, "kernel-stderr.log"), "wb") as err:
                        return await super()._async_launch_kernel(kernel_cmd, **{**kw, "stderr": err,
                                                                                  "preexec_fn": release_signals})

        return PrivateKernelManager

    @classmethod
    def _fits(cls, folder: str) -> bool:
        return len(os.path.join(folder, "kernel-ipc-99").encode()) <= cls.MAX_SOCKET_PATH

    def check_open(self) -> None:
        if self.closed:
            raise Interrupted("the report was interrupted before its kernel started")

    def close(self) -> None:
        """End the kernel and remove the folder, on every exit path: Ctrl-C, SIGTERM or an error.

        A second Ctrl-C or SIGTERM arriving meanwhile waits until this is done (the signals are held, then
        delivered), so the key file is never left behind half-way through the clean-up."""
        with signals_held():
            self._close()

    def _close(self) -> None:
        import atexit
        import shutil

        with self.lock:
            self.closed = True
            processes = [p for km in self.managers
                         if (p := getattr(getattr(km, "provisioner", None), "process", None)) is not None]
            for process in processes:
                if process.poll() is None:
                    process.kill()
        for process in processes:  # dead before the folder goes: a kernel still starting would write its key there
            try:
                process.wait(timeout=10)
            except Exception:  # noqa: BLE001 - a process that outlives SIGKILL this long: the sweeps below remain
                pass
        # A kernel started a moment before the interrupt may not be recorded yet (Ctrl-C can land between its Popen
        # and jupyter_client keeping the process): found among this process's children by the folder it was given.
        for pid in _children_naming(self.dir):
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError, PermissionError):
                pass
        deadline = time.monotonic() + 5
        while True:  # a write already under way in papermill's thread may land after a pass: look again
            shutil.rmtree(self.dir, ignore_errors=True)
            time.sleep(0.05)
            if not os.path.lexists(self.dir) or time.monotonic() > deadline:
                break
        # papermill's thread is not ours to stop; the interpreter waits for it, then this last sweep runs
        atexit.register(shutil.rmtree, self.dir, ignore_errors=True)


def preflight(options: ScanOptions, history_dir=None, from_files=()) -> None:
    """What a report can check before a kernel starts: the options, the history folder, the credentials
    (or, from saved scans, that they are valid shards of one audit)."""
    from neptune_audit.core import read_inputs

    read_inputs(options)
    if history_dir:
        history.check_folder(history_dir)
    if from_files:
        from neptune_audit.contract import saved

        doc = saved.merge([saved.read(p) for p in from_files])
        if len(doc["findings"]) > MAX_REPORT_INSTANCES:
            raise InputError(f"the saved scans hold {len(doc['findings']):,} instances; a report renders at most "
                             f"{MAX_REPORT_INSTANCES:,} (its tables and evidence would not open in a browser): use "
                             "`neptune-audit merge` for the JSON and `scan --format csv` for a spreadsheet, or report "
                             "on fewer shards")
    elif not options.demo:
        from neptune_audit.aws import accounts, connection

        accounts.check_credentials(connection.Connection(max_workers=options.max_workers), options.profiles,
                                  options.region_list)


def to_html(nb) -> str:
    """Export an executed notebook to self-contained HTML without code cells."""
    from nbconvert import HTMLExporter

    templates = str(Path(__file__).resolve().parent / "templates")
    exporter = HTMLExporter(template_name="offline", extra_template_basedirs=[templates],
                            exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": f"{model.metadata().id} audit report"}})
    return body


def _stage(text: str) -> None:
    import sys

    print(f"neptune-audit: {text}", file=sys.stderr, flush=True)


def run_report(options: ScanOptions | None = None, output=None, keep_notebook=None, history_dir=None,
               kernel_name: str = "python3", from_files=(), sign: str | None = None, progress: bool = False,
               **fields) -> Report:
    """Run the audit notebook for these targets, or on saved scans (``from_files``, several = shards), and write
    the HTML report (and, with ``keep_notebook``, the executed notebook); bad input raises UsageError.
    ``progress``: say on stderr what it is doing, with the notebook's cells as a progress bar (a terminal).

    ``sign``: ``KEY.pem`` or ``kms:KEY`` signs every byte of each file written (``FILE.sig`` beside it).
    Everything that can be checked is checked before a kernel starts, the signing key included.  The run is saved
    in ``history_dir`` only once its report is written.
    """
    from neptune_audit.contract import signing

    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    start = time.monotonic()
    options = options or ScanOptions.from_fields(**fields)
    inputs = {"--exceptions": options.exceptions_file, "--engine-calendar": options.engine_calendar,
              "--sign": sign if sign and not str(sign).startswith("kms:") else None,
              **{f"--from {p}": p for p in from_files}}
    outs = guard_outputs({"-o": output or default_output(), "--notebook": keep_notebook}, inputs,
                         signed=("-o", "--notebook") if sign else ())
    html_path = outs["-o"]
    signer = None
    if sign:
        signer = signing.signer_for(sign)
    preflight(options, history_dir, from_files)
    # interactive=False: no progress or filter bar widgets in a file that is read without a kernel
    params = {**options.as_parameters(), "history_dir": _relative(history_dir), "record_history": False,
              "interactive": False, "signer": signer.describe() if signer else None,
              "results_files": [_relative(p) for p in from_files]}
    say = _stage if progress else (lambda text: None)
    say("starting the notebook's kernel, then the audit notebook runs cell by cell (the scan is its first cells)")
    runtime = KernelRuntime()
    try:
        executed = Path(runtime.dir) / "audit.ipynb"
        try:
            papermill.execute_notebook(str(notebook_path("audit.ipynb")), str(executed), parameters=params,
                                       kernel_name=kernel_name, progress_bar=progress, log_output=False,
                                       cwd=str(Path.cwd()), kernel_manager_class=runtime.manager_class())
        except PapermillExecutionError as exc:
            message = exc.evalue.splitlines()[0] if exc.evalue else ""
            known = by_name(exc.ename)
            if known is not None and known.exit_code == 2:  # bad input only the scan could see (a region AWS
                raise known(message) from None               # does not know, credentials it refused)
            kept = keep_notebook or html_path.with_suffix(".failed.ipynb")
            write_atomic(kept, executed.read_bytes())
            raise NotebookFailed(f"the audit notebook failed in cell {exc.exec_count}: {exc.ename}: {message} "
                                 f"(executed notebook kept at {kept})") from None
        say(f"rendering {html_path.name} (one self-contained HTML file)" + (", then signing it" if signer else ""))
        nb = nbformat.read(str(executed), as_version=4)
        # papermill records where it read and wrote: the kit's install folder and a private temporary one, neither
        # of which means anything to whoever receives the notebook (and the first names the maker's folders)
        record = nb.metadata.get("papermill")
        if isinstance(record, dict):
            record["input_path"] = "audit.ipynb"
            record["output_path"] = Path(keep_notebook).name if keep_notebook else html_path.with_suffix(".ipynb").name
        html = to_html(nb).encode("utf-8")
        # The run's JSON as embedded (the notebook file itself re-orders JSON keys): what the report vouches for.
        document = evidence.extract(html.decode("utf-8"), "the executed audit notebook")
        if keep_notebook:
            set_parameters(nb, DELIVERABLE_PARAMETERS, "injected-parameters",
                           "set by `neptune-audit report --notebook`: Run All re-renders this notebook's own evidence")
            # written as JupyterLab saves it (nbformat, the kernel's metadata), so opening it does not mark it changed
            nb.metadata.update(kernel_metadata())
        files = {html_path: html, **({Path(keep_notebook): nbformat.writes(nb).encode("utf-8")} if keep_notebook
                                     else {})}
        # Signed before anything is written: a key that fails (KMS denied, throttled) leaves no unsigned file.
        envelopes = {path: signing.envelope(path.name, data, signer, evidence.digest(document))
                     for path, data in files.items()} if signer else {}
        for path, data in files.items():
            sig = signing.signature_path(path)
            if path in envelopes:
                write_atomic(sig, envelopes[path], follow_links=False)
            elif os.path.lexists(sig):
                # an unsigned rewrite: the old signature speaks of other bytes, and `evidence` would blame a change
                os.unlink(sig)
            write_atomic(path, data)
    finally:
        runtime.close()
    if history_dir:
        history.record_document(document, history_dir)
    return Report(html_path=html_path, notebook_path=Path(keep_notebook) if keep_notebook else None,
                  document=document, seconds=time.monotonic() - start,
                  signature=signer.describe() if signer else None)
