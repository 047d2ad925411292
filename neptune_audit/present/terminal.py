"""The terminal view of a run (``scan --format table``): fitted to the terminal's width, coloured only on a
terminal, laid out by rich.

Every value shown came from AWS (names, tags, reasons) or a file, so it goes in as plain ``Text``, never as rich
markup, and with control and bidi characters already dropped (``records.terminal_text``).
"""
from __future__ import annotations

import io
import os
import shutil
import sys

from neptune_audit.rule import model
from neptune_audit.vocabulary import EXCEPTED, EXPOSURE_ORDER, FAIL, NOT_ENABLED, PASS, summary_line

STYLES = {FAIL: "bold red", PASS: "green", EXCEPTED: "yellow"}
NOTE_MIN = 24  # the narrowest NOTE column a table keeps before it turns into one record per instance
# Not a terminal and no COLUMNS: a width that keeps a 12-digit account, a region and two ids on one line.
PIPE_WIDTH = 120


def use_color(stream=None, *, no_color: bool = False) -> bool:
    """Colour only on a terminal, never with ``--no-color`` or ``NO_COLOR`` set (https://no-color.org)."""
    stream = sys.stdout if stream is None else stream
    if no_color or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def width() -> int:
    """``COLUMNS`` if set, else the terminal's width, else `PIPE_WIDTH`."""
    return max(40, shutil.get_terminal_size((PIPE_WIDTH, 24)).columns)


