"""The benchmarks' busy machine: its CPU burners always stop (return, error, SIGTERM, timeout)."""

import signal
import subprocess
import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from _busy import busy_machine  # noqa: E402

psutil = pytest.importorskip("psutil")


def burners() -> list:
    me = psutil.Process()
    return [p for p in me.children(recursive=True) if "time.monotonic" in " ".join(p.cmdline())]


def wait_gone(procs, timeout=5.0) -> list:
    gone, alive = psutil.wait_procs(procs, timeout=timeout)
    return alive


def test_burners_run_inside_the_block_and_stop_after_it_and_after_an_error():
    with busy_machine(seconds=30, processes=1, settle=0) as n:
        running = burners()
        assert n == 1 and len(running) == 1
        assert running[0].cpu_percent(interval=0.3) > 10  # it burns CPU (a shared core: > 10 %)
    assert not wait_gone(running)
    with pytest.raises(RuntimeError, match="benchmark failed"):
        with busy_machine(seconds=30, processes=1, settle=0):
            running = burners()
            raise RuntimeError("benchmark failed")
    assert running and not wait_gone(running)


def test_sigterm_to_the_benchmark_stops_its_burners(tmp_path):
    script = (
        f"import sys, time; sys.path.insert(0, {str(REPO / 'benchmarks')!r})\n"
        "from _busy import busy_machine\n"
        "with busy_machine(seconds=30, processes=1, settle=0):\n"
        "    print('busy', flush=True)\n"
        "    time.sleep(30)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "busy"
    children = psutil.Process(proc.pid).children()
    assert len(children) == 1
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 128 + signal.SIGTERM
    assert not wait_gone(children)


def test_a_burner_nobody_stops_ends_by_itself():
    """Bounded lifetime: even if the benchmark is killed with SIGKILL."""
    script = (
        f"import os, sys, psutil; sys.path.insert(0, {str(REPO / 'benchmarks')!r})\n"
        "from _busy import busy_machine\n"
        "with busy_machine(seconds=1.5, processes=1, settle=0):\n"
        "    print(*[p.pid for p in psutil.Process().children()], flush=True)\n"
        "    os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, timeout=30,
    )  # fmt: skip
    assert proc.returncode == -9
    orphans = [psutil.Process(int(pid)) for pid in proc.stdout.split()]
    try:
        assert len(orphans) == 1 and orphans[0].is_running()  # its parent is gone, it is not
        assert not wait_gone(orphans, timeout=10), "the burner outlived its lifetime"
    finally:
        for p in orphans:
            if p.is_running():
                p.kill()


@pytest.mark.parametrize("kwargs", [{"seconds": 0}, {"processes": 0}, {"processes": 1.5}])
def test_bad_arguments_are_refused(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=f"{name}: expected"):
        with busy_machine(**kwargs):
            pass
