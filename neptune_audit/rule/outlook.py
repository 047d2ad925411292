"""Where each cluster's engine is headed: the automatic target, how far behind, what is pending, end of life.

The rule checks the flag; this says what the flag does for a cluster, from AWS's own answers and its calendar:

- Auto Minor Version Upgrade moves a cluster to the non-major ``ValidUpgradeTarget`` whose ``AutoUpgrade`` is
  true ("applied to any source DB instances that have AutoMinorVersionUpgrade set to true", API reference
  ``UpgradeTarget``), often not the newest minor: AWS's table sends 1.3.0.0-1.3.2.0 to 1.3.2.1.  No such target:
  the setting moves nothing (user guide, "Managing engine updates to your Neptune DB cluster", ``using-amvu``).
- From 1.3.0.0 versions read product.major.minor.patch and the setting governs the *minor* number; patches ship
  urgent bug and security fixes and are applied in the next maintenance window whatever the setting says;
  majors are optional until end of life (user guide, "Different types of engine release", release-types.html).
- End-of-life dates are *per release* (engine-releases.html's table, kept here as ``engine_calendar.yaml``: no API
  field carries them) and differ inside one major version: 1.4.0.0-1.4.6.1 end on 2027-03-06, 1.4.6.2 and later
  on 2027-06-03, so a minor upgrade within 1.4 extends support.  What AWS documents for a *major version* at end
  of life (release-types.html): a notice, then, after a grace period, an upgrade to the most recent major version
  scheduled in a maintenance window.  It documents nothing for a release that ends while its major lives on.
- A pending ``db-upgrade`` (``PendingMaintenanceAction``): ``AutoAppliedAfterDate`` means it is applied in a
  maintenance window after that date; ``ForcedApplyDate`` means it is applied *on that date, regardless of the
  maintenance window*.  A ``system-update`` is an OS update and says nothing about the engine.
- A manual upgrade to another major version (1.2 -> 1.3/1.4) needs ``AllowMajorVersionUpgrade`` on
  ``ModifyDBCluster`` (API reference); every 1.4.x release note allows an upgrade "from engine release 1.2.0.0 or
  above", so the target is named from the region's ``ValidUpgradeTarget`` list, the longest-lived release first.
- ``DBEngineVersion.Status`` (RDS's model, not Neptune's API reference; never relied on being sent) can be
  ``deprecated``; ``ValidUpgradeTarget`` is optional, so a missing list is not
  "nothing newer": the region's catalogue also says which newer minors exist.
- Global databases (``DBCluster.GlobalClusterIdentifier``): a target with ``SupportsGlobalDatabases`` false, or a
  release whose notes limit minor upgrades of global clusters (1.4.7.1: only from 1.4.7.0 on), is not reached
  automatically by a global cluster.

The calendar adds dates and never decides behind or current: releases reach regions at different times, so
that comes from the region's catalogue.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from neptune_audit.errors import InputError, one_line
from neptune_audit.inputs import parse_date, safe_yaml, strict_yaml_loader

CALENDAR_FILE = "engine_calendar.yaml"
STALE_AFTER = timedelta(days=120)  # AWS moved 1.2's end of life twice within 2026
NEAR = timedelta(days=180)
COVERED_FROM = (1, 3, 0, 0)
ENGINE_ACTION = "db-upgrade"
OS_ACTION = "system-update"
MAX_CALENDAR_BYTES = 1024 * 1024


@functools.lru_cache(maxsize=4096)
def version_key(version) -> tuple:
    """``1.3.2.1`` -> (1, 3, 2, 1), for ordering engine releases."""
    return tuple(int(p) if p.isdigit() else 0 for p in str(version).split("."))


def amvu_effective(engine_version) -> bool | None:
    """Whether the setting can act on this engine release at all (1.3.0.0 and later); None when unknown."""
    if not engine_version:
        return None
    return version_key(engine_version) >= COVERED_FROM


# ---- the calendar ----

@dataclass(frozen=True)
class Calendar:
    """AWS's published release dates, as of a day; ``file`` is None for the one shipped with the kit."""

    as_of: date
    source: str
    releases: dict = field(default_factory=dict)
    file: str | None = None

    def entry(self, version) -> dict | None:
        """A release's row, or its major line's ("1.2" for 1.2.1.0); None when the calendar does not know it."""
        if not version:
            return None
        v = str(version)
        if v in self.releases:
            return self.releases[v]
        parts = v.split(".")
        for n in (3, 2):
            if ".".join(parts[:n]) in self.releases:
                return self.releases[".".join(parts[:n])]
        return None

    def stale(self, today: date) -> bool:
        return today - self.as_of > STALE_AFTER

    def note(self, today: date) -> str | None:
        return stale_note(self.as_of.isoformat()) if self.stale(today) else None

    def describe(self, today: date) -> dict:
        return {"as_of": self.as_of.isoformat(), "source": self.source, "file": self.file,
                "stale": self.stale(today)}


