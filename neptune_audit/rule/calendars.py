"""Which engine calendar a run uses, and refreshing it: the one shipped with the kit, the one `calendar update`
fetched into the user's data folder (the newer ``as_of`` wins), or ``--engine-calendar FILE`` over both.

The update reads endoflife.date's API v1 (``GET /api/v1/products/amazon-neptune``: ``result.releases[]`` with
``name``, ``releaseDate``, ``eolFrom`` and ``custom.upgradeVersion``; schema ``ProductResponse`` in
endoflife-date/endoflife.date's ``api_v1/openapi.yml``), a daily copy of AWS's "Engine releases" table.  The answer
is checked as strictly as a ``--engine-calendar`` file, then written whole, or not at all.
"""
from __future__ import annotations

import json
import os
import re
from datetime import date, datetime, timezone
from pathlib import Path

from neptune_audit.errors import InputError, one_line
from neptune_audit.rule.outlook import Calendar, load_calendar, parse_calendar, shipped_calendar

DEFAULT_URL = "https://endoflife.date/api/v1/products/amazon-neptune"
PRODUCT = "amazon-neptune"
MAX_RESPONSE_BYTES = 2 * 1024 * 1024
TIMEOUT_SECONDS = 30
_RELEASE = re.compile(r"[0-9]+(\.[0-9]+){3}")  # a whole release, as the table names them (1.4.8.0)


def user_calendar_path() -> Path:
    """Where `calendar update` writes by default: the user's data folder (platformdirs; XDG_DATA_HOME on Linux)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("neptune-audit", appauthor=False)) / "engine_calendar.yaml"


def shown_path(path: Path | str) -> str:
    """A path as deliverables show it: the home folder as ``~`` (a report should not carry the author's name)."""
    text, home = str(path), str(Path.home())
    return "~" + text[len(home):] if home not in ("", "/") and text.startswith(home + os.sep) else text


def default_calendar(today: date | None = None) -> Calendar:
    """The shipped calendar, or the updated one in the user's data folder when its ``as_of`` is newer (or the
    same).  An updated file that no longer reads is passed over with a warning: it never stops a scan."""
    import logging

    stored = user_calendar_path()
    shipped = shipped_calendar()
    try:
        if not stored.is_file():
            return shipped
        updated = load_calendar(stored)
    except (OSError, InputError) as exc:
        logging.getLogger("neptune_audit").warning("the updated engine calendar %s cannot be used (%s): using the one "
                                                   "shipped with the kit", shown_path(stored), one_line(exc, limit=160))
        return shipped
    if updated.as_of < shipped.as_of:
        return shipped
    return Calendar(updated.as_of, updated.source, updated.releases, file=shown_path(stored))


def from_endoflife(body: bytes, url: str, fetched: datetime) -> str:
    """endoflife.date's answer as the text of a calendar file, checked whole: one line on anything else."""
    where = f"the answer from {url}"
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError):
        head = body[:200].decode("utf-8", "replace").lstrip().lower()
        what = "an HTML page" if head.startswith(("<!doctype", "<html")) else "not JSON"
        raise InputError(f"{where} is {what}, not endoflife.date's API (GET /api/v1/products/{PRODUCT})") from None
    result = doc.get("result") if isinstance(doc, dict) else None
    if not isinstance(result, dict) or not isinstance(result.get("releases"), list):
        raise InputError(f"{where} has no result.releases: not endoflife.date's API v1 product answer")
    if result.get("name") != PRODUCT:
        raise InputError(f"{where} is about {one_line(result.get('name'), limit=40)!r}, not {PRODUCT}")
    releases = {}
    for i, release in enumerate(result["releases"]):
        at = f"{where}: releases[{i}]"
        if not isinstance(release, dict):
            raise InputError(f"{at} is not an object")
        name = release.get("name")
        if not isinstance(name, str) or not _RELEASE.fullmatch(name):
            raise InputError(f"{at}: name {one_line(name, limit=40)!r} is not an engine release such as 1.4.8.0")
        custom = release.get("custom")
        custom = custom if isinstance(custom, dict) else {}
        upgrade = custom.get("upgradeVersion")
        if upgrade in (None, "", "N/A"):
            upgrade = None
        elif not isinstance(upgrade, str) or not _RELEASE.fullmatch(upgrade):
            raise InputError(f"{at} ({name}): custom.upgradeVersion {one_line(upgrade, limit=40)!r} is not a release")
        for key in ("releaseDate", "eolFrom"):
            if not isinstance(release.get(key), (str, type(None))):
                raise InputError(f"{at} ({name}): {key} is not a date")
        if name in releases:
            raise InputError(f"{at}: {name} is listed twice")
        releases[name] = {"status": "deprecated" if release.get("isEol") is True else "active",
                          "released": release.get("releaseDate"), "end_of_life": release.get("eolFrom"),
                          "upgrade_to": upgrade}
    if not releases:
        raise InputError(f"{where} lists no release")
    text = _yaml(fetched.date().isoformat(), f"{url} (endoflife.date's copy of AWS's engine release table, fetched "
                 f"{fetched.strftime('%Y-%m-%dT%H:%M:%SZ')})", releases)
    parse_calendar(text, where, today=fetched.date())  # the same checks as --engine-calendar: dates, order, versions
    return text


