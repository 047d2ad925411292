"""An answer seen before byte for byte (its request id aside) is parsed once by the kit's own sessions.

A region's Neptune engine catalogue (DescribeDBEngineVersions) is AWS's list, ~76 KB of XML in the simulated
account, and regions that offer the same releases send the same bytes.  The bodies below follow the RDS/Neptune API
reference's DescribeDBEngineVersions response (query protocol XML: DBEngineVersion, ValidUpgradeTarget/
UpgradeTarget, ResponseMetadata/RequestId) and replace the HTTP answer through botocore's before-send hook, so the
kit's parser sees them as it would AWS's.
"""
from __future__ import annotations

import botocore.session
from botocore.awsrequest import AWSResponse

import neptune_audit
from neptune_audit.aws import tuning
from neptune_audit.aws.connection import Connection

from .conftest import seed
from .faults import _Raw

NS = "http://rds.amazonaws.com/doc/2014-10-31/"


def _catalogue(versions: dict, request_id: str, marker: str | None = None) -> bytes:
    """versions: engine version -> [(target version, auto upgrade, major)]."""
    entries = "".join(
        f"<DBEngineVersion><Engine>neptune</Engine><EngineVersion>{v}</EngineVersion><Status>available</Status>"
        "<ValidUpgradeTarget>" + "".join(
            f"<UpgradeTarget><Engine>neptune</Engine><EngineVersion>{t}</EngineVersion>"
            f"<AutoUpgrade>{str(auto).lower()}</AutoUpgrade><IsMajorVersionUpgrade>{str(major).lower()}"
            "</IsMajorVersionUpgrade></UpgradeTarget>" for t, auto, major in targets) +
        "</ValidUpgradeTarget></DBEngineVersion>" for v, targets in versions.items())
    more = f"<Marker>{marker}</Marker>" if marker else ""
    return (f'<DescribeDBEngineVersionsResponse xmlns="{NS}"><DescribeDBEngineVersionsResult>{more}'
            f"<DBEngineVersions>{entries}</DBEngineVersions></DescribeDBEngineVersionsResult>"
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
            "</DescribeDBEngineVersionsResponse>").encode()


TODAY = {"1.3.2.1": [("1.3.4.0", True, False), ("1.4.5.1", False, True)], "1.4.5.1": []}
NEWER = {**TODAY, "1.4.6.0": []}


def _replying(session, region: str, body: bytes):
    client = session.create_client("rds", region_name=region, endpoint_url="https://rds.test.invalid",
                                   aws_access_key_id="a", aws_secret_access_key="b")
    client.meta.events.register("before-send.rds.DescribeDBEngineVersions",
                                lambda request, **_: AWSResponse(request.url, 200, {}, _Raw(body)))
    return client


def _ask(session, region: str, body: bytes) -> dict:
    return _replying(session, region, body).describe_db_engine_versions(Engine="neptune")


def test_the_same_catalogue_is_parsed_once_and_reads_as_botocore_parses_it():
    ours = tuning.new_botocore_session()
    a = _ask(ours, "us-east-1", _catalogue(TODAY, "req-a"))
    b = _ask(ours, "eu-west-1", _catalogue(TODAY, "req-b"))
    plain = _ask(botocore.session.get_session(), "eu-west-1", _catalogue(TODAY, "req-b"))
    assert b["DBEngineVersions"] is a["DBEngineVersions"], "parsed once"
    assert b["DBEngineVersions"] == plain["DBEngineVersions"]
    assert [a["ResponseMetadata"]["RequestId"], b["ResponseMetadata"]["RequestId"]] == ["req-a", "req-b"]
    assert b["ResponseMetadata"]["HTTPStatusCode"] == plain["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert set(b) == set(plain)


def test_a_different_catalogue_or_page_is_parsed_in_full():
    ours = tuning.new_botocore_session()
    a = _ask(ours, "us-east-1", _catalogue(TODAY, "req-a"))
    c = _ask(ours, "ap-southeast-2", _catalogue(NEWER, "req-c"))
    assert c["DBEngineVersions"] is not a["DBEngineVersions"]
    assert [v["EngineVersion"] for v in c["DBEngineVersions"]] == ["1.3.2.1", "1.4.5.1", "1.4.6.0"]
    paged = _ask(ours, "eu-west-1", _catalogue(TODAY, "req-d", marker="page-2"))
    assert paged["Marker"] == "page-2" and paged["DBEngineVersions"] == a["DBEngineVersions"]
    assert "Marker" not in a


def test_plain_botocore_sessions_parse_every_answer():
    theirs = botocore.session.get_session()
    a = _ask(theirs, "us-east-1", _catalogue(TODAY, "req-a"))
    b = _ask(theirs, "eu-west-1", _catalogue(TODAY, "req-b"))
    assert a["DBEngineVersions"] == b["DBEngineVersions"] and a["DBEngineVersions"] is not b["DBEngineVersions"]
    assert type(theirs.get_component("response_parser_factory")).__module__ == "botocore.parsers"


def test_the_memo_keeps_a_few_answers_only():
    ours = tuning.new_botocore_session()
    for i in range(tuning.parsing._MEMO_SIZE + 3):
        _ask(ours, "us-east-1", _catalogue({**TODAY, f"1.4.{i}.0": []}, f"req-{i}"))
    assert len(ours.get_component("response_parser_factory")._memo) == tuning.parsing._MEMO_SIZE


def test_each_region_keeps_its_own_catalogue_in_a_scan(aws):
    """Two regions run the same release; one region's catalogue does not list it yet.  Its cluster's exposure is
    unknown there, and known where the catalogue lists it: one region's answer never stands in for another's."""
    for region in ("us-east-1", "eu-west-1"):
        seed([(f"g-{region}", [(f"w-{region}", True, {})])], region=region,
             engine_versions={f"g-{region}": "1.3.2.1"})
    lagging = _catalogue({"1.4.5.1": []}, "req-lagging")

    def eu_lags(request, **_):
        if "eu-west-1" in request.headers.get("Authorization", b"").decode():
            return AWSResponse(request.url, 200, {}, _Raw(lagging))
        return None

    r = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1,eu-west-1"), connection=Connection(
        hooks=[("before-send.rds.DescribeDBEngineVersions", eu_lags)]))
    c = r.clusters.set_index("region")
    assert c.loc["eu-west-1", "exposure"] == "unknown" and c.loc["us-east-1", "exposure"] != "unknown"
