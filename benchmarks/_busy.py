"""A busy machine on demand: background processes that keep every core busy, for a while.

``with busy_machine(seconds=600): ...`` starts one CPU-burning process per core (a Python
loop, no I/O, no memory) and stops them when the block ends, whether it ends normally, by
an exception, by Ctrl-C or by SIGTERM. Each burner also stops by itself after ``seconds``,
so even a benchmark killed with SIGKILL leaves nothing running for long.

This is what a shared JupyterHub node or a laptop running a parallel autograde looks like
to NumPy: every core already has a runnable process, the load average is about
2 x cores while the benchmark runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

# Spin until the deadline; checking the clock every 100k iterations keeps it cheap.
_BURN = (
    "import sys, time\n"
    "end = time.monotonic() + float(sys.argv[1])\n"
    "while time.monotonic() < end:\n"
    "    for _ in range(100_000):\n"
    "        pass\n"
)


@contextlib.contextmanager
def busy_machine(
    seconds: float = 600.0, processes: int | None = None, settle: float = 0.5
) -> Iterator[int]:
    """Keep ``processes`` (default: one per core) burners running while the block runs.

    Args:
        seconds: the longest a burner lives, even if nobody stops it (bounded lifetime).
        processes: how many burners; default ``os.cpu_count()``.
        settle: seconds to wait after starting them, before the block runs.

    Yields:
        The number of burners started.
    """
    if not seconds > 0:
        raise ValueError(f"seconds: expected a positive number, got {seconds!r}")
    n = (os.cpu_count() or 1) if processes is None else processes
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"processes: expected a positive int, got {processes!r}")
    burners: list[subprocess.Popen] = []
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum, frame):  # SIGTERM unwinds like Ctrl-C, so the finally below runs
        raise SystemExit(128 + signum)

    try:
        signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread: rely on finally and the bounded lifetime
        previous = None
    try:
        for _ in range(n):
            burners.append(
                subprocess.Popen(
                    [sys.executable, "-c", _BURN, str(seconds)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,  # no KeyboardInterrupt tracebacks on Ctrl-C
                )  # fmt: skip
            )
        time.sleep(settle)  # let them start before anything is timed
        yield n
    finally:
        for p in burners:
            if p.poll() is None:
                p.terminate()
        for p in burners:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def load_average() -> str:
    """``"1.2/0.8/0.5, 4 running"``: the 1, 5, 15 min load averages, which lag behind, and
    the tasks running or runnable right now (Linux ``/proc/loadavg``), which do not."""
    try:
        text = "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"
    try:
        with open("/proc/loadavg") as f:
            running = int(f.read().split()[3].split("/")[0])
        text += f", {running} running"
    except (OSError, IndexError, ValueError):
        pass
    return text
