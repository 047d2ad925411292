"""A scan that runs while the notebook goes on: progress where the user looks during Run All.

JupyterLab's Run All moves the view to the last cell, and with the scan cell blocking, nothing under that view moved
until the end.  With ``present.start(..., live=True)`` the scan runs in a thread of its own; every later cell returns
at once with a placeholder that shows the scan's progress in its place, and is filled (by display id) when the
result is there; the last cell (``present.finish``) waits for it, showing the same progress, so a kernel never
finishes the notebook before its outputs.  The HTML report (``live=False``) scans first, as before.
"""
from __future__ import annotations

import html
import threading
import time
from typing import Any, Callable

SLOTS = 4            # outputs a deferred section may show (its HTML, a chart, its words...); the rest join the last
_EVERY = 0.25        # seconds between two progress updates of the placeholders
_IDLE_FILL = 2.0     # seconds after the scan a kernel left idle draws what waited
_STYLE = ("<style>.na-wait{padding:.5em .8em;border-left:4px solid var(--jp-brand-color1,#1f618d);"
          "background:var(--jp-layout-color2,#f4f6f7);color:var(--jp-ui-font-color1,#222);font-family:system-ui,"
          "sans-serif}.na-wait progress{vertical-align:middle;margin:0 .6em;width:14em}</style>")


