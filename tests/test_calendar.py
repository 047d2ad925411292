"""The engine calendar users can refresh: `calendar show` prints the one in use, `calendar update` fetches AWS's
current dates (endoflife.date's API, served here on loopback from recorded answers: no test reaches the network)
and the next scan uses them; a broken answer changes nothing."""
from __future__ import annotations

import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT, main, one_line_2, seed

RECORDED = json.loads((ROOT / "tests" / "fixtures" / "endoflife" / "amazon-neptune.json").read_text())
# A release AWS published after the kit's calendar, as endoflife.date would list it
NEW = {"name": "1.4.9.0", "codename": None, "label": "1.4.9.0", "releaseDate": "2026-11-20", "isLts": False,
       "ltsFrom": None, "isEol": False, "eolFrom": "2028-01-31", "isMaintained": True,
       "latest": {"name": "1.4.9.0", "date": "2026-11-20", "link": None}, "custom": {"upgradeVersion": "N/A"}}


def _with(change) -> bytes:
    doc = copy.deepcopy(RECORDED)
    change(doc)
    return json.dumps(doc).encode()


ANSWERS = {
    "/api/v1/products/amazon-neptune": (200, json.dumps(RECORDED).encode()),
    "/newer": (200, _with(lambda d: d["result"]["releases"].insert(0, NEW))),
    "/html": (200, b"<!DOCTYPE html><html><body>Service Unavailable</body></html>"),
    "/bad-json": (200, b'{"schema_version": "1.2.0", "result": {"releases": [ {"name": '),
    "/impossible-date": (200, _with(lambda d: d["result"]["releases"][0].update(eolFrom="2027-13-45"))),
    "/eol-before-release": (200, _with(lambda d: d["result"]["releases"][0].update(eolFrom="2001-01-01"))),
    "/other-product": (200, _with(lambda d: d["result"].update(name="amazon-documentdb"))),
    "/not-a-version": (200, _with(lambda d: d["result"]["releases"][0].update(name="latest"))),
    "/no-releases": (200, _with(lambda d: d["result"].update(releases=[]))),
}


@pytest.fixture(scope="module")
def endoflife():
    """endoflife.date's API, recorded, on a loopback port."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            status, body = ANSWERS.get(self.path, (404, b"not found"))
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if body.startswith(b"{") else "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def data_home(tmp_path, monkeypatch) -> Path:
    """The user's data folder, where `calendar update` writes by default (platformdirs honours XDG_DATA_HOME)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data" / "neptune-audit" / "engine_calendar.yaml"


def test_show_prints_every_release_of_the_shipped_calendar_as_aws_publishes_it(capsys, data_home):
    code, out, _ = main(["calendar", "show", "--format", "json"], capsys)
    doc = json.loads(out)
    assert code == 0 and set(doc) == {"as_of", "source", "releases"}
    rows = {r["version"]: r for r in doc["releases"]}
    assert all(set(r) == {"version", "released", "end_of_life", "upgrade_to"} for r in doc["releases"])
    eol = {v: r["end_of_life"] for v, r in rows.items()}
    # AWS's "Engine releases" table, row by row (endoflife.date's copy of 2026-07-31; 1.4.7.1's page)
    expected = {"1.0.2.0": "2020-05-19", "1.0.2.1": "2022-07-29", "1.0.2.2": "2022-07-29", "1.1.0.0": "2025-03-15",
                "1.1.1.0": "2026-11-30", "1.4.8.0": "2027-10-27", "1.4.6.1": "2027-03-06", "1.4.6.2": "2027-06-03",
                "1.4.7.1": "2027-06-03", "1.3.0.0": "2027-03-06"}
    expected |= {v: "2023-01-30" for v in ("1.0.3.0", "1.0.4.0", "1.0.4.1", "1.0.4.2", "1.0.5.0", "1.0.5.1")}
    expected |= {v: "2026-11-30" for v in ("1.2.0.0", "1.2.0.1", "1.2.0.2", "1.2.1.0", "1.2.1.1", "1.2.1.2")}
    assert {v: eol.get(v) for v in expected} == expected
    assert rows["1.4.8.0"]["released"] == "2026-07-27" and rows["1.4.8.0"]["upgrade_to"] is None
    assert rows["1.4.7.0"]["upgrade_to"] == "1.4.8.0" and rows["1.1.1.0"]["upgrade_to"] == "1.2.1.0"
    assert not any(v.count(".") < 3 for v in rows), "every release its own row, no major line standing in"
    code, out, _ = main(["calendar", "show"], capsys)
    assert code == 0 and "the calendar shipped with the kit" in out and "1.4.8.0  2026-07-27  2027-10-27" in out


