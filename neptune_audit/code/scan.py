"""``neptune-audit iac``: find the templates and Terraform under the paths, read each Neptune DB instance's setting,
and judge it as AWS would apply it.

- Written ``false`` fails, ``true`` passes.  Omitted passes: Neptune's ``CreateDBInstance`` says
  ``AutoMinorVersionUpgrade`` "Default: true" (API reference), and the AWS provider's
  ``aws_neptune_cluster_instance.auto_minor_version_upgrade`` defaults to true likewise.
- A value a parameter or variable decides is judged with its ``--parameter`` / ``--var-file`` value, else its
  default, and the reason names the parameter and what each other allowed value would give.  No default, a
  condition, or a value from outside the file is never a silent pass: it fails, saying what decides.
- A cluster pinned to a release before 1.3.0.0 is not covered whatever the flag says (the engine facts of the live
  rule, with its end of life from the engine calendar).
- The allow-list file (``instance:`` a logical id or Terraform address) and inline suppressions (template
  ``Metadata: {neptune-audit: {skip: [{id: Neptune-001, reason, expires}]}}``, or an HCL comment
  ``# neptune-audit:skip=Neptune-001 expires=YYYY-MM-DD reason``) turn a FAIL into EXCEPTED until they expire.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from neptune_audit.code import cloudformation as cfn
from neptune_audit.code import terraform as tf
from neptune_audit.code import cdk_source
from neptune_audit.code.model import Resource
from neptune_audit.rule.in_code import judge
from neptune_audit.vocabulary import EXCEPTED, FAIL, PASS, RESULT_ORDER
from neptune_audit.errors import InputError, UsageError, one_line
from neptune_audit.inputs import read_bytes

SCHEMA = "neptune-audit-iac/1"
MAX_TEMPLATE = 16 * 1024 * 1024   # CloudFormation's own limit is 1 MB (S3-hosted); CDK assemblies stay well under
SKIP_DIRS = {".git", ".terraform", "node_modules", ".venv", "__pycache__", ".tox"}
_RANK = {r: i for i, r in enumerate(RESULT_ORDER)}


@dataclass
class IacResult:
    """Findings (one per Neptune DB instance in code) and files (each scanned or in error), as rows."""

    findings: list[dict]
    files: list[dict]
    resources: list[Resource] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    generated_at: str = ""

    @property
    def summary(self) -> dict:
        results = [f["result"] for f in self.findings]
        return {"resources": len(results), "pass": results.count(PASS), "fail": results.count(FAIL),
                "excepted": results.count(EXCEPTED), "files_scanned": sum(f["state"] == "scanned" for f in self.files),
                "files_in_error": sum(f["state"] == "error" for f in self.files)}

    @property
    def exit_code(self) -> int:
        s = self.summary
        return 1 if s["fail"] else 3 if s["files_in_error"] else 0


# ---- finding the files ----

# What a named file may be: the kit reads these (a named file of another kind is an error, never a silent pass)
READ_SUFFIXES = (".yaml", ".yml", ".json", ".template", ".tf", ".tfvars", *cdk_source.SOURCE_SUFFIXES)
# CDK app source in languages the kit does not read (their synthesized cloud assembly is read)
CDK_SOURCE = (".jsx", ".java", ".cs", ".go")


def _walk(paths) -> list[Path]:
    import stat

    out = []
    for given in paths:
        p = Path(given)
        if not os.path.lexists(p):
            raise InputError(f"no such file or folder: {given}")
        try:
            mode = os.stat(p).st_mode
        except OSError as exc:
            raise InputError(f"cannot read {given}: {exc.strerror or exc}") from None
        if not stat.S_ISDIR(mode) and not stat.S_ISREG(mode):
            raise InputError(f"{given} is not a regular file (a pipe, a socket or a device): name the files or "
                             "folders of code to read")
        if stat.S_ISREG(mode):
            suffix = p.suffix.lower()
            if suffix in CDK_SOURCE:
                raise InputError(f"{given}: program source in this language is not read (CDK apps are read in "
                                 "Python and TypeScript/JavaScript; for others, run `npx cdk synth` and name the "
                                 "cdk.out folder)")
            if suffix not in READ_SUFFIXES:
                raise InputError(f"{given}: not a kind of file the kit reads (CloudFormation .yaml/.yml/.json/"
                                 ".template, a CDK cdk.out folder, Terraform .tf/.tfvars, plan or state .json)")
            out.append(p)
            continue
        for root, dirs, files in os.walk(p):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
            out += [Path(root) / f for f in sorted(files)]
    return list(dict.fromkeys(out))


def _link_synth_to_source(resources: list[Resource]) -> None:
    """Each instance of a CDK assembly named after the construct in the app's source that made it, when both were
    read: its construct path's first part under the stack (``GraphStack/DefaultCluster/Instance1``) is the
    construct id the source passes (``DefaultCluster``)."""
    written: dict[str, list[Resource]] = {}
    for r in resources:
        if r.source == "cdk" and r.file.endswith(cdk_source.SOURCE_SUFFIXES) and r.construct_path:
            written.setdefault(r.construct_path, []).append(r)
    if not written:
        return
    for r in resources:
        if r.source == "cdk" and r.construct_path and not r.file.endswith(cdk_source.SOURCE_SUFFIXES):
            parts = r.construct_path.split("/")
            found = written.get(parts[1]) if len(parts) > 1 else None
            if found and len(found) == 1:  # one construct of that id: no guessing between two
                r.written_at = (found[0].file, found[0].line)


def _app_sources(apps) -> list[Resource]:
    """The constructs a CDK app's source defines (``--cdk-app DIR``), to name each synthesized instance's source."""
    found: list[Resource] = []
    for app in apps:
        if not Path(app).is_dir():
            raise InputError(f"--cdk-app {app}: not a folder (give the CDK app's folder, the one with cdk.json)")
        for f in _walk([app]):
            if f.name.endswith(cdk_source.SOURCE_SUFFIXES) and "cdk.out" not in f.parts:
                try:
                    text = read_bytes(f, MAX_TEMPLATE, "source").decode("utf-8", "replace")
                except InputError:
                    continue  # a source too large to be an app's stack: it names nothing here
                if cdk_source.mentions_neptune(text):
                    found += cdk_source.read(f, text)
    return found


def _read_template(f: Path, text: str, stack: str | None, overrides: dict):
    """One JSON or YAML file: a plan or state (its instances), a template (its instances and nested stacks), or,
    as a string, why it is passed over.  InputError (or anything else) is this file's error."""
    if f.name.lower().endswith(".json"):
        try:
            doc = json.loads(text)
        except RecursionError:
            raise InputError("JSON nested too deep to be a template or plan") from None
        except ValueError:
            doc = None
        if tf.is_plan(doc):
            return tf.plan_resources(doc, str(f)), []
        if f.name == "manifest.json" or (isinstance(doc, dict) and "Resources" not in doc):
            return "JSON, not a template or plan"
    try:
        root = cfn.parse(text, str(f))
    except InputError:
        if _looks_like_cfn(text):
            raise
        return "not a CloudFormation template"
    if not cfn.is_template(root):
        return "not a CloudFormation template"
    return cfn.resources(root, str(f), overrides, source="cdk" if stack else "cloudformation", stack=stack)


