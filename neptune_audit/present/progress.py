"""The scan's progress bar: tqdm's, as text on a terminal or as a widget in a notebook (``api.scan(progress=True)``)."""
from __future__ import annotations

import sys
from typing import Any

_BAR_EARLY = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {unit}s [{elapsed}]"
_BAR_ESTIMATE = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {unit}s [{elapsed}, about {remaining} left]"


class ScanProgress:
    """Account-regions done of the total, with an estimate (tqdm): a text bar on a terminal, a widget in a notebook
    that is gone when done.  Accounts' regions are listed as the scan goes (``aws.inventory.collect``): until every
    account is listed, the total counts the others at the average so far."""

    def __init__(self) -> None:
        self.bar: Any = None
        self._shown: Any = None
        self.accounts, self.listed, self.planned = 0, 0, 0

    def start(self, accounts: int, per_account: float) -> None:
        self.accounts = accounts
        if accounts:
            from tqdm.auto import tqdm

            # no time estimate until a fifth is done: the first account-regions carry the credential and client
            # set-up, and an estimate from them said 48 s for a 1 s scan
            kw = dict(total=round(accounts * per_account), desc="Scanning", unit="account-region", leave=False,
                      bar_format=_BAR_EARLY)
            if any(c.__module__ == "tqdm.notebook" for c in tqdm.__mro__):  # tqdm.auto in a kernel
                # Displayed under a display id, so close() replaces the widget with nothing: a saved notebook keeps
                # no output pointing at a widget model that no longer exists ("Error displaying widget").
                from IPython.display import display

                self.bar = tqdm(display=False, **kw)
                self._shown = display(self.bar.container, display_id=True)
            else:
                self.bar = tqdm(file=sys.stderr, **kw)

    def listed_account(self, tasks: int) -> None:
        self.listed += 1
        self.planned += tasks
        if self.bar is not None:
            total = self.planned + round(self.planned / self.listed * (self.accounts - self.listed))
            self.bar.total = total
            widget = getattr(getattr(self.bar, "container", None), "pbar", None)  # tqdm.notebook's IntProgress
            if widget is not None:
                widget.max = max(total, 1)
            self.bar.refresh()

    def done(self) -> None:
        if self.bar is not None:
            self.bar.update()
            if self.bar.bar_format == _BAR_EARLY and self.bar.n >= max(3, 0.2 * (self.bar.total or 0)):
                self.bar.bar_format = _BAR_ESTIMATE

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self._shown is not None and self.bar is not None:
            self._shown.update({"text/plain": ""}, raw=True)
            self.bar.container.close()
