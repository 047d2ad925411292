"""The slices of botocore's ec2 and rds models that the kit's own loader finds first (aws/tuning/loader.py).

botocore's full ec2 model is 830 operations: loading it and building its client class cost ~0.26 s of CPU on the
scan's critical path, before the first request, for the one operation the kit calls.  rds's is ~160 operations,
built again for every account-region's client where the kit is a library (a kernel, a worker): ~9 ms a client,
~4 ms with the five operations the kit calls.  A slice holds the operations the kit declares (``NEEDS``, the same
declarations the IAM policies come from) and every shape they reach, errors included, without documentation.  It
is derived from the installed botocore, never written by hand; this test fails when it drifts.  Regenerate with
``python -m tests.test_models``.

The answers' big shapes are trimmed too: botocore's parser walks every member a shape declares for every item of
an answer (a DBInstance declares 96, a DBEngineVersion 37), so the slice keeps, of those shapes, only the members
whose names the kit's code spells.  A region's engine catalogue then parses in ~5 ms instead of ~11 ms, a page of
100 instances in ~1/3 of the time.  A member the code starts to read is missing from the shipped slice until it is
regenerated, and this test says so.
"""
from __future__ import annotations

import ast
import functools
import json
import sys
from pathlib import Path

import botocore
import botocore.exceptions
import botocore.session
import pytest

import neptune_audit
from neptune_audit.aws import tuning

SLICES = Path(neptune_audit.__file__).parent / "aws" / "models"
SLICED = ("ec2", "rds")


def operations(service: str) -> tuple[str, ...]:
    """The service's operations the kit declares it calls."""
    from neptune_audit import api

    return tuple(sorted({call.split(".", 1)[1] for n in api.declared_needs() for call in n.calls
                         if call.startswith(service + ".")}))


# The answer shapes trimmed to what the kit reads (never a shape a request is built from: test below).
TRIMMED = {"rds": ("DBInstance", "DBCluster", "DBEngineVersion", "UpgradeTarget")}


@functools.cache
def spelled() -> frozenset[str]:
    """Every string the kit's code spells (the simulated account, which builds answers, has its own clients)."""
    package = Path(neptune_audit.__file__).parent
    return frozenset(node.value for path in package.rglob("*.py") if "simulate" not in path.relative_to(package).parts
            for node in ast.walk(ast.parse(path.read_text("utf-8")))
            if isinstance(node, ast.Constant) and isinstance(node.value, str))


def _trimmed(shape: dict, names: set[str]) -> dict:
    return {**shape, "members": {k: v for k, v in shape["members"].items() if k in names}}


def _shapes_of(model: dict, name: str, found: dict, trim=(), names: set[str] = frozenset()) -> None:
    if name in found:
        return
    shape = found[name] = _trimmed(model["shapes"][name], names) if name in trim else model["shapes"][name]
    refs = [*shape.get("members", {}).values(), shape.get("member"), shape.get("key"), shape.get("value")]
    for ref in filter(None, refs):
        _shapes_of(model, ref["shape"], found, trim, names)


def _without_docs(value):
    if isinstance(value, dict):
        return {k: _without_docs(v) for k, v in value.items() if k not in ("documentation", "documentationUrl")}
    if isinstance(value, list):
        return [_without_docs(v) for v in value]
    return value


# What a client needs of the metadata (the rest is documentation, or traits newer botocores add)
METADATA = ("apiVersion", "endpointPrefix", "protocol", "serviceId", "signatureVersion", "xmlNamespace", "uid")


def derive(service: str) -> tuple[str, dict]:
    """(api version, the model with only the kit's operations and the shapes they reach, without documentation),
    from the installed botocore."""
    loader = botocore.session.get_session().get_component("data_loader")
    model = loader.load_service_model(service, "service-2")
    shapes: dict = {}
    ops = operations(service)
    trim, names = TRIMMED.get(service, ()), spelled()
    for op in ops:
        spec = model["operations"][op]
        for ref in [spec.get("input"), spec.get("output"), *spec.get("errors", [])]:
            if ref:
                _shapes_of(model, ref["shape"], shapes, trim, names)
    trimmed = {"version": model.get("version", "2.0"),
               "metadata": {k: model["metadata"][k] for k in METADATA if k in model["metadata"]},
               "operations": {op: model["operations"][op] for op in ops},
               "shapes": dict(sorted(shapes.items()))}
    return model["metadata"]["apiVersion"], _without_docs(trimmed)


