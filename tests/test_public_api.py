"""What a builder imports: every public name resolves, is typed (py.typed), and the functions take what the README
says, including a session of the caller's own."""
from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import neptune_audit

from .conftest import ROOT


def test_every_public_name_resolves_and_is_documented():
    for name in neptune_audit.__all__:
        obj = getattr(neptune_audit, name)
        assert obj is not None, name
        if callable(obj) and not isinstance(obj, type(neptune_audit)):
            assert (obj.__doc__ or "").strip(), f"{name} has no docstring"
    assert (Path(neptune_audit.__file__).parent / "py.typed").exists(), "PEP 561: the package says it is typed"


@pytest.mark.parametrize("name", ["scan", "load", "scan_or_load", "iac", "policy"])
def test_public_functions_are_fully_annotated_and_say_what_they_take_and_return(name):
    fn = getattr(neptune_audit, name)
    sig = inspect.signature(fn)
    assert sig.return_annotation is not inspect.Signature.empty, name
    for p in sig.parameters.values():
        assert p.annotation is not inspect.Parameter.empty, f"{name}({p.name})"
    assert "Args:" in fn.__doc__ and "Returns:" in fn.__doc__


def test_scan_with_your_own_session_uses_its_credentials_and_leaves_it_alone(aws):
    import boto3

    from neptune_audit.simulate import estate

    estate.seed()
    mine = boto3.Session(aws_access_key_id="AKIAEXAMPLEEXAMPLE", aws_secret_access_key="secret",
                         region_name="eu-west-1")
    before = (mine.get_credentials().access_key, mine.region_name, mine.available_profiles)
    result = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1,eu-west-1"), session=mine)
    assert len(result.findings) and set(result.findings["region"]) == {"us-east-1", "eu-west-1"}
    assert (mine.get_credentials().access_key, mine.region_name, mine.available_profiles) == before
    with pytest.raises(neptune_audit.OptionError, match="session cannot be combined with demo"):
        neptune_audit.scan(neptune_audit.ScanOptions(demo=True), session=mine)


def test_iac_and_policy_from_python():
    code = neptune_audit.iac([ROOT / "examples" / "iac"])
    assert code.findings and {f["result"] for f in code.findings} >= {"FAIL"}
    doc = neptune_audit.policy("remediate")
    actions = {a for s in doc["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert "rds:ModifyDBInstance" in actions and not any(a.endswith("*") for a in actions)
    assert callable(neptune_audit.remediate.plan) and callable(neptune_audit.remediate.verify)
