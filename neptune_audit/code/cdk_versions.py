"""Which Neptune construct library a CDK app builds with, from its own manifest: it decides what an unset
``DatabaseCluster.autoMinorVersionUpgrade`` writes.

``@aws-cdk/aws-neptune`` (v1) from 1.140.0 and ``@aws-cdk/aws-neptune-alpha`` from 2.9.0-alpha.0 write ``false``
(``props.autoMinorVersionUpgrade === true``); earlier releases write nothing, and AWS's default (true) applies.  We
read the lock file first (the version installed), then the manifest's requirement.  A requirement that admits both
sides leaves it to the installed version, and we say so.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

# package name (npm, or PyPI normalised) -> (first release that writes false, as a comparable tuple, as written)
_SINCE = {
    "@aws-cdk/aws-neptune": ((1, 140, 0, 0), "1.140.0"),
    "@aws-cdk/aws-neptune-alpha": ((2, 9, 0, -1), "2.9.0-alpha.0"),
    "aws-cdk-aws-neptune": ((1, 140, 0, 0), "1.140.0"),
    "aws-cdk-aws-neptune-alpha": ((2, 9, 0, -1), "2.9.0a0"),
}
_NPM_MANIFESTS = ("package-lock.json", "package.json")
_PY_MANIFESTS = ("requirements.txt", "setup.py", "pyproject.toml", "setup.cfg")
_MAX_UP = 8  # folders to climb from the source file to its app's manifest
_MAX_MANIFEST = 4 * 1024 * 1024


@dataclass(frozen=True)
class Writes:
    """``decided``: True (writes false), False (writes nothing), None (the installed version decides)."""
    decided: bool | None
    why: str = ""


def _version(text: str) -> tuple[int, int, int, int] | None:
    """1.97.0 -> (1, 97, 0, 0); a pre-release (2.9.0-alpha.0, 2.9.0a0) sorts before its release."""
    m = re.match(r"\s*v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-.]?(a|alpha|b|beta|rc)\.?\d*)?", text)
    if not m:
        return None
    return int(m[1]), int(m[2]), int(m[3] or 0), -1 if m[4] else 0


def _judge(package: str, spec: str, installed: bool) -> Writes:
    since, since_text = _SINCE[package]
    where = f"{package} {'installed at' if installed else 'required as'} {spec.strip()}"
    low = _version(re.sub(r"^[\s^~=<>!]*", "", spec.split(",")[0]))
    if low is None:
        return Writes(None, f"{where}: the installed version decides (from {since_text} it writes false)")
    exact = installed or re.fullmatch(r"\s*(==|===|=)?\s*v?[\d.]+[\w.-]*\s*", spec) is not None
    tilde_same_minor = spec.strip().startswith("~") and not spec.strip().startswith("~=")
    if low >= since:
        return Writes(True, f"{where}, which writes false")
    if exact or (tilde_same_minor and (low[0], low[1]) < (since[0], since[1])):
        return Writes(False, f"{where}, older than {since_text}, writes nothing")
    return Writes(None, f"{where} admits releases before {since_text} (which write nothing) and after (which "
                        f"write false): the installed version decides; set it true to be sure")


def _from_npm(folder: Path) -> Writes | None:
    lock = folder / "package-lock.json"
    if lock.is_file() and lock.stat().st_size <= _MAX_MANIFEST:
        try:
            data = json.loads(lock.read_text(encoding="utf-8"))
            packages = data.get("packages") or {}
            deps = data.get("dependencies") or {}
            for name in ("@aws-cdk/aws-neptune-alpha", "@aws-cdk/aws-neptune"):
                entry = packages.get(f"node_modules/{name}") or deps.get(name)
                if isinstance(entry, dict) and isinstance(entry.get("version"), str):
                    return _judge(name, entry["version"], installed=True)
        except (ValueError, RecursionError, AttributeError):
            pass
    manifest = folder / "package.json"
    if manifest.is_file() and manifest.stat().st_size <= _MAX_MANIFEST:
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (ValueError, RecursionError):
            return None
        for section in ("dependencies", "devDependencies", "peerDependencies"):
            deps = data.get(section) if isinstance(data, dict) else None
            for name in ("@aws-cdk/aws-neptune-alpha", "@aws-cdk/aws-neptune"):
                if isinstance(deps, dict) and isinstance(deps.get(name), str):
                    return _judge(name, deps[name], installed=False)
        return Writes(True) if isinstance(data, dict) else None
    return None


_PY_REQ = re.compile(r"""aws[-_.]cdk[-_.]aws[-_.]neptune([-_.]alpha)?\s*((?:[=<>!~]=?=?\s*[\w.*-]+\s*,?\s*)*)""",
                     re.IGNORECASE)


def _from_python(folder: Path) -> Writes | None:
    for name in _PY_MANIFESTS:
        f = folder / name
        if not f.is_file() or f.stat().st_size > _MAX_MANIFEST:
            continue
        text = f.read_text(encoding="utf-8", errors="replace")
        m = _PY_REQ.search(text)
        if m:
            package = "aws-cdk-aws-neptune-alpha" if m[1] else "aws-cdk-aws-neptune"
            return _judge(package, m[2] or "", installed=False)
    return None


def cluster_writes_false(source: Path) -> Writes:
    """What an unset ``autoMinorVersionUpgrade`` on a ``DatabaseCluster`` in this source file writes."""
    python = source.suffix.lower() == ".py"
    folder = source.resolve().parent
    for _ in range(_MAX_UP):
        found = _from_python(folder) if python else _from_npm(folder)
        if found is not None:
            return found
        if (folder / "cdk.json").is_file() or (folder / ".git").exists() or folder.parent == folder:
            break
        folder = folder.parent
    return Writes(True)