def _looks_like_cfn(text: str) -> bool:
    return "AWSTemplateFormatVersion" in text or "AWS::" in text


def _parse_params(pairs) -> dict:
    out = {}
    for pair in pairs or ():
        key, sep, value = str(pair).partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--parameter takes KEY=VALUE, not {one_line(pair, limit=60)!r}")
        out[key.strip()] = value
    return out


class _Reading:
    """One run's reading of files: the resources found, each file's state (scanned or its error), what was passed
    over.  ``discover`` sorts the files; ``cdk_source``, ``cloudformation`` and ``terraform`` each read their kind."""

    def __init__(self):
        self.resources: list[Resource] = []
        self.states: dict[str, dict] = {}
        self.ignored: list[str] = []

    def scanned(self, f, error=None) -> None:
        held = self.states.get(str(f), {})
        if held.get("state") == "error":
            if not error or error in held["error"]:
                return  # read again through another root module: what one root could not do stays said
            error = f"{held['error']}; {error}"  # each thing not read is said
        self.states[str(f)] = {"file": str(f), "state": "error" if error else "scanned", "error": error}

    def discover(self, files: list[Path]) -> tuple[list[Path], dict[Path, list[Path]], list[Path], dict]:
        """Templates, Terraform folders, CDK source files, and the stacks of the CDK assemblies among ``files``."""
        # A CDK app (cdk.json) in a language the kit does not read, whose cloud assembly is not among the files:
        # its instances would go unjudged, never a pass
        for f in files:
            if f.name == "cdk.json" and not any(g.name == "manifest.json" and f.parent in g.parents for g in files):
                try:
                    app = str(json.loads(read_bytes(f, MAX_TEMPLATE, "cdk.json")).get("app", ""))
                except (InputError, ValueError, AttributeError, UnicodeDecodeError):
                    app = ""
                if re.search(r"\b(mvn|java|gradle|dotnet|go)\b", app):
                    self.scanned(f, f"the CDK app here ({one_line(app, limit=40)}) is in a language the kit does "
                                    "not read: run `npx cdk synth` and scan cdk.out too")
        cdk = {}  # CDK cloud assemblies: their templates are "cdk", named by stack
        for f in files:
            if f.name == "manifest.json":
                try:
                    cdk.update(cfn.cdk_stacks(f))
                except cfn.CdkManifestError as exc:
                    self.scanned(f, str(exc))
                except InputError:
                    pass  # another tool's manifest.json: the templates are still read as CloudFormation
        templates: list[Path] = []
        tf_dirs: dict[Path, list[Path]] = {}
        sources: list[Path] = []
        for f in files:
            name = f.name.lower()
            if name.endswith(".tf"):
                tf_dirs.setdefault(f.parent, []).append(f)
            elif name.endswith((".yaml", ".yml", ".json", ".template")):
                templates.append(f)
            elif name.endswith(".tfvars"):
                pass  # read with its module (terraform.tfvars, *.auto.tfvars) or through --var-file
            elif name.endswith(cdk_source.SOURCE_SUFFIXES):
                sources.append(f)
            else:
                self.ignored.append(f"{f}: not a template or Terraform file")
        return templates, tf_dirs, sources, cdk

    def cdk_source(self, sources: list[Path], named: set[Path]) -> None:
        for f in sources:
            try:
                text = read_bytes(f, MAX_TEMPLATE, "source file").decode("utf-8")
            except (InputError, UnicodeDecodeError) as exc:
                if f in named:
                    self.scanned(f, str(exc) if isinstance(exc, InputError) else "not UTF-8 text")
                continue
            if not cdk_source.mentions_neptune(text):
                if f in named:
                    self.scanned(f)  # read: no Neptune construct in it
                else:
                    self.ignored.append(f"{f}: source with no Neptune construct")
                continue
            self.resources += cdk_source.read(f, text)
            self.scanned(f)

    def cloudformation(self, templates: list[Path], cdk: dict, overrides: dict, paths) -> None:
        """Each template once, and the nested stacks they name: read where they are on disk inside what was named;
        listed as not read where they are outside it, or a URL that names Neptune (never a silent pass)."""
        roots = tuple(Path(p).resolve() for p in paths)
        seen = set()
        queue = list(templates)
        while queue:
            f = queue.pop(0)
            key = f.resolve()
            if key in seen:
                continue
            seen.add(key)
            try:
                text = read_bytes(f, MAX_TEMPLATE, "template").decode("utf-8")
            except (InputError, UnicodeDecodeError) as exc:
                if f in templates and not f.name.lower().endswith((".yaml", ".yml", ".json", ".template")):
                    continue
                self.scanned(f, str(exc) if isinstance(exc, InputError) else "not UTF-8 text")
                continue
            try:
                outcome = _read_template(f, text, cdk.get(key), overrides)
            except InputError as exc:
                self.scanned(f, str(exc))
                continue
            except Exception as exc:  # noqa: BLE001 - a hostile file is that file's error (exit 3), never the run's
                self.scanned(f, f"could not be read ({type(exc).__name__}: {one_line(exc, limit=120)})")
                continue
            if isinstance(outcome, str):
                self.ignored.append(f"{f}: {outcome}")
                continue
            found, nested = outcome
            self.resources += found
            for n in nested:
                if n.local is not None and any(n.local == r or r in n.local.parents for r in roots):
                    if n.local not in seen:
                        queue.append(n.local)
                elif n.local is not None:
                    self.scanned(f, f"nested stack {n.logical_id} names {n.url}, outside the scanned tree: not read "
                                    "(the Neptune instances it would define are not judged; scan that file too)")
                elif "neptune" in f"{n.logical_id} {n.url}".lower():
                    self.scanned(f, f"nested stack {n.logical_id} names {one_line(n.url, limit=80)}, not on disk: "
                                    "not read (the Neptune instances it would define are not judged; scan its "
                                    "template too)")
                else:
                    self.ignored.append(f"{f}: nested stack {n.logical_id} ({one_line(n.url, limit=80)}) not on "
                                        "disk, and nothing says it holds Neptune")
            self.scanned(f)

    def terraform(self, tf_dirs: dict[Path, list[Path]], paths, given_vars: dict, given_vars_at: dict) -> None:
        """Every folder of .tf files naming a Neptune instance or calling a module, judged as a root module (with
        its own defaults and tfvars), whether or not another folder calls it: someone may apply it on its own, and
        its FAIL must never disappear behind a caller that passes.  A folder that names neither defines no
        instance: read as text only."""
        wanted: dict[Path, list[Path]] = {}
        for folder, tf_files in tf_dirs.items():
            texts = {}
            for f in tf_files:
                try:
                    texts[f] = tf.read_text(f)
                except InputError as exc:
                    self.scanned(f, str(exc))
            if any(tf.relevant(t) for t in texts.values()) or tf.fetches_neptune(folder):
                wanted[folder] = sorted(texts)
            else:
                for f in texts:
                    self.scanned(f)
        # a module a scanned module calls from outside what was named is not read (its instances are listed)
        scanned_roots = tuple(str(Path(p).resolve()) for p in paths)
        jobs = []
        for folder in sorted(wanted):
            auto, auto_at = {}, {}
            for vf in sorted([*folder.glob("terraform.tfvars"), *folder.glob("terraform.tfvars.json"),
                              *folder.glob("*.auto.tfvars"), *folder.glob("*.auto.tfvars.json")]):
                try:
                    values = tf.tfvars(vf)
                    auto.update(values)
                    auto_at.update(tf.tfvars_lines(vf, values))
                except InputError as exc:
                    self.scanned(vf, str(exc))
            jobs.append((str(folder), {**auto, **given_vars}, scanned_roots, {**auto_at, **given_vars_at}))
        # one root module at a time (on every core when there are many): only its resources come back, so memory
        # stays flat in the number of files
        for found, file_states in tf.root_modules(jobs):
            self.resources += found
            for f, error in file_states.items():
                self.scanned(f, error)
        for fs in wanted.values():  # a called module no scanned caller reached: read on its own, for its errors
            missing_files = [f for f in fs if str(f) not in self.states]
            for f, error in tf.parse_errors(missing_files).items():
                self.scanned(f, error)


