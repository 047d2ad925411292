"""`neptune-audit report` where schedulers run it (cron, systemd, Airflow): a working directory it must not write
to, nothing left behind when interrupted, bad input refused before a kernel starts, a damaged history survived."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from neptune_audit.contract import history
from neptune_audit.errors import Interrupted

from .conftest import run_cli, seed


@pytest.fixture
def sched(moto_server, tmp_path):
    """A working directory and a TMPDIR of the run's own, to see exactly what it leaves behind.  The TMPDIR is
    short, as a scheduler's is: a long one moves the kernel's sockets elsewhere (tested below)."""
    import shutil
    import tempfile

    seed([("a", [("a-1", False, {})])], endpoint_url=moto_server.url)
    cwd, out = tmp_path / "cwd", tmp_path / "out"
    tmp = Path(tempfile.mkdtemp(prefix="sched-", dir="/tmp" if os.path.isdir("/tmp") else None))
    for d in (cwd, out):
        d.mkdir()
    env = moto_server.env(TMPDIR=str(tmp), JUPYTER_RUNTIME_DIR=None)
    yield cwd, tmp, out, env
    shutil.rmtree(tmp, ignore_errors=True)


def test_a_long_tmpdir_still_runs_the_kernel_and_leaves_nothing(moto_server, tmp_path):
    """A TMPDIR too long for a Unix socket's name (sun_path: 108 bytes) once made ZeroMQ refuse the kernel's
    sockets, exit 4.  The report runs, and leaves nothing in that TMPDIR."""
    seed([("a", [("a-1", False, {})])], endpoint_url=moto_server.url)
    long_tmp = tmp_path / ("t" * 60) / ("u" * 40)
    long_tmp.mkdir(parents=True)
    out = tmp_path / "out"
    out.mkdir()
    proc = run_cli(["report", "--regions", "us-east-1", "-o", str(out / "r.html")],
                   moto_server.env(TMPDIR=str(long_tmp), JUPYTER_RUNTIME_DIR=None), cwd=out)
    assert proc.returncode == 1 and proc.stderr == "", proc.stderr
    assert (out / "r.html").is_file() and _files(long_tmp) == []


def _files(*folders) -> list[str]:
    return sorted(str(p) for d in folders for p in d.rglob("*"))


def test_report_writes_nothing_in_the_working_directory(sched):
    cwd, tmp, out, env = sched
    os.chmod(cwd, 0o555)  # cron's or systemd's `/` for a non-root user (root ignores it: the listing checks)
    try:
        proc = run_cli(["report", "--regions", "us-east-1", "-o", str(out / "r.html")], env, cwd=cwd)
    finally:
        os.chmod(cwd, 0o755)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == "", "no kernel chatter"
    assert _files(cwd) == [] and _files(tmp) == [], "no kernel sockets, connection file or temporary notebook"
    assert _files(out) == [str(out / "r.html")]


@pytest.fixture
def busy_cores():
    """Two processes that keep both cores busy, as on a loaded scheduler host."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    yield
    for p in spinners:
        p.kill()
        p.wait()


def _wait_for(condition, proc, seconds=120):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    return condition()


# When the signal arrives: as soon as the private folder exists (the kernel is being started), once the kernel's
# connection file (its HMAC key) is written, and while the notebook runs.  SIGTERM is how a scheduler stops a job.
MOMENTS = [("folder", signal.SIGINT, 0.0), ("key", signal.SIGTERM, 0.0), ("running", signal.SIGINT, 2.0)]


