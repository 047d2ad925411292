"""``neptune-audit demo --lab``: JupyterLab on working copies of both notebooks, against the simulated account."""
from __future__ import annotations

import os
import sys

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
