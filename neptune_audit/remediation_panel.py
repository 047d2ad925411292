"""The remediation widget panel (ipywidgets 8): choose, review the plan, apply, watch, re-verify.

Every child widget is an attribute, so tests (and users' own code) can set ``.value`` and call
``.click()``.  Apply stays disabled until the plan for the current choice has been reviewed,
and entirely unless the panel was built with ``apply_enabled=True``.
"""
from __future__ import annotations

import html

import ipywidgets as w
import pandas as pd

from . import remediate

ALL = "(all)"


def _table(df: pd.DataFrame) -> str:
    return df.to_html(index=False, escape=True, border=0, classes="na-table", na_rep="")


class RemediationPanel:
    def __init__(self, result, apply_enabled: bool = False, audit_log=None):
        self.result = result
        self.audit_log = audit_log
        self.apply_enabled = apply_enabled
        f = result.findings
        self.candidates = f[~f["auto_minor_version_upgrade"].astype(bool)].reset_index(drop=True)
        self.plan: pd.DataFrame | None = None
        self.results: pd.DataFrame | None = None

        def choices(col):
            return [ALL] + sorted(self.candidates[col].dropna().unique().tolist())

        self.account = w.Dropdown(options=choices("account_id"), value=ALL, description="Account")
        self.region = w.Dropdown(options=choices("region"), value=ALL, description="Region")
        self.cluster = w.Dropdown(options=choices("cluster_id"), value=ALL, description="Cluster")
        self.tag = w.Text(value="", placeholder="key=value", description="Tag")
        self.include_excepted = w.Checkbox(value=False, description="include excepted instances")
        self.instances = w.SelectMultiple(options=[], rows=10, description="Instances",
                                          layout=w.Layout(width="95%"))
        self.select_all = w.Button(description="Select all shown", icon="check-square")
        self.select_none = w.Button(description="Clear", icon="square")
        self.timing = w.ToggleButtons(options=[("Next maintenance window", False), ("Now (apply immediately)", True)],
                                      value=False, description="When")
        self.review = w.Button(description="Review plan", button_style="info", icon="search")
        self.plan_view = w.HTML()
        self.apply_button = w.Button(description="Apply", button_style="danger", icon="wrench", disabled=True)
        self.progress = w.IntProgress(value=0, min=0, max=1, description="Progress")
        self.results_view = w.HTML()
        self.verify_button = w.Button(description="Re-verify", icon="refresh", disabled=True)
        self.status = w.HTML()

        for ctrl in (self.account, self.region, self.cluster, self.tag, self.include_excepted):
            ctrl.observe(self._refilter, names="value")
        self.instances.observe(self._invalidate, names="value")
        self.timing.observe(self._invalidate, names="value")
        self.select_all.on_click(lambda _: setattr(self.instances, "value", tuple(v for _, v in self.instances.options)))
        self.select_none.on_click(lambda _: setattr(self.instances, "value", ()))
        self.review.on_click(self._on_review)
        self.apply_button.on_click(self._on_apply)
        self.verify_button.on_click(self._on_verify)

        self.widget = w.VBox([
            w.HTML("<b>1. Choose failing instances</b>"),
            w.HBox([self.account, self.region]), w.HBox([self.cluster, self.tag]), self.include_excepted,
            self.instances, w.HBox([self.select_all, self.select_none]),
            w.HTML("<b>2. Choose when</b> &mdash; <i>now</i> also applies every pending modification"),
            self.timing, w.HTML("<b>3. Review the plan</b>"), self.review, self.plan_view,
            w.HTML("<b>4. Apply and verify</b>"), w.HBox([self.apply_button, self.verify_button]),
            self.progress, self.results_view, self.status,
        ])
        self._refilter()
        if not apply_enabled:
            self.status.value = ("<i>Apply is disabled: this notebook was run with <code>apply=False</code>. "
                                 "Set <code>apply = True</code> in its parameters to make changes.</i>")

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    # --- choosing -------------------------------------------------------------------------------

    def shown(self) -> pd.DataFrame:
        """Candidates that pass the filters."""
        c = self.candidates
        if not self.include_excepted.value:
            c = c[c["result"] == "FAIL"]
        for ctrl, col in ((self.account, "account_id"), (self.region, "region"), (self.cluster, "cluster_id")):
            if ctrl.value != ALL:
                c = c[c[col] == ctrl.value]
        if "=" in self.tag.value:
            k, v = (s.strip() for s in self.tag.value.split("=", 1))
            c = c[c["tags"].map(lambda t: (t or {}).get(k) == v)]
        return c

    def _refilter(self, *_):
        shown = self.shown()
        keep = [v for v in self.instances.value if v in set(shown["arn"])]
        self.instances.options = [(f"{r.instance_id} — {r.role} of {r.cluster_id} ({r.account_id}, {r.region})"
                                   + (" [excepted]" if r.result == "EXCEPTED" else ""), r.arn)
                                  for r in shown.itertuples()]
        self.instances.value = tuple(keep)
        self._invalidate()

    def _invalidate(self, *_):
        """Any change of choice needs a fresh review before Apply."""
        self.plan = None
        self.apply_button.disabled = True

    # --- plan, apply, verify ----------------------------------------------------------------------

    def _on_review(self, _=None):
        chosen = list(self.instances.value)
        if not chosen:
            self.plan_view.value = "<p>Choose at least one instance.</p>"
            return
        self.plan = remediate.plan(self.result.findings, chosen, apply_immediately=self.timing.value)
        view = self.plan[["account_id", "region", "cluster_id", "instance_id", "role", "status", "change"]].copy()
        view["warnings"] = self.plan["warnings"].map(lambda ws: "; ".join(ws))
        when = ("<b>now</b>: pending modifications are applied too" if self.timing.value
                else "in each instance's next maintenance window (the setting itself takes effect without an outage)")
        self.plan_view.value = (f"<p>{len(self.plan)} change(s), {when}.</p>" + _table(view))
        self.apply_button.disabled = not self.apply_enabled or self.plan.empty

    def _on_apply(self, _=None):
        if self.plan is None or self.apply_button.disabled:
            return
        self.apply_button.disabled = True
        self.progress.max, self.progress.value = max(1, len(self.plan)), 0
        self.status.value = "Applying…"

        def step(_res):
            self.progress.value += 1

        self.results = remediate.apply(self.plan, self.result, apply_immediately=self.timing.value,
                                       audit_log=self.audit_log, on_result=step)
        self._on_verify()
        self.verify_button.disabled = False

    def _on_verify(self, _=None):
        if self.results is None:
            return
        self.results = remediate.verify(self.results, self.result)
        ok = remediate.succeeded(self.results)
        self.results_view.value = _table(self.results[["account_id", "region", "instance_id", "outcome",
                                                       "verified", "error", "detail"]])
        done = int(self.results["verified"].eq(True).sum())
        self.status.value = (f"<b>{'All' if ok else 'Not all'} changes verified</b>: {done} of {len(self.results)} "
                             f"instance(s) now have Auto Minor Version Upgrade on."
                             + ("" if ok else " See the errors above.")) + f" Audit log: {html.escape(str(self._log_path()))}"

    def _log_path(self):
        from .auditlog import default_path

        return self.audit_log or default_path()