@pytest.mark.parametrize("moment, signum, delay", MOMENTS, ids=[m[0] for m in MOMENTS])
def test_interrupted_report_leaves_nothing_behind(sched, busy_cores, moment, signum, delay):
    cwd, tmp, out, env = sched
    proc = subprocess.Popen([sys.executable, "-m", "neptune_audit", "report", "--regions", "us-east-1", "-o",
                             str(out / "r.html")], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True,
                            # as a scheduler starts it, with Ctrl-C's default handling: a child inherits an ignored
                            # SIGINT from this test process, whatever an earlier test left it as
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    if moment == "folder":
        assert _wait_for(lambda: list(tmp.glob("neptune-audit-*")), proc), "the kernel's private folder"
    else:
        assert _wait_for(lambda: list(tmp.rglob("kernel.json")), proc), "the kernel's connection file"
        key = next(tmp.rglob("kernel.json"))
        assert key.stat().st_mode & 0o777 == 0o600 and key.parent.stat().st_mode & 0o777 == 0o700, \
            "the key is readable by its owner alone, in a folder only its owner can enter"
        time.sleep(delay)
    assert proc.poll() is None, "still running when interrupted"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    expected = (130, "neptune-audit: interrupted") if signum == signal.SIGINT else (143, "neptune-audit: terminated")
    assert (proc.returncode, err.strip().splitlines()[-1]) == expected, (proc.returncode, err)
    assert _files(cwd) == [] and _files(tmp) == [] and _files(out) == [], "no sockets, no HMAC key, no half report"


@pytest.mark.parametrize("args, output, env_change, message", [
    (["--history", "h"], "r.html", {}, "history folder is a file"),
    ([], "r.html", {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None}, "no AWS credentials"),
    (["--profile", "nope"], "r.html", {}, "unknown AWS profile 'nope'"),
    (["--regions", "xx-nowhere-1"], "r.html", {}, "unknown region 'xx-nowhere-1'"),
    (["--exceptions", "e.yml"], "e.yml", {}, "is the --exceptions file"),
])
def test_report_refuses_bad_input_before_a_kernel_starts(sched, args, output, env_change, message):
    cwd, tmp, out, env = sched
    (out / "h").write_text("")
    (out / "e.yml").write_text("- {instance: a-1, reason: x}\n")
    args = [str(out / a) if a in ("h", "e.yml") else a for a in args]
    output = str(out / output)
    env = {k: v for k, v in {**env, **env_change}.items() if v is not None}
    proc = run_cli(["report", *args, "-o", output], env, cwd=cwd)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert message in proc.stderr
    # no kernel started: it would have made its private folder in tmp
    assert _files(cwd) == [] and _files(tmp) == [] and sorted(p.name for p in out.iterdir()) == ["e.yml", "h"]
    assert (out / "e.yml").read_text() == "- {instance: a-1, reason: x}\n", "an input is never overwritten"


def test_a_damaged_history_entry_is_skipped_and_shown(sched):
    cwd, tmp, out, env = sched
    hist = out / "history"
    hist.mkdir()
    # The right schema tag, but not a run: it must not break this report or any later one.
    (hist / "neptune-audit-20260101T000000Z.json").write_text(json.dumps({"schema": "neptune-audit/1"}))
    proc = run_cli(["report", "--regions", "us-east-1", "--history", str(hist), "-o", str(out / "r.html")], env,
                   cwd=cwd)
    assert proc.returncode == 1, proc.stderr
    html = (out / "r.html").read_text()
    assert "Past runs skipped" in html and "neptune-audit-20260101T000000Z.json" in html
    runs, skipped = history.load(hist)
    assert len(runs) == 1 and len(skipped) == 1, "this run is recorded; the damaged one stays skipped"


def test_a_failed_report_records_no_history(sched, tmp_path, monkeypatch):
    import nbformat

    from neptune_audit.present import report

    cwd, tmp, out, env = sched
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(str(report.notebook_path("audit.ipynb")), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell('raise RuntimeError("after the scan and the history section")'))
    broken = tmp_path / "broken.ipynb"
    nbformat.write(nb, str(broken))
    monkeypatch.setattr(report, "notebook_path", lambda name: broken)
    hist = out / "history"
    with pytest.raises(report.NotebookFailed):
        report.run_report(regions="us-east-1", history_dir=hist, output=out / "r.html")
    assert not list(hist.glob("neptune-audit-*.json")) and not (out / "r.html").exists()


def test_an_interrupt_while_the_kernel_starts_still_removes_everything(monkeypatch, tmp_path):
    """Ctrl-C lands while papermill's thread is starting the kernel.  ipykernel, once started, recreates a missing
    connection-file folder and writes kernel.json (with its HMAC key) into it, so close() must wait for the start,
    then kill the process it started, then remove the folder; a start after close() is refused."""
    import asyncio
    import threading
    from pathlib import Path
    from types import SimpleNamespace

    from jupyter_client.manager import AsyncKernelManager

    from neptune_audit.present.report import KernelRuntime

    starting, finish = threading.Event(), threading.Event()

    async def slow_start(self, kernel_cmd, **kw):
        starting.set()
        finish.wait(5)  # the Popen is under way
        # what ipykernel does on start: recreate the folder, write the connection file
        script = ("import os, sys, time; time.sleep(0.5); os.makedirs(os.path.dirname(sys.argv[1]), exist_ok=True);"
                  "open(sys.argv[1], 'w').write('{}')")
        self.provisioner = SimpleNamespace(process=subprocess.Popen([sys.executable, "-c", script,
                                                                     self.connection_file]))
        return {}

    monkeypatch.setattr(AsyncKernelManager, "_async_launch_kernel", slow_start)
    runtime = KernelRuntime()
    km = runtime.manager_class()()
    starter = threading.Thread(target=lambda: asyncio.run(km._async_launch_kernel(["kernel"])))
    starter.start()
    assert starting.wait(5)
    closer = threading.Thread(target=runtime.close)
    closer.start()
    time.sleep(0.3)  # close() has had every chance to remove the folder before the process exists
    finish.set()
    starter.join(5)
    closer.join(5)
    km.provisioner.process.wait(5)
    time.sleep(0.5)
    assert not Path(runtime.dir).exists(), "no folder, no kernel.json with its key, after the interrupt"
    with pytest.raises(Interrupted, match="interrupted"):
        asyncio.run(km._async_launch_kernel(["kernel"]))
    with pytest.raises(Interrupted, match="interrupted"):
        km.write_connection_file()
    assert not Path(runtime.dir).exists()
