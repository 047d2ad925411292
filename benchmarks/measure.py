"""One measurement in its own process (so start-up and peak RSS are its own): prints one JSON line.

    python -m benchmarks.measure naive|regional|scan ENDPOINT [neptune-audit scan args...]
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def _peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


def naive(regions: list[str]) -> dict:
    """The rule's published procedure: region by region, list the instances, then one call per instance."""
    import boto3

    found = 0
    for region in regions:
        client = boto3.client("neptune", region_name=region)
        ids = [db["DBInstanceIdentifier"] for page in client.get_paginator("describe_db_instances").paginate()
               for db in page["DBInstances"]]
        for instance_id in ids:
            db = client.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]
            found += db.get("Engine") == "neptune"
    return {"instances": found}


def regional(regions: list[str]) -> dict:
    """Our collector, one region after another (no concurrency)."""
    from neptune_audit.aws import inventory
    from neptune_audit.aws import accounts
    from neptune_audit.aws.connection import Connection

    conn = Connection()
    account = accounts.resolve_accounts(conn)[0]
    found = 0
    for region in regions:
        _, rows, _, _ = inventory.collect_region(account, region)
        found += len(rows)
    return {"instances": found}


def _console_script(command: str, args: list[str]) -> int:
    """Run ``neptune-audit COMMAND ARGS`` exactly as the installed console script does."""
    from neptune_audit.cli import run

    sys.argv = ["neptune-audit", command, *args]
    try:
        run()
    except SystemExit as done:
        return done.code
    return 0


def main(argv: list[str]) -> int:
    mode, endpoint, rest = argv[0], argv[1], argv[2:]
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    start = time.monotonic()
    out: dict = {}
    if mode == "naive":
        out = naive(rest[0].split(","))
    elif mode == "regional":
        out = regional(rest[0].split(","))
    elif mode in ("scan", "report"):
        out = {"exit_code": _console_script(mode, rest)}
    out.update(seconds_in_process=time.monotonic() - start, peak_rss_mb=_peak_rss_mb(), cpu_s=_cpu_seconds())
    print(json.dumps(out), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
