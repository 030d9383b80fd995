"""``course autograde``: grade every submission of an assignment in parallel, lose nothing.

Design (nbgrader grades one submission at a time and SQLite takes one writer):

1. *Prepare* (serial): make sure the assignment is in the gradebook, snapshot the gradebook
   (SQLite backup API), and for each student resolve the notebooks to grade
   (``submissions.resolve``: renamed notebooks matched by their cell ids, invalid JSON and
   missing notebooks reported).
2. *Execute* (parallel, ``--jobs`` workers): each student gets a scratch course root under
   ``.course_work/`` with a config that loads the course's ``nbgrader_config.py`` and
   points ``CourseDirectory.root`` and ``db_url`` at the scratch folder, a private copy of
   the gradebook snapshot, the assignment's non-notebook source files and a copy of the
   submission. There ``nbgrader autograde ASSIGNMENT --student S`` runs (through
   ``launch``: memory caps inherited by the kernel, death with its parent) under a wall
   clock and a memory watchdog (``limits``), with ``GradedExecute`` in place of
   ``Execute``: the kernel runs in a bubblewrap sandbox (``sandbox``) and every test
   cell's checks run in the worker, outside it (``verdict``). The result is
   ``autograded/S/ASSIGNMENT/`` (the executed notebooks, the submission's
   ``timestamp.txt`` and files) and ``verdicts/<notebook>.verdicts.json``.
3. *Merge* (serial, one process): the executed folders are gathered as a "submitted"
   directory and the real gradebook is written by
   ``nbgrader autograde ASSIGNMENT --no-execute --force
   --CourseDirectory.submitted_directory=<gathered>``: nbgrader itself re-reads the
   timestamps, restores locked cells, scores the outputs and applies late penalties, so the
   scores are exactly those of a serial ``nbgrader autograde`` (tests/test_pipeline.py
   checks it).
4. *Zero* what could not be graded: a student whose notebooks are missing or invalid, or
   whose grading was killed (wall clock) or failed, gets a gradebook submission with 0 for
   every cell (and its stale autograded folder removed) plus a problem in the table. A
   kernel that DIED keeps the points earned before the crash (``CrashSafeExecute``).
5. *Audit* (serial): ``audit`` compares the points nbgrader gave each test cell with the
   verdict the worker recorded for it, and zeroes any cell that earned points without a
   passing verdict.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import json
import os
import re
import shutil
import sqlite3
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import audit, executors, submissions, unit
from .course import BIN, CONFIG_NAME, Course, CourseError
from .limits import DEFAULT_MEMORY_MB, DEFAULT_WALL_SECONDS, RunResult
from .unit import UnitSpec

WORK_DIR = ".course_work"

WORKER_CONFIG = """\
# Written by `course autograde` for one submission: the course's settings, then this
# folder as the course root. It names no path outside this folder. Delete freely.
import atexit
import os
import shutil
import tempfile

from nbgrader.converters.autograde import Autograde
from nbgrader.preprocessors import Execute

from course_utils.instructor.execute import GradedExecute, SafeOutputs

c = get_config()  # noqa: F821
HERE = os.path.dirname(os.path.abspath(__file__))
load_subconfig(os.path.join(HERE, "course_config.py"))  # noqa: F821
c.CourseDirectory.root = HERE
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "gradebook.db")
_pps = c.Autograde.autograde_preprocessors
if not isinstance(_pps, list):
    _pps = list(Autograde.class_traits()["autograde_preprocessors"].default())