def _yaml(as_of: str, source: str, releases: dict) -> str:
    import yaml

    head = ("# Amazon Neptune engine calendar, written by `neptune-audit calendar update`; scans, reports and "
            "notebooks use it\n# while its as_of is newer than the calendar shipped with the kit. Delete it to go "
            "back to that one.\n")
    body = yaml.safe_dump({"as_of": as_of, "source": source, "releases": releases}, sort_keys=False,
                          default_flow_style=False, allow_unicode=True)
    return head + body


def fetch(url: str) -> bytes:
    """GET ``url``, at most ``MAX_RESPONSE_BYTES``; a refusal or a failure is one line (InputError)."""
    from urllib.error import HTTPError, URLError
    from urllib.request import Request, urlopen

    if not url.startswith(("https://", "http://")):
        raise InputError(f"--url takes an http(s) URL, not {one_line(url, limit=80)!r}")
    request = Request(url, headers={"Accept": "application/json", "User-Agent": "neptune-audit calendar update"})
    try:
        with urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310 - http(s) only, checked above
            body = answer.read(MAX_RESPONSE_BYTES + 1)
    except HTTPError as exc:
        raise InputError(f"cannot fetch {one_line(url, limit=120)}: HTTP {exc.code} {one_line(exc.reason, limit=60)}") \
            from None
    except (URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputError(f"cannot fetch {one_line(url, limit=120)}: {one_line(reason, limit=120)}") from None
    if len(body) > MAX_RESPONSE_BYTES:
        raise InputError(f"the answer from {one_line(url, limit=120)} is larger than {MAX_RESPONSE_BYTES:,} bytes")
    return body


def fetch_calendar(url: str = DEFAULT_URL, now: datetime | None = None) -> str:
    """The current dates, fetched and checked whole, as the text of a calendar file (``calendar update`` writes
    it, by default to `user_calendar_path()`)."""
    return from_endoflife(fetch(url), url, now or datetime.now(timezone.utc))


def rows(calendar: Calendar) -> list[dict]:
    """The calendar's releases, newest first, as ``calendar show`` prints them."""
    from neptune_audit.rule.outlook import version_key

    def day(value) -> str | None:
        return value.isoformat() if value else None

    return [{"version": v, "released": day(e["released"]), "end_of_life": day(e["end_of_life"]),
             "upgrade_to": e["upgrade_to"]}
            for v, e in sorted(calendar.releases.items(), key=lambda item: version_key(item[0]), reverse=True)]


def describe_source(calendar: Calendar) -> str:
    """Which calendar this is, in words."""
    if calendar.file is None:
        return "the calendar shipped with the kit"
    return f"the calendar in {calendar.file}"
