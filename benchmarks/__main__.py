"""`make bench`: neptune-audit against a moto server behind a loopback layer that adds round-trip time.

Scenarios (each printed as a table with wall time, ratio to the ideal, API calls, peak RSS):
  0. the sweep: one account, every enabled region, 141 instances, RTT 100 ms, answers replayed, beside
     ``python -c "import boto3"`` in the same run (floor = 3 round trips + that import);
  1. one account, every enabled region, 2,000 instances over four regions, RTT 0 / 50 / 100 ms:
     (a) the rule's published procedure done naively, (b) our collector region by region, (c) our scan —
     against moto as is, then with moto's answers replayed (over HTTP, and over HTTPS with a CA bundle);
  2. an Organization of 50 accounts (`--accounts N`) x every enabled region, answers replayed above 50;
  3. a 10,000-instance fleet through `neptune-audit report`, end to end.
Ideal = interpreter start-up + RTT x (STS identity + DescribeRegions + the most instance and cluster
pages any one region needs).  Replayed scans run ``--repeat`` times (default 5) and report the median.
`python -m benchmarks --quick` skips the slow parts.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from .fleet import pages_needed, seed_fleet, seed_organization
from benchmarks.proxy import LatencyProxy

SPREAD_2K = {"us-east-1": 800, "eu-west-1": 600, "ap-southeast-2": 400, "us-west-2": 200}
SPREAD_10K = {"us-east-1": 4000, "eu-west-1": 3000, "ap-southeast-2": 2000, "us-west-2": 1000}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Moto:
    """The simulated account's server (moto plus the Neptune engine catalogue and pending maintenance, which moto
    lacks), unseeded, in its own process so it does not share our interpreter's GIL."""

    def __init__(self):
        self.port = _free_port()
        env = dict(os.environ, MOTO_RDS_SNAPSHOT_LIMIT="1000000")  # moto snapshots every new instance
        serve = ("import threading\nfrom neptune_audit.simulate.server import DemoServer\n"
                 f"DemoServer(port={self.port}, seeded=False)\nthreading.Event().wait()\n")
        self.proc = subprocess.Popen([sys.executable, "-c", serve],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        self.url = f"http://127.0.0.1:{self.port}"
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("moto server did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def _env(endpoint: str, ca_bundle: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
               AWS_ENDPOINT_URL=endpoint, AWS_EC2_METADATA_DISABLED="true")
    if ca_bundle:
        env["AWS_CA_BUNDLE"] = ca_bundle
    return env


def measure(mode: str, endpoint: str, *args: str, ca_bundle: str | None = None) -> dict:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "benchmarks.measure", mode, endpoint, *args],
                          env=_env(endpoint, ca_bundle), capture_output=True, text=True)
    wall = time.monotonic() - start
    lines = [l for l in proc.stderr.splitlines() if l.startswith("{")]
    if not lines:
        raise RuntimeError(f"{mode} failed: {proc.stderr[-2000:]}")
    return {"wall": wall, **json.loads(lines[-1])}


def startup_seconds() -> float:
    """Interpreter start-up plus importing boto3: the floor for any boto3-based tool."""
    best = 1e9
    for _ in range(3):
        t = time.monotonic()
        subprocess.run([sys.executable, "-c", "import boto3"], capture_output=True)
        best = min(best, time.monotonic() - t)
    return best


