"""Property tests for the command-line arguments a user can type."""
from __future__ import annotations

import boto3
from hypothesis import given, settings, strategies as st

from neptune_audit import UsageError
from neptune_audit.cli import build_parser
from neptune_audit.contract.export import FORMATS
from neptune_audit.options import parse_regions



@given(st.text(max_size=80))
def test_regions_argument_is_a_clean_list_or_a_usage_error(text):
    try:
        regions = parse_regions(text)
    except UsageError as e:
        assert "\n" not in str(e) and ("region" in str(e))
        return
    if regions is None:
        assert text.strip().lower() == "all"
    else:
        # what any region name is, whatever the kit's own pattern: lowercase letters, digits and hyphens, no
        # space or comma, each once
        assert regions and len(set(regions)) == len(regions)
        assert all(r and r == r.strip() and set(r) <= set("abcdefghijklmnopqrstuvwxyz0123456789-") for r in regions)


def test_every_region_botocore_knows_is_accepted():
    """The pattern checked against AWS's own list (botocore's endpoint data, every partition), not against itself."""
    s = boto3.Session()
    known = {r for p in s.get_available_partitions() for svc in ("ec2", "rds", "neptune")
             for r in s.get_available_regions(svc, partition_name=p)}
    assert len(known) > 20
    assert parse_regions(",".join(sorted(known))) == sorted(known)


@given(st.lists(st.sampled_from(["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1"]), min_size=1))
def test_valid_region_lists_round_trip(regions):
    assert parse_regions(" , ".join(regions)) == list(dict.fromkeys(regions))


@settings(max_examples=60)
@given(st.one_of(st.text(min_size=1, max_size=20), st.lists(st.sampled_from(FORMATS), min_size=1).map(",".join))
       .filter(lambda s: not s.startswith("-")))
def test_format_lists_are_accepted_only_from_the_contract(fmt):
    names = [n.strip() for n in fmt.split(",") if n.strip()]
    try:
        args = build_parser().parse_args(["scan", "--format", fmt])
    except UsageError as e:
        assert not names or set(names) - set(FORMATS), fmt
        assert "unknown format" in str(e)
    else:
        assert args.format == list(dict.fromkeys(names)) and set(args.format) <= set(FORMATS)