def _given_variables(var_files) -> tuple[dict, dict]:
    """``--var-file`` values, and where each is set (its file and line: the fix goes there)."""
    given_vars: dict = {}
    given_vars_at: dict = {}
    for vf in var_files or ():
        if not Path(vf).is_file():
            raise InputError(f"--var-file not found: {vf}")
        try:
            values = tf.tfvars(Path(vf))
            given_vars.update(values)
            given_vars_at.update(tf.tfvars_lines(Path(vf), values))
        except InputError as exc:
            raise InputError(f"--var-file {vf}: {exc}") from None
    return given_vars, given_vars_at


def scan(paths, *, parameters=(), var_files=(), exceptions_file=None, today: date | None = None,
         calendar=None, cdk_apps=()) -> IacResult:
    """The rule on every Neptune DB instance the code under ``paths`` defines (see the module's docstring).
    ``cdk_apps``: CDK apps' folders whose source names the constructs behind a cloud assembly among ``paths``
    (read for that alone: their constructs are not findings of their own)."""
    from datetime import datetime, timezone

    from neptune_audit.rule import allowlist

    today = today or date.today()
    overrides = _parse_params(parameters)
    rules = allowlist.load(exceptions_file)
    given_vars, given_vars_at = _given_variables(var_files)
    reading = _Reading()
    templates, tf_dirs, sources, cdk = reading.discover(_walk(paths))
    reading.cdk_source(sources, {Path(p) for p in paths})
    reading.cloudformation(templates, cdk, overrides, paths)
    reading.terraform(tf_dirs, paths, given_vars, given_vars_at)
    resources = reading.resources
    _link_synth_to_source(resources + _app_sources(cdk_apps))
    findings = [judge(r, rules, today, calendar) for r in resources]
    findings.sort(key=lambda f: (_RANK[f["result"]], f["file"], f["line"] or 0, f["resource"]))
    return IacResult(findings, sorted(reading.states.values(), key=lambda s: s["file"]), resources, reading.ignored,
                     datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
