"""`python -m benchmarks.lab_filter`: how long a filter change takes to settle in JupyterLab, measured in the browser.

The audit notebook is run (Run All) against the simulated Organization in a real JupyterLab driven by Chromium;
then the Region dropdown is set to each region in turn, and back to all.  Settled: the kernel is idle again after
the change, the Findings table says the narrowed count, and the browser has drawn two frames since (every chart and
table redrawn from the kernel's display updates).  Prints one line per change and the median; nothing is asserted
(speed is measured here, not in the tests).

`--instances N` measures a fleet of N instances instead (seeded into a moto server, scanned once, and loaded by the
notebook from that scan's JSON: `results_files`), filtered by each of its regions.  JupyterLab runs with its own
default windowing, as a user has it.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path




FLEET_REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")


class _Fleet:
    """``instances`` Neptune instances over three regions of one account, scanned once into a results file: the
    notebook loads it (no AWS calls while measuring)."""

    def __init__(self, instances: int, folder: Path, results: str | None = None):
        self.endpoint_url = "http://127.0.0.1:1"  # the notebook loads the scan: nothing to call
        if results:  # a fleet scanned before (`--results FILE`)
            self.results = Path(results).resolve()
            self._read()
            return
        from benchmarks import fleet
        from benchmarks.__main__ import Moto
        from neptune_audit.simulate.server import client_env

        server = Moto()
        try:
            share = instances // len(FLEET_REGIONS)
            spread = {r: share + (1 if i < instances % len(FLEET_REGIONS) else 0) for i, r in enumerate(FLEET_REGIONS)}
            fleet.seed_fleet(server.url, spread)
            self.results = folder / "fleet.json"
            subprocess.run([sys.executable, "-m", "neptune_audit", "scan", "--regions", ",".join(FLEET_REGIONS),
                            "--format", "json", "-o", str(self.results), "-q"],
                           env=client_env(server.url, os.environ), check=False, timeout=1800)
        finally:
            server.stop()
        self._read()

    def _read(self) -> None:
        import json

        rows = json.loads(self.results.read_text())["findings"]
        self.manifest = {(f["account_id"], f["region"], f["instance_id"]): True for f in rows}

    def stop(self) -> None:
        pass


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lab_filter")
    parser.add_argument("--instances", type=int, help="a simulated fleet of this many instances (default: the demo)")
    parser.add_argument("--results", metavar="FILE", help="with --instances: that fleet's scan (JSON), made before")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from neptune_audit import lab as lab_setup
    from tests.test_jupyterlab import CHROMIUM, Account, Lab, choose_region, run_all

    root = Path(tempfile.mkdtemp(prefix="neptune-audit-lab-bench-")) / "lab"
    root.mkdir(parents=True)
    if args.instances:
        server = _Fleet(args.instances, root, args.results)
        lab_setup.prepare_lab(root, apply=False, audit_log=str(root / "audit-log.jsonl"),
                              results_files=[str(server.results)], exceptions_file="", iac_paths=[])
        manifest = server.manifest
    else:
        server = Account()
        lab_setup.prepare_lab(root, apply=False, audit_log=str(root / "audit-log.jsonl"))
        manifest = server.settings()
    lab = Lab(server, root, windowing=None)
    times = []
    try:
        regions = sorted({r for (_, r, _) in manifest})
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            start = time.monotonic()
            run_all(page, lab, "audit.ipynb")
            print(f"Run All: {time.monotonic() - start:.1f} s, {len(manifest)} instances, {len(regions)} regions")
            for region in [*regions, "all"] * 2:
                expected = len(manifest) if region == "all" else sum(1 for (_, r, _) in manifest if r == region)
                took = choose_region(page, region, expected, timeout=120_000)
                times.append(took)
                print(f"  Region = {region:<15} {expected:>5} instances: settled in {took:.2f} s", flush=True)
            browser.close()
    finally:
        lab.stop()
        server.stop()
    print(f"median {statistics.median(times):.2f} s, max {max(times):.2f} s over {len(times)} changes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
