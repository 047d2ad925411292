"""Every file the kit writes, through one door: checked before any work (``guard_outputs``), written whole or not
at all (``write_atomic``: a temporary file beside the target, fsync, rename), a set written all-or-none
(``write_set``), never through a link where the name is the kit's own."""
from __future__ import annotations

import os
import secrets
import stat
import sys
from pathlib import Path

from neptune_audit.errors import UsageError

def check_writable(path, inputs: dict | None = None) -> Path:
    """Fail before any work if ``path`` cannot be written (so nothing is half done), or if it is one of the
    run's ``inputs`` (``{"--exceptions": path, ...}``), which writing would destroy."""
    if str(path) == "-":
        return Path("-")
    p = Path(path)
    for flag, given in (inputs or {}).items():
        if given and str(given) != "-" and Path(given).resolve() == p.resolve():
            raise UsageError(f"the output file is the {flag} file ({given}): choose another output path")
    if p.is_dir():
        raise UsageError(f"output path is a directory: {p}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"output folder does not exist: {parent}")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise UsageError(f"cannot write output file: {p}")
    return p


SIG = ".sig"  # contract.signing.SUFFIX, spelled here so that a check before any work imports no cryptography


def _identity(path) -> tuple:
    """What makes two names one file: the resolved path, and the device and inode when it exists."""
    real = os.path.realpath(path)
    try:
        info = os.stat(real)
        return ("inode", info.st_dev, info.st_ino)
    except OSError:
        return ("path", real)


def _inside(path, folder) -> bool:
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(folder))
    except ValueError:
        return False
    return True


def guard_outputs(outputs: dict, inputs: dict | None = None, signed=(), stdout_ok=(), scanned=()) -> dict:
    """The one rule for every command: no output may be an input, another output, or the ``.sig`` of either.

    ``outputs`` and ``inputs`` map a label (the flag a user typed: ``-o``, ``--notebook``, ``--sign``) to a path
    (None: not given); ``signed``: the labels of outputs that get a ``FILE.sig`` beside them (outputs too);
    ``stdout_ok``: the labels for which ``-`` means standard output (anywhere else ``-`` is refused).  Paths are
    compared resolved, and by device and inode where they exist (a hard link, ``./x`` and ``x`` are one file).
    ``scanned``: files and folders of code being read (``iac PATH``, ``--iac PATH``): no output lands in them (it
    would replace code, or be read as code next time).  Returns ``{label: Path}`` of the outputs given, each
    checked writable."""
    protected: dict[tuple, str] = {}
    for label, given in (inputs or {}).items():
        if given is None or str(given) == "-":
            continue
        protected.setdefault(_identity(given), f"the {label} file ({given})")
        protected.setdefault(_identity(f"{given}{SIG}"), f"the signature of the {label} file ({given}{SIG})")
    checked = {}
    for label, given in outputs.items():
        if given is None:
            continue
        if str(given) == "-":
            if label not in stdout_ok:
                raise UsageError(f"{label} - (standard output) is not offered here: give a file name")
            checked[label] = Path("-")
            continue
        for code in scanned:
            if os.path.isdir(code) and _inside(given, code):
                raise UsageError(f"{label} {given} is inside {code}, the code being scanned: write it elsewhere "
                                 "(nothing was written)")
        names = [(label, Path(given))] + ([(f"the signature of {label}", Path(f"{given}{SIG}"))]
                                          if label in signed else [])
        for what, path in names:
            if what != label and os.path.islink(path):  # the kit names FILE.sig itself: never through a link
                raise UsageError(f"{path} is a symbolic link: refused (the kit names this file itself and never "
                                 "writes through a link)")
            key = _identity(path)
            if key in protected:
                raise UsageError(f"{what} ({path}) is {protected[key]}: choose another path, nothing was written")
            protected[key] = f"the {what} output ({path})" if what == label else f"{what} ({path})"
        # an input's or earlier output's signature named as this output is caught above; so is this output's
        # signature named as a later output
        protected.setdefault(_identity(f"{given}{SIG}"), f"the signature of the {label} output ({given}{SIG})")
        checked[label] = check_writable(given)
    return checked


def write_atomic(path, data: str | bytes, follow_links: bool = True) -> Path:
    """Write ``data`` so that a reader never sees half of it, and it survives a crash once this returns.

    A regular file (or none yet) is written to a temporary file beside it, flushed to disk, given the old file's
    mode (a new one gets the user's umask, applied by the kernel: the process's umask is never touched) and
    renamed over it, then the folder is flushed; a symbolic link keeps pointing where it did, at the new file.
    ``-`` is standard output.  A device, a FIFO or a terminal (``/dev/null``, ``/dev/stdout``) is written
    through: nothing is ever renamed over something that is not a regular file.  ``follow_links=False``, for a
    name the kit picks itself (``FILE.sig``, ``--output-dir``'s files): a symbolic link there is refused, never
    written through (a planted link would send the write elsewhere).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if str(path) == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(raw)
        sys.stdout.flush()
        return Path("-")
    p = check_writable(path)
    if not follow_links and os.path.islink(p):
        raise UsageError(f"{p} is a symbolic link: refused (the kit names this file itself and never writes "
                         "through a link)")
    try:
        info = os.stat(p)  # through links: /proc/self/fd/1 is the pipe or terminal it names, not a folder entry
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise UsageError(f"cannot write {p}: {exc.strerror or exc}") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        try:
            with open(p, "wb") as fh:
                fh.write(raw)
        except OSError as exc:
            raise UsageError(f"cannot write {p}: {exc.strerror or exc}") from None
        return p
    target = Path(os.path.realpath(p))
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
            if info is not None:
                os.fchmod(fh.fileno(), stat.S_IMODE(info.st_mode))
        os.replace(tmp, target)
    except OSError as exc:  # a full disk (ENOSPC), a quota, a folder gone read-only: the old file is untouched
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {p}: {exc.strerror or exc}; the file was left as it was") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(target.parent)
    return p


def write_set(files: dict) -> None:
    """Write several files as one: every one, or none (``--output-dir``).  All are written to temporary files and
    flushed first; only then renamed into place, so a full disk or a refusal leaves the folder as it was.  The
    names are the kit's own: a symbolic link there is refused."""
    staged = []
    try:
        for path, data in files.items():
            p = Path(path)
            if os.path.islink(p):
                raise UsageError(f"{p} is a symbolic link: refused (the kit names this file itself and never "
                                 "writes through a link)")
            if os.path.lexists(p) and not os.path.isfile(p):
                raise UsageError(f"{p} is not a regular file: refused")
            raw = data.encode("utf-8") if isinstance(data, str) else data
            tmp = p.with_name(f".{p.name}.{secrets.token_hex(6)}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
                         | getattr(os, "O_NOFOLLOW", 0), 0o666)
            staged.append((tmp, p))
            with os.fdopen(fd, "wb") as fh:
                fh.write(raw)
                fh.flush()
                os.fsync(fh.fileno())
    except OSError as exc:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {staged[-1][1] if staged else 'the output folder'}: "
                         f"{exc.strerror or exc}; nothing was written") from None
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, p in staged:
        os.replace(tmp, p)
    if staged:
        _fsync_folder(staged[0][1].parent)


def _fsync_folder(folder: Path) -> None:
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass  # some file systems cannot flush a folder; the file itself is on disk
    finally:
        os.close(dfd)