def stale_note(as_of: str) -> str:
    """One line for every output when the calendar is old enough that AWS may have published new dates."""
    return (f"The engine calendar is as of {as_of}, more than {STALE_AFTER.days} days before this run: AWS may have "
            "moved end-of-life dates since. Run `neptune-audit calendar update` (or pass --engine-calendar FILE).")


def calendar_gap(calendar: Calendar, version) -> str | None:
    """A sentence when the calendar does not know a release whose major version it does know (a release newer than
    the calendar, most often): the way to learn its end of life, instead of a bare "unknown"."""
    if not version or calendar.entry(version) is not None or not _VERSION.fullmatch(str(version)):
        return None
    major = version_key(version)[:2]
    if not any(version_key(v)[:2] == major for v in calendar.releases):
        return None
    return (f"The engine calendar (as of {calendar.as_of.isoformat()}) does not know {version}: run "
            "`neptune-audit calendar update` for its end of life.")


_VERSION = re.compile(r"[0-9]+(\.[0-9]+){1,3}")  # ASCII digits only: str.isdigit() takes "²" and "٣"
_FIELDS = {"status", "released", "end_of_life", "upgrade_to", "source", "global_minor_upgrades_from"}


def _text(value, where: str, version: bool = False) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or (version and not _VERSION.fullmatch(value)):
        want = "an engine version such as \"1.4.7.0\"" if version else "text"
        raise InputError(f"{where}: {one_line(value, limit=40)!r} is not {want}")
    return value


