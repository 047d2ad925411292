"""One home for each fact: the published schema, the scan options, the rule metadata, the verdict table."""
from __future__ import annotations

import ast
import copy
import dataclasses
import json
from datetime import date

import jsonschema
import pytest

import neptune_audit
from neptune_audit import core
from neptune_audit import vocabulary
from neptune_audit.rule import evaluate
from neptune_audit.rule import allowlist
from neptune_audit.rule import model
from neptune_audit.options import ScanOptions

from .conftest import ROOT, run_cli, seed


@pytest.mark.slow
def test_schema_command_prints_a_valid_json_schema():
    proc = run_cli(["schema"], env=None)
    assert proc.returncode == 0 and proc.stderr == ""
    schema = json.loads(proc.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["schema"]["const"] == vocabulary.SCHEMA
    assert tuple(schema["$defs"]["finding"]["properties"]) == vocabulary.FINDING_FIELDS
    assert set(schema["$defs"]["scope"]["properties"]["state"]["enum"]) == set(vocabulary.SCOPE_STATES)


def test_the_spelled_out_states_results_and_exposures_are_the_schemas():
    """vocabulary spells the enums out so `--help` reads no JSON; the schema stays the one source."""
    assert vocabulary.SCOPE_STATES == vocabulary.enum("scope", "state")
    assert vocabulary.RESULTS == vocabulary.enum("finding", "result")
    assert vocabulary.EXPOSURES == vocabulary.enum("cluster", "exposure")
    assert vocabulary.TOP_FIELDS == tuple(vocabulary.schema()["properties"])


@pytest.fixture(scope="module")
def _doc(aws_module):
    seed([("c", [("w", False, {"env": "prod"}), ("r", True, {})])])
    return neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1")).to_dict()


@pytest.fixture
def doc(_doc):
    return copy.deepcopy(_doc)


def test_a_scan_records_its_duration_and_api_calls(doc):
    run = doc["run"]
    assert run["api_calls"] >= 3 and run["duration_seconds"] > 0, "DescribeRegions, instances, clusters"
    older = {k: v for k, v in doc.items() if k != "run"}
    vocabulary.validate(older)  # optional: documents written before it are still valid


@pytest.mark.parametrize("breakage", [
    lambda d: d["findings"][0].update(result="WARN"),
    lambda d: d["findings"][0].update(surprise=1),
    lambda d: d["findings"][0].pop("reason"),
    lambda d: d["scope"][0].update(state="scanned", error="should be null when scanned"),
    lambda d: d["scope"][0].update(state="denied", error=None),
    lambda d: d["summary"].update(fail=-1),
    lambda d: d.update(generated_at="yesterday"),
    lambda d: d.update(schema="neptune-audit/2"),
    lambda d: d["clusters"][0].update(result="EXCEPTED"),
    lambda d: d["findings"][0]["tags"].update(env=3),
    lambda d: d["run"].update(api_calls=-1),
    lambda d: d["run"].update(cost=3),
])
def test_schema_refuses_what_the_contract_does_not_allow(doc, breakage):
    vocabulary.validate(doc)
    broken = copy.deepcopy(doc)
    breakage(broken)
    with pytest.raises(jsonschema.ValidationError):
        vocabulary.validate(broken)


REPLACEMENTS = (None, "", "x", "2026-02-30", "2026-12-31", "2026-12-31T00:00:00Z", -1, 0, 1.5, True, [], {}, [1])


def test_the_fast_check_and_jsonschema_judge_every_document_alike(doc):
    """Loading a saved scan asks jsonschema-rs whether it is valid (jsonschema only says why not): every field of
    every part of a document, broken each way, must get the same answer from both (a fast check laxer than
    jsonschema would let a bad file in)."""
    slow = jsonschema.Draft202012Validator(vocabulary.schema(), format_checker=jsonschema.FormatChecker())
    doc["findings"][0]["exception"] = {"match": "env=prod", "reason": "r", "expires": "2026-12-31",
                                       "approved_by": None, "expired": False}
    assert slow.is_valid(doc)
    parts = [("top", doc), ("finding", doc["findings"][0]), ("exception", doc["findings"][0]["exception"]),
             ("cluster", doc["clusters"][0]), ("scope", doc["scope"][0]), ("summary", doc["summary"]),
             ("run", doc["run"]), ("rule", doc["rule"])]
    checked = disagree = 0
    for name, part in parts:
        for key in [*part, "surprise"]:
            had, old = key in part, part.get(key)
            for new in (*REPLACEMENTS, "<missing>"):
                if new == "<missing>":
                    if not had:
                        continue
                    del part[key]
                else:
                    part[key] = new
                fast, right = vocabulary._checker().is_valid(doc), slow.is_valid(doc)
                checked += 1
                if fast != right:
                    disagree += 1
                    print(f"{name}.{key} = {new!r}: jsonschema-rs {fast}, jsonschema {right}")
                if had:
                    part[key] = old
                else:
                    part.pop(key, None)
    assert checked > 1000 and disagree == 0


def _parameters(name: str) -> dict:
    nb = json.loads((ROOT / "notebooks" / name).read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    tree = ast.parse("".join(cell["source"]))
    return {(node.target if isinstance(node, ast.AnnAssign) else node.targets[0]).id: ast.literal_eval(node.value)
            for node in tree.body}


@pytest.mark.parametrize("name, own", [("audit.ipynb", {"history_dir": None, "record_history": True,
                                                        "results_files": [], "interactive": True,
                                                            "signer": None, "fail_on_findings": False}),
                                       ("remediate.ipynb", {"apply": False, "audit_log": None})])
def test_each_notebook_declares_exactly_the_scan_options(name, own):
    """The notebooks' parameters are ScanOptions' fields, with its defaults, plus their own few."""
    declared = _parameters(name)
    defaults = {f.name: f.default for f in dataclasses.fields(ScanOptions)}
    assert set(declared) == set(defaults) | set(own)
    for key, value in declared.items():
        expected = own[key] if key in own else defaults[key]
        assert value == expected or (value == [] and expected == ()), (key, value, expected)


def test_scan_options_normalise_and_validate(tmp_path):
    o = ScanOptions(regions=["us-east-1", "eu-west-1"], profiles="prod", exceptions_file=tmp_path / "e.yml")
    assert o.regions == "us-east-1,eu-west-1" and o.profiles == ("prod",) and isinstance(o.exceptions_file, str)
    assert ScanOptions.from_parameters({"regions": "all", "demo": True, "apply": True}) == ScanOptions(demo=True)
    assert json.loads(json.dumps(ScanOptions(role_arns=["arn:aws:iam::111122223333:role/x"]).as_parameters()))
    for bad, message in [(dict(max_workers=0), "^max_workers must be"), (dict(regions="us_east_1"), "unknown region"),
                         (dict(role_arns=["nope"]), "not an IAM role ARN"), (dict(role_name="a b"), "role name"),
                         (dict(demo=True, profiles=["p"]), "^profiles cannot be combined with demo"),
                         (dict(role_name="Auditor"), "^role_name goes with organization"),
                         (dict(exceptions_file=tmp_path / "missing.yml"), "not found"),
                         (dict(engine_calendar=tmp_path / "missing.yml"), "cannot read engine calendar")]:
        with pytest.raises(neptune_audit.UsageError, match=message):
            core.read_inputs(ScanOptions(**bad))  # the values, then the files they name, before any AWS call


ROW = {"account_id": "111122223333", "region": "us-east-1", "cluster_id": "c", "instance_id": "i",
       "arn": "arn:aws:rds:us-east-1:111122223333:db:i", "tags": {"env": "sandbox"}}
ACTIVE = allowlist.parse("- {instance: i, reason: vendor pin, expires: 2030-01-01}")
EXPIRED = allowlist.parse("- {tag: env=sandbox, reason: rebuilt weekly, expires: 2020-01-01}")


@pytest.mark.parametrize("is_writer, role", [(True, "writer"), (False, "reader"), (None, "instance")])
@pytest.mark.parametrize("setting, rules, result, why_has, exception", [
    (True, [], "PASS", "on", None),
    (True, ACTIVE, "PASS", "on", None),                      # an exception never touches a passing instance
    (False, [], "FAIL", "off", None),
    (False, ACTIVE, "EXCEPTED", "excepted until 2030-01-01: vendor pin", False),
    (False, EXPIRED, "FAIL", "(exception expired)", True),
])
def test_judge_every_role_setting_and_exception_state(is_writer, role, setting, rules, result, why_has, exception):
    v = evaluate.judge({**ROW, "is_writer": is_writer, "auto_minor_version_upgrade": setting}, rules,
                       date(2026, 11, 27))
    assert (v.result, v.role) == (result, role)
    assert why_has in v.why and v.reason
    assert (v.exception is None) if exception is None else (v.exception["expired"] is exception)
    if result == "FAIL":
        assert {"writer": "whole cluster", "reader": "failover", "instance": "receives no"}[role] in v.reason


def test_rule_metadata_is_validated():
    # the shipped rule.yaml is checked here, at test time, so a scan need not import pydantic
    assert model.validate(model.raw()) == model.metadata()
    assert model.metadata().id == "Neptune-001" and model.header()["standards"] == ["APRA", "MAS", "NIST4"]
    good = model.raw()
    for typo in ({"risk": "medium"}, {"standard": ["APRA"]}, {"id": "Neptun-001"}, {"reference": "example.com"}):
        bad = {**good, **typo}
        with pytest.raises(Exception, match="validation error"):
            model.validate(bad)


def test_the_python_api_a_notebook_user_meets(doc):
    names = dir(neptune_audit)
    assert {"scan", "AuditResult", "ScanOptions", "UsageError"} <= set(names)
    assert issubclass(neptune_audit.UsageError, ValueError)
    result = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"))
    assert isinstance(result, neptune_audit.AuditResult)
    assert len(repr(result)) < 300 and "1 fail" in repr(result)
    html = result._repr_html_()
    assert "Neptune-001" in html and "<th style='text-align:left'>fail</th><td>1</td>" in html
    assert "<th style='text-align:left'>account-regions scanned</th><td>1</td>" in html




def test_library_messages_name_the_parameter_and_the_cli_the_flag(capsys):
    """One check (in ScanOptions), two spellings: `scan(max_workers=0)` names max_workers; the CLI --max-workers."""
    from neptune_audit import cli

    with pytest.raises(neptune_audit.OptionError, match="^max_workers must be a whole number") as caught:
        neptune_audit.scan(neptune_audit.ScanOptions(max_workers=0))
    assert caught.value.param == "max_workers"
    assert cli.main(["scan", "--max-workers", "0"]) == 2
    assert capsys.readouterr().err.strip() == "neptune-audit: error: --max-workers must be a whole number, at least 1"
    assert cli.main(["scan", "--shard", "1/2"]) == 2
    assert "--shard goes with --organization" in capsys.readouterr().err


def test_a_misspelt_keyword_is_an_option_error_that_suggests_the_name():
    """The deprecated keywords still work, say they are deprecated, and still catch a misspelt name at run time
    (ScanOptions itself is checked by type checkers: tests/typing)."""
    with pytest.warns(DeprecationWarning, match=r"pass scan\(ScanOptions"), \
            pytest.raises(neptune_audit.OptionError, match=r"^region is not a scan option \(did you mean regions\?\)"):
        neptune_audit.scan(region="us-east-1")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="organisation"):
        neptune_audit.ScanOptions(organisation=True)  # type: ignore[call-arg]


def test_a_result_pickles_without_its_sessions(demo_result_for_pickle):
    """Airflow's XCom and multiprocessing pickle the result: the data travels, AWS sessions (credentials, locks)
    do not, and a result without them refuses to remediate in one line instead of failing deep inside."""
    import pickle

    from neptune_audit.act import remediate

    result = demo_result_for_pickle
    again = pickle.loads(pickle.dumps(result))
    assert again.to_dict() == result.to_dict() and again.exit_code == result.exit_code
    assert again.accounts == [] and result.accounts, "the original keeps its sessions"
    assert b"testing" not in pickle.dumps(result), "no credential in the pickle"
    plan = remediate.plan(again.findings)
    with pytest.raises(neptune_audit.UsageError, match="holds no AWS sessions"):
        remediate.apply(plan, again, audit_log=None)


@pytest.fixture
def demo_result_for_pickle(aws):
    from neptune_audit.simulate import estate

    estate.seed()
    return neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1,eu-west-1", organization=True))
