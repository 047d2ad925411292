"""The audit notebook's sections, each displayed where it is called and the same in the exported HTML report:
the verdict and header, summary cards, coverage, upgrades ahead, exposure, clusters, findings, exceptions,
history, the machine-readable summary, and each chart with its filtered-view note.  Text from AWS or from the
exceptions file is always escaped (``display.escape``, ``datatable.cell_text``)."""
from __future__ import annotations

import weakref

import pandas as pd

from neptune_audit._version import __version__
from neptune_audit.contract.export import to_contract
from neptune_audit.present import charts, display
from neptune_audit.present.datatable import (Html, Rows, account_region, cell_text, command_html, stack, table,
                                             table_html, where)
from neptune_audit.present.display import STYLE, escape, show
from neptune_audit.present.names import account_names
from neptune_audit.records import iso, missing
from neptune_audit.rule import model
from neptune_audit.rule.evaluate import held_back, not_scanned
from neptune_audit.vocabulary import (BEHIND, EXCEPTED, EXIT_MEANING, EXPOSURE_ORDER, FAIL, NOT_COVERED, NOT_SCANNED,
                                      PASS, SCANNED, SCOPE_STATES, UNKNOWN, summary_line)

RESULT_MIME = "application/vnd.neptune-audit+json"  # the run's JSON, read back by `neptune-audit report`


def _kv(rows) -> str:
    return '<table class="na-kv">' + "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"


_VERDICT = {0: ("PASS", "na-PASS"), 1: ("FAIL", "na-FAIL"), 3: ("INCOMPLETE", "na-EXCEPTED")}


def verdict_html(result) -> str:
    """The verdict first, before the metadata an auditor checks next: PASS / FAIL / INCOMPLETE, in words."""
    code = result.exit_code
    word, css = _VERDICT.get(code, ("ERROR", "na-FAIL"))
    return (f'<div class="na-card {css}" style="display:block;max-width:none"><b>Verdict: {word}</b>'
            f"{escape(EXIT_MEANING[code][0].upper() + EXIT_MEANING[code][1:])} (exit code {code}). "
            # the same words as the summary line of the terminal and the scheduler's log
            f"{escape(summary_line(result.summary))}.</div>")


def _parameter(name: str, value) -> str:
    """One scan parameter in the words of the command line, never Python's: ``demo`` (a switch that is on),
    ``regions=all``, ``iac_paths=examples/iac, infra`` (a list as its items)."""
    if value is True:
        return escape(name)
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    return f"{escape(name)}={escape(str(value))}"


def header(result, signer: dict | None = None) -> None:
    """What an auditor checks first: the rule, when, by whom, over what, with which parameters, and the
    SHA-256 of the run's JSON, which is embedded here as the report's evidence.

    ``signer``: the key the report being made will be signed with (``report --sign``): it becomes part of the
    run's record, so the evidence names the key that vouches for it."""
    from neptune_audit.contract import evidence

    if signer is not None:
        result.signature = signer
    doc = to_contract(result)
    meta = model.metadata()
    scanned = result.scope[result.scope["state"] == SCANNED]
    callers = "<br>".join(f"{escape(c['account_id'])} &mdash; {escape(c['caller_arn'] or c['label'])}" for c in result.callers)
    params = ", ".join(_parameter(k, v) for k, v in result.parameters.items() if v not in (None, [], (), False, ""))
    display.show_html(STYLE + verdict_html(result) + _kv([
        ("Rule", f"<b>{escape(meta.id)}</b> &mdash; {escape(meta.title)}"),
        ("Risk", escape(meta.risk)),
        ("Standards", escape(", ".join(meta.standards))),
        ("Generated (UTC)", escape(iso(result.generated_at))),
        ("Tool", f"neptune-audit {escape(__version__)}"),
        ("Caller identity", callers or "&mdash;"),
        ("Accounts in scope", escape(", ".join(sorted(result.scope["account_id"].unique())))),
        ("Regions scanned", escape(", ".join(sorted(scanned["region"].unique())) or "none")),
        ("Parameters", params or "defaults"),
        *([("Run", f"{result.run['api_calls']:,} AWS API calls in {result.run['duration_seconds']:,.1f} s")]
          if result.run else []),
        ("Rule source", f'{escape(meta.publisher)} &mdash; <a href="{escape(meta.reference)}" rel="noopener noreferrer" '
                        f'target="_blank">{escape(meta.reference)}</a>'),
        *[("Saved scan" if len(result.sources) == 1 else f"Shard {i}", f"{escape(src['file'])} &mdash; generated "
           f"{escape(src['generated_at'])} &mdash; SHA-256 <code>{escape(src['sha256'])}</code>")
          for i, src in enumerate(result.sources, start=1)],
        *evidence.header_rows(doc, result.signature),
    ]) + f"<p>{escape(meta.rationale)}</p>" + evidence.element(doc))


