"""Speed-ups for the kit's own botocore sessions and clients, each measured (``benchmarks/RESULTS.md``), one module
each:

- ``tested``: which botocore they run with (``TESTED_BOTOCORE``; ``NEPTUNE_AUDIT_TUNING=off`` switches them off);
- ``sessions``: the kit's sessions (one data loader, timestamps as text, its services' handlers; models loaded once);
- ``loader``: slices of the models the kit calls, found first, and the data folders walked once;
- ``parsing``: an answer seen before, byte for byte, parsed once;
- ``http``: one TLS context per CA bundle, one HTTP session per configuration;
- ``process``: in the kit's own process only (the console script), what botocore builds the same for every client
  built once, and the GC tuned for the scan.

In a user's process (a Jupyter kernel, an Airflow worker) nothing here changes botocore for anyone else: every
speed-up acts on objects the kit creates itself (a ``Session`` subclass, components registered on it, the clients
built from it), and a client built with plain boto3 behaves exactly as without the kit (``tests/test_do_no_harm.py``).
Only ``process``, which the console script alone turns on (``own_process()``), wraps botocore's classes, and even
then acts only for the clients the kit builds.  The speed-ups that touch private botocore attributes run only with
the botocore versions CI tests; outside them the kit uses botocore's public API only, with the same findings.
"""
from __future__ import annotations

from neptune_audit.aws.tuning.http import share_http_session
from neptune_audit.aws.tuning.process import building_client, fewer_gc_passes, own_process
from neptune_audit.aws.tuning.sessions import SERVICES, load_models, new_botocore_session
from neptune_audit.aws.tuning.tested import TESTED_BOTOCORE, botocore_version, enabled

__all__ = ["SERVICES", "TESTED_BOTOCORE", "botocore_version", "building_client", "enabled", "fewer_gc_passes",
           "load_models", "new_botocore_session", "own_process", "share_http_session"]
