"""`python -m benchmarks --only continuous`: the Lambda handler's latency, event in -> Security Hub finding written,
at a round-trip time, in a process of its own as Lambda runs it: cold (interpreter start, import, first event) and
warm (later events in the same process).  The account-region holds ``INSTANCES`` Neptune instances."""
from __future__ import annotations

import json
import subprocess
import sys
import time

from benchmarks.fleet import seed_region
from benchmarks.proxy import LatencyProxy

INSTANCES = 12
WARM_EVENTS = 5
# a CloudTrail record of ModifyDBInstance as EventBridge delivers it (tests/test_continuous.py builds the same)
_CHILD = r'''
import json, sys, time
t0 = time.monotonic()
from neptune_audit.continuous import handler
imported = time.monotonic() - t0
event = {"version": "0", "detail-type": "AWS API Call via CloudTrail", "source": "aws.rds", "account": "123456789012",
         "region": "us-east-1", "detail": {"eventSource": "rds.amazonaws.com", "eventName": "ModifyDBInstance",
         "awsRegion": "us-east-1", "recipientAccountId": "123456789012",
         "userIdentity": {"arn": "arn:aws:sts::123456789012:assumed-role/Admin/bench"},
         "requestParameters": {"dBInstanceIdentifier": sys.argv[1], "autoMinorVersionUpgrade": False},
         "responseElements": {"dBInstanceIdentifier": sys.argv[1], "engine": "neptune"}}}
import io, contextlib
times = []
for _ in range(int(sys.argv[2]) + 1):
    t = time.monotonic()
    with contextlib.redirect_stdout(io.StringIO()):
        handler.handler(event, None)
    times.append(time.monotonic() - t)
print(json.dumps({"import": imported, "first": times[0], "warm": sorted(times[1:])[len(times[1:]) // 2],
                  "process": time.monotonic() - t0}), file=sys.stderr)
'''


def scenario_continuous(moto_url: str, moto_port: int, env_of, rtt: float) -> list[str]:
    from benchmarks.__main__ import table

    seed_region(moto_url, "us-east-1", INSTANCES, None, "graph")
    proxy = LatencyProxy(moto_port, rtt=rtt)
    try:
        proxy.reset(rtt=rtt)
        start = time.monotonic()
        proc = subprocess.run([sys.executable, "-c", _CHILD, "graph-0", str(WARM_EVENTS)], env=env_of(proxy.url),
                              capture_output=True, text=True)
        wall = time.monotonic() - start
        lines = [x for x in proc.stderr.splitlines() if x.startswith("{")]
        if not lines:
            raise RuntimeError(f"the handler failed: {proc.stderr[-2000:]}")
        r = json.loads(lines[-1])
        calls = sum(proxy.calls.values()) / (WARM_EVENTS + 1)
    finally:
        proxy.stop()
    rows = [{"name": "cold: interpreter, import, first event", "wall": wall - r["warm"] * WARM_EVENTS,
             "calls": round(calls), "note": f"import {r['import']:.2f} s, first event {r['first']:.2f} s"},
            {"name": f"warm: median of {WARM_EVENTS} later events", "wall": r["warm"], "calls": round(calls),
             "note": "event in -> findings imported"}]
    return [table(f"Continuous: one ModifyDBInstance event, {INSTANCES} instances in the region — RTT "
                  f"{rtt * 1000:.0f} ms", rows)]