def _cards(result, fixed=frozenset()) -> str:
    """The headline cards; ``fixed``: (account, region, instance) keys turned on and verified since the scan,
    counted as passing now (and their clusters as upgraded, where the writer was fixed on a covered release)."""
    s, held = dict(result.summary), held_back(result.clusters)
    if fixed:
        f = result.findings
        now = f[[k in fixed for k in zip(f["account_id"], f["region"], f["instance_id"])]]
        s["fail"] -= int((now["result"] == FAIL).sum())
        s["excepted"] -= int((now["result"] == EXCEPTED).sum())
        s["pass"] += int(now["result"].isin([FAIL, EXCEPTED]).sum())
        held = held[[(a, r, wr) not in fixed or eff is False for a, r, wr, eff in
                     zip(held["account_id"], held["region"], held["writer_instance_id"], held["amvu_effective"])]]
    cards = [("Instances", s["instances"], ""), ("Fail", s["fail"], FAIL), ("Pass", s["pass"], PASS),
             ("Excepted", s["excepted"], EXCEPTED), ("Clusters without minor upgrades", len(held), FAIL),
             ("Account-regions not scanned", s["targets_not_scanned"], FAIL if s["targets_not_scanned"] else "")]
    text = "".join(f'<div class="na-card na-{c}">{escape(label)}<b>{escape(n)}</b></div>' for label, n, c in cards)
    if not s["targets_scanned"]:
        text = ('<div class="na-note"><b>Nothing was scanned.</b> No account-region could be checked, so this '
                "report proves nothing about compliance. See Coverage.</div>") + text
    return text


def summary(result) -> None:
    """Headline numbers, and the clusters that receive no minor upgrades."""
    display.show_html(STYLE + _cards(result))


def summary_since(result, fixed) -> str:
    """The summary cards of a remediation session: the scan's, with the instances fixed and verified since."""
    note = ""
    if fixed:
        note = (f'<p class="na-filtered">With this session\'s {len(fixed)} verified change(s); everything else as '
                f"scanned at {escape(iso(result.generated_at))}.</p>")
    return STYLE + _cards(result, frozenset(fixed)) + note


def _coverage_line(scope) -> str:
    counts = scope["state"].value_counts()
    return ", ".join(f"{int(counts.get(s, 0))} {s}" for s in SCOPE_STATES)


def _calendar_note(result) -> str:
    return f'<p class="na-note">{escape(result.calendar_note)}</p>' if result.calendar_note else ""


def coverage_by_account(scope: pd.DataFrame) -> pd.DataFrame:
    """One row per account: how many of its regions are in each scope state, and its instances."""
    counts = scope.pivot_table(index=["account_id", "account_label"], columns="state", values="region",
                               aggfunc="count", fill_value=0).reindex(columns=list(SCOPE_STATES), fill_value=0)
    counts.columns = [f"regions {s}" for s in SCOPE_STATES]
    instances = scope.groupby(["account_id", "account_label"])["instances"].sum()
    return counts.assign(instances=instances.astype(int)).reset_index()