class Pending:
    """The result of a scan still running.  ``defer(fn)``: show ``fn(result)``'s outputs here when it is done (the
    scan's progress until then); ``when_done(fn)``: call ``fn(result)`` then; ``wait()``: block until then."""

    def __init__(self, run: Callable[[Any], Any]):
        self.result: Any = None
        self.error: BaseException | None = None
        self._finished = False             # the scan has ended (a result or an error)
        self._filled = False               # what was deferred is drawn (in the kernel's main thread)
        self._ended = threading.Event()
        self._done = threading.Event()
        self.lock = threading.RLock()
        self._deferred: list[tuple[list, Callable]] = []
        self._callbacks: list[Callable] = []
        self._live: list = []              # the placeholders showing progress
        self._n, self._total, self._last = 0, 0, 0.0
        self._shell, self._loop = _kernel_loop()
        if self._shell is not None:
            self._shell.events.register("pre_run_cell", self._before_cell)
        self._thread = threading.Thread(target=self._run, args=(run,), name="neptune-audit-scan", daemon=True)
        self._thread.start()

    def _before_cell(self, *_args) -> None:
        """Each cell's start, in the kernel's main thread: the scan over, draw what waited (in this cell's time)."""
        if self._ended.is_set() and not self._filled:
            self._fill_all()

    # --- the Progress protocol (aws.inventory.Progress): counts, shown in every placeholder ---

    def start(self, accounts: int, per_account: float) -> None:
        self._total = max(1, round(accounts * per_account))
        self._show(force=True)

    def listed_account(self, tasks: int) -> None:
        self._show()

    def done(self) -> None:
        self._n += 1
        self._total = max(self._total, self._n)
        self._show()

    def close(self) -> None:
        pass

    # --- deferring ---

    def defer(self, fn: Callable) -> None:
        """Show ``fn(result)`` in this cell's place: now if the result is there, else when it is."""
        from IPython.display import display

        with self.lock:
            if not self._filled:
                slots = [display(self._bundle() if i == 0 else {"text/plain": ""}, raw=True, display_id=True)
                         for i in range(SLOTS)]
                self._live.append(slots[0])
                self._deferred.append((slots, fn))
                return
        self._raise()
        fn(self.result)

    def watch(self, slot) -> None:
        """Show the scan's progress in ``slot`` (a display handle) until the result is there."""
        with self.lock:
            if not self._filled:
                slot.update(self._bundle(), raw=True)
                self._live.append(slot)

    def _quietly(self, fn: Callable) -> None:
        """``fn(result)`` in the scan's thread; a failure is said in the log, never kills the thread."""
        try:
            fn(self.result)
        except Exception:  # noqa: BLE001
            import logging

            logging.getLogger(__name__).exception("drawing after the scan failed")

    def when_done(self, fn: Callable) -> None:
        with self.lock:
            if not self._filled:
                self._callbacks.append(fn)
                return
        if self.error is None:
            fn(self.result)

    def wait(self):
        """The result, once the scan is done (its progress shown here meanwhile); the scan's error, raised here."""
        from IPython.display import display

        with self.lock:
            waiting = None if self._finished else display(self._bundle(), raw=True, display_id=True)
            if waiting is not None:
                self._live.append(waiting)
        self._ended.wait()
        self._fill_all()  # here, in the main thread: the kernel's loop cannot run while this cell waits
        if waiting is not None:
            waiting.update({"text/plain": ""}, raw=True)
        self._raise()
        return self.result

    # --- the scan's thread ---

    def _run(self, run: Callable) -> None:
        try:
            self.result = run(self)
        except BaseException as exc:  # noqa: BLE001 - said in every placeholder, raised where the notebook waits
            self.error = exc
        with self.lock:
            self._finished = True
        self._ended.set()
        # Drawing swaps IPython's display publisher (capture_output): only ever in the kernel's main thread, between
        # two requests (the kernel's own loop), or in the cell that waits (wait()), never in this thread.
        if self._shell is None:  # no IPython here: nothing to swap
            self._fill_all()
        elif self._loop is not None:
            # A notebook left idle (cells run one by one) is drawn by the kernel's loop; a run that goes on draws
            # at the start of its next cell (pre_run_cell) or in the cell that waits, while a cell runs, where
            # papermill records it too.
            self._loop.add_callback(self._loop.call_later, _IDLE_FILL, self._fill_all)  # add_callback: the thread-safe one

    def _fill_all(self) -> None:
        with self.lock:
            if self._filled:
                return
            self._filled = True
            for fn in self._callbacks:  # first: what the deferred sections may build on (an explorer's bar)
                if self.error is None:
                    self._quietly(fn)
            for slots, fn in self._deferred:
                self._fill(slots, fn)
            self._deferred.clear()
            self._callbacks.clear()
            self._live.clear()
        self._done.set()
        if self._shell is not None:
            try:
                self._shell.events.unregister("pre_run_cell", self._before_cell)
            except ValueError:
                pass

    def _fill(self, slots: list, fn: Callable) -> None:
        from IPython.utils.capture import capture_output

        if self.error is not None:
            slots[0].update(self._bundle(), raw=True)
            return
        with capture_output(stdout=False, stderr=False) as shown:
            try:
                fn(self.result)
            except Exception as exc:  # noqa: BLE001 - a section that fails says so in its place
                from neptune_audit.errors import one_line

                shown.outputs.clear()
                slots[0].update({"text/plain": f"This section could not be drawn: {one_line(exc)}"}, raw=True)
                return
        bundles = [dict(o.data) for o in shown.outputs]
        if len(bundles) > SLOTS:  # the rest as one HTML output (sections show HTML beyond their chart)
            tail = "".join(b.get("text/html") or html.escape(b.get("text/plain", "")) for b in bundles[SLOTS - 1:])
            bundles = [*bundles[:SLOTS - 1], {"text/html": tail}]
        for i, slot in enumerate(slots):
            slot.update(bundles[i] if i < len(bundles) else {"text/plain": ""}, raw=True)

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def _bundle(self) -> dict:
        if self.error is not None:
            from neptune_audit.errors import one_line

            text = f"The scan failed: {one_line(self.error)} (the last cell says it in full)"
            return {"text/plain": text, "text/html": f'{_STYLE}<div class="na-wait" role="alert">'
                                                     f"{html.escape(text)}</div>"}
        if self._total:
            text = f"Scanning: {self._n} of about {self._total} account-regions done"
            bar = f'<progress max="{self._total}" value="{self._n}"></progress>'
        else:
            text, bar = "Scanning: listing the accounts and regions", "<progress></progress>"
        return {"text/plain": text + " (this output fills in when the scan is done)",
                "text/html": f'{_STYLE}<div class="na-wait na-progress" role="status"><b>Scanning</b>{bar}'
                             f"{html.escape(text.split(': ', 1)[1])}; this output fills in when the scan is done"
                             "</div>"}

    def _show(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < _EVERY:
            return
        self._last = now
        with self.lock:
            bundle = self._bundle()
            for slot in self._live:
                try:
                    slot.update(bundle, raw=True)
                except Exception:  # noqa: BLE001 - a closed channel (the kernel stopping) stops nothing
                    pass


def _kernel_loop():
    """The IPython shell (None outside IPython) and its kernel's event loop, which runs in the main thread (None
    where there is none: a terminal IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None, None
    shell = get_ipython()
    return shell, getattr(getattr(shell, "kernel", None), "io_loop", None)


def start(scan_or_load: Callable, options, results_files=(), *, live: bool):
    """The audit notebook's scan (``neptune_audit.scan_or_load``, passed in: the notebook's entry point, which this
    room does not import): in a thread of its own when ``live`` (a notebook a person runs: each later cell returns
    at once and shows the scan's progress where its output will be), else at once (the HTML report, papermill)."""
    import os

    # Only in a kernel a Jupyter server runs for a person (it names the notebook: JPY_SESSION_NAME): a front end
    # takes every output update whenever it comes; papermill records only those sent while a cell runs.
    if not live or not os.environ.get("JPY_SESSION_NAME"):
        return scan_or_load(options, results_files, progress=live)
    return Pending(lambda progress: scan_or_load(options, results_files, progress=progress))


def finish(result):
    """The result, waiting for a scan still running (its progress shown in this cell meanwhile)."""
    return result.wait() if isinstance(result, Pending) else result


def deferrable(fn: Callable) -> Callable:
    """A section that shows ``fn(result, ...)``, deferred while ``result`` is a scan still running."""
    import functools

    @functools.wraps(fn)
    def shown(result, *args, **kwargs):
        if isinstance(result, Pending):
            result.defer(lambda r: fn(r, *args, **kwargs))
            return None
        return fn(result, *args, **kwargs)

    return shown
