"""`python -m benchmarks.lab_filter`: how long a filter change takes to settle in JupyterLab, measured in the browser.

The audit notebook is run (Run All) against the simulated Organization in a real JupyterLab driven by Chromium;
then the Region dropdown is set to each region in turn, and back to all.  Settled: the kernel is idle again after
the change, the Findings table says the narrowed count, and the browser has drawn two frames since (every chart and
table redrawn from the kernel's display updates).  Prints one line per change and the median; nothing is asserted
(speed is measured here, not in the tests).
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

SETTLED_JS = """([expected, started]) => {
  const nb = window.jupyterapp.shell.currentWidget;
  const idle = nb.sessionContext.session.kernel.status === 'idle';
  const info = [...document.querySelectorAll('.dt-container')].find(d => d.querySelector('caption')
                 && d.querySelector('caption').textContent.includes('Findings'));
  const shown = info && info.querySelector('.dt-info') && info.querySelector('.dt-info').textContent;
  return idle && shown && shown.includes(`of ${expected} entries`) && performance.now() > started + 50;
}"""


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from playwright.sync_api import sync_playwright

    from neptune_audit import lab as lab_setup
    from tests.test_jupyterlab import CHROMIUM, Account, Lab, run_all

    server = Account()
    root = Path(tempfile.mkdtemp(prefix="neptune-audit-lab-bench-")) / "lab"
    lab_setup.prepare_lab(root, apply=False, audit_log=str(root / "audit-log.jsonl"))
    lab = Lab(server, root)
    times = []
    try:
        manifest = server.settings()
        regions = sorted({r for (_, r, _) in manifest})
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            start = time.monotonic()
            run_all(page, lab, "audit.ipynb")
            print(f"Run All: {time.monotonic() - start:.1f} s, {len(manifest)} instances, {len(regions)} regions")
            select = page.locator(".na-filter-bar .widget-dropdown", has=page.locator("label", has_text="Region")
                                  ).locator("select")
            for region in [*regions, "all"] * 2:
                expected = len(manifest) if region == "all" else sum(1 for (_, r, _) in manifest if r == region)
                started = page.evaluate("() => performance.now()")
                select.select_option(label=region)
                page.wait_for_function(SETTLED_JS, arg=[expected, started], timeout=60_000, polling="raf")
                page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
                took = (page.evaluate("() => performance.now()") - started) / 1000
                times.append(took)
                print(f"  Region = {region:<15} {expected:>3} instances: settled in {took:.2f} s", flush=True)
            browser.close()
    finally:
        lab.stop()
        server.stop()
    print(f"median {statistics.median(times):.2f} s, max {max(times):.2f} s over {len(times)} changes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