def coverage(result) -> None:
    """What was not scanned, in full and first; then one row per account; the account x region list folded."""
    scope = result.scope.assign(account_label=result.scope["account_label"].fillna(""))
    bad = not_scanned(scope)
    text = f"<p>Account-regions: {escape(_coverage_line(scope))}.</p>"
    if len(bad):
        text += ('<div class="na-note"><b>Not scanned</b> &mdash; findings below do not cover these:<ul>'
                 + "".join(f'<li><span class="na-state-{escape(r.state)}">{escape(r.state)}</span> {escape(r.account_id)} '
                           f"{escape(r.region)}: {escape(r.error)}</li>" for r in bad.itertuples()) + "</ul></div>")
    order = scope.sort_values(["state", "account_id", "region"], kind="stable",
                              key=lambda c: c.map(_STATE_ORDER) if c.name == "state" else c)
    full = table_html(order[["account_id", "account_label", "region", "state", "instances", "error"]],
                       caption="Every account and region")
    display.show_html(text + table_html(coverage_by_account(scope), caption="Coverage per account", page_length=10)
          + f'<details class="na-more"><summary>Every account and region ({len(scope)} rows)</summary>{full}</details>')


_STATE_ORDER = {s: i for i, s in enumerate((*NOT_SCANNED, *(s for s in SCOPE_STATES if s not in NOT_SCANNED)))}


def _engine(versions: pd.Series, latest: pd.Series, auto: pd.Series | None = None) -> list[str]:
    """``1.3.0.0 → 1.3.2.1 (automatic; newest 1.3.4.0)`` where the setting's target is not the newest minor,
    ``1.2.1.0 → 1.2.1.2 (newest)`` where nothing moves it automatically, else the version."""
    auto = auto if auto is not None else pd.Series([None] * len(versions), index=versions.index)
    out = []
    for v, n, a in zip(versions, latest, auto):
        v = "" if missing(v) else str(v)
        n = n if isinstance(n, str) and n and n != v else None
        a = a if isinstance(a, str) and a else None
        if a and n and a != n:
            out.append(f"{v} → {a} (automatic; newest {n})")
        elif a:
            out.append(f"{v} → {a} (automatic)")
        elif n:
            out.append(f"{v} → {n} (newest)")
        else:
            out.append(v)
    return out


# id of a whole result -> (a weak reference to it, its tables by builder): kept here, not on the result, which a user
# pickles (Airflow's XCom) or copies; gone with the result
_TABLES: dict[int, tuple] = {}


def _tables_of(whole) -> dict:
    key = id(whole)
    held = _TABLES.get(key)
    if held is None or held[0]() is not whole:
        held = _TABLES[key] = (weakref.ref(whole, lambda _gone: _TABLES.pop(key, None)), {})
    return held[1]


def _rows(result, frame: str, build) -> Rows:
    """``build(whole)``'s table for the whole result that ``result`` narrows (a filter bar's view; else ``result``
    itself), made once, with the rows of ``result``'s ``frame`` ("findings" or "clusters") taken from it.  Each row
    depends on its own instance or cluster alone: a filter change at 10,000 instances renders none again."""
    whole = getattr(result, "whole", None) or result
    memo = _tables_of(whole)
    source = getattr(whole, frame)
    made = memo.get(build.__name__)
    if made is None or made[0] is not source:  # a frame replaced since (``result.findings = ...``): made again
        made = memo[build.__name__] = (source, Rows.of(build(whole)))
    return made[1] if whole is result else made[1].take(getattr(result, frame).index)


def findings_table(result) -> None:
    """All findings, failing first (the why in short; see the legend above the table)."""
    table(_rows(result, "findings", _findings_cells), caption="Findings (one row per instance)")


def _findings_cells(result) -> pd.DataFrame:
    from neptune_audit.code.link import where as defined_in
    from neptune_audit.rule.model import fix

    f = result.findings
    fixes = [fix(r) for r in f[["result", "region", "instance_id", "cluster_id", "auto_minor_version_upgrade",
                                "amvu_effective", "manual_upgrade_target"]].to_dict("records")]
    view = pd.DataFrame({"result": _pills(f["result"]), "account / region": account_region(result, f["account_id"], f["region"]),
                         # role under the cluster, exposure under the engine: the fix's column fits at 1280 px
                         "instance / cluster, role": stack(f["instance_id"], [f"{c or '(no cluster)'}, {r}" for c, r
                                                                              in zip(f["cluster_id"], f["role"])]),
                         "engine / exposure": stack(pd.Series(_engine(f["engine_version"], f["latest_minor_version"],
                                                                      f["auto_upgrade_target"]), index=f.index),
                                                    f["exposure"]),
                         # the why, where code defines the instance, and its tags (CloudFormation's own aws:* tags are
                         # said once, as "defined in", not as three long chips): one column, so the fix fits beside
                         "why / tags": pd.Series([Html(cell_text(w) + (f"<br><i>{cell_text(defined_in(m))}</i>" if defined_in(m)
                                                                   else "") + (f"<br>{cell_text(t)}" if t else ""))
                                                  for w, m, t in zip(f["why"], f["managed_by"], f["tags"].map(
                                                      lambda t: {k: v for k, v in (t or {}).items()
                                                                 if not str(k).startswith("aws:")}))],
                                                 index=f.index, dtype=object),
                         # the fix in its own column, to copy: words whole, lines breaking only between them
                         "fix": pd.Series([command_html(x) for x in fixes], index=f.index, dtype=object)})
    return view  # any order: a reader sorts by any heading


