"""One exception tree that callers can catch, and the exit code taken from the class (never a message or a name)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import neptune_audit
from neptune_audit import cli
from neptune_audit import errors

PACKAGE = Path(neptune_audit.__file__).parent
# raised on purpose but not errors of the kit's: a module attribute lookup, and three parse helpers whose
# ValueError is caught beside the raise and turned into a line of the scope, history or log (never escapes)
ALLOWED = {"AttributeError", "ValueError", "RuntimeError", "Terminated"}


def test_every_class_the_kit_raises_is_in_the_tree():
    raised = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and isinstance(node.exc.func, ast.Name)
                    and node.exc.func.id[:1].isupper()):  # a class by name (`raise known(...)` re-raises one)
                raised.add(node.exc.func.id)
    assert raised, "the walk found the raises"
    for name in raised - ALLOWED:
        cls = errors.by_name(name)
        assert cls is not None and issubclass(cls, errors.NeptuneAuditError), name


@pytest.mark.parametrize("cls, code", [(errors.UsageError, 2), (errors.InputError, 2), (errors.AwsError, 2),
                                       (errors.NotebookFailed, 4), (errors.NeptuneAuditError, 4)])
def test_the_exit_code_comes_from_the_class(monkeypatch, capsys, cls, code):
    def fails(_args):
        raise cls("the same words for every class")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["schema"].set_defaults(func=fails)
    assert cli.main(["schema"]) == code
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "the same words" in err


def test_callers_catch_one_base_and_old_catches_still_work():
    assert issubclass(neptune_audit.InputError, neptune_audit.UsageError)
    assert issubclass(neptune_audit.UsageError, ValueError), "code that caught ValueError keeps working"
    for name in ("UsageError", "InputError", "AwsError", "NotebookFailed"):
        assert issubclass(getattr(neptune_audit, name), neptune_audit.NeptuneAuditError)
    assert errors.by_name("InputError") is errors.InputError and errors.by_name("KeyError") is None


def test_a_bad_file_is_an_input_error(tmp_path):
    from neptune_audit import inputs

    bad = tmp_path / "scan.json"
    bad.write_text('{"a": 1, "a": 2}')
    with pytest.raises(neptune_audit.InputError, match="duplicate key"):
        inputs.contract_document(bad.read_bytes(), str(bad))


def _garbage(tmp_path, name: str, data: bytes = b"\x00\xffnot what it claims {[") -> str:
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def _read_saved_scan(path):
    return neptune_audit.load(path)


def _read_report(path):
    from neptune_audit.contract import evidence

    return evidence.verify(path)


def _read_exceptions(path):
    from neptune_audit.rule import allowlist

    return allowlist.load(path)


def _read_calendar(path):
    from neptune_audit.rule import outlook

    return outlook.load_calendar(path)


def _read_signing_key(path):
    from neptune_audit.contract import signing

    return signing.signer_for(path)


def _read_public_key(path):
    from neptune_audit.contract import signing

    return signing.load_public_key(path)


def _read_signature(path):
    from neptune_audit.contract import signing

    return signing.read_envelope(path + ".artefact", signature=path)


def _read_audit_log(path):
    from neptune_audit.act import auditlog

    return auditlog.read(path)


def _read_var_file(path):
    from neptune_audit.code import scan

    return scan.scan([str(Path(path).parent)], var_files=[path + ".missing"])


def _read_iac_path(path):
    from neptune_audit.code import scan

    return scan.scan([path + ".missing"])


@pytest.mark.parametrize("name, read", [
    ("scan.json", _read_saved_scan), ("report.html", _read_report), ("notebook.ipynb", _read_report),
    ("exceptions.yml", _read_exceptions), ("calendar.yaml", _read_calendar), ("key.pem", _read_signing_key),
    ("key.pub", _read_public_key), ("report.html.sig", _read_signature), ("audit-log.jsonl", _read_audit_log),
    ("vars.tfvars", _read_var_file), ("main.tf", _read_iac_path)])
@pytest.mark.parametrize("kind", ["garbage", "missing", "folder"])
def test_every_file_the_kit_reads_raises_input_error(tmp_path, name, read, kind):
    """Whatever is wrong with a file handed to the kit (not what it claims, absent, a folder), the library raises
    InputError with one line naming it: the one class a caller catches for "this file cannot be believed"."""
    if kind == "garbage":
        path = _garbage(tmp_path, name, b"\x00\xffnot what it claims {[\n" * 2)  # whole lines (a log's torn last
        # line is skipped by design)
    elif kind == "missing" and read is _read_audit_log:
        assert read(str(tmp_path / name)) == [], "no log yet is an empty log: it is made on the first change"
        return
    elif kind == "missing":
        path = str(tmp_path / name)
    else:
        (tmp_path / name).mkdir()
        path = str(tmp_path / name)
    with pytest.raises(neptune_audit.InputError) as caught:
        read(path)
    assert "\n" not in str(caught.value) and str(caught.value)
