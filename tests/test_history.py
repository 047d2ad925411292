"""History: runs are recorded; trend and changes come from them."""
from __future__ import annotations

from datetime import timedelta

import pytest

import neptune_audit
from neptune_audit import UsageError
from neptune_audit.contract import history

from .conftest import boto, seed


def test_changes_between_runs(aws, tmp_path):
    seed([("a", [("a-1", False, {})]), ("b", [("b-1", True, {})]), ("c", [("c-1", False, {})])])
    first = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"))
    assert history.update(first, tmp_path).previous_at is None
    rds = boto("rds")
    rds.modify_db_instance(DBInstanceIdentifier="a-1", AutoMinorVersionUpgrade=True)
    rds.modify_db_instance(DBInstanceIdentifier="b-1", AutoMinorVersionUpgrade=False)
    second = neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1"))
    second.generated_at = first.generated_at + timedelta(hours=1)
    h = history.update(second, tmp_path)
    assert h.previous_at == first.to_dict()["generated_at"]
    got = {(r.instance_id, r.change) for r in h.changes.itertuples()}
    assert got == {("a-1", "newly fixed"), ("b-1", "newly failing")}
    assert list(h.trend["fail"]) == [2, 2] and list(h.trend["pass"]) == [1, 1]
    assert len(list(tmp_path.glob("neptune-audit-*.json"))) == 2


def test_unreadable_files_are_skipped_not_fatal(aws, tmp_path):
    (tmp_path / "neptune-audit-garbage.json").write_text("{not json")
    seed([("a", [("a-1", True, {})])])
    h = history.update(neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1")), tmp_path)
    assert [name.split(":")[0] for name in h.skipped] == ["neptune-audit-garbage.json"] and len(h.trend) == 1


def test_history_folder_that_is_a_file_is_bad_input(aws, tmp_path):
    (tmp_path / "f").write_text("")
    seed([("a", [("a-1", True, {})])])
    with pytest.raises(UsageError, match="history folder is a file"):
        history.update(neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1")), tmp_path / "f")


def test_no_folder_means_no_history(aws):
    assert history.update(neptune_audit.scan(neptune_audit.ScanOptions(regions="us-east-1")), None) is None