def _pills(results: pd.Series) -> pd.Series:
    """Results as coloured pills whose text still says it all without colour."""
    # short markup (b.p, pF/pP/pE in the stylesheet): the cell repeats 10,000 times in a large report
    return pd.Series([Html(f'<b class="p p{cell_text(r)[:1]}">{cell_text(r)}</b>') for r in results],
                     index=results.index, dtype=object)


_EXPOSURE_TEXT = {
    "not-covered": "engine older than 1.3.0.0: the setting cannot help; upgrade the engine by hand",
    "behind": "a newer minor version exists, the release is deprecated, or an engine upgrade is pending",
    "current": "on the newest minor version of its major, no engine upgrade pending",
    "unknown": "its engine version is not in the catalogue, or the catalogue, pending maintenance or writer "
               "could not be read (see Coverage)",
}


def _pending_text(actions) -> str:
    if actions is None:
        return "unknown"
    return "; ".join(f"{a['action']}" + (f" auto after {a['auto_applied_after'][:10]}" if a.get("auto_applied_after")
                                         else "") + (f", forced {a['forced_apply_date'][:10]}" if a.get("forced_apply_date")
                                                     else "") for a in actions)


def upgrade_exposure(result) -> None:
    """What the setting means per cluster: not covered (before 1.3.0.0), behind, current, unknown."""
    c = result.clusters
    counts = c["exposure"].value_counts()
    display.show_html("<ul>" + "".join(f"<li><b>{int(counts.get(k, 0))} {escape(k)}</b> &mdash; {escape(text)}</li>"
                           for k, text in _EXPOSURE_TEXT.items()) + "</ul>")
    show(charts.upgrade_exposure(c))
    rows = _rows(result, "clusters", _exposure_cells)
    if not len(rows.cells):
        display.show_html("<p>No cluster in view is behind, not covered or unknown.</p>" if len(c) else
              "<p>No clusters match.</p>")
        return
    table(rows, caption="Clusters to look at (not covered, behind, unknown)")


def _exposure_cells(result) -> pd.DataFrame:
    c = result.clusters
    todo = c[c["exposure"].isin([NOT_COVERED, BEHIND, UNKNOWN])]
    order = {x: i for i, x in enumerate(EXPOSURE_ORDER)}
    todo = todo.sort_values(["exposure", "minor_versions_behind"], key=lambda col: col.map(order) if col.name ==
                            "exposure" else pd.to_numeric(col).fillna(-1), ascending=[True, False], kind="stable")
    return pd.DataFrame({"exposure": todo["exposure"],
                         "cluster / account, region": stack(todo["cluster_id"], where(result, todo["account_id"], todo["region"])),
                         "upgrade": _engine(todo["engine_version"], todo["latest_minor_version"],
                                            todo["auto_upgrade_target"]),
                         "automatic target": todo["auto_upgrade_target"],
                         "behind": pd.to_numeric(todo["minor_versions_behind"]).astype("Int64"),
                         "pending": [_pending_text(a) for a in todo["pending_maintenance"]],
                         "outlook": todo["outlook"]}, index=todo.index)


