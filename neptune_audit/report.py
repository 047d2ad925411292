"""Report: execute the audit notebook with papermill, export it with nbconvert to one offline HTML file.

``run_report()`` is the one core function; ``neptune-audit report`` is a thin wrapper over it.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from . import exceptions as exc_rules
from . import rule, targets
from .audit import check_max_workers, exit_code
from .errors import UsageError
from .export import check_writable, write_atomic
from .present import RESULT_MIME

HERE = Path(__file__).resolve().parent


def notebook_path(name: str) -> Path:
    """A notebook shipped with the kit: inside the installed package, or ``notebooks/`` in a checkout."""
    for candidate in (HERE / "notebooks" / name, HERE.parent / "notebooks" / name):
        if candidate.exists():
            return candidate
    raise UsageError(f"notebook {name} is missing from this installation")


def default_output(prefix: str = "neptune-audit-report") -> Path:
    return Path(f"{prefix}-{date.today().isoformat()}.html")


@dataclass
class Report:
    html_path: Path
    notebook_path: Path | None
    document: dict          # the run's JSON (schema neptune-audit/1), read back from the notebook
    seconds: float

    @property
    def summary(self) -> dict:
        return self.document["summary"]

    @property
    def exit_code(self) -> int:
        return exit_code(self.summary)


def _absolute(path) -> str | None:
    return str(Path(path).resolve()) if path else None


def _run_document(nb) -> dict:
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if RESULT_MIME in out.get("data", {}):
                return out["data"][RESULT_MIME]
    raise UsageError("the audit notebook ran but produced no result (was it edited?)")


def _kernel_manager_class():
    """Kernels on Unix sockets (IPC), not loopback TCP: private to this user, and no plain-text warning."""
    import os

    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    if os.name != "posix":
        return AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        @default("transport")
        def _transport_default(self):
            return "ipc"

    return IPCKernelManager


def to_html(nb) -> str:
    """Export an executed notebook to self-contained HTML without code cells."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="offline", extra_template_basedirs=[str(HERE / "templates")],
                            exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": f"{rule.metadata()['id']} audit report"}})
    return body


def run_report(output=None, keep_notebook=None, history_dir=None, exceptions_file=None, regions="all",
               profiles=(), role_arns=(), organization=False, role_name=targets.DEFAULT_ROLE_NAME,
               demo=False, max_workers: int = 16, kernel_name: str = "python3") -> Report:
    """Run the audit notebook for these targets and write the HTML report; bad input raises UsageError."""
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    start = time.monotonic()
    # Refuse bad input before starting a kernel.
    targets.parse_regions(regions)
    exc_rules.load(exceptions_file)
    for arn in role_arns:
        targets.validate_role_arn(arn)
    check_max_workers(max_workers)
    html_path = check_writable(output or default_output())
    if keep_notebook:
        check_writable(keep_notebook)
    params = {"regions": regions, "profiles": list(profiles), "role_arns": list(role_arns),
              "organization": organization, "role_name": role_name, "demo": demo, "max_workers": max_workers,
              "exceptions_file": _absolute(exceptions_file), "history_dir": _absolute(history_dir)}
    with tempfile.TemporaryDirectory(prefix="neptune-audit-") as tmp:
        executed = Path(keep_notebook) if keep_notebook else Path(tmp) / "audit.ipynb"
        try:
            papermill.execute_notebook(str(notebook_path("audit.ipynb")), str(executed), parameters=params,
                                       kernel_name=kernel_name, progress_bar=False, log_output=False,
                                       cwd=str(Path.cwd()), kernel_manager_class=_kernel_manager_class())
        except PapermillExecutionError as exc:
            kept = executed if keep_notebook else html_path.with_suffix(".failed.ipynb")
            if not keep_notebook:
                write_atomic(kept, executed.read_text(encoding="utf-8"))
            raise UsageError(f"the audit notebook failed in cell {exc.exec_count}: {exc.ename}: "
                             f"{exc.evalue.splitlines()[0] if exc.evalue else ''} (executed notebook kept at {kept})"
                             ) from None
        nb = nbformat.read(str(executed), as_version=4)
        document = _run_document(nb)
        write_atomic(html_path, to_html(nb))
    return Report(html_path=html_path, notebook_path=Path(keep_notebook) if keep_notebook else None,
                  document=document, seconds=time.monotonic() - start)