_pps = [GradedExecute if p is Execute else p for p in _pps]
# What the kernel displayed is rendered later (Formgrader, feedback): make it inert first.
_at = _pps.index(GradedExecute) + 1
c.Autograde.autograde_preprocessors = [*_pps[:_at], SafeOutputs, *_pps[_at:]]
# Kill the kernel when the notebook is done instead of waiting for a polite exit
# (TensorFlow makes ipykernel take ~3 s to shut down; all outputs are in by then).
c.Execute.shutdown_kernel = "immediate"
# A short private folder for unix sockets (the kernel's and the grader's).
_run = tempfile.mkdtemp(prefix="nnc-")
atexit.register(shutil.rmtree, _run, True)
c.GradedExecute.socket_dir = _run
c.GradedExecute.verdict_dir = os.path.join(HERE, "verdicts")
c.GradedExecute.course_cells_dir = os.path.join(HERE, "course_cells")
c.GradedExecute.sandbox = {sandbox}
c.SandboxedKernelManager.run_dir = _run
"""


@dataclass
class Options:
    """Settings of one ``course autograde`` run."""

    jobs: int = 2
    students: list[str] | None = None
    wall_seconds: float | None = DEFAULT_WALL_SECONDS
    memory_mb: int | None = DEFAULT_MEMORY_MB
    cell_timeout: int | None = None
    nbgrader_args: list[str] = field(default_factory=list)
    keep_work: bool = False
    sandbox: bool = True
    cluster: str | None = None  # a dask.distributed scheduler address
    progress: bool | None = None  # None: a progress bar when stderr is a terminal


@dataclass
class StudentRun:
    """One student's way through the pipeline."""

    student: str
    submitted: Path
    problems: list[str] = field(default_factory=list)
    resolution: submissions.Resolution | None = None
    scratch: Path | None = None
    run: RunResult | None = None
    executed: bool = False  # the worker produced every notebook it was given
    failed: str | None = None  # why nothing usable came out (-> zero)
    verdicts: Path | None = None  # the worker's verdicts, after the merge
    host: str | None = None  # the machine that graded it
    infra_suspect: bool = False
    score: float = 0.0
    max_score: float = 0.0


@dataclass
class Report:
    assignment: str
    rows: list[StudentRun]
    seconds: float
    infrastructure_error: str | None = None
    log_dir: Path | None = None
    where: str = "local"  # "local" (the pool) or "cluster"
    absent: list[str] = field(default_factory=list)  # in the roster, nothing submitted

    def absent_line(self) -> str:
        """One line for the roster's students who did not submit (none: empty)."""
        if not self.absent:
            return ""
        shown = ", ".join(self.absent[:10]) + (", ..." if len(self.absent) > 10 else "")
        return f"no submission from {len(self.absent)} student(s) of the roster: {shown}"

    def table(self) -> str:
        """student, score, max, wall time and peak memory of its grading, problems."""
        head = ("student", "score", "max", "time", "memory", "problems")
        lines = [
            (
                r.student,
                f"{r.score:g}",
                f"{r.max_score:g}",
                f"{r.run.seconds:.0f} s" if r.run else "-",
                f"{r.run.peak_memory_mb:.0f} MB" if r.run and r.run.peak_memory_mb else "-",
                "; ".join(r.problems) or "-",
            )
            for r in self.rows
        ]
        widths = [max(len(x[i]) for x in [head, *lines]) for i in range(5)]
        w = widths
        fmt = f"{{:<{w[0]}}}  {{:>{w[1]}}}  {{:>{w[2]}}}  {{:>{w[3]}}}  {{:>{w[4]}}}  {{}}"
        out = [fmt.format(*head), fmt.format(*("-" * w for w in widths), "-" * 8)]
        out += [fmt.format(*x) for x in lines]
        return "\n".join(out)