def parse_calendar(text: str, where: str, today: date | None = None, strict: bool = True) -> Calendar:
    """A calendar file, checked whole before any work: bad input is one line naming the file and the entry.

    ``strict`` (every file a person hands the kit): YAML without anchors, aliases or duplicate keys, dates and
    versions kept as the text written; the shipped file is read with the fast loader and held to the same rules
    by the tests."""
    import yaml

    try:
        if strict:
            yml, loader = strict_yaml_loader()
            data = yml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader
        else:
            data = safe_yaml(text)
    except yaml.YAMLError as exc:
        raise InputError(f"engine calendar {where} is not YAML ({one_line(exc, limit=120)})") from None
    if not isinstance(data, dict) or not isinstance(data.get("releases"), dict) or "as_of" not in data:
        raise InputError(f"engine calendar {where} needs 'as_of' (a date) and 'releases' (version: entry)")
    unknown = set(data) - {"as_of", "source", "releases"}
    if unknown:
        raise InputError(f"engine calendar {where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    as_of = parse_date(data["as_of"], f"engine calendar {where}: as_of", required=True)
    assert as_of is not None  # required: _date raised otherwise
    today = today or date.today()
    if as_of > today + timedelta(days=1):
        raise InputError(f"engine calendar {where}: as_of {as_of} is in the future (a calendar is read on a day "
                         "that has come)")
    releases = {}
    for version, entry in data["releases"].items():
        at = f"engine calendar {where}: release {one_line(version, limit=40)!r}"
        if not isinstance(version, str) or not _VERSION.fullmatch(version):
            raise InputError(f"{at}: the version must be text such as \"1.4.7.0\" or \"1.2\" (ASCII digits)")
        if not isinstance(entry, dict):
            raise InputError(f"{at}: expected a mapping with status, released, end_of_life")
        unknown = set(entry) - _FIELDS
        if unknown:
            raise InputError(f"{at}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
        if entry.get("status") not in ("active", "deprecated"):
            raise InputError(f"{at}: status must be active or deprecated")
        released, eol = parse_date(entry.get("released"), at), parse_date(entry.get("end_of_life"), at)
        if released and eol and eol < released:
            raise InputError(f"{at}: end_of_life {eol} is before released {released}")
        releases[version] = {"status": entry["status"], "released": released, "end_of_life": eol,
                             "upgrade_to": _text(entry.get("upgrade_to"), f"{at}: upgrade_to", version=True),
                             "source": _text(entry.get("source"), f"{at}: source"),
                             "global_minor_upgrades_from": _text(entry.get("global_minor_upgrades_from"),
                                                                 f"{at}: global_minor_upgrades_from", version=True)}
    return Calendar(as_of, _text(data.get("source"), f"engine calendar {where}: source") or "", releases)


@functools.lru_cache(maxsize=1)
def shipped_calendar() -> Calendar:
    # Beside this module, as the model slices are (importlib.resources' readers cost ~15 ms to import)
    return parse_calendar((Path(__file__).parent / CALENDAR_FILE).read_text(encoding="utf-8"), CALENDAR_FILE,
                          strict=False)


def load_calendar(path=None) -> Calendar:
    """The shipped calendar, or the user's file (``--engine-calendar``)."""
    if path is None:
        return shipped_calendar()
    from neptune_audit.inputs import read_bytes

    data = read_bytes(path, MAX_CALENDAR_BYTES, "engine calendar")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"engine calendar {path} is not UTF-8 text") from None
    cal = parse_calendar(text, str(path))
    return Calendar(cal.as_of, cal.source, cal.releases, file=str(Path(path)))


def eol_state(eol: date | None, today: date) -> str:
    """past, within-180-days, later or unknown: the state of an end-of-life date on ``today``."""
    if not eol:
        return "unknown"
    if eol < today:
        return "past"
    return "within-180-days" if eol - today <= NEAR else "later"


def end_of_life(calendar: Calendar, version, today: date) -> tuple[str | None, str]:
    """(end-of-life date, its state, as ``eol_state``) of a release on ``today``."""
    entry = calendar.entry(version)
    eol = entry.get("end_of_life") if entry else None
    return (eol.isoformat() if eol else None), eol_state(eol, today)


# ---- one cluster's engine facts ----

def split_pending(actions) -> tuple[list | None, list | None]:
    """(engine actions, OS updates) among pending maintenance actions; (None, None) when unknown."""
    if actions is None:
        return None, None
    return ([a for a in actions if a.get("action") == ENGINE_ACTION],
            [a for a in actions if a.get("action") == OS_ACTION])


def _global_blocked(target: dict, current, calendar: Calendar) -> str | None:
    if target.get("SupportsGlobalDatabases") is False:
        return f"{target['EngineVersion']} does not support global databases"
    entry = calendar.entry(target["EngineVersion"]) or {}
    floor = entry.get("global_minor_upgrades_from")
    if floor and version_key(current) < version_key(floor):
        return (f"a global cluster can reach {target['EngineVersion']} by a minor upgrade only from {floor} on "
                "(its release notes)")
    return None


def engine_facts(version, status, targets, catalogue, pending, global_cluster_id, calendar: Calendar,
                 today: date) -> dict:
    """The engine facts of one cluster (or lone instance).

    ``targets``: the version's ``ValidUpgradeTarget`` list (None: unknown); ``catalogue``: the region's versions
    (version -> status; None: unknown); ``pending``: every pending action on the cluster and its instances
    (None: unknown).
    """
    effective = amvu_effective(version)
    listed = None if catalogue is None else (version in catalogue)
    engine, os_updates = split_pending(pending)
    eol_date, eol = end_of_life(calendar, version, today)
    forced = sorted(d for a in engine or [] for d in (a.get("forced_apply_date"), a.get("auto_applied_after")) if d)
    facts = {"amvu_effective": effective, "engine_status": status, "listed": listed,
             "latest_minor_version": None, "minor_versions_behind": None, "auto_upgrade_target": None,
             "auto_blocked": None, "patch_target": None, "engine_pending": None if engine is None else bool(engine),
             "os_update_pending": None if os_updates is None else bool(os_updates),
             "forced_upgrade_date": forced[0] if forced else None,
             "forced_apply_date": _earliest(engine, "forced_apply_date"),
             "auto_applied_after": _earliest(engine, "auto_applied_after"),
             "end_of_life_date": eol_date, "end_of_life": eol, "global_cluster_id": global_cluster_id or None,
             "manual_upgrade_target": manual_target(version, targets, calendar),
             "support_extension": support_extension(version, targets, calendar, today),
             "targets_known": targets is not None,
             "major_ended": major_ended(calendar, version, today), "calendar_gap": calendar_gap(calendar, version)}
    if version and listed and targets is not None:
        cur = version_key(version)
        newer = {t["EngineVersion"] for t in targets
                 if not t.get("IsMajorVersionUpgrade") and version_key(t["EngineVersion"]) > cur}
        newer |= {v for v, s in catalogue.items() if s != "deprecated" and version_key(v)[:2] == cur[:2]
                  and version_key(v) > cur}
        facts["latest_minor_version"] = max(newer, key=version_key) if newer else version
        if effective:
            facts["minor_versions_behind"] = len({version_key(v)[:3] for v in newer if version_key(v)[:3] > cur[:3]})
            autos = [t for t in targets if t.get("AutoUpgrade") and not t.get("IsMajorVersionUpgrade")
                     and version_key(t["EngineVersion"]) > cur]
            minors = [t for t in autos if version_key(t["EngineVersion"])[:3] > cur[:3]]
            patches = [t for t in autos if version_key(t["EngineVersion"])[:3] == cur[:3]]
            if patches:
                facts["patch_target"] = max((t["EngineVersion"] for t in patches), key=version_key)
            if minors:
                best = max(minors, key=lambda t: version_key(t["EngineVersion"]))
                blocked = _global_blocked(best, version, calendar) if global_cluster_id else None
                if blocked:
                    facts["auto_blocked"] = (best["EngineVersion"], blocked)
                else:
                    facts["auto_upgrade_target"] = best["EngineVersion"]
        else:
            facts["minor_versions_behind"] = len(newer)
    facts["exposure"] = _exposure(facts)
    return facts


def _earliest(actions, key: str) -> str | None:
    found = sorted(a[key] for a in actions or [] if a.get(key))
    return found[0] if found else None


def _calendar_releases(calendar: Calendar):
    """(version, end of life) of every whole release the calendar dates (major lines such as "1.2" left out)."""
    return [(v, e["end_of_life"]) for v, e in calendar.releases.items() if v.count(".") == 3 and e["end_of_life"]]


def manual_target(version, targets, calendar: Calendar) -> str | None:
    """Where to upgrade a cluster by hand when the setting cannot take it there (a release before 1.3.0.0): the
    region's ``ValidUpgradeTarget`` that is a major upgrade, preferring the release the calendar says lives
    longest, then the newest (1.3.0.0 or later where offered, else the first step).  None when the targets are
    unknown or there is none."""
    if not version or targets is None or amvu_effective(version) is not False:
        return None
    offered = [t["EngineVersion"] for t in targets if t.get("IsMajorVersionUpgrade")]
    # a release the setting can act on; else the step the region offers first (1.1 -> 1.2, then on from there)
    majors = [v for v in offered if amvu_effective(v)] or offered
    if not majors:
        return None

    def lives(v):
        eol = (calendar.entry(v) or {}).get("end_of_life")
        return (eol or date.min, version_key(v))

    return max(majors, key=lives)


def support_extension(version, targets, calendar: Calendar, today: date) -> dict | None:
    """The release that takes a cluster past its release's end of life: within its major where one exists (the
    smallest step: the oldest release with the latest date), else in a newer major (the newest such release).
    Only releases the region offers (``ValidUpgradeTarget``) when it said which; None when no dated release does.
    ``{"version", "end_of_life", "major"}``."""
    entry = calendar.entry(version) if version else None
    if not entry or not entry.get("end_of_life"):
        return None
    floor = max(entry["end_of_life"], today)
    cur = version_key(version)
    offered = None if targets is None else {t["EngineVersion"] for t in targets}
    later = [(v, eol) for v, eol in _calendar_releases(calendar)
             if eol > floor and version_key(v) > cur and (offered is None or v in offered)]
    if not later:
        return None
    same = [(v, eol) for v, eol in later if version_key(v)[:2] == cur[:2]]
    if same:
        best = max(eol for _, eol in same)
        v = min((v for v, eol in same if eol == best), key=version_key)
        return {"version": v, "end_of_life": best.isoformat(), "major": False}
    v, eol = max(later, key=lambda x: (x[1], version_key(x[0])))
    return {"version": v, "end_of_life": eol.isoformat(), "major": True}


def major_ended(calendar: Calendar, version, today: date) -> bool | None:
    """Whether every dated release of this release's major version has reached end of life (AWS's documented
    end-of-life process is for a major version); None when the calendar does not know the release."""
    if not version or not calendar.entry(version):
        return None
    major = version_key(version)[:2]
    dated = [eol for v, e in calendar.releases.items() if version_key(v)[:2] == major
             for eol in [e["end_of_life"]] if eol]
    return bool(dated) and max(dated) < today


def _exposure(f: dict) -> str:
    if f["amvu_effective"] is False:
        return "not-covered"
    if not f["listed"] or f["minor_versions_behind"] is None or f["engine_pending"] is None:
        return "unknown"
    if f["engine_status"] == "deprecated" or f["minor_versions_behind"] or f["engine_pending"]:
        return "behind"
    return "current"


def extension_sentence(f: dict, version) -> str:
    """What takes a release past its end of life, from the calendar and the region's targets."""
    ext = f.get("support_extension")
    does = "brings it back into support" if f["end_of_life"] == "past" else "extends its support"
    if not ext:
        if f.get("targets_known"):
            return (" No upgrade target the region offers has a later end of life in the engine calendar (see AWS's "
                    "engine release table for newer dates).")
        return (" No release dated in the engine calendar extends support beyond that yet (see AWS's engine "
                "release table for newer dates).")
    line = ".".join(str(version).split(".")[:2])
    if not ext["major"]:
        return (f" A minor upgrade within {line} to {ext['version']} or later (end of life {ext['end_of_life']}) "
                f"{does}.")
    return (f" A major version upgrade to {ext['version']} (end of life {ext['end_of_life']}) {does}; "
            f"no dated {line} release does.")


def pending_sentence(f: dict, window) -> str:
    """When AWS applies a pending engine upgrade, as PendingMaintenanceAction defines its two dates."""
    auto, forced = f.get("auto_applied_after"), f.get("forced_apply_date")
    if auto:
        s = f"AWS applies it in the maintenance window {window} after {auto[:10]}"
        return s + (f", and on {forced[:10]} at the latest, regardless of the window" if forced else "")
    return f"AWS applies it on {str(forced)[:10]}, regardless of the maintenance window"


def sentence(f: dict, version, window, writer_id, writer_setting, writer_seen: bool) -> str:
    """The operator's question, answered in one plain sentence: will it be upgraded, to what, when?"""
    v, w = version or "an unknown version", window or "(no window reported)"
    tail = ""
    if f["end_of_life"] == "within-180-days":
        tail += f" {v} reaches end of life on {f['end_of_life_date']}." + extension_sentence(f, v)
    if f.get("patch_target"):
        tail += f" Patch {f['patch_target']} is installed in a maintenance window whatever the setting says."
    if f["os_update_pending"]:
        tail += " An OS update is pending (it does not change the engine version)."
    if f.get("calendar_gap"):
        tail += " " + f["calendar_gap"]
    forced = f.get("auto_applied_after") or f.get("forced_apply_date")
    if writer_id and not writer_seen:
        return f"Unknown: the writer {writer_id} was not returned by DescribeDBInstances."
    if f["end_of_life"] == "past":
        when = f" An engine upgrade is already scheduled: {pending_sentence(f, w)}." if forced else ""
        if f.get("major_ended"):
            what = (f" Every {'.'.join(v.split('.')[:2])} release has ended: for a major version at end of life AWS "
                    "documents a notice, then, after a grace period, an upgrade to the most recent major version "
                    "scheduled in a maintenance window; upgrade it yourself first.")
        else:
            what = (" AWS's pages do not say what happens to a release past its end of life while its major "
                    "version is supported: upgrade it yourself.")
        return f"{v} reached end of life on {f['end_of_life_date']}.{what}{extension_sentence(f, v)}{when}"
    if forced:
        return f"An engine upgrade is pending: {pending_sentence(f, w)}, whatever the setting says.{tail}"
    if f["amvu_effective"] is False:
        return (f"Not upgraded automatically: {v} is older than 1.3.0.0, where the setting governs no minor "
                f"upgrades; upgrade manually.{tail}")
    if writer_id is None:
        return "No writer instance: nothing to upgrade."
    if writer_setting is not True:
        would = (f" With it on, Neptune would move the cluster to {f['auto_upgrade_target']}."
                 if f["auto_upgrade_target"] else "")
        return f"Not upgraded automatically: the writer {writer_id} has the setting off.{would}{tail}"
    if f["listed"] is None:
        return f"Unknown: the region's engine catalogue could not be read.{tail}"
    if not f["listed"]:
        return f"Unknown: {v} is not in the region's engine catalogue.{tail}"
    if f["minor_versions_behind"] is None:
        return f"Unknown: the upgrade targets of {v} could not be read.{tail}"
    if f["auto_upgrade_target"]:
        return f"Upgraded automatically to {f['auto_upgrade_target']} in the window {w}.{tail}"
    if f["auto_blocked"]:
        target, why = f["auto_blocked"]
        return f"Not upgraded automatically to {target}: {why}; upgrade manually.{tail}"
    if f["engine_status"] == "deprecated":
        return f"{v} is deprecated and has no automatic target: upgrade manually.{tail}"
    if f["minor_versions_behind"]:
        return (f"No automatic target exists for {v}: upgrade manually (newest minor: "
                f"{f['latest_minor_version']}).{tail}")
    return f"On the newest minor version of its major ({v}): no automatic upgrade is due.{tail}"
