"""Which botocore the private-API speed-ups run with: the versions CI tests, unless switched off."""
from __future__ import annotations

import logging
import os

import botocore

log = logging.getLogger(__name__)
# [from, to): CI runs the suite at the floor (make test-lowest) and at the newest on PyPI (make test-newest)
TESTED_BOTOCORE = ((1, 34), (1, 45))
_warned: set[str] = set()


def botocore_version() -> tuple[int, int]:
    return tuple(int(p) for p in botocore.__version__.split(".")[:2])  # type: ignore[return-value]


def enabled() -> bool:
    """Whether the private-API speed-ups run: a tested botocore, and not switched off."""
    if os.environ.get("NEPTUNE_AUDIT_TUNING", "").strip().lower() in ("off", "0", "false", "no"):
        return False
    if not TESTED_BOTOCORE[0] <= botocore_version() < TESTED_BOTOCORE[1]:
        _note_once(f"botocore {botocore.__version__} is outside the tested range {TESTED_BOTOCORE}: the kit uses "
                   "its public API only (slower, same findings)")
        return False
    return True


def _note_once(what: str) -> None:
    if what not in _warned:
        _warned.add(what)
        log.warning(what)
