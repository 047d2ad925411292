"""The built-in simulated AWS account (``--demo``): a moto server (server) seeded with a Neptune estate (estate).

moto is the ``demo`` extra (``pip install 'neptune-audit[demo]'``): a user auditing real accounts carries none of it.
"""
from __future__ import annotations

NEEDS_DEMO_EXTRA = "the simulated account (--demo) needs moto: pip install 'neptune-audit[demo]'"


def moto_missing() -> bool:
    """Whether the demo extra (moto and the flask pieces of its server) is absent."""
    import importlib.util

    return importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None
