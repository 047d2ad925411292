"""The DescribeRegions slice of botocore's ec2 model that the kit's own loader finds first (aws/tuning.py).

botocore's full ec2 model is 830 operations: loading it and building its client class cost ~0.26 s of CPU on the
scan's critical path, before the first request, for the one operation the kit calls.  The slice is derived from
the installed botocore, never written by hand; this test fails when it drifts.  Regenerate it with
``python -m tests.test_models``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import botocore.session

import neptune_audit
from neptune_audit.aws import tuning

SLICE = Path(neptune_audit.__file__).parent / "aws" / "models" / "ec2"
OPERATIONS = ("DescribeRegions",)


def _shapes_of(model: dict, name: str, found: dict) -> None:
    if name in found:
        return
    shape = found[name] = model["shapes"][name]
    refs = [*shape.get("members", {}).values(), shape.get("member"), shape.get("key"), shape.get("value")]
    for ref in filter(None, refs):
        _shapes_of(model, ref["shape"], found)


def _without_docs(value):
    if isinstance(value, dict):
        return {k: _without_docs(v) for k, v in value.items() if k not in ("documentation", "documentationUrl")}
    if isinstance(value, list):
        return [_without_docs(v) for v in value]
    return value


# What a client needs of the metadata (the rest is documentation, or traits newer botocores add)
METADATA = ("apiVersion", "endpointPrefix", "protocol", "serviceId", "signatureVersion", "xmlNamespace", "uid")


def derive() -> tuple[str, dict]:
    """(api version, the model with only OPERATIONS and the shapes they reach, without documentation), from the
    installed botocore."""
    loader = botocore.session.get_session().get_component("data_loader")
    model = loader.load_service_model("ec2", "service-2")
    shapes: dict = {}
    for op in OPERATIONS:
        for ref in ("input", "output"):
            if ref in model["operations"][op]:
                _shapes_of(model, model["operations"][op][ref]["shape"], shapes)
    trimmed = {"version": model.get("version", "2.0"),
               "metadata": {k: model["metadata"][k] for k in METADATA if k in model["metadata"]},
               "operations": {op: model["operations"][op] for op in OPERATIONS},
               "shapes": dict(sorted(shapes.items()))}
    return model["metadata"]["apiVersion"], _without_docs(trimmed)


def _covers(shipped, derived) -> bool:
    """``shipped`` holds everything ``derived`` does, the same way (it may hold members an older botocore lacks)."""
    if isinstance(derived, dict):
        return isinstance(shipped, dict) and all(k in shipped and _covers(shipped[k], v) for k, v in derived.items())
    return shipped == derived


def test_the_shipped_slice_is_the_installed_botocores_describe_regions():
    """Everything the installed botocore says of DescribeRegions is in the slice, the same way (an older botocore,
    as in ``make test-lowest``, knows fewer members of a Region; the slice comes from the newest)."""
    version, derived = derive()
    shipped = SLICE / version / "service-2.json"
    assert shipped.is_file(), f"no slice for ec2 {version}: run python -m tests.test_models"
    assert _covers(json.loads(shipped.read_text()), derived), "the slice lacks what botocore has: python -m tests.test_models"


def test_the_comparison_can_fail():
    _, derived = derive()
    lacking = json.loads(json.dumps(derived))
    del lacking["shapes"]["Region"]["members"]["OptInStatus"]
    assert not _covers(lacking, derived)
    renamed = json.loads(json.dumps(derived))
    renamed["shapes"]["Region"]["members"]["RegionName"]["locationName"] = "name"
    assert not _covers(renamed, derived)


def test_the_kits_ec2_client_answers_describe_regions_from_the_slice():
    """The kit's own loader finds the slice first; a client of the user's own still gets botocore's whole model."""
    session = tuning.new_botocore_session()
    ours = session.create_client("ec2", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    assert ours.meta.service_model.operation_names == list(OPERATIONS)
    assert ours.meta.service_model.operation_model("DescribeRegions").output_shape.name == "DescribeRegionsResult"
    theirs = botocore.session.get_session().create_client("ec2", region_name="us-east-1",
                                                          aws_access_key_id="a", aws_secret_access_key="b")
    assert len(theirs.meta.service_model.operation_names) > 500


def test_the_kit_loader_lists_the_services_botocore_lists(tmp_path, monkeypatch):
    """One walk of the data folders answers every kind of file as botocore's own listing does, the user's model
    folders included (here an AWS_DATA_PATH with a model of its own and a folder that is not a service)."""
    extra = tmp_path / "models"
    (extra / "myservice" / "2020-01-01").mkdir(parents=True)
    (extra / "myservice" / "2020-01-01" / "service-2.json").write_text("{}")
    (extra / "myservice" / "2020-01-01" / "waiters-2.json.gz").write_bytes(b"")
    (extra / "notes.txt").write_text("not a service")
    (extra / "half" / "2020-01-01" / "paginators-1.json").mkdir(parents=True)  # a folder, not a file
    monkeypatch.setenv("AWS_DATA_PATH", str(extra))
    monkeypatch.setattr(tuning, "_shared_loader", [])
    ours = tuning.new_botocore_session().get_component("data_loader")
    theirs = botocore.session.Session().get_component("data_loader")
    assert type(ours) is not type(theirs) and str(extra) in theirs.search_paths
    theirs.search_paths[:] = ours.search_paths  # the same folders, the slices' among them
    for kind in ("service-2", "paginators-1", "endpoint-rule-set-1", "waiters-2", "examples-1", "nothing"):
        assert ours.list_available_services(kind) == theirs.list_available_services(kind), kind
    assert "myservice" in ours.list_available_services("waiters-2")
    assert "half" not in ours.list_available_services("paginators-1")


if __name__ == "__main__":
    version, trimmed = derive()
    out = SLICE / version / "service-2.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(trimmed, indent=1, sort_keys=False) + "\n")
    print(f"wrote {out} ({len(trimmed['shapes'])} shapes)", file=sys.stderr)