def derive_extras(service: str, version: str, shapes) -> dict | None:
    """botocore's ``service-2.sdk-extras`` for the service, kept to the slice's shapes.  The slice's copy shadows
    botocore's: merged into the slice, botocore's would add half-shapes (no type) for operations it lacks, and a
    client then fails on its first error answer."""
    loader = botocore.session.get_session().get_component("data_loader")
    try:
        extras = loader.load_data(f"{service}/{version}/service-2.sdk-extras")
    except botocore.exceptions.DataNotFoundError:
        return None
    merge = dict(extras.get("merge", {}))
    if "shapes" in merge:
        merge["shapes"] = {k: v for k, v in merge["shapes"].items() if k in shapes}
    return _without_docs({**extras, "merge": merge})


def _covers(shipped, derived, exact: bool = True) -> bool:
    """``shipped`` holds everything ``derived`` does, the same way (it may hold members an older botocore lacks).
    Not ``exact``: every name is there, values may differ (an older botocore lists errors in another order, has
    String where the newer has SensitiveString)."""
    if isinstance(derived, dict):
        return isinstance(shipped, dict) and all(k in shipped and _covers(shipped[k], v, exact)
                                                 for k, v in derived.items())
    return shipped == derived or not exact


def derive_endpoints() -> dict:
    """botocore's endpoints.json (every partition and region) with only the services the kit's sessions build
    clients of: 1.25 MB of JSON, ~25 ms to parse before the first client, against ~40 KB."""
    data = botocore.session.get_session().get_component("data_loader").load_data("endpoints")
    return {**data, "partitions": [{**p, "services": {k: v for k, v in p["services"].items() if k in tuning.SERVICES}}
                                   for p in data["partitions"]]}


DERIVED_FROM = SLICES / "derived-from.txt"  # the botocore the slices come from


def _installed() -> tuple[int, ...]:
    return tuple(int(p) for p in botocore.__version__.split(".")[:3])


@pytest.mark.parametrize("service", SLICED)
def test_the_shipped_slice_is_the_installed_botocores(service):
    """Everything the installed botocore says of the kit's operations is in the slice, the same way (an older
    botocore, as in ``make test-lowest``, knows fewer members of a Region; the slice comes from the newest)."""
    version, derived = derive(service)
    shipped = SLICES / service / version / "service-2.json"
    assert shipped.is_file(), f"no slice for {service} {version}: run python -m tests.test_models"
    source = tuple(int(p) for p in DERIVED_FROM.read_text().split()[1].split("."))
    exact = _installed() >= source  # the botocore it came from, or a newer one: nothing may differ
    assert _covers(json.loads(shipped.read_text()), derived, exact), \
        f"the {service} slice lacks what botocore {botocore.__version__} has: python -m tests.test_models"
    extras = derive_extras(service, version, derived["shapes"])
    shipped_extras = shipped.with_name("service-2.sdk-extras.json")
    assert (extras is None) == (not shipped_extras.is_file()), "python -m tests.test_models"
    assert extras is None or _covers(json.loads(shipped_extras.read_text()), extras, exact)


def test_trimmed_shapes_are_answers_only():
    """A request is built from its input shapes: none of them may lose a member."""
    loader = botocore.session.get_session().get_component("data_loader")
    for service, trim in TRIMMED.items():
        model = loader.load_service_model(service, "service-2")
        inputs: dict = {}
        for op in operations(service):
            if model["operations"][op].get("input"):
                _shapes_of(model, model["operations"][op]["input"]["shape"], inputs)
        assert not set(trim) & set(inputs), f"{service}: a trimmed shape is part of a request"


def test_a_member_the_kit_reads_is_kept(monkeypatch):
    """Reading a new member of a trimmed shape makes the shipped slice out of date (the test above then fails)."""
    _, derived = derive("rds")
    assert "Endpoint" not in derived["shapes"]["DBInstance"]["members"]  # an address the kit never reads
    assert {"AutoMinorVersionUpgrade", "TagList", "PendingModifiedValues"} <= set(
        derived["shapes"]["DBInstance"]["members"])
    read = spelled()
    monkeypatch.setattr(sys.modules[__name__], "spelled", lambda: read | {"Endpoint"})
    _, wider = derive("rds")
    assert "Endpoint" in wider["shapes"]["DBInstance"]["members"]
    shipped = json.loads((SLICES / "rds" / "2014-10-31" / "service-2.json").read_text())
    assert not _covers(shipped, wider)


