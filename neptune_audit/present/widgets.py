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


def show(box) -> None:
    """Display a ``live()`` box with its sentence as the HTML and text fallback of the output."""
    from IPython.display import display

    bundle = dict(box._repr_mimebundle_() or {})
    text = getattr(box, "_na_offline", "")
    bundle["text/plain"] = text
    bundle["text/html"] = f'<div class="na-offline" role="note">{html.escape(text)}</div>'
    display(bundle, raw=True)