def to_table(result, *, statuses=None, color: bool = False, columns: int | None = None) -> str:
    """Failing instances (or those in ``statuses``), clusters held back, end of life, scope problems, summary."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from neptune_audit.rule.evaluate import held_back, not_scanned
    from neptune_audit.records import terminal_text

    buf = io.StringIO()
    console = Console(file=buf, width=columns or width(), force_terminal=color, no_color=not color,
                      color_system="standard" if color else None, highlight=False, markup=False, emoji=False,
                      legacy_windows=False)

    def line(text: str = "", style: str | None = None) -> None:
        console.print(Text(terminal_text(text), style=style or ""), overflow="fold")

    def whole(text: str) -> None:
        """A line rich never breaks (a path to copy): the terminal may wrap it on screen, the text stays one line."""
        console.print(Text(terminal_text(text)), soft_wrap=True)

    def item(text: str, style: str | None = None) -> None:
        """An indented line whose continuation lines keep the indent."""
        grid = Table.grid(padding=(0, 0))
        grid.add_column(width=2, no_wrap=True)
        grid.add_column(overflow="fold")
        grid.add_row("", Text(terminal_text(text), style=style or ""))
        console.print(grid)

    meta, s = model.metadata(), result.summary
    line(f"{meta.id} ({meta.risk}): {meta.title}", "bold")
    line()
    f = result.findings
    shown = f if not statuses else f[f["result"].isin(list(statuses))]
    if len(shown):
        # one account: say it once above the table, and give its column's width to the notes
        accounts = shown["account_id"].unique()
        columns_shown = ["result", *(["account_id"] if len(accounts) > 1 else []), "region", "cluster_id",
                         "instance_id", "role", "auto_minor_version_upgrade", "why"]
        if len(accounts) == 1:
            line(f"Account {accounts[0]}")
        auto = {True: "on", False: "off"}
        from neptune_audit.code.link import where as defined_in

        rows = []
        for r in shown.to_dict("records"):
            # where code defines it goes on a line of its own, never folded: a FILE:LINE is copied whole
            rows.append({**{c: r[c] for c in columns_shown if c != "why"}, "why": "" if r["result"] == PASS else r["why"],
                         "defined": defined_in(r.get("managed_by"))})
        spec = {"result": "RESULT", "account_id": "ACCOUNT", "region": "REGION", "cluster_id": "CLUSTER",
                "instance_id": "INSTANCE", "role": "ROLE", "auto_minor_version_upgrade": "AUTO\nMINOR",
                "why": "NOTE"}

        def shown_value(col, v):
            return auto.get(v, "?") if col == "auto_minor_version_upgrade" else terminal_text(v)

        # Ids and accounts are never broken: when they and a readable note do not fit side by side, each instance
        # becomes a short record instead (as kubectl and rich tools do below the width a table needs)
        fixed = [c for c in columns_shown if c != "why"]
        needed = sum(max(len(spec[c].split("\n")[0]), *(len(shown_value(c, r[c])) for r in rows)) + 1
                     for c in fixed) + NOTE_MIN
        if needed <= console.width:
            table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold", expand=False,
                          padding=(0, 1))
            for col in columns_shown:
                opts = {"overflow": "fold", "min_width": NOTE_MIN} if col == "why" else {"no_wrap": True}
                table.add_column(spec[col], justify="left", **opts)
            for r in rows:
                table.add_row(*[Text(r[c], style=STYLES.get(r[c], "")) if c == "result" else
                                Text(shown_value(c, r[c])) for c in columns_shown])
            console.print(table)
            located = [r for r in rows if r["defined"]]
            if located:
                line()
                line("Defined in code:")
                for r in located:
                    whole(f"  {r['instance_id']}: {r['defined']}")
        else:
            for r in rows:
                # the widest result and a space: a result never runs into the instance's name
                head = Text(f"{r['result']:<{max(map(len, STYLES)) + 1}}", style=STYLES.get(r["result"], ""))
                head.append(terminal_text(r["instance_id"]), style="bold")
                console.print(head, overflow="fold")
                where = [f"cluster {r['cluster_id']}" if r["cluster_id"] else "no cluster", r["region"],
                         *([f"account {r['account_id']}"] if "account_id" in r else []),
                         f"{r['role']}, setting {shown_value('auto_minor_version_upgrade', r['auto_minor_version_upgrade'])}"]
                item(", ".join(terminal_text(x) for x in where))
                if r["why"]:
                    item(r["why"])
                if r["defined"]:
                    whole(f"  {r['defined']}")
    elif len(f):
        line(f"No instances with result {' or '.join(statuses)} ({len(f)} instances in the run).")
    else:
        line("No Neptune instances found in the scanned scope.")
    held = held_back(result.clusters)
    if len(held):
        line()
        line("Clusters that receive no automatic minor upgrades:")
        for r in held.itertuples():
            item(f"{r.account_id} {r.region} {r.cluster_id}: {r.reason}")
    if len(result.clusters):
        counts = result.clusters["exposure"].value_counts()
        line()
        line("Upgrade exposure (clusters): " + ", ".join(
            f"{int(counts.get(k, 0))} {k}" for k in EXPOSURE_ORDER))
        ending = result.clusters[result.clusters["end_of_life"].isin(["past", "within-180-days"])]
        if len(ending):
            line()
            line("End of life (per release; the outlook says what extends support):")
            for r in ending.sort_values("end_of_life_date", kind="stable").itertuples():
                item(f"{r.account_id} {r.region} {r.cluster_id} {r.engine_version}: "
                     f"{'ended' if r.end_of_life == 'past' else 'ends'} {r.end_of_life_date}", "yellow")
    bad = not_scanned(result.scope)
    if len(bad):
        line()
        line("Not scanned:", "bold yellow")
        for r in bad.itertuples():
            item(f"{r.account_id} {r.region} {r.state}: {r.error}")
    if not s["targets_scanned"]:
        line()
        line("NOTHING WAS SCANNED: no account-region could be checked, so this run proves nothing.", "bold red")
    if result.calendar_note:
        line()
        line(result.calendar_note)
    not_enabled = int((result.scope["state"] == NOT_ENABLED).sum())
    line()
    line(f"{summary_line(s)}, {not_enabled} not enabled", "bold red" if s["fail"] else "bold")
    # rich pads every cell to its column's width: drop the padding at the ends of lines
    return "\n".join(ln.rstrip() for ln in buf.getvalue().split("\n"))