def test_an_update_makes_a_new_release_known_to_the_next_scan(aws, capsys, endoflife, data_home):
    seed([("next", [("next-1", True, {})])], engine_versions={"next": "1.4.9.0"})
    code, out, _ = main(["scan", "--regions", "us-east-1", "--format", "json"], capsys)
    before = json.loads(out)
    cluster = before["clusters"][0]
    assert cluster["end_of_life"] == "unknown" and cluster["end_of_life_date"] is None
    assert "does not know 1.4.9.0: run `neptune-audit calendar update`" in cluster["outlook"]
    assert before["engine_calendar"]["file"] is None, "the shipped calendar"

    code, out, err = main(["calendar", "update", "--url", f"{endoflife}/newer"], capsys)
    assert code == 0 and data_home.is_file(), err
    assert "38 releases" in out and "newest 1.4.9.0" in out
    code, out, _ = main(["scan", "--regions", "us-east-1", "--format", "json"], capsys)
    after = json.loads(out)
    cluster = after["clusters"][0]
    assert "does not know" not in cluster["outlook"]
    assert cluster["end_of_life_date"] == "2028-01-31" and cluster["end_of_life"] == "later"
    assert after["engine_calendar"]["file"] == str(data_home), "the JSON says which calendar it used"
    assert f"{endoflife}/newer" in after["engine_calendar"]["source"] and "fetched" in after["engine_calendar"]["source"]
    code, out, _ = main(["calendar", "show", "--format", "json"], capsys)
    assert {"version": "1.4.9.0", "released": "2026-11-20", "end_of_life": "2028-01-31", "upgrade_to": None} in \
        json.loads(out)["releases"]
    code, out, _ = main(["calendar", "show"], capsys)
    assert f"the calendar in {data_home}" in out


@pytest.mark.parametrize("path, words", [
    ("/html", "is an HTML page"),
    ("/bad-json", "is not JSON"),
    ("/impossible-date", "2027-13-45"),
    ("/eol-before-release", "is before released"),
    ("/other-product", "not amazon-neptune"),
    ("/not-a-version", "is not an engine release"),
    ("/no-releases", "lists no release"),
    ("/missing", "HTTP 404"),
])
def test_a_broken_answer_changes_nothing(capsys, endoflife, data_home, path, words):
    code, _, err = main(["calendar", "update", "--url", f"{endoflife}/api/v1/products/amazon-neptune"], capsys)
    assert code == 0, err
    kept = data_home.read_bytes()
    code, out, err = main(["calendar", "update", "--url", endoflife + path], capsys)
    one_line_2(code, err, words)
    assert out == "" and data_home.read_bytes() == kept, "the stored calendar is untouched"
    assert [p.name for p in data_home.parent.iterdir()] == ["engine_calendar.yaml"], "no half-written file"


def test_an_update_to_a_file_of_ones_own_reads_back_as_an_engine_calendar(capsys, endoflife, data_home, tmp_path):
    out_file = tmp_path / "cal.yaml"
    code, _, err = main(["calendar", "update", "--url", f"{endoflife}/newer", "-o", out_file], capsys)
    assert code == 0 and out_file.is_file() and not data_home.exists(), err
    written = yaml.safe_load(out_file.read_text())
    assert written["releases"]["1.4.9.0"]["end_of_life"] == "2028-01-31"
    code, out, _ = main(["calendar", "show", "--engine-calendar", out_file, "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["releases"][0]["version"] == "1.4.9.0"


def test_an_older_update_loses_to_the_newer_shipped_calendar(capsys, data_home):
    from neptune_audit.rule import calendars

    data_home.parent.mkdir(parents=True)
    data_home.write_text('as_of: "2026-01-15"\nsource: old\nreleases:\n  "1.4.9.0": {status: active, '
                         'end_of_life: "2030-01-01"}\n')
    assert calendars.default_calendar().file is None, "the shipped calendar is newer"
    data_home.write_text("releases: [not a calendar")
    assert calendars.default_calendar().file is None, "a damaged update never stops a scan"
