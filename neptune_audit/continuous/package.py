"""The Lambda deployment package: the kit's rule path and what it needs, built for Lambda's Linux and Python.

Lambda's Python runtime brings boto3 and botocore; the package brings pandas (and numpy), PyYAML and platformdirs,
as manylinux wheels from the package index (pip's ``--platform``), and the kit without its notebook, report and
code-reading parts (no plotly, papermill, nbconvert, Jupyter, tree-sitter).  Lambda's limits: 50 MB zipped for a
direct upload, 250 MB unzipped (Lambda developer guide, "Lambda quotas").
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from neptune_audit.errors import UsageError

# what the handler imports beyond the standard library and boto3 (checked by a test that imports the package in a
# virtualenv with boto3 alone and runs the handler)
REQUIREMENTS = ("pandas", "PyYAML", "platformdirs")
# parts of the kit the handler never imports: the notebook and report stack, code reading, the CLI
LEFT_OUT = ("present", "code", "cli", "notebooks", "__pycache__")
# test suites and type stubs inside the wheels: never imported, a third of their size
PRUNE = ("tests", "testing", "_pyinstaller", "conftest.py")
MAX_ZIPPED, MAX_UNZIPPED = 50 * 1024 * 1024, 250 * 1024 * 1024


def _floors() -> list[str]:
    """Each requirement with the floor pyproject.toml gives it (the installed kit's metadata)."""
    from importlib.metadata import PackageNotFoundError, requires

    try:
        declared = requires("neptune-audit") or []
    except PackageNotFoundError:
        declared = []
    out = []
    for name in REQUIREMENTS:
        spec = next((r.split(";")[0].strip() for r in declared
                     if r.split(">")[0].split("=")[0].split("[")[0].strip().lower() == name.lower()), name)
        out.append(spec)
    return out


def build(output: str | os.PathLike, *, python_version: str = "3.12", platform: str = "manylinux2014_x86_64",
          index_args: tuple[str, ...] = ()) -> dict:
    """Write the zip to ``output``; returns its sizes and contents' top-level names."""
    out = Path(output)
    with tempfile.TemporaryDirectory(prefix="neptune-audit-package-") as tmp:
        stage = Path(tmp) / "stage"
        cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", "install", "--quiet", "--no-compile",
               "--target", str(stage), "--only-binary=:all:", "--implementation", "cp",
               "--python-version", python_version, "--platform", platform, *index_args, *_floors()]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["pip failed"])[-1]
            raise UsageError(f"could not fetch the package's dependencies for Python {python_version} on {platform}: "
                             f"{last}")
        for pruned in [p for name in PRUNE for p in stage.glob(f"*/{name}")]:
            shutil.rmtree(pruned) if pruned.is_dir() else pruned.unlink()
        kit = Path(__file__).resolve().parents[1]
        shutil.copytree(kit, stage / "neptune_audit",
                        ignore=lambda folder, names: [n for n in names if n in LEFT_OUT and Path(folder) == kit]
                        + [n for n in names if n == "__pycache__" or n.endswith(".pyc")])
        unzipped = sum(f.stat().st_size for f in stage.rglob("*") if f.is_file())
        partial = out.with_name(out.name + ".partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            for f in sorted(p for p in stage.rglob("*") if p.is_file()):
                info = zipfile.ZipInfo(f.relative_to(stage).as_posix(), date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, f.read_bytes())
        os.replace(partial, out)  # never a half-written zip where the user expects one
    zipped = out.stat().st_size
    if zipped > MAX_ZIPPED or unzipped > MAX_UNZIPPED:
        raise UsageError(f"the package is {zipped / 1e6:.1f} MB zipped, {unzipped / 1e6:.1f} MB unzipped: over "
                         "Lambda's limits (50 MB, 250 MB)")
    return {"path": str(out), "zipped_bytes": zipped, "unzipped_bytes": unzipped}
