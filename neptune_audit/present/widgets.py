"""Widgets that say, in words, when nothing runs them.

A notebook saved with its widget state reopens with the controls drawn but no kernel behind them (ipywidgets marks
each such view ``jupyter-widgets-disconnected``); an untrusted notebook, GitHub or nbconvert draws no widget at all
and shows the output's text instead.  ``show()`` covers both: CSS inside the widget hides its controls and shows
``offline`` while it is disconnected, and the same words are the output's HTML and plain-text fallback, so nobody
meets dead controls or ``VBox(children=(...``.
"""
from __future__ import annotations

import html

_CSS = ("<style>.na-live.jupyter-widgets-disconnected .na-control{display:none!important}"
        ".na-live:not(.jupyter-widgets-disconnected) .na-offline{display:none!important}"
        ".na-offline{padding:.5em .8em;border-left:4px solid #7f8c8d;"
        "background:var(--jp-layout-color2,#f4f6f6);color:var(--jp-content-font-color1,#1a1a1a)}</style>")


def live(box, controls, offline: str):
    """Mark ``box`` (an ipywidgets container) as needing a kernel: ``controls`` hide and the ``offline`` sentence
    shows while it is disconnected.  Returns ``box``, its first child now that sentence (with the CSS)."""
    import ipywidgets as w

    box.add_class("na-live")
    for control in controls:
        control.add_class("na-control")
    note = w.HTML(f'{_CSS}<div class="na-offline" role="note">{html.escape(offline)}</div>')
    box.children = (note, *box.children)
    box._na_offline = offline  # noqa: SLF001 - read back by show()
    return box


def offline_bundle(text: str) -> dict:
    """An output's data that says what a control needs, and holds no widget."""
    return {"text/plain": text, "text/html": f'{_CSS}<div class="na-offline" role="note">{html.escape(text)}</div>'}


def show(box):
    """Display a ``live()`` box with its sentence as the HTML and text fallback of the output; returns the display's
    handle (its id lets the output be replaced later)."""
    from IPython.display import display

    return display(bundle(box), raw=True, display_id=True)


def bundle(box) -> dict:
    """A ``live()`` box's output data: the widget, with its sentence as the HTML and text fallback."""
    data = dict(box._repr_mimebundle_() or {})
    data.update(offline_bundle(getattr(box, "_na_offline", "")))
    return data


def hand_over_at_exit(handle, text: str) -> None:
    """At the kernel's exit, the live output behind ``handle`` becomes ``text`` (no widget left to look for): a copy
    saved after the kernel is gone says what the control needs, never "Error displaying widget".  Best effort: the
    front end hears it only while still connected (a kernel shut down from JupyterLab; not one that crashed)."""
    import atexit

    def replace():
        try:
            handle.update(offline_bundle(text), raw=True)
        except Exception:  # noqa: BLE001 - the kernel is going away: a closed channel is no error of the user's
            pass

    atexit.register(replace)