# ---------------------------------------------------------------------------------------
# Preparation
# ---------------------------------------------------------------------------------------
def check_infrastructure(course: Course, sandbox: bool = True) -> None:
    """Fail early, before any student is touched, on a broken set-up."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    from .sandbox import INSTALL_HINT, bwrap_problem

    if sandbox:
        why = bwrap_problem()
        if why:
            raise CourseError(INSTALL_HINT.format(why=why))
    if not (BIN / "alembic").exists() and shutil.which("alembic") is None:
        raise CourseError(f"no `alembic` next to {BIN / 'python'} (nbgrader uses it)")
    kernel = course.setting("ExecutePreprocessor", "kernel_name", None) or course.setting(
        "Execute", "kernel_name", None
    )
    if kernel:
        try:
            KernelSpecManager().get_kernel_spec(kernel)
        except NoSuchKernel:
            raise CourseError(
                f"the grading kernel {kernel!r} is not registered: run `make setup`"
            ) from None


def ensure_in_gradebook(course: Course, assignment: str, work: Path) -> None:
    """Record the assignment (notebooks, test cells) in the gradebook if it is not there.

    Runs ``generate_assignment`` into a throw-away release folder, so notebooks/ is untouched.
    """
    from nbgrader.api import Gradebook, MissingEntry

    with contextlib.suppress(MissingEntry), Gradebook(course.db_url, course.course_id) as gb:
        if gb.find_assignment(assignment).notebooks:
            return
    if not (course.step_dir("source") / assignment).is_dir():
        raise CourseError(
            f"unknown assignment {assignment!r}: not in the gradebook nor in "
            f"{course.step_dir('source')}"
        )
    course.nbgrader(
        "generate_assignment",
        assignment,
        "--force",
        f"--CourseDirectory.release_directory={work / 'release'}",
        capture=True,
    )


def snapshot_db(course: Course, dest: Path) -> None:
    src = course.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(src) as a, sqlite3.connect(dest) as b:
        a.backup(b)


def list_students(course: Course, assignment: str, only: list[str] | None) -> list[str]:
    submitted = course.step_dir("submitted")
    found = (
        sorted(
            p.parent.name
            for p in submitted.glob(f"*/{assignment}")
            if p.is_dir() and not p.is_symlink()
        )
        if submitted.is_dir()
        else []
    )
    if only:
        found = [s for s in found if s in set(only)]
    return found


def roster(course: Course) -> list[str]:
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        return sorted(s.id for s in gb.students)


def _valid_timestamp(path: Path) -> str | None:
    from nbgrader.utils import parse_utc

    try:
        text = path.read_text().strip()
        if text:
            parse_utc(text)
        return None
    except (OSError, ValueError, OverflowError, TypeError) as exc:
        return f"invalid timestamp.txt ignored ({exc})"


def write_course_cells(source: Path, dest: Path) -> None:
    """Per notebook, the course's own code cells (all but the answers), for the grader.

    A cell the student left as the course wrote it is not the student's code: the static
    scan of ``forbid_calls`` does not follow names it defines (the data, the set-up).
    """
    import nbformat
    from nbgrader.utils import is_solution

    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        cells = [c.source for c in nb.cells if c.cell_type == "code" and not is_solution(c)]
        (dest / f"{path.stem}.json").write_text(json.dumps(cells))


def prepare_scratch(
    course: Course,
    sr: StudentRun,
    assignment: str,
    template_db: Path,
    work: Path,
    sandbox: bool = True,
) -> None:
    """Lay out the worker's private course root (see the module docstring)."""
    scratch = work / "workers" / sr.student
    scratch.mkdir(parents=True)
    shutil.copyfile(template_db, scratch / "gradebook.db")
    shutil.copyfile(course.root / CONFIG_NAME, scratch / "course_config.py")
    (scratch / CONFIG_NAME).write_text(WORKER_CONFIG.format(sandbox=bool(sandbox)))
    src_rel = Path(course.coursedir.source_directory)
    src = course.step_dir("source") / assignment
    dst = scratch / src_rel / assignment
    dst.mkdir(parents=True)
    if src.is_dir():
        write_course_cells(src, scratch / "course_cells")
        for f in src.rglob("*"):
            if f.is_file() and f.suffix != ".ipynb" and ".ipynb_checkpoints" not in f.parts:
                (dst / f.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, dst / f.relative_to(src))
    max_bytes = int(course.coursedir.max_file_size) * 1000  # nbgrader's limit (KB)
    sub = scratch / Path(course.coursedir.submitted_directory) / sr.student / assignment
    sub.mkdir(parents=True)
    for f in sr.submitted.rglob("*"):
        rel = f.relative_to(sr.submitted)
        if (
            f.is_symlink()
            or not f.is_file()
            or f.suffix == ".ipynb"
            or set(rel.parts) & submissions.SKIP_PARTS
        ):
            continue
        if f.stat().st_size > max_bytes:
            sr.problems.append(f"{rel} not graded: larger than {max_bytes // 1000 // 1000} MB")
            continue
        if rel.name == "timestamp.txt" and len(rel.parts) == 1:
            problem = _valid_timestamp(f)
            if problem:
                sr.problems.append(problem)
                continue
        (sub / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, sub / rel)
    for name, path in sr.resolution.notebooks.items():
        released = _released_json(course, assignment, name)
        data, _ = submissions.read_notebook_json(path)
        restored = submissions.restore_missing_grade_cells(data, released) if released else []
        if restored:
            sr.problems.append(f"deleted cell(s) {', '.join(restored)} restored")
        if submissions.replace_lone_surrogates(data):
            sr.problems.append(f"{name}.ipynb: characters that are not valid text replaced")
        elif not restored:
            shutil.copy2(path, sub / f"{name}.ipynb")
            continue
        (sub / f"{name}.ipynb").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    sr.scratch = scratch


