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
