"""The remediation widget panel (ipywidgets 8): choose, review the plan, apply, watch, re-verify.

Every child widget is an attribute, so tests (and users' own code) can set ``.value`` and call
``.click()``.  Apply stays disabled until the plan for the current choice has been reviewed,
and entirely unless the panel was built with ``apply_enabled=True``.
"""
from __future__ import annotations

import html
import os
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

import ipywidgets as w
import pandas as pd

from neptune_audit.present import datatable, explore, sections, widgets
from neptune_audit.present.display import escape
from neptune_audit.present.names import named
from neptune_audit.act import remediate
from neptune_audit.vocabulary import EXCEPTED, FAIL
from neptune_audit.errors import UsageError

if TYPE_CHECKING:
    from neptune_audit.contract.result import AuditResult

ALL = "(all)"


def plan_html(plan: pd.DataFrame, apply_immediately: bool, script: str | None = None, result=None,
              code_diff: str | None = None) -> str:
    """The remediation plan as the panel shows it: what happens when, the warnings first and prominent (or "no
    warnings"), then one row per candidate with what the change means for its cluster, wrapped to the width."""
    import base64

    when = ("AWS turns the setting on as soon as it can, and applies every pending modification now (ApplyImmediately)"
            if apply_immediately else "AWS turns the setting on as soon as it can; pending modifications keep "
            "waiting for the maintenance window")
    out = [f"<p>{len(plan)} change(s). {escape(when)}.</p>"]
    warned = [(r.instance_id, w) for r in plan.itertuples() for w in r.warnings]
    if warned:
        out.append('<div class="na-warn" style="border-left:4px solid #c0392b;background:#fdecea;color:#1a1a1a;padding:6px 10px;'
                   'margin:6px 0"><b>&#9888; Read before applying: ' f"{len(warned)} warning(s)</b><ul>"
                   + "".join(f"<li><b>{escape(i)}</b>: {escape(w)}</li>" for i, w in warned) + "</ul></div>")
    else:
        out.append('<p class="na-nowarn"><b>No warnings</b> for this plan.</p>')
    view = pd.DataFrame({
        "instance / cluster": datatable.stack(plan["instance_id"], plan["cluster_id"]),
        "account / region": datatable.account_region(result, plan["account_id"], plan["region"]),
        "role, status / exposure": datatable.stack(plan["role"] + ", " + plan["status"].astype(str), plan["exposure"]),
        "engine": plan["engine"], "pending maintenance": plan["pending_maintenance"],
        "cluster's next window": plan["next_window"],
        "warnings": plan["warnings"].map(lambda ws: f"{len(ws)}, above" if ws else "no warnings"),
    })
    if "managed_by" in plan and plan["managed_by"].map(bool).any():
        from neptune_audit.code.link import where as defined_in

        view["written in"] = plan["managed_by"].map(lambda m: defined_in(m) or "not known to be code")
    body = datatable.flat(view).to_html(index=False, escape=False, border=0, classes="na-plan")
    out.append("<style>.na-plan{border-collapse:collapse;font-size:13px;line-height:1.35;width:100%;"
               "table-layout:auto}.na-plan th,.na-plan td{text-align:left!important;padding:3px 6px;"
               "vertical-align:top;border-bottom:1px solid #e5e5e5;white-space:normal;overflow-wrap:break-word}"
               "</style>" + body)
    if code_diff:  # the code fix first: it lasts, where an API change is drift the next deploy may revert
        data = base64.b64encode(code_diff.encode()).decode()
        out.append(f'<p><a download="neptune-001-code-fix.diff" href="data:text/x-diff;base64,{data}">Download the '
                   "code fix</a> (a unified diff: <code>git apply neptune-001-code-fix.diff</code>, then deploy) "
                   "&mdash; the fix that lasts for instances code defines</p>")
    if script:
        data = base64.b64encode(script.encode()).decode()
        out.append(f'<p><a download="neptune-001-fix.sh" href="data:text/x-shellscript;base64,{data}">Download the '
                   "reviewed AWS CLI script</a> (the same calls, for change management)</p>")
    return "".join(out)