def table(title: str, rows: list[dict]) -> str:
    out = [f"\n### {title}\n", "| approach | wall s | × ideal | API calls | client CPU s | peak RSS MB | note |",
           "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        ratio = f"{r['wall'] / r['ideal']:.2f}" if r.get("ideal") else "—"
        cpu = f"{r['cpu_s']:.2f}" if "cpu_s" in r else "—"
        rss = f"{r['peak_rss_mb']:.0f}" if "peak_rss_mb" in r else "—"
        out.append(f"| {r['name']} | {r['wall']:.2f} | {ratio} | {r.get('calls', '—')} | {cpu} | {rss} | "
                   f"{r.get('note', '')} |")
    text = "\n".join(out)
    print(text, flush=True)
    return text


def repeated(proxy: LatencyProxy, repeat: int, rtt: float, mode: str, *args: str, ca_bundle=None) -> dict:
    """The run with the median wall time of ``repeat`` runs (this VM's runs of identical code vary by ~±15 %)."""
    runs = []
    for _ in range(repeat):
        proxy.reset(rtt=rtt)
        runs.append({**measure(mode, proxy.url, *args, ca_bundle=ca_bundle), "calls": sum(proxy.calls.values())})
    runs.sort(key=lambda r: r["wall"])
    median = dict(runs[len(runs) // 2])
    if repeat > 1:
        median["note"] = f"median of {repeat} ({runs[0]['wall']:.2f}–{runs[-1]['wall']:.2f} s)"
    return median


def scenario_fleet(rtts, with_naive: bool, startup: float, repeat: int) -> list[str]:
    moto = Moto()
    try:
        t = time.monotonic()
        seed_fleet(moto.url, SPREAD_2K)
        print(f"seeded 2,000 instances in {time.monotonic() - t:.0f} s", flush=True)
        proxy = LatencyProxy(moto.port)
        regions = ",".join(SPREAD_2K)
        pages = pages_needed(SPREAD_2K)
        scan_args = ["--format", "json", "-o", str(Path(tempfile.mkdtemp()) / "f.json")]
        # The same scan with moto's answers replayed (server time ≈ 0, as on AWS), over HTTP and over HTTPS
        # with a CA bundle as large as the public one: the client and the round trips, not moto's rendering.
        replay = LatencyProxy(moto.port, cache=True)
        replay_tls = LatencyProxy(moto.port, cache=True, tls=True)
        measure("scan", replay.url, *scan_args)
        measure("scan", replay_tls.url, *scan_args, ca_bundle=replay_tls.ca_bundle)
        texts = []
        for rtt in rtts:
            ideal = startup + rtt * (2 + pages)
            rows = [{"name": "ideal", "wall": ideal, "ideal": ideal,
                     "note": f"start-up {startup:.2f} s + {2 + pages} round trips"}]
            runs = ([("(a) published procedure, naive", "naive", [regions])] if with_naive else []) + [
                ("(b) our collector, region by region", "regional", [regions]),
                ("(c) neptune-audit scan --regions all", "scan", scan_args),
            ]
            for name, mode, args in runs:
                proxy.reset(rtt=rtt)
                r = measure(mode, proxy.url, *args)
                rows.append({"name": name, "ideal": ideal, "calls": sum(proxy.calls.values()), **r})
            r = repeated(replay, repeat, rtt, "scan", *scan_args)
            rows.append({"name": "(c) scan, moto's answers replayed", "ideal": ideal, **r})
            r = repeated(replay_tls, repeat, rtt, "scan", *scan_args, ca_bundle=replay_tls.ca_bundle)
            rows.append({"name": "(c) scan, replayed, over HTTPS", "ideal": ideal, **r})
            texts.append(table(f"One account, every enabled region, 2,000 instances — RTT {rtt * 1000:.0f} ms", rows))
            if with_naive and rtt:
                a, c = rows[1]["wall"], rows[3]["wall"]  # both against moto as is
                print(f"(c) is {a / c:.0f}× faster than (a)", flush=True)
                texts.append(f"\n(c) is **{a / c:.0f}×** faster than (a) at RTT {rtt * 1000:.0f} ms.")
        # Throttling: a fifth of all calls refused; the answer must not change.
        proxy.reset(rtt=0.05, throttle=0.2)
        out = Path(tempfile.mkdtemp()) / "f.json"
        r = measure("scan", proxy.url, "--format", "json", "-o", str(out))
        summary = json.loads(out.read_text())["summary"]
        texts.append(table("Same fleet, RTT 50 ms, 20 % of calls throttled", [
            {"name": "(c) scan under throttling", "ideal": startup + 0.05 * (2 + pages),
             "calls": sum(proxy.calls.values()), "note": f"{proxy.throttled} throttled; "
             f"{summary['instances']} instances, {summary['targets_not_scanned']} not scanned", **r}]))
        for p in (proxy, replay, replay_tls):
            p.stop()
        return texts
    finally:
        moto.stop()


def _enabled_regions(url: str, opt_in_all: bool = False) -> list[str]:
    import boto3

    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=url, aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    aws = set(boto3.session.Session().get_available_regions("ec2"))  # moto lists China and GovCloud here too
    enabled = ("opt-in-not-required", "opted-in", *(("not-opted-in",) if opt_in_all else ()))
    return sorted(r["RegionName"] for r in ec2.describe_regions(AllRegions=True)["Regions"]
                  if r.get("OptInStatus") in enabled and r["RegionName"] in aws)


def _import_boto3_seconds() -> float:
    t = time.monotonic()
    subprocess.run([sys.executable, "-c", "import boto3"], capture_output=True, check=True)
    return time.monotonic() - t


# Cloud Custodian's policy for the same rule (its rds resource lists Neptune instances too; the filters are
# evaluated client-side on DescribeDBInstances' items), run on the same regions.
CUSTODIAN_POLICY = """policies:
  - name: neptune-auto-minor-version-upgrade
    resource: aws.rds
    filters:
      - Engine: neptune
      - AutoMinorVersionUpgrade: false
"""


def _custodian(executable: str, endpoint: str, regions: list[str], folder: Path) -> dict:
    """One ``custodian run`` of CUSTODIAN_POLICY: its wall and CPU time and the instances it flags."""
    import resource
    import shutil

    policy, out = folder / "policy.yml", folder / "out"
    policy.write_text(CUSTODIAN_POLICY)
    shutil.rmtree(out, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    # --cache-period 0: Custodian otherwise answers a repeated run from its own 15-minute cache, without a call
    proc = subprocess.run([executable, "run", "--cache-period", "0", "-s", str(out),
                           *(a for r in regions for a in ("-r", r)), str(policy)],
                          env=_env(endpoint), capture_output=True, text=True)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise RuntimeError(f"custodian failed: {proc.stderr[-2000:]}")
    flagged = sum(len(json.loads(f.read_text())) for f in out.rglob("resources.json"))
    return {"wall": wall, "flagged": flagged,
            "cpu_s": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime}


def scenario_sweep(rtt: float, repeat: int, custodian: str | None = None, opt_in_all: bool = False) -> list[str]:
    """The issue-25 sweep: one account, every enabled region, a small fleet (141 instances: two in each region,
    the rest in us-east-1, whose 103 take two pages), answers replayed at ``rtt``, beside
    ``python -c "import boto3"`` measured in the same run, interleaved.  Floor = 3 round trips (DescribeRegions
    beside the identity; page 1 of every region; us-east-1's page 2, beside which go the clusters, pending
    actions and engine versions) + that import.  ``opt_in_all``: the account has enabled every opt-in region too
    (~35 regions, as in issue 25's fleet of 38)."""
    moto = Moto()
    try:
        regions = _enabled_regions(moto.url, opt_in_all)
        each = 2 if 141 - 2 * (len(regions) - 1) > 100 else 1  # us-east-1 keeps two pages
        spread = {r: each for r in regions}
        spread["us-east-1"] = 141 - each * (len(regions) - 1)  # the region with most instances, as in the issue
        seed_fleet(moto.url, spread)
        replay = LatencyProxy(moto.port, cache=True, opt_in_all=opt_in_all)
        out = Path(tempfile.mkdtemp()) / "f.json"
        scan_args = ["--format", "json", "-o", str(out)]
        measure("scan", replay.url, *scan_args)  # fills the replay cache
        found = json.loads(out.read_text())["summary"]
        if found["instances"] != 141 or found["targets_not_scanned"]:
            raise RuntimeError(f"the sweep did not see the fleet: {found}")
        if custodian:
            _custodian(custodian, replay.url, regions, out.parent)  # fills the replay cache with its requests
        sweeps, imports, c7n = [], [], []
        for _ in range(repeat):
            imports.append(_import_boto3_seconds())
            replay.reset(rtt=rtt)
            sweeps.append({**measure("scan", replay.url, *scan_args), "calls": sum(replay.calls.values())})
            if custodian:
                replay.reset(rtt=rtt)
                c7n.append({**_custodian(custodian, replay.url, regions, out.parent),
                            "calls": sum(replay.calls.values())})
        replay.stop()
    finally:
        moto.stop()
    imports.sort()
    sweeps.sort(key=lambda r: r["wall"])
    boto3_import, sweep = imports[len(imports) // 2], sweeps[len(sweeps) // 2]
    floor = 3 * rtt + boto3_import
    rows = [{"name": "floor: 3 round trips + python -c 'import boto3'", "wall": floor, "ideal": floor,
             "note": f"import median of {repeat} ({imports[0]:.2f}–{imports[-1]:.2f} s)"},
            {"name": "neptune-audit scan --regions all, replayed", "ideal": floor, **sweep,
             "note": f"median of {repeat} ({sweeps[0]['wall']:.2f}–{sweeps[-1]['wall']:.2f} s); {found['fail']} FAIL"}]
    texts = []
    if c7n:
        c7n.sort(key=lambda r: r["wall"])
        median = c7n[len(c7n) // 2]
        rows.append({"name": "Cloud Custodian, the same rule and regions, replayed", "ideal": floor, **median,
                     "note": f"median of {repeat} ({c7n[0]['wall']:.2f}–{c7n[-1]['wall']:.2f} s, interleaved); "
                             f"{median['flagged']} flagged"})
        texts.append(f"Cloud Custodian / neptune-audit = **{median['wall'] / sweep['wall']:.1f}x** "
                     f"(wall), {median['cpu_s'] / sweep['cpu_s']:.1f}x (CPU).")
    title = (f"Sweep: one account, {len(regions)} enabled regions{' (every opt-in region too)' if opt_in_all else ''}, "
             f"141 instances (us-east-1: two pages), RTT {rtt * 1000:.0f} ms")
    return [table(title, rows), f"\nSweep / floor = **{sweep['wall'] / floor:.2f}** (target ≤ 1.5).", *texts, ""]


def _same_findings(a: Path, b: Path) -> bool:
    """Two scans' JSON agree on every finding, cluster, scope row and the summary (not on when they ran)."""
    def key(path):
        doc = json.loads(path.read_text())
        rows = {k: sorted(json.dumps(r, sort_keys=True) for r in doc[k]) for k in ("findings", "clusters", "scope")}
        return rows, doc["summary"]
    return key(a) == key(b)


def scenario_org(rtt: float, startup: float, repeat: int, accounts: int = 50) -> list[str]:
    """An Organization of ``accounts`` accounts x every enabled region (20 in moto), ten members with 20
    instances each.  Up to 50 accounts also against moto as is; larger ones with answers replayed only (moto's
    rendering is not what AWS costs), once per worker count when over 200 accounts."""
    moto = Moto()
    try:
        t = time.monotonic()
        seed_organization(moto.url, accounts=accounts, instances_per_member=20, members_with_instances=10)
        print(f"seeded an Organization of {accounts} accounts in {time.monotonic() - t:.0f} s", flush=True)
        proxy = LatencyProxy(moto.port, rtt=rtt, cache=True)
        folder = Path(tempfile.mkdtemp())
        rows = []
        runs = repeat if accounts <= 200 else 1
        for workers in (16, 64):
            out = folder / f"o{workers}.json"
            args = ["--organization", "--max-workers", str(workers), "--format", "json", "-o", str(out)]
            for replayed in ((False, True) if accounts <= 50 else (True,)):
                proxy.cache = replayed
                if replayed and not proxy._cached:
                    proxy.reset(rtt=0)
                    measure("scan", proxy.url, *args)  # fills the replay cache
                r = repeated(proxy, runs if replayed else 1, rtt, "scan", *args)
                doc = json.loads(out.read_text())
                tasks = sum(s["state"] == "scanned" for s in doc["scope"])
                with_instances = sum(s["instances"] > 0 for s in doc["scope"])
                # Bounded by the pool: every scanned account-region needs its instance listing, and those with
                # instances a cluster and a pending-maintenance listing too (the engine catalogue is asked once per
                # region and runs beside them); plus STS, ListAccounts, AssumeRole and DescribeRegions.
                ideal = startup + rtt * (4 + (tasks + 2 * with_instances) / workers)
                what = (f"{len(set(s['account_id'] for s in doc['scope']))} accounts, {tasks} account-regions, "
                        f"{doc['summary']['instances']} instances; {r['cpu_s'] / tasks * 1000:.1f} ms CPU per "
                        "account-region")
                rows.append({"name": f"(c) scan --organization, {workers} workers"
                             + (", answers replayed" if replayed else ""), "ideal": ideal, **r,
                             "note": "; ".join(filter(None, [what, r.get("note")]))})
        # The same findings with one worker (answers replayed, no added round trip).
        one = folder / "o1.json"
        proxy.reset(rtt=0)
        measure("scan", proxy.url, "--organization", "--max-workers", "1", "--format", "json", "-o", str(one))
        same = all(_same_findings(one, folder / f"o{w}.json") for w in (16, 64))
        proxy.stop()
        verdict = (f"\nFindings, clusters, scope and summary of the 16- and 64-worker runs are "
                   f"{'identical to' if same else '**not** identical to'} those of a `--max-workers 1` run.")
        print(verdict, flush=True)
        return [table(f"Organization of {accounts} accounts × every enabled region — RTT {rtt * 1000:.0f} ms", rows),
                verdict]
    finally:
        moto.stop()


def scenario_shards(rtt: float, startup: float, repeat: int) -> list[str]:
    """The same 50-account Organization in one process, and as N shards run at once (as Airflow would, here on
    this machine's cores), answers replayed; the wall time of the slowest shard is what N shards give."""
    moto = Moto()
    try:
        seed_organization(moto.url, accounts=50, instances_per_member=20, members_with_instances=10)
        proxy = LatencyProxy(moto.port, rtt=rtt, cache=True)
        out = Path(tempfile.mkdtemp())
        measure("scan", proxy.url, "--organization", "--format", "json", "-o", str(out / "warm.json"))
        rows = []
        for n in (1, 2, 4):
            walls = []
            for _ in range(repeat):
                proxy.reset(rtt=rtt)
                start = time.monotonic()
                procs = [subprocess.Popen([sys.executable, "-m", "neptune_audit", "scan", "--organization",
                                           *(["--shard", f"{k}/{n}"] if n > 1 else []), "--format", "json",
                                           "-o", str(out / f"s{k}.json")], env=_env(proxy.url),
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                         for k in range(1, n + 1)]
                codes = [p.wait() for p in procs]
                walls.append(time.monotonic() - start)
                assert all(c in (0, 1, 3) for c in codes), codes
            walls.sort()
            rows.append({"name": "one process" if n == 1 else f"{n} shards at once", "wall": walls[len(walls) // 2],
                         "calls": sum(proxy.calls.values()),
                         "note": f"median of {repeat} ({walls[0]:.1f}–{walls[-1]:.1f} s)"})
        proxy.stop()
        return [table(f"Organization of 50 accounts, sharded — RTT {rtt * 1000:.0f} ms, answers replayed, "
                      f"{os.cpu_count()} cores", rows)]
    finally:
        moto.stop()


def scenario_report(rtt: float, startup: float) -> list[str]:
    moto = Moto()
    try:
        t = time.monotonic()
        seed_fleet(moto.url, SPREAD_10K)
        print(f"seeded 10,000 instances in {time.monotonic() - t:.0f} s", flush=True)
        proxy = LatencyProxy(moto.port, rtt=rtt, cache=True)
        html = Path(tempfile.mkdtemp()) / "report.html"
        ideal = startup + rtt * (2 + pages_needed(SPREAD_10K))
        rows = []
        for name in ("report (scan + notebook + HTML), moto as is", "report, moto's answers replayed"):
            proxy.reset(rtt=rtt)
            r = measure("report", proxy.url, "--regions", "all", "-o", str(html))
            rows.append({"name": name, "ideal": ideal, "calls": sum(proxy.calls.values()),
                         "note": f"HTML {html.stat().st_size / 1e6:.1f} MB", **r})
        proxy.stop()
        return [table(f"10,000 instances through `neptune-audit report`, end to end — RTT {rtt * 1000:.0f} ms", rows)]
    finally:
        moto.stop()


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks")
    ap.add_argument("--quick", action="store_true", help="RTT 0 and 50 ms only, no naive run, no 10k report")
    ap.add_argument("--repeat", type=int, default=5, help="runs of each replayed scan; the median is reported")
    ap.add_argument("--accounts", type=int, default=50, help="accounts in the Organization scenario (default 50)")
    ap.add_argument("--only", choices=["sweep", "fleet", "org", "shards", "report", "iac", "continuous"],
                    action="append",
                    help="run only this scenario (repeatable); results go to last-run.md all the same")
    ap.add_argument("--custodian", metavar="PATH",
                    help="a `custodian` executable (Cloud Custodian, in a virtualenv of its own): the sweep runs it "
                         "beside the scan, interleaved, on the same regions and replayed answers")
    ap.add_argument("--iac-files", type=int, default=10_000, help="files in the `iac` scenario (default 10,000)")
    ap.add_argument("--checkov", metavar="PATH", help="a `checkov` executable (its own virtualenv): run beside `iac`")
    ap.add_argument("--cfn-lint", metavar="PATH", help="a `cfn-lint` executable (its own virtualenv): run beside `iac`")
    ap.add_argument("--library", action="store_true",
                    help="measure the kit as a library (a kernel's or worker's process) instead of its own CLI process")
    args = ap.parse_args()
    if not args.library:
        from neptune_audit.aws.tuning import own_process

        own_process()  # the scans here stand for the console script's, whose process is the kit's own
    only = set(args.only or ["sweep", "fleet", "org", "shards", "report", "iac", "continuous"])
    startup = startup_seconds()
    header = (f"neptune-audit benchmarks — {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
              f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
              f"start-up {startup:.2f} s")
    print(header, flush=True)
    texts = [header]
    if "sweep" in only:
        texts += scenario_sweep(0.1, args.repeat, args.custodian)
        texts += scenario_sweep(0.1, args.repeat, opt_in_all=True)
    if "fleet" in only:
        texts += scenario_fleet([0.0, 0.05] if args.quick else [0.0, 0.05, 0.1], not args.quick, startup,
                                args.repeat)
    if "org" in only:
        texts += scenario_org(0.05, startup, args.repeat, args.accounts)
    if "shards" in only:
        texts += scenario_shards(0.05, startup, args.repeat)
    if "report" in only and not args.quick:
        texts += scenario_report(0.05, startup)
    if "iac" in only:
        from benchmarks.iac import scenario_iac

        texts += scenario_iac(1_000 if args.quick else args.iac_files, args.checkov, args.cfn_lint)
    if "continuous" in only:
        from benchmarks.continuous import scenario_continuous

        moto = Moto()
        try:
            texts += scenario_continuous(moto.url, moto.port, _env, 0.1)
        finally:
            moto.stop()
    Path("benchmarks/last-run.md").write_text("\n".join(texts) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
