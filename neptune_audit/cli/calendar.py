"""`calendar show` and `calendar update`: the engine calendar in use, and fetching AWS's current dates."""
from __future__ import annotations

import sys

from neptune_audit.vocabulary import EXIT_OK


def add_parsers(sub) -> None:
    cal = sub.add_parser("calendar", help="show the engine calendar (end-of-life dates) in use, or update it from "
                                          "AWS's current table")
    verbs = cal.add_subparsers(dest="calendar_command", metavar="show|update", parser_class=type(cal))
    verbs.required = True
    show = verbs.add_parser("show", help="print the calendar in use: where it came from, as of when, every release")
    show.add_argument("--format", default="table", choices=("table", "json"),
                      help="table (default) or json: {as_of, source, releases: [{version, released, end_of_life, "
                           "upgrade_to}]}")
    show.add_argument("--engine-calendar", metavar="FILE", dest="engine_calendar",
                      help="show this calendar file instead of the one scans use")
    show.set_defaults(func=cmd_show)
    upd = verbs.add_parser("update", help="fetch the current end-of-life dates (endoflife.date's copy of AWS's table) "
                                          "and write a calendar every later scan, report and notebook uses")
    upd.add_argument("--url", metavar="URL", default=None,
                     help="where to fetch from: a mirror or proxy of endoflife.date's API "
                          "(default: https://endoflife.date/api/v1/products/amazon-neptune)")
    upd.add_argument("-o", "--output", metavar="FILE",
                     help="write the calendar here instead of your data folder (use it with --engine-calendar FILE)")
    upd.set_defaults(func=cmd_update)


def cmd_show(args) -> int:
    import json
    from datetime import date

    from neptune_audit.rule import calendars
    from neptune_audit.rule.outlook import load_calendar

    calendar = load_calendar(args.engine_calendar) if args.engine_calendar else calendars.default_calendar()
    releases = calendars.rows(calendar)
    if args.format == "json":
        doc = {"as_of": calendar.as_of.isoformat(), "source": calendar.source, "releases": releases}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return EXIT_OK
    lines = [f"Engine calendar in use: {calendars.describe_source(calendar)}",
             f"  as of {calendar.as_of.isoformat()}; source: {calendar.source}"]
    note = calendar.note(date.today())
    if note:
        lines.append(f"  {note}")
    header = ("VERSION", "RELEASED", "END OF LIFE", "UPGRADE TO")
    table = [header] + [(r["version"], r["released"] or "-", r["end_of_life"] or "-", r["upgrade_to"] or "-")
                        for r in releases]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines.append("")
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
    sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK


def cmd_update(args) -> int:
    from neptune_audit.contract.files import guard_outputs, write_atomic
    from neptune_audit.rule import calendars
    from neptune_audit.rule.outlook import parse_calendar

    url = args.url or calendars.DEFAULT_URL
    target = guard_outputs({"-o": args.output})["-o"] if args.output else calendars.user_calendar_path()
    text = calendars.fetch_calendar(url)  # checked whole: nothing is written unless every row reads
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, text)
    written = parse_calendar(text, str(target))
    newest = max(calendars.rows(written), key=lambda r: r["released"] or "")["version"]
    print(f"{calendars.shown_path(target)}: {len(written.releases)} releases as of {written.as_of.isoformat()} "
          f"(newest {newest}) from {url}")
    if not args.output:
        shipped = calendars.shipped_calendar()
        used = "it" if written.as_of >= shipped.as_of else f"the kit's own (as of {shipped.as_of.isoformat()}, newer)"
        print(f"Scans, reports and notebooks now use {used}; delete the file to go back to the kit's calendar.")
    return EXIT_OK