OFFLINE = ("This remediation panel needs the notebook's kernel, and none is running it here: run the notebook "
           "(Run > Run All Cells) to choose, review and apply changes. Nothing can be changed from this saved copy; "
           "what was applied and verified, if anything, is shown below.")


def _shown_path(path) -> str:
    """A path as a saved notebook may show it: relative to the working folder when under it (a notebook passed on
    carries no one's home folder)."""
    p = Path(path).absolute()
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


class RemediationPanel:
    """The remediation notebook's panel: choose failing instances, review the plan (warnings to acknowledge),
    apply, watch, re-verify.  Every control is an attribute (``instances``, ``review``, ``acknowledge``,
    ``apply_button``...): set ``.value`` and call ``.click()`` to drive it from code or a test.

    Args:
        result: the [`AuditResult`][neptune_audit.contract.result.AuditResult] of a scan in this process (its sessions make the
            changes).
        apply_enabled: ``False`` (the default) keeps Apply off: the panel only plans.
        audit_log: the JSON-lines audit log (default: in the user's data folder).
    """

    def __init__(self, result: AuditResult, apply_enabled: bool = False, audit_log: str | os.PathLike | None = None):
        self.result = result
        self.audit_log = audit_log
        self.apply_enabled = apply_enabled
        f = result.findings
        self.candidates = f[~f["auto_minor_version_upgrade"].astype(bool)].reset_index(drop=True)
        self.remediation: remediate.Remediation | None = None  # the reviewed plan, until applied or changed
        self.last_run: remediate.Remediation | None = None     # the applied run, for Re-verify
        self.fixed: set = set()  # (account, region, instance) turned on and verified by this panel
        self._summary = None     # the summary cards' display, updated in place after each Apply
        self._view = None        # the panel's own display: at the kernel's exit, its offline sentence instead
        self._record = None      # the record's display: every plan, apply and verify, as ordinary saved output
        self.history: list[dict] = []  # {"what", "when", "by", "table"}: what the record shows
        self._progress_lock = threading.Lock()

        # the audit notebook's choices, named the same way (account name and id; a cluster by account, region
        # and id, since ids repeat across accounts), from the candidates only
        c, names = self.candidates, explore.account_names(result)
        accounts = [(f"{names[a]} ({a})" if a in names else a, a) for a in sorted(set(c["account_id"]))]
        clusters = [(f"{cl} ({names.get(a) or a}, {r})", (a, r, cl))
                    for a, r, cl in sorted(set(zip(c["account_id"], c["region"], c["cluster_id"]))) if cl]
        self.account = w.Dropdown(options=[(ALL, ALL), *accounts], value=ALL, description="Account")
        self.region = w.Dropdown(options=[ALL, *sorted(set(c["region"]))], value=ALL, description="Region")
        self.cluster = w.Dropdown(options=[(ALL, ALL), *clusters], value=ALL, description="Cluster")
        self.tag = w.Text(value="", placeholder="key=value", description="Tag")
        self.include_excepted = w.Checkbox(value=False, description="include excepted instances")
        self.instances = w.SelectMultiple(options=[], rows=10, description="Instances",
                                          layout=w.Layout(width="95%"))
        self.select_all = w.Button(description="Select all shown", layout=w.Layout(width="auto"))
        self.select_none = w.Button(description="Clear", layout=w.Layout(width="auto"))
        # The setting itself is applied as soon as possible either way (ModifyDBInstance, AutoMinorVersionUpgrade);
        # ApplyImmediately decides only whether the instance's *pending* modifications go now too.
        self.timing = w.ToggleButtons(options=[("Setting only (pending changes wait for the window)", False),
                                               ("Setting and every pending change, now", True)],
                                      value=False, description="When", style={"button_width": "auto"})
        self.allow_drift = w.Checkbox(value=False, description="change instances code defines through the API "
                                                               "anyway (drift)", layout=w.Layout(width="auto"))
        self.review = w.Button(description="Review plan", button_style="info")
        # a plan with warnings (a restart, pending modifications, drift) is applied only once they are read
        self.acknowledge = w.Checkbox(value=False, description="I have read the warnings", disabled=True,
                                      layout=w.Layout(width="auto"))
        self.plan_view = w.HTML()
        self.apply_button = w.Button(description="Apply", button_style="danger", disabled=True)
        self.progress = w.IntProgress(value=0, min=0, max=1, description="Progress")
        self.results_view = w.HTML()
        self.verify_button = w.Button(description="Re-verify", disabled=True)
        self.status = w.HTML()

        for ctrl in (self.account, self.region, self.cluster, self.tag, self.include_excepted):
            ctrl.observe(self._refilter, names="value")
        self.instances.observe(self._invalidate, names="value")
        self.timing.observe(self._invalidate, names="value")
        self.acknowledge.observe(self._gate, names="value")
        self.select_all.on_click(lambda _: setattr(self.instances, "value", tuple(v for _, v in self.instances.options)))
        self.select_none.on_click(lambda _: setattr(self.instances, "value", ()))
        self.review.on_click(self._on_review)
        self.apply_button.on_click(self._on_apply)
        self.verify_button.on_click(self._on_verify)

        self.widget = w.VBox([
            w.HTML("<b>1. Choose failing instances</b>"),
            w.HBox([self.account, self.region]), w.HBox([self.cluster, self.tag]), self.include_excepted,
            self.instances, w.HBox([self.select_all, self.select_none]),
            w.HTML("<b>2. Choose when</b> &mdash; <i>now</i> also applies every pending modification. Either way, "
                   "turning the setting on while the cluster's maintenance window is open, with a newer minor "
                   "version available and automatic upgrades (auto patching) enabled by Neptune for that engine "
                   "version, starts that upgrade at once and every instance of the cluster restarts: the plan warns "
                   "about it."),
            self.timing, w.HTML("<b>3. Review the plan</b>"), self.review, self.plan_view, self.acknowledge,
            self.allow_drift,
            w.HTML("<b>4. Apply and verify</b>"), w.HBox([self.apply_button, self.verify_button]),
            self.progress, self.results_view, self.status,
        ])
        # a saved copy (no kernel) keeps what was applied and verified, and says why nothing else is there
        widgets.live(self.widget, [c for c in self.widget.children if c not in (self.results_view, self.status)],
                     OFFLINE)
        self._refilter()
        if not apply_enabled:
            self.status.value = ("<i>Apply is disabled: this notebook was run with <code>apply=False</code>. "
                                 "Set <code>apply = True</code> in its parameters to make changes.</i>")

    @property
    def summary_html(self) -> str:
        """The summary cards as they stand: the scan's, with this panel's verified changes counted."""
        return sections.summary_since(self.result, self.fixed)

    def _ipython_display_(self):
        from IPython.display import HTML, display

        # the cards are an ordinary output (saved with the notebook), updated by display id after Apply
        self._summary = display(HTML(self.summary_html), display_id=True)
        self._view = widgets.show(self.widget)
        # the record: plain HTML and text, updated by display id after each step, so a saved notebook keeps what was
        # planned, applied and verified whether or not the widgets' state is saved with it
        self._record = display(self.record_bundle(), raw=True, display_id=True)
        widgets.hand_over_at_exit(self._view, OFFLINE)

    # --- the record -------------------------------------------------------------------------------

    def _note(self, what: str, table: pd.DataFrame) -> None:
        from datetime import datetime, timezone

        accounts = set(table["account_id"]) if "account_id" in table.columns else set()
        by = sorted({c.get("caller_arn") or c.get("label") or "" for c in self.result.callers
                     if not accounts or c.get("account_id") in accounts} - {""})
        self.history.append({"what": what, "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
                             "by": ", ".join(by) or "unknown", "table": table.reset_index(drop=True)})
        if self._record is not None:
            self._record.update(self.record_bundle(), raw=True)

    def record_bundle(self) -> dict:
        """The record as an output's data: HTML for JupyterLab and the report, text for anything else."""
        head = ("Record of this remediation: what was planned, applied and verified, kept in the notebook as "
                "ordinary output (it needs no kernel).")
        if not self.history:
            body_html = "<p><i>Nothing reviewed or applied yet.</i></p>"
            body_text = "Nothing reviewed or applied yet."
        else:
            body_html = "".join(f"<p><b>{html.escape(e['what'])}</b> &mdash; {html.escape(e['when'])}, by "
                                f"{html.escape(e['by'])}</p>" + datatable.static_table(e["table"])
                                for e in self.history)
            body_text = "\n\n".join(f"{e['what']} - {e['when']}, by {e['by']}\n"
                                     + e["table"].to_string(index=False) for e in self.history)
        if self.last_run is not None:
            log = html.escape(_shown_path(self.last_run.audit_log_path))
            body_html += f"<p>Every change is also in the audit log: <code>{log}</code></p>"
            body_text += f"\n\nAudit log: {_shown_path(self.last_run.audit_log_path)}"
        return {"text/html": f'<div class="na-record" role="log"><p><b>{html.escape(head)}</b></p>{body_html}</div>',
                "text/plain": f"{head}\n{body_text}"}

    # --- choosing -------------------------------------------------------------------------------

    def shown(self) -> pd.DataFrame:
        """Candidates that pass the filters: ``explore.narrow``, the audit notebook's own filter."""
        def chosen(ctrl):
            return None if ctrl.value == ALL else ctrl.value

        flt = explore.Filter(account=chosen(self.account), region=chosen(self.region), cluster=chosen(self.cluster),
                             tag=self.tag.value.strip() or None)
        c = explore.narrow(SimpleNamespace(findings=self.candidates, clusters=self.result.clusters,
                                           scope=self.result.scope, engine_calendar=None, calendar_note=None,
                                           generated_at=self.result.generated_at),
                           flt).findings
        return c if self.include_excepted.value else c[c["result"] == FAIL]

    def _refilter(self, *_):
        shown = self.shown()
        keep = [v for v in self.instances.value if v in set(shown["arn"])]
        names = explore.account_names(self.result)
        self.instances.options = [(f"{r.instance_id} — {r.role} of {r.cluster_id} ({named(names, r.account_id)}, "
                                   f"{r.region})" + (" [excepted]" if r.result == EXCEPTED else ""), r.arn)
                                  for r in shown.itertuples()]
        self.instances.value = tuple(keep)
        self._invalidate()

    def _invalidate(self, *_):
        """Any change of choice needs a fresh review before Apply: the old plan is cleared, not left on screen."""
        if self.remediation is not None:
            self.remediation = None
            self.plan_view.value = "<p><i>The choice changed: review the plan again before applying.</i></p>"
        self.acknowledge.value, self.acknowledge.disabled = False, True
        self.apply_button.disabled = True

    @property
    def warnings(self) -> int:
        """How many warnings the reviewed plan holds."""
        plan = self.plan
        return 0 if plan is None else int(sum(len(ws) for ws in plan["warnings"]))

    def _gate(self, *_):
        """Apply: enabled for a reviewed, non-empty plan, once its warnings (if any) are acknowledged."""
        plan = self.plan
        ready = self.apply_enabled and plan is not None and not plan.empty
        self.apply_button.disabled = not (ready and (self.warnings == 0 or self.acknowledge.value))

    @property
    def plan(self) -> pd.DataFrame | None:
        """The reviewed plan (None until reviewed, and again after any change of choice)."""
        return None if self.remediation is None else self.remediation.plan

    @property
    def results(self) -> pd.DataFrame | None:
        return None if self.last_run is None else self.last_run.results

    # --- plan, apply, verify ----------------------------------------------------------------------

    def _on_review(self, _=None):
        chosen = list(self.instances.value)
        if not chosen:
            self.plan_view.value = "<p>Choose at least one instance.</p>"
            return
        self.remediation = remediate.Remediation(self.result, chosen, apply_immediately=self.timing.value,
                                                 include_excepted=self.include_excepted.value,
                                                 audit_log=self.audit_log)
        plan = self.remediation.plan
        diff = None
        if len(self.remediation.code_owned) and self.result.options.iac_paths:
            diff = self.remediation.code_fix()[0] or None
        self.plan_view.value = plan_html(plan, apply_immediately=self.timing.value,
                                         script=remediate.to_script(plan) if len(plan) else None, result=self.result,
                                         code_diff=diff)
        n = self.warnings
        self.acknowledge.value = False
        self.acknowledge.disabled = n == 0
        self.acknowledge.description = f"I have read the {n} warning(s)" if n else "No warnings to read"
        self._gate()
        # the record last: the controls above are settled before it is sent
        if len(plan):
            cols = [c for c in ("account_id", "region", "cluster_id", "instance_id", "change", "warnings")
                    if c in plan.columns]
            # the record's plan is the what and the how many; the warnings themselves are in the plan above
            self._note("Plan reviewed", plan[cols].assign(**({"warnings": plan["warnings"].map(len)}
                                                            if "warnings" in cols else {})))

    def _on_apply(self, _=None):
        if self.remediation is None or self.apply_button.disabled:
            return
        self.remediation.allow_drift = self.allow_drift.value
        self.remediation.how_to_allow_drift = f"tick \u201c{self.allow_drift.description}\u201d, then Apply again"
        try:  # before the reviewed plan is used up: tick the box and Apply again
            self.remediation.check_drift_allowed()
        except UsageError as exc:
            self.status.value = f"<b>Nothing was changed:</b> {html.escape(str(exc))}"
            return
        self.apply_button.disabled = True
        run, self.remediation = self.remediation, None  # a reviewed plan is applied once
        self.progress.max, self.progress.value = max(1, len(run.plan)), 0
        try:
            dangling = run.prepare()
        except UsageError as exc:
            self.status.value = f"<b>Nothing was changed:</b> {html.escape(str(exc))}"
            return
        note = (f"Note: {len(dangling)} change(s) from an earlier run have no recorded outcome; each instance is "
                "re-read first, so repeating them is safe. " if dangling else "")
        self.status.value = html.escape(note) + "Applying…"

        def step(_res):
            with self._progress_lock:  # called from the worker threads
                self.progress.value += 1

        self.last_run = run
        run.run(on_result=step)
        self._show_results(note, what="Applied")
        self.verify_button.disabled = False

    def _on_verify(self, _=None):
        if self.results is None:
            return
        self.last_run.reverify()
        self._show_results(what="Verified again")

    def _show_results(self, note: str = "", what: str = "Applied"):
        assert self.last_run is not None and self.last_run.results is not None, "shown after a run"
        results = self.last_run.results
        ok = remediate.succeeded(results)
        shown = results[["account_id", "region", "instance_id", "outcome", "verified", "error", "detail"]]
        self.results_view.value = datatable.static_table(shown)
        self._note(what, shown)
        done = int(results["verified"].eq(True).sum())
        self.status.value = (html.escape(note) + f"<b>{'All' if ok else 'Not all'} changes verified</b>: {done} of "
                             f"{len(results)} instance(s) now have Auto Minor Version Upgrade on."
                             + ("" if ok else " See the errors above.")
                             + f" Audit log: {html.escape(str(self.last_run.audit_log_path))}")
        # Instances now verified on are no longer candidates: the list shows what is still to do.
        # keyed by account and region too: the same instance id can exist in several accounts
        fixed = {(r.account_id, r.region, r.instance_id) for r in results.itertuples() if r.verified is True}
        self.fixed |= fixed
        if self._summary is not None:
            from IPython.display import HTML

            self._summary.update(HTML(self.summary_html))
        keep = [key not in fixed for key in
                zip(self.candidates["account_id"], self.candidates["region"], self.candidates["instance_id"])]
        self.candidates = self.candidates[keep].reset_index(drop=True)
        self._refilter()