def test_the_shipped_endpoints_are_the_installed_botocores():
    """The kit's sessions read their endpoints (partitions, regions, the kit's services) from the slice, found
    before botocore's file and read as botocore's own (``is_builtin_path``: endpoints then resolve by the rule
    sets, as with botocore's file); it holds what the installed botocore says of those services."""
    shipped = json.loads((SLICES / "endpoints.json").read_text())
    source = tuple(int(p) for p in DERIVED_FROM.read_text().split()[1].split("."))
    exact = _installed() >= source
    derived = derive_endpoints()
    assert shipped == derived if exact else _covers(shipped, derived, exact=False), \
        f"the endpoints slice differs from botocore {botocore.__version__}'s: python -m tests.test_models"
    loader = tuning.new_botocore_session().get_component("data_loader")
    data, path = loader.load_data_with_path("endpoints")
    assert path.startswith(str(SLICES)) and loader.is_builtin_path(path)
    assert set(data["partitions"][0]["services"]) <= tuning.SERVICES


def test_the_comparison_can_fail():
    _, derived = derive("ec2")
    lacking = json.loads(json.dumps(derived))
    del lacking["shapes"]["Region"]["members"]["OptInStatus"]
    assert not _covers(lacking, derived)
    renamed = json.loads(json.dumps(derived))
    renamed["shapes"]["Region"]["members"]["RegionName"]["locationName"] = "name"
    assert not _covers(renamed, derived)
    assert _covers(renamed, derived, exact=False) and not _covers(lacking, derived, exact=False)


def test_the_kits_clients_answer_from_the_slices():
    """The kit's own loader finds the slices first; a client of the user's own still gets botocore's whole model."""
    session = tuning.new_botocore_session()
    ours = session.create_client("ec2", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    assert ours.meta.service_model.operation_names == ["DescribeRegions"]
    assert ours.meta.service_model.operation_model("DescribeRegions").output_shape.name == "DescribeRegionsResult"
    rds = session.create_client("rds", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    assert sorted(rds.meta.service_model.operation_names) == list(operations("rds"))
    assert rds.can_paginate("describe_db_instances")  # botocore's own paginators, found behind the slice
    for service, many in (("ec2", 500), ("rds", 100)):
        theirs = botocore.session.get_session().create_client(service, region_name="us-east-1",
                                                              aws_access_key_id="a", aws_secret_access_key="b")
        assert len(theirs.meta.service_model.operation_names) > many


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
    monkeypatch.setattr(tuning.sessions, "_shared_loader", [])
    ours = tuning.new_botocore_session().get_component("data_loader")
    theirs = botocore.session.Session().get_component("data_loader")
    assert type(ours) is not type(theirs) and str(extra) in theirs.search_paths
    theirs.search_paths[:] = ours.search_paths  # the same folders, the slices' among them
    for kind in ("service-2", "paginators-1", "endpoint-rule-set-1", "waiters-2", "examples-1", "nothing"):
        assert ours.list_available_services(kind) == theirs.list_available_services(kind), kind
    assert "myservice" in ours.list_available_services("waiters-2")
    assert "half" not in ours.list_available_services("paginators-1")


if __name__ == "__main__":
    for name in SLICED:
        version, trimmed = derive(name)
        out = SLICES / name / version / "service-2.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(trimmed, indent=1, sort_keys=False) + "\n")
        extras = derive_extras(name, version, trimmed["shapes"])
        if extras is not None:
            out.with_name("service-2.sdk-extras.json").write_text(json.dumps(extras, indent=1) + "\n")
        print(f"wrote {out} ({len(trimmed['shapes'])} shapes)", file=sys.stderr)
    (SLICES / "endpoints.json").write_text(json.dumps(derive_endpoints(), separators=(",", ":")) + "\n")
    DERIVED_FROM.write_text(f"botocore {botocore.__version__}\n")