def upgrades_ahead_rows(clusters: pd.DataFrame, today=None) -> pd.DataFrame:
    """What will happen to each cluster's engine, and when: one row per cluster (so its outlook is said once), its
    events soonest first (end of life, per release; a pending engine upgrade; the automatic minor upgrade in its
    window), a date already past marked overdue; the clusters by their soonest event."""
    from datetime import date

    today = (today or date.today()).isoformat()
    rows, labels = [], []
    for label, c in zip(clusters.index, clusters.to_dict("records")):
        events = []
        if c.get("end_of_life") in ("past", "within-180-days"):
            events.append((c["end_of_life_date"], "end of life"))
        if c.get("forced_upgrade_date"):
            events.append((c["forced_upgrade_date"][:10], "engine upgrade pending"))
        if c.get("auto_upgrade_target") and c.get("gets_minor_upgrades"):
            events.append((None, f"automatic upgrade to {c['auto_upgrade_target']}, next window "
                                 f"({c['maintenance_window']})"))
        if not events:
            continue
        events.sort(key=lambda ev: (ev[0] is None, ev[0] or ""))
        when = [f"{what}: {day}" + (" (overdue)" if day < today else "") if day else what for day, what in events]
        rows.append({"first": events[0][0] or "~", "when": when, "overdue": any(d and d < today for d, _ in events),
                     **c})
        labels.append(label)
    df = pd.DataFrame(rows, columns=["first", "when", "overdue", *clusters.columns], index=labels)
    return df.sort_values("first", kind="stable")  # each row keeps its cluster's label


def upgrades_ahead(result) -> None:
    """The section near the top: end of life, pending and automatic upgrades, one row per cluster, soonest first."""
    when = getattr(result, "generated_at", None)
    rows = upgrades_ahead_rows(result.clusters, when.date() if when is not None else None)
    note = _calendar_note(result)
    cal = result.engine_calendar or {}
    source = (f'<p class="na-sub">End-of-life dates: AWS\'s engine release table as of {escape(cal.get("as_of", "?"))}'
              + (f" ({escape(cal['file'])})" if cal.get("file") else "") + ".</p>")
    if not len(rows):
        display.show_html(note + "<p>No end of life within 180 days, no pending engine upgrade and no automatic upgrade "
              "is due for the clusters in view.</p>" + source)
        return
    overdue = int(rows["overdue"].sum())
    display.show_html(note + (f'<p class="na-note"><b>{overdue} cluster(s) overdue</b>: a date below has passed.</p>'
                  if overdue else ""))
    table(_rows(result, "clusters", _ahead_cells), caption="Upgrades ahead (soonest first; one row per cluster)")
    display.show_html(source)


def _ahead_cells(result) -> pd.DataFrame:
    when = getattr(result, "generated_at", None)
    rows = upgrades_ahead_rows(result.clusters, when.date() if when is not None else None)
    return pd.DataFrame({"what, when": pd.Series([Html("<br>".join(cell_text(x) for x in w)) for w in rows["when"]],
                                                 index=rows.index, dtype=object),
                         "cluster / account, region": stack(rows["cluster_id"], where(result, rows["account_id"], rows["region"])),
                         "engine": rows["engine_version"], "outlook": rows["outlook"]})


def clusters_table(result) -> None:
    """One row per cluster: does it get minor upgrades (its writer decides), and how far behind is it."""
    table(_rows(result, "clusters", _clusters_cells), caption="Clusters")


def _clusters_cells(result) -> pd.DataFrame:
    c = result.clusters
    f = result.findings
    # a cluster's result is PASS or FAIL (the contract); one that passes only because an exception covers its
    # writer says so beside the pill, or "PASS" would sit next to "minor upgrades: no" unexplained (counted over the
    # whole run: it says why the cluster passes, whichever of its instances a filter shows)
    excepted = (f[f["result"] == EXCEPTED].groupby(["account_id", "region", "cluster_id"]).size().to_dict()
                if len(f) else {})
    pills = pd.Series([Html(f'{p} <small class="na-sub">{n} excepted</small>') if n else p for p, n in zip(
        _pills(c["result"]), [excepted.get(k, 0) for k in zip(c["account_id"], c["region"], c["cluster_id"])])],
        index=c.index, dtype=object)
    return pd.DataFrame({"result": pills, "account / region": account_region(result, c["account_id"], c["region"]),
                         "cluster / writer": stack(c["cluster_id"], c["writer_instance_id"]),
                         "minor upgrades": c["gets_minor_upgrades"],  # yes/no, as cell_text shows every bool
                         "failing": pd.Series([Html(f'{int(n)} <small class="na-sub">of {int(t)}</small>')
                                               for n, t in zip(c["failing_instances"], c["instances"])],
                                              index=c.index, dtype=object),
                         "engine": _engine(c["engine_version"], c["latest_minor_version"], c["auto_upgrade_target"]),
                         "exposure": c["exposure"],
                         "outlook": c["outlook"]})  # the outlook names the end of life when it is near


