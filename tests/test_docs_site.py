"""The documentation site as a reader opens it: from disk (file://), offline, searching works, nothing asked of a
CDN (the demo notebook page included)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("mkdocs")
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (installed by .ci/run)")
def test_the_site_searches_from_disk_and_asks_no_one(site, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:", "blob:"))
                   else (requests.append(route.request.url), route.abort()))
        page.goto((site / "index.html").as_uri())
        page.locator("label.md-search__icon, .md-search__input").first.click()
        page.locator("input.md-search__input").press_sequentially("calendar update", delay=30)  # as a reader types
        results = page.locator(".md-search-result__item")
        results.first.wait_for(timeout=30_000)
        shot = Path(os.environ.get("NEPTUNE_AUDIT_SHOTS") or tmp_path) / "docs-search.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot))
        assert results.count() >= 1
        assert "calendar" in results.first.inner_text().lower()
        for name in ("demo/notebook.html", "reference/api.html", "troubleshooting.html"):
            if (site / name).is_file():
                page.goto((site / name).as_uri())
                page.wait_for_load_state("load")
        browser.close()
    assert not requests, f"the site asked the network for {requests}"