def _released_json(course: Course, assignment: str, name: str) -> dict | None:
    """The released notebook (never the source: a restored answer cell would leak it)."""
    data, _ = submissions.read_notebook_json(
        course.step_dir("release") / assignment / f"{name}.ipynb"
    )
    return data


def check_worker_config(scratch: Path) -> None:
    """Load a worker's config here first: nbgrader only LOGS a broken config and goes on."""
    from traitlets.config.loader import PyFileConfigLoader

    try:
        cfg = PyFileConfigLoader("nbgrader_config.py", path=str(scratch)).load_config()
        names = [p.__name__ for p in cfg.Autograde.autograde_preprocessors]
    except Exception as exc:  # noqa: BLE001  (any failure here is a set-up problem)
        raise CourseError(
            f"the worker configuration {scratch}/nbgrader_config.py does not "
            f"load: {type(exc).__name__}: {exc}"
        ) from exc
    if not {"GradedExecute", "SafeOutputs"} <= set(names):
        raise CourseError(
            f"the worker configuration does not use GradedExecute and SafeOutputs: {names}"
        )


# ---------------------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------------------
def _last_error_line(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return "no log"
    pattern = re.compile(r"^\s*(\w+\.)*\w*(Error|Exception|Exit)\b.*")
    hits = [ln.strip() for ln in lines if pattern.match(ln)]
    return (hits[-1] if hits else (lines[-1].strip() if lines else "no output"))[:200]


INFRA_SIGNS = (
    "NoSuchKernel",
    "alembic",
    "OperationalError",
    "sqlalchemy",
    "Permission denied",
    "ModuleNotFoundError",
    "ImportError",
)


def unit_spec(sr: StudentRun, assignment: str, opts: Options, threads: int, kernel) -> dict:
    spec = UnitSpec(
        assignment=assignment,
        student=sr.student,
        memory_mb=opts.memory_mb,
        wall_seconds=opts.wall_seconds,
        cell_timeout=opts.cell_timeout,
        nbgrader_args=list(opts.nbgrader_args),
        threads=threads,
        sandbox=opts.sandbox,
        kernel_name=kernel,
    )
    return asdict(spec)


def collect(sr: StudentRun, assignment: str, opts: Options, reply: dict, log_dir: Path) -> None:
    """Unpack one unit's reply into the student's scratch folder and judge how it went."""
    log = log_dir / f"{sr.student}.log"
    log.write_text(reply["log"], encoding="utf-8", errors="replace")
    unit.unpack(reply["result"], sr.scratch)
    sr.run, sr.host = unit.run_result(reply), reply.get("host")
    out = sr.scratch / "autograded" / sr.student / assignment
    produced = {p.stem for p in out.glob("*.ipynb")} if out.is_dir() else set()
    verdicts = {p.name.split(".")[0] for p in (sr.scratch / "verdicts").glob("*.verdicts.json")}
    sr.executed = bool(produced) and set(sr.resolution.notebooks) <= produced & verdicts
    if sr.run.memory_killed:
        sr.problems.append(f"memory cap exceeded ({opts.memory_mb} MB): kernel killed")
    if sr.run.timed_out:
        sr.failed = f"timeout: grading took longer than {opts.wall_seconds:g} s (killed)"
    elif not sr.executed:
        sr.failed = f"grading failed: {_last_error_line(log)} (log: {log})"
        sr.infra_suspect = any(sign in reply["log"] for sign in INFRA_SIGNS)


def _executor(opts: Options, jobs: int, kernel):
    if opts.cluster:
        return executors.DaskExecutor(opts.cluster, opts.sandbox, kernel)
    return executors.LocalExecutor(jobs)


def execute(todo: list[StudentRun], assignment: str, opts: Options, log_dir: Path, course):
    """Grade every prepared student on the chosen executor; a unit that failed for a
    reason of the worker's (it died, it refused) is tried once more."""
    from tqdm.auto import tqdm

    kernel = course.setting("ExecutePreprocessor", "kernel_name", None) or course.setting(
        "Execute", "kernel_name", None
    )
    pool = _executor(opts, max(1, min(opts.jobs, len(todo) or 1)), kernel)
    threads = max(1, (os.cpu_count() or 1) // pool.jobs)
    if getattr(pool, "refused", None):
        for worker, why in pool.refused.items():
            print(f"refused worker {worker}: {why}", file=sys.stderr)
    units = {sr.student: unit.pack(sr.scratch) for sr in todo}
    specs = {sr.student: unit_spec(sr, assignment, opts, threads, kernel) for sr in todo}
    pending = {pool.submit(units[sr.student], specs[sr.student]): (sr, 0) for sr in todo}
    failures = 0
    # disable=None: tqdm shows the bar only when stderr is a terminal
    quiet_bar = None if opts.progress is None else not opts.progress
    bar = tqdm(total=len(todo), desc="grading", unit="sub", disable=quiet_bar, file=sys.stderr)
    try:
        while pending:
            done, _ = concurrent.futures.wait(pending, timeout=30, return_when="FIRST_COMPLETED")
            if not done and pool.lost():
                raise CourseError(
                    f"the Dask scheduler at {opts.cluster} was lost; nothing was written to "
                    "the gradebook"
                )
            for future in done:
                sr, tries = pending.pop(future)
                try:
                    collect(sr, assignment, opts, future.result(), log_dir)
                except unit.WorkerRefused as exc:
                    sr.failed, sr.run = f"grading failed: {exc}", None
                except (KeyboardInterrupt, CourseError):
                    raise
                except Exception as exc:  # noqa: BLE001  (the worker, not the student)
                    if pool.lost():
                        raise CourseError(
                            f"the Dask scheduler at {opts.cluster} was lost ({exc!r}); nothing "
                            "was written to the gradebook"
                        ) from None
                    if tries == 0:
                        again = pool.submit(units[sr.student], specs[sr.student])
                        pending[again] = (sr, 1)
                        continue
                    sr.failed = f"grading failed twice: {type(exc).__name__}: {exc}"
                    sr.infra_suspect = True
                failures += bool(sr.failed)
                bar.update(1)
                bar.set_postfix(failed=failures)
    except KeyboardInterrupt:
        pool.cancel()  # every unit kills its process tree; nothing is merged
        raise
    finally:
        bar.close()
        pool.close()
    return pool.name


# ---------------------------------------------------------------------------------------
# Merge, zero, audit
# ---------------------------------------------------------------------------------------
def merge(
    course: Course, assignment: str, runs: list[StudentRun], work: Path, log_dir: Path
) -> list[str]:
    """Write the executed notebooks into the real gradebook; return students not merged."""
    gathered = work / "merge"
    todo = [sr for sr in runs if sr.executed]
    for sr in todo:
        dest = gathered / sr.student / assignment
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(sr.scratch / "autograded" / sr.student / assignment), dest)
        sr.verdicts = work / "verdicts" / sr.student
        shutil.move(str(sr.scratch / "verdicts"), sr.verdicts)
    if not todo:
        return []
    proc = course.nbgrader(
        "autograde",
        assignment,
        "--no-execute",
        "--force",
        f"--CourseDirectory.submitted_directory={gathered}",
        capture=True,
        check=False,
    )
    (log_dir / "_merge.log").write_text((proc.stdout or "") + (proc.stderr or ""))
    autograded = course.step_dir("autograded")
    return [
        sr.student
        for sr in todo
        if not all(
            (autograded / sr.student / assignment / f"{n}.ipynb").exists()
            for n in sr.resolution.notebooks
        )
    ]


def record_zero(course: Course, assignment: str, sr: StudentRun) -> None:
    """A gradebook submission with 0 for every cell, for what could not be graded."""
    from nbgrader.api import Gradebook
    from nbgrader.utils import parse_utc

    kwargs = {}
    ts = sr.submitted / "timestamp.txt"
    if ts.is_file() and _valid_timestamp(ts) is None and ts.read_text().strip():
        kwargs["timestamp"] = parse_utc(ts.read_text().strip())
    stale = course.step_dir("autograded") / sr.student / assignment
    if stale.exists():
        shutil.rmtree(stale)
    with Gradebook(course.db_url, course.course_id) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy autoflush chatter inside nbgrader.api
        gb.update_or_create_student(sr.student)
        submission = gb.update_or_create_submission(assignment, sr.student, **kwargs)
        for nb in submission.notebooks:
            for grade in nb.grades:  # as nbgrader does for a missing notebook; scores an
                grade.auto_score = 0  # instructor entered by hand (manual_score) are kept
                grade.needs_manual_grade = False
        gb.db.commit()


def run_audit(course: Course, assignment: str, sr: StudentRun) -> None:
    """Zero every test cell that earned points without a passing verdict (``audit``)."""
    from nbgrader.api import Gradebook

    autograded = course.step_dir("autograded") / sr.student / assignment
    source = course.step_dir("source") / assignment
    with Gradebook(course.db_url, course.course_id) as gb:
        for name in sr.resolution.notebooks:
            sr.problems.extend(audit.execution_problems(autograded / f"{name}.ipynb"))
            sub_nb = gb.find_submission_notebook(name, assignment, sr.student)
            earned = {g.name: g.auto_score for g in sub_nb.grades}
            verdicts = audit.read_verdicts(sr.verdicts / f"{name}.verdicts.json")
            for finding in audit.audit_scores(source / f"{name}.ipynb", verdicts, earned):
                audit.apply_override(
                    gb, assignment, sr.student, name, source / f"{name}.ipynb", finding
                )
                sr.problems.append(f"{finding.grade_id}: {finding.why}: 0 points")


def fill_scores(course: Course, assignment: str, rows: list[StudentRun]) -> None:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(course.db_url, course.course_id) as gb:
        max_score = gb.find_assignment(assignment).max_score
        for sr in rows:
            sr.max_score = max_score
            try:
                sub = gb.find_submission(assignment, sr.student)
            except MissingEntry:
                sr.score = 0.0
                continue
            penalty = sub.late_submission_penalty or 0.0
            sr.score = max(0.0, sub.score - penalty)
            if sub.total_seconds_late and sub.total_seconds_late > 0:
                sr.problems.append(
                    f"late by {sub.total_seconds_late / 3600:.1f} h (penalty {penalty:g})"
                )


@contextlib.contextmanager
def _exclusive(work: Path):
    work.mkdir(parents=True, exist_ok=True)
    with open(work / "autograde.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CourseError(f"another `course autograde` is running ({work})") from None
        yield


def autograde(course: Course, assignment: str, opts: Options) -> Report:
    """Grade every submission of ``assignment``; see the module docstring."""
    start = time.monotonic()
    check_infrastructure(course, opts.sandbox)
    base = course.root / WORK_DIR
    log_dir = base / "logs" / assignment
    with _exclusive(base):
        work = base / f"autograde-{assignment}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        work.mkdir()
        if log_dir.exists():
            shutil.rmtree(log_dir)
        log_dir.mkdir(parents=True)
        try:
            return _autograde(course, assignment, opts, work, log_dir, start)
        finally:
            if not opts.keep_work:
                shutil.rmtree(work, ignore_errors=True)


def _autograde(course, assignment, opts, work, log_dir, start) -> Report:
    ensure_in_gradebook(course, assignment, work)
    template = work / "gradebook.snapshot.db"
    snapshot_db(course, template)
    released = course.step_dir("release") / assignment
    expected = submissions.expected_notebooks(
        released if any(released.glob("*.ipynb")) else course.step_dir("source") / assignment
    )
    expected = {n: expected.get(n, set()) for n in course.notebook_names(assignment)}

    students = list_students(course, assignment, opts.students)
    submitted = course.step_dir("submitted")
    runs = [StudentRun(s, submitted / s / assignment) for s in students]
    for sr in runs:
        sr.resolution = submissions.resolve(sr.submitted, expected)
        sr.problems.extend(sr.resolution.problems)
        if not opts.sandbox:
            sr.problems.append("unsandboxed")
        if sr.resolution.notebooks:
            prepare_scratch(course, sr, assignment, template, work, opts.sandbox)
        else:
            sr.failed = "nothing to grade"

    todo = [sr for sr in runs if sr.scratch is not None]
    if todo:
        check_worker_config(todo[0].scratch)
    where = execute(todo, assignment, opts, log_dir, course) if todo else "local"

    infra = None
    broken = [sr for sr in todo if sr.failed and not (sr.run and sr.run.timed_out)]
    if todo and len(broken) == len(todo) and (len(todo) > 1 or broken[0].infra_suspect):
        infra = (
            f"every submission failed to grade ({broken[0].failed}): this looks like a "
            "set-up problem, nothing was written to the gradebook"
        )
        return Report(assignment, runs, time.monotonic() - start, infra, log_dir, where)

    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        for sr in runs:
            audit.clear_audit_overrides(gb, assignment, sr.student)
    not_merged = merge(course, assignment, runs, work, log_dir)
    if not_merged:
        infra = (
            f"the gradebook merge failed for {', '.join(not_merged)} "
            f"(see {log_dir / '_merge.log'}); their grades were NOT changed"
        )
    for sr in runs:
        if sr.student in not_merged:
            sr.problems.append("not recorded: merge failed")
            continue
        if sr.failed:
            if sr.failed != "nothing to grade":
                sr.problems.append(sr.failed)
            record_zero(course, assignment, sr)
        else:
            run_audit(course, assignment, sr)

    known = {sr.student for sr in runs}
    for s in opts.students or []:
        if s not in known:
            runs.append(StudentRun(s, submitted / s / assignment, problems=["no submission"]))
    absent = [] if opts.students else [s for s in roster(course) if s not in known]
    runs.sort(key=lambda r: r.student)
    fill_scores(course, assignment, runs)
    report = Report(assignment, runs, time.monotonic() - start, infra, log_dir, where)
    report.absent = absent
    return report


__all__ = ["Options", "Report", "autograde"]