def exceptions_table(result) -> None:
    """The exceptions in force (and expired ones still matching), with reason and expiry."""
    rows = [{"result": r.result, "account_id": r.account_id, "region": r.region, "instance": r.instance_id,
             "match": r.exception["match"], "reason": r.exception["reason"],
             "expires": r.exception["expires"], "expired": r.exception["expired"],
             "approved by": r.exception.get("approved_by")}
            for r in result.findings.itertuples() if r.exception]
    if rows:
        df = pd.DataFrame(rows)
        df["result"] = _pills(df["result"])
        df.insert(1, "account / region", account_region(result, df.pop("account_id"), df.pop("region")))
        table(df, caption="Exceptions matched")
    elif result.exceptions:
        display.show_html(f"<p>{len(result.exceptions)} exception(s) loaded; none matched an instance.</p>")
    else:
        display.show_html("<p>No exceptions file was used.</p>")


def history_section(hist) -> None:
    """Trend over past runs and what changed since the previous one."""
    if hist is None:
        display.show_html("<p>No history folder was given: run with a history folder to see trends and changes.</p>")
        return
    if hist.skipped:
        display.show_html('<div class="na-note"><b>Past runs skipped</b> &mdash; these files in the history folder could not be '
              "read as runs and are left out of the trend:<ul>"
              + "".join(f"<li>{escape(name)}</li>" for name in hist.skipped) + "</ul></div>")
    if len(hist.trend) > 1:
        show(charts.trend(hist.trend))
    if hist.previous_at is None:
        display.show_html("<p>This is the first recorded run: nothing to compare with yet.</p>")
        return
    display.show_html(f"<p>Compared with the previous run of {escape(hist.previous_at)}: "
          f"{int((hist.changes['change'] == 'newly failing').sum())} newly failing, "
          f"{int((hist.changes['change'] == 'newly fixed').sum())} newly fixed.</p>")
    if len(hist.changes):
        table(hist.changes, caption="Changes since the previous run")


def history(result, history_dir) -> None:
    """The History section: this run beside the past runs kept in ``history_dir`` (None: says how to keep them)."""
    from neptune_audit.contract.history import compare

    history_section(compare(result, history_dir))


def machine_summary(result) -> None:
    """The run as JSON (for `neptune-audit report` and other tools) and the exit code, in one output."""
    code = result.exit_code
    meaning = EXIT_MEANING[code]
    display.show_bundle({RESULT_MIME: to_contract(result), "text/plain": f"{meaning[0].upper()}{meaning[1:]} "
                                                                     f"(exit code {code})."})


def filtered_note(flt, view, result, names: dict | None = None) -> None:
    """Above each redrawn section: what the filter bar keeps (nothing when it keeps everything); ``names``:
    account id -> name."""
    text = flt.describe(names)
    if text:
        display.show_html(f'<p class="na-filtered">Filtered to {escape(text)}: {len(view.findings)} of {len(result.findings)} '
              f"instances.</p>")


def no_match(flt, names: dict | None = None) -> None:
    """A filter that keeps no instance: said once, instead of empty charts and sentences about nothing."""
    display.show_html(f'<p class="na-filtered"><b>No instances match</b> {escape(flt.describe(names))}. Change or reset the filter '
          "bar above.</p>")


def compliance_chart(view) -> None:
    show(charts.compliance_by_region(view.findings))


def failing_chart(view) -> None:
    show(charts.failing_by_account_region(view.findings, view.scope))


def rollup_chart(view) -> None:
    show(charts.cluster_rollup(view.findings, view.clusters, names=account_names(view)))


def engines_chart(view) -> None:
    show(charts.engine_versions(view.findings))
