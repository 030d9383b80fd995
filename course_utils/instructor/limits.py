"""Run one grading process with a wall clock and a memory watchdog; leave nothing behind.

The per-process caps (``RLIMIT_DATA`` and friends) are applied by the launched process
itself (``course_utils.instructor.launch``), not through ``preexec_fn``, which is unsafe in
a threaded parent such as the pool of grading workers. This module adds what a per-process
limit cannot do:

- a wall clock for the whole submission: on expiry every process of the tree is killed,
  including the kernel that ``jupyter_client`` starts in a session of its own (so a
  process-group kill would miss it);
- a watchdog on the total memory (PSS) of the tree (``psutil``): ``RLIMIT_DATA`` is per
  process and ignores shared mappings, so forked children or ``mmap(-1, n)`` could get
  past it. Over the budget, the descendants of the launched process (the kernel and
  anything it started) are killed; nbgrader then sees a dead kernel and records it;
- a sweep for escaped processes: every process started here carries a unique tag in its
  environment; when the run ends, any process still carrying it (a student's daemon that
  double-forked away from the tree) is killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

try:  # psutil is in the dev extra; without it the wall clock and the sweep still work
    import psutil
except ImportError:  # pragma: no cover
    psutil = None

TAG_ENV = "COURSE_AUTOGRADE_TAG"
#: Set it (e.g. on Ctrl-C) and every running ``run_limited`` kills its tree and returns.
CANCEL = threading.Event()
#: Defaults of ``course autograde``: memory cap per grading process (RLIMIT_DATA, MiB; TF +
#: MNIST use ~0.8 GiB of it), largest file a submission may write (MiB), wall clock per
#: submission (s).
DEFAULT_MEMORY_MB = 4096
DEFAULT_FSIZE_MB = 1024
DEFAULT_WALL_SECONDS = 1800
POLL_SECONDS = 0.25
MIB = 2**20


@dataclass
class RunResult:
    """How a limited run ended."""

    returncode: int | None
    seconds: float
    timed_out: bool = False
    memory_killed: bool = False
    peak_memory_mb: float = 0.0


def _descendants(pid: int) -> list:
    if psutil is None:
        return []
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _tree_memory(pid: int) -> float:
    """MiB used by ``pid`` and its descendants: the sum of PSS (proportional set size).

    RSS would count every shared page (TensorFlow's libraries, pages a fork shares
    copy-on-write with its parent) once per process, so a kernel that forks a few workers
    would look several times its real size. Falls back to RSS where PSS is unavailable.
    """
    total = 0
    try:
        procs = [psutil.Process(pid), *_descendants(pid)]
    except psutil.Error:
        return 0.0
    for p in procs:
        try:
            total += getattr(p.memory_full_info(), "pss", None) or p.memory_info().rss
        except psutil.Error:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
    return total / MIB


def tagged_pids(tag: str) -> list[int]:
    """Pids of live processes whose environment carries ``TAG_ENV=tag`` (Linux /proc)."""
    needle = f"{TAG_ENV}={tag}\0".encode()
    found = []
    me = os.getpid()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            pid = int(entry.name)
            if pid != me and needle in (entry / "environ").read_bytes():
                found.append(pid)
        except (OSError, ValueError):
            continue
    return found


def _kill(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def kill_tree(pid: int, tag: str | None = None, *, include_root: bool = True) -> None:
    """SIGKILL ``pid``'s descendants (and ``pid``), then every process tagged ``tag``."""
    victims = [p.pid for p in _descendants(pid)]
    if include_root:
        victims.insert(0, pid)
        try:
            os.killpg(pid, signal.SIGKILL)  # its own session: the group id is its pid
        except (ProcessLookupError, PermissionError):
            pass
    _kill(victims)
    if tag:
        for _ in range(3):  # a fork racing with the kill may appear once more
            leftovers = tagged_pids(tag)
            if not leftovers:
                break
            _kill(leftovers)
            time.sleep(0.05)


def run_limited(
    cmd: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    log_path: Path,
    stdin_text: str = "",
    wall_seconds: float | None = None,
    memory_budget_mb: float | None = None,
) -> RunResult:
    """Run ``cmd`` in its own session with output to ``log_path``; enforce the limits.

    Args:
        cmd: the command (its first element an executable path).
        cwd: working directory.
        env: environment; a unique ``TAG_ENV`` is added to it.
        log_path: file receiving stdout and stderr.
        stdin_text: written to the process's stdin, which is then closed.
        wall_seconds: kill the whole tree after this many seconds (None: no limit).
        memory_budget_mb: kill the descendants when the tree's total PSS exceeds it.

    Returns:
        The exit code (None if killed by the wall clock), the run time and what fired.
    """
    tag = uuid.uuid4().hex
    env = {**env, TAG_ENV: tag}
    start = time.monotonic()
    result = RunResult(returncode=None, seconds=0.0)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            try:
                proc.stdin.write(stdin_text.encode())
                proc.stdin.close()
            except BrokenPipeError:
                pass
            while True:
                try:
                    result.returncode = proc.wait(timeout=POLL_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if CANCEL.is_set():
                    kill_tree(proc.pid, tag)
                    proc.wait()
                    result.returncode = None
                    break
                if wall_seconds is not None and time.monotonic() - start > wall_seconds:
                    result.timed_out = True
                    kill_tree(proc.pid, tag)
                    proc.wait()
                    result.returncode = None
                    break
                if psutil is not None:  # the peak is reported even without a budget
                    rss = _tree_memory(proc.pid)
                    result.peak_memory_mb = max(result.peak_memory_mb, rss)
                    if memory_budget_mb and rss > memory_budget_mb:
                        result.memory_killed = True
                        kill_tree(proc.pid, None, include_root=False)
        finally:
            if proc.poll() is None:  # an exception here (KeyboardInterrupt...): clean up
                kill_tree(proc.pid, tag)
                proc.wait()
            kill_tree(proc.pid, tag, include_root=False)
    result.seconds = time.monotonic() - start
    return result
