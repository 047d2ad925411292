"""The demo, served: the simulated account on a port (``demo --serve``), JupyterLab on working copies of both
notebooks against it (``demo --lab``), and the shipped notebooks and examples copied out (``notebooks``)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from neptune_audit.errors import UsageError
from neptune_audit.inputs import shipped
from neptune_audit.simulate.estate import example_code, example_exceptions
from neptune_audit.simulate.server import client_env


LAB_PARAMETERS = {"organization": True, "history_dir": "history"}  # and the example exceptions file


def prepare_lab(folder, **overrides) -> list:
    """Working copies of both notebooks in ``folder`` for ``demo --lab``, set for the full demo: the simulated
    Organization, the example exceptions, a history folder.

    JupyterLab saves (and autosaves) outputs into the notebooks it opens: opening copies keeps the tracked
    notebooks clean.  A copy that exists is the user's and is kept.  ``overrides`` (e.g. ``apply=True``) go to
    each notebook that declares them.
    """
    from pathlib import Path

    import nbformat

    from neptune_audit.present.report import kernel_metadata, notebook_path, set_parameters

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {**LAB_PARAMETERS, "exceptions_file": example_exceptions(), "iac_paths": [example_code()], **overrides}
    paths = []
    for name in ("audit.ipynb", "remediate.ipynb"):
        target = folder / name
        paths.append(target)
        if target.exists():
            continue
        nb = nbformat.read(notebook_path(name), as_version=4)
        # The values go into the parameters cell itself rather than into a second cell papermill would inject
        # below it: a newcomer reads one set of parameters, and it is the one in effect.
        set_parameters(nb, wanted, "parameters", "set by `neptune-audit demo --lab`")
        nb.metadata.update(kernel_metadata())
        nbformat.write(nb, target)
    return paths


# JupyterLab leaves widget state out of saved notebooks unless told (ipywidgets' saveState, off by default): the
# filter bar of a saved notebook would then reopen as "Error displaying widget: model not found".
WIDGET_SETTINGS = ("@jupyter-widgets", "jupyterlab-manager", "plugin.jupyterlab-settings")


def lab_command(endpoint_url: str, folder, settings_dir=None) -> tuple[list[str], dict, str | None]:
    """How to start JupyterLab on ``folder`` against the simulated account at ``endpoint_url``: command,
    environment, and a note to print.  Its user settings live in ``settings_dir`` (default: ``folder``'s
    ``.jupyterlab-settings``, so the demo never edits your own), with widget state saved into notebooks."""
    import json
    from pathlib import Path

    settings = Path(settings_dir) if settings_dir else Path(folder) / ".jupyterlab-settings"
    widget_file = settings.joinpath(*WIDGET_SETTINGS)
    if not widget_file.exists():
        widget_file.parent.mkdir(parents=True, exist_ok=True)
        widget_file.write_text(json.dumps({"saveState": True}) + "\n")
    command = [sys.executable, "-m", "jupyterlab", str(folder)]
    note = None
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # JupyterLab refuses to run as root without --allow-root (it would serve root's files to the browser).
        command.append("--allow-root")
        note = ("Warning: running as root, so JupyterLab starts with --allow-root. That is fine in a throwaway "
                "container; elsewhere run `neptune-audit demo --lab` as an ordinary user.")
    return command, {**client_env(endpoint_url), "JUPYTERLAB_SETTINGS_DIR": str(settings)}, note


SHIPPED = {"notebooks": ("audit.ipynb", "remediate.ipynb"), "examples": ("exceptions.yml",),
           "examples/airflow": ("neptune_audit_dag.py", "requirements.txt"),
           "examples/iac/cloudformation": ("graph-stack.yaml",), "examples/iac/terraform": ("main.tf",)}


def copy_shipped(folder) -> tuple[list[Path], list[Path]]:
    """Copy the notebooks, the example exceptions and the Airflow DAG out of the kit (the installed package or a
    checkout) into ``folder``; a file already there is the user's and is kept.  Returns (written, kept).  The
    names are the kit's own: a symbolic link among them (or as a subfolder) is refused, never written through."""
    target = Path(folder)
    if target.exists() and not target.is_dir():
        raise UsageError(f"not a folder: {target}")
    written, kept = [], []
    for sub, names in SHIPPED.items():
        for name in names:
            source = shipped(f"{sub}/{name}")
            dest = target / sub / name
            for place in (dest.parent, dest):
                if os.path.islink(place):
                    raise UsageError(f"{place} is a symbolic link: refused (nothing is written through a link)")
            if os.path.lexists(dest):
                kept.append(dest)
                continue
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(source.read_bytes())
            except OSError as exc:
                raise UsageError(f"cannot write {dest}: {exc.strerror or exc}") from None
            written.append(dest)
    return written, kept


def serve_demo(port: int, lab: str | None) -> int:
    """Run the simulated account on ``port`` until Ctrl-C, or for as long as JupyterLab runs on it."""
    import importlib.util
    import threading

    from neptune_audit import simulate

    if simulate.moto_missing():
        raise UsageError(simulate.NEEDS_DEMO_EXTRA)
    if lab and importlib.util.find_spec("jupyterlab") is None:  # before a port is taken or a file written
        raise UsageError("JupyterLab is not installed: pip install 'neptune-audit[lab]'")

    from neptune_audit.simulate.server import DemoServer

    import socket

    probe = socket.socket()
    # as the server binds (SO_REUSEADDR): a port the last run left in TIME_WAIT is free, one in use is not
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:  # werkzeug reports a busy port from its own thread and keeps going: ask first
        probe.bind(("127.0.0.1", port))
    except OSError as exc:
        raise UsageError(f"cannot listen on port {port}: {exc.strerror or exc} (choose another with --port)") from None
    finally:
        probe.close()
    try:
        server = DemoServer(port=port)
    except OSError as exc:
        raise UsageError(f"cannot listen on port {port}: {exc.strerror or exc}") from None
    try:
        if lab:
            import subprocess

            try:
                prepare_lab(lab)
            except OSError as exc:
                raise UsageError(f"cannot write the notebooks' working copies in {lab}: {exc.strerror or exc}") from None
            command, env, note = lab_command(server.endpoint_url, lab)
            print(f"Simulated AWS account at {server.endpoint_url}; JupyterLab sees it through AWS_ENDPOINT_URL.\n"
                  f"JupyterLab opens working copies of the notebooks in {lab}/ (set for the simulated Organization "
                  "and the example exceptions; yours to edit: delete them to start over)."
                  + (f"\n{note}" if note else ""), flush=True)
            return subprocess.call(command, env=env)
        print(f"Simulated AWS account running at {server.endpoint_url} (Ctrl-C to stop).\n"
              "Use it from another shell or from JupyterLab with these dummy credentials:\n\n"
              f"  export AWS_ENDPOINT_URL={server.endpoint_url}\n"
              "  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1\n"
              "  neptune-audit scan --organization\n", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()
    return 0
