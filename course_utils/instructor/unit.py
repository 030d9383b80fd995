"""One submission's grading as a self-contained unit of work: bytes in, bytes out.

``course autograde`` prepares, for each student, a scratch course root (``autograde
.prepare_scratch``: the worker's nbgrader config, a copy of the course config, a snapshot
of the gradebook, the assignment's files and the submission). ``pack`` turns it into
bytes; ``grade_unit`` is what a worker runs: it unpacks them into a private folder,
checks that it can grade (the course environment and bubblewrap), runs ``nbgrader
autograde`` there under the limits of ``limits.run_limited`` (wall clock, memory
watchdog, nothing left running), and returns the executed ``autograded/`` folder and the
grader's ``verdicts/`` as bytes, with the log and how the run ended. Nothing in a unit
names a path of the instructor's machine, so the same function runs in a thread of the
local pool and on a dask.distributed worker on another machine (``executors``).
"""

from __future__ import annotations

import io
import platform
import shutil
import sys
import tarfile
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .limits import DEFAULT_FSIZE_MB, RunResult, run_limited

#: The watchdog lets the whole tree (nbgrader + kernel + children) use this much more than
#: the per-process cap before it kills the kernel.
WATCHDOG_MARGIN_MB = 1024
MAX_LOG_BYTES = 2 * 2**20
#: Folders of a worker's result, relative to its scratch root.
RESULT_DIRS = ("autograded", "verdicts")


@dataclass
class UnitSpec:
    """How to grade one unit (plain data: it travels with the unit)."""

    assignment: str
    student: str
    memory_mb: int | None
    wall_seconds: float | None
    cell_timeout: int | None = None
    nbgrader_args: list[str] = field(default_factory=list)
    threads: int = 1
    sandbox: bool = True
    kernel_name: str | None = None


class WorkerRefused(RuntimeError):
    """The machine running a unit cannot grade (no course environment, no bubblewrap)."""


# ---------------------------------------------------------------------------------------
# Bytes in, bytes out
# ---------------------------------------------------------------------------------------
def pack(folder: Path, only: tuple[str, ...] | None = None) -> bytes:
    """A gzipped tar of ``folder``'s content (or of its sub-folders ``only``)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
        names = only if only is not None else sorted(p.name for p in folder.iterdir())
        for name in names:
            if (folder / name).exists():
                tar.add(folder / name, arcname=name)
    return buffer.getvalue()


def unpack(data: bytes, folder: Path) -> None:
    """Extract ``pack``'s bytes into ``folder``; refuses links and paths leaving it."""
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(folder, filter="data")


# ---------------------------------------------------------------------------------------
# The worker's side
# ---------------------------------------------------------------------------------------
def environment_problem(sandbox: bool, kernel_name: str | None = None) -> str | None:
    """Why this machine cannot grade a unit (None when it can)."""
    try:
        import nbgrader
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    except ImportError as exc:
        return f"the course environment is missing here ({exc})"
    if kernel_name:
        try:
            KernelSpecManager().get_kernel_spec(kernel_name)
        except NoSuchKernel:
            return f"the grading kernel {kernel_name!r} is not registered here (run `make setup`)"
    if sandbox:
        from .sandbox import bwrap_problem

        why = bwrap_problem()
        if why:
            return f"bubblewrap cannot sandbox kernels here ({why})"
    del nbgrader
    return None


def environment_report(sandbox: bool, kernel_name: str | None = None) -> dict:
    """What a worker says about itself (``course autograde --cluster`` asks every worker)."""
    import nbgrader

    return {
        "host": platform.node(),
        "python": sys.version.split()[0],
        "nbgrader": nbgrader.__version__,
        "problem": environment_problem(sandbox, kernel_name),
    }


def _command(spec: UnitSpec) -> list[str]:
    cmd = [sys.executable, "-m", "course_utils.instructor.launch"]
    cmd += ["--memory-mb", str(spec.memory_mb or 0), "--fsize-mb", str(DEFAULT_FSIZE_MB)]
    cmd += ["--", "autograde", spec.assignment, "--student", spec.student]
    if spec.cell_timeout:
        cmd.append(f"--Execute.timeout={spec.cell_timeout}")
    return cmd + list(spec.nbgrader_args)


def _environment(spec: UnitSpec) -> dict[str, str]:
    from .course import nbgrader_env

    env = nbgrader_env()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, str(spec.threads))
    env.setdefault("TF_NUM_INTRAOP_THREADS", str(spec.threads))
    env.setdefault("TF_NUM_INTEROP_THREADS", "1")
    return env


def grade_unit(unit: bytes, spec: dict) -> dict:
    """Grade one packed scratch course; see the module docstring.

    Args:
        unit: ``pack`` of the scratch course root.
        spec: ``asdict(UnitSpec)``.

    Returns:
        ``{"result": pack of autograded/ and verdicts/, "log": text, "run": RunResult
        fields, "host": machine}``.

    Raises:
        WorkerRefused: this machine cannot grade (the unit is not started).
    """
    unit_spec = UnitSpec(**spec)
    problem = environment_problem(unit_spec.sandbox, unit_spec.kernel_name)
    if problem:
        raise WorkerRefused(f"{platform.node()}: {problem}")
    work = Path(tempfile.mkdtemp(prefix="nn-course-unit-"))
    try:
        scratch = work / "course"
        unpack(unit, scratch)
        log = work / "grading.log"
        memory = unit_spec.memory_mb
        run = run_limited(
            _command(unit_spec),
            cwd=scratch,
            env=_environment(unit_spec),
            log_path=log,
            wall_seconds=unit_spec.wall_seconds,
            memory_budget_mb=(memory + WATCHDOG_MARGIN_MB) if memory else None,
        )
        text = log.read_bytes()[-MAX_LOG_BYTES:].decode("utf-8", "replace")
        return {
            "result": pack(scratch, RESULT_DIRS),
            "log": text,
            "run": asdict(run),
            "host": platform.node(),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_result(reply: dict) -> RunResult:
    """The ``RunResult`` of a ``grade_unit`` reply."""
    return RunResult(**reply["run"])


__all__ = [
    "UnitSpec",
    "WorkerRefused",
    "environment_problem",
    "environment_report",
    "grade_unit",
    "pack",
    "run_result",
    "unpack",
]
