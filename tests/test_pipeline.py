"""End to end: honest and hostile submissions through `course autograde --jobs 2`.

A throw-away course root gets the repo's nbgrader config (cell timeout lowered to 20 s,
late submissions zeroed) and solutions/00_welcome; `course release` generates the
student notebook; every case of tests/submissions/welcome.py (broken and tampering
submissions) and tests/submissions/hostile.py (attacks on the grading itself) is written
under submitted/<student>/00_welcome/, and the CLI runs as an instructor would run it.
The scores are read back from the gradebook with nbgrader's API and must be EXACT: every
attacker gets what its real answer deserves. The honest students are graded a second
time in a course root without any attacker, and must come out identical (scores, cell
grades, outputs, feedback). A second root grades a subset with plain, serial `nbgrader
autograde` to show that the parallel execute + serial merge gives the same scores,
timestamps and late penalties; a third grades 01_tf_basics answers that reach forbidden
built-ins without naming them.
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook, MissingEntry

from conftest import REPO
from submissions import hostile as H
from submissions import tf_hostile as T
from submissions import welcome as W
from submissions.course import BIN, isolated_env, make_course, run

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")]

CELL_TIMEOUT = 40
SERIAL_SUBSET = ["late", "partly", "noisy"]
LATE_CONFIG = 'c.LateSubmissionPlugin.penalty_method = "zero"  # test: late work scores 0\n'
ALL_CASES = W.CASES + H.CASES
HONEST = ["correct", "blank", "partly", "raises", "noisy", "late", "renamed", "test_deleted"]
AUTOGRADE = ["course", "autograde", W.ASSIGNMENT, "--jobs", "2", "--memory", "2048",
             "--timeout", "300"]  # fmt: skip


def _tree_digest(*roots: Path) -> str:
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            if "__pycache__" in path.parts:
                continue
            digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


def _processes_under(*needles: str) -> list[tuple[int, bytes]]:
    """Live processes whose command line or working directory mentions a needle."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (entry / "cmdline").read_bytes()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if int(entry.name) != os.getpid() and any(
            n.encode() in cmd or cwd.startswith(n) for n in needles
        ):
            found.append((int(entry.name), cmd[:200]))
    return found


def _orphans(*needles: str) -> list[tuple[int, bytes]]:
    """Like ``_processes_under``, but only processes whose parent has gone (reparented to
    init or a subreaper: no Python or bubblewrap parent). A process that outlived the
    autograde run is such an orphan; the sandboxes and kernels of another test running at
    the same time (the slow tests run two at a time) still have their parents."""
    found = []
    for pid, cmd in _processes_under(*needles):
        try:
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            parent = Path(f"/proc/{ppid}/cmdline").read_bytes() if ppid > 1 else b""
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if b"python" not in parent and b"bwrap" not in parent:
            found.append((pid, cmd))
    return found


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The catalogues graded in parallel, plus the honest students alone, plus copies."""
    base = tmp_path_factory.mktemp("pipeline")
    root, honest_root = base / "course", base / "honest"
    t0 = time.monotonic()
    env = make_course(
        root,
        W.ASSIGNMENT,
        cell_timeout=CELL_TIMEOUT,
        duedate=W.DUEDATE,
        extra_config=LATE_CONFIG,
        lean=True,  # graded cells only: the TF import and plots are 01's fixture's business
    )
    serial_root = base / "serial"
    shutil.copytree(root, serial_root)  # released, gradebook seeded, no submission yet
    shutil.copytree(root, honest_root)
    released = root / "notebooks" / W.ASSIGNMENT / f"{W.NOTEBOOK}.ipynb"
    for case in ALL_CASES:
        W.write_case(case, released, root)
    for case in W.CASES:
        if case.student in HONEST:
            W.write_case(case, released, honest_root)
    protected = (REPO / "grader_tests", REPO / "course_utils", REPO / "solutions",
                 root / "solutions", root / "nbgrader_config.py")  # fmt: skip
    before = _tree_digest(*protected[:4]) + (root / "nbgrader_config.py").read_text()
    t1 = time.monotonic()
    proc = run(AUTOGRADE, root, env, timeout=1800)
    t2 = time.monotonic()
    honest = run(AUTOGRADE, honest_root, isolated_env(honest_root), timeout=900)
    t3 = time.monotonic()
    time.sleep(1)  # anything an attack left behind would still be running now
    leftovers = _processes_under(str(root), str(honest_root))
    leftovers += _orphans("time.sleep(600)", "bwrap")
    after = _tree_digest(*protected[:4]) + (root / "nbgrader_config.py").read_text()
    for r, e in ((root, env), (honest_root, isolated_env(honest_root))):
        run(["course", "feedback", W.ASSIGNMENT], r, e, timeout=300)
    run(["course", "export", "--to", "grades.csv"], root, env, timeout=300)
    print(
        f"\n[timing] setup {t1 - t0:.0f} s, autograde {t2 - t1:.0f} s ({len(ALL_CASES)} "
        f"students, 2 jobs), honest-only {t3 - t2:.0f} s ({len(HONEST)} students)"
    )
    return {
        "root": root,
        "env": env,
        "table": proc.stdout,
        "serial_root": serial_root,
        "honest_root": honest_root,
        "honest_table": honest.stdout,
        "leftovers": leftovers,
        "unchanged": before == after,
        "home": Path(env["HOME"]),
    }


def gradebook(root: Path) -> Gradebook:
    return Gradebook(f"sqlite:///{root / 'gradebook.db'}", "nn-from-scratch")


def table_rows(stdout: str) -> dict[str, tuple[str, str, str]]:
    rows = {}
    for line in stdout.splitlines():
        m = re.match(
            r"^(\S+)\s+(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?)\s+(?:\d+ s|-)\s+(?:\d+ MB|-)\s+(.*)$",
            line,
        )
        if m:
            rows[m.group(1)] = (m.group(2), m.group(3), m.group(4))
    return rows


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.student for c in ALL_CASES])
def test_exact_score_in_the_gradebook(graded, case):
    with gradebook(graded["root"]) as gb:
        submission = gb.find_submission(W.ASSIGNMENT, case.student)
        assert submission.score == case.score, case.what
        assert submission.max_score == W.MAX_SCORE
        assert not submission.needs_manual_grade, case.what


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.student for c in ALL_CASES])
def test_table_row_and_problems(graded, case):
    rows = table_rows(graded["table"])
    assert case.student in rows, graded["table"]
    score, max_score, problems = rows[case.student]
    penalty = W.MAX_SCORE if case.timestamp else 0
    assert float(score) == max(0.0, case.score - penalty) and float(max_score) == W.MAX_SCORE
    for expected in case.problems:
        assert expected in problems, (case.student, problems)
    if not case.problems and case.student != "test_deleted":
        assert problems == "-", (case.student, problems)


def test_the_run_ends_with_its_table_and_nothing_left_running(graded):
    assert "submission(s) graded in" in graded["table"]
    assert graded["leftovers"] == []


def test_the_course_and_the_instructors_profile_are_untouched(graded):
    assert graded["unchanged"], "an attack changed grader_tests, course_utils or solutions"
    assert not list(graded["home"].rglob("00-pwn.py"))
    assert not (Path.home() / ".ipython" / "profile_default" / "startup" / "00-pwn.py").exists()


def _cells(root: Path, student: str) -> dict[str, tuple]:
    with gradebook(root) as gb:
        nb = gb.find_submission_notebook(W.NOTEBOOK, W.ASSIGNMENT, student)
        return {g.name: (g.auto_score, g.manual_score) for g in nb.grades}


def _test_outputs(root: Path, student: str) -> list:
    nb = nbformat.read(root / "autograded" / student / W.ASSIGNMENT / f"{W.NOTEBOOK}.ipynb", 4)
    return [c.outputs for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


def _feedback_text(root: Path, student: str) -> str:
    page = root / "feedback" / student / W.ASSIGNMENT / f"{W.NOTEBOOK}.html"
    text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
    text = re.sub(r"/tmp/\S+", "<tmp>", text)
    # A C-level (fd 2) log line, like the noisy student's, reaches the notebook through
    # ipykernel's fd watcher thread: whether it lands before the cell ends is a race (seen
    # in 2 of 4 runs in December 2026), not something another submission did.
    text = re.sub(r"(?m)^[IWEF]\d{4} [\d:.]+ \d+ \S+:\d+\] .*\n?", "", text)
    return re.sub(r"\d{4}-\d\d-\d\d[ T][\d:.]+", "<time>", text)


@pytest.mark.parametrize("student", HONEST)
def test_honest_students_are_graded_as_without_attackers(graded, student):
    root, alone = graded["root"], graded["honest_root"]
    with gradebook(root) as a, gradebook(alone) as b:
        assert a.find_submission(W.ASSIGNMENT, student).score == (
            b.find_submission(W.ASSIGNMENT, student).score
        )
    assert _cells(root, student) == _cells(alone, student)
    assert _test_outputs(root, student) == _test_outputs(alone, student)
    assert _feedback_text(root, student) == _feedback_text(alone, student)
    assert table_rows(graded["table"])[student] == table_rows(graded["honest_table"])[student]


def test_no_audit_override_was_needed(graded):
    """Verdicts come from the grader, so nbgrader's scores already agree with them."""
    with gradebook(graded["root"]) as gb:
        for case in ALL_CASES:
            try:
                nb = gb.find_submission_notebook(W.NOTEBOOK, W.ASSIGNMENT, case.student)
            except MissingEntry:
                continue
            assert all(g.manual_score is None for g in nb.grades), case.student


@pytest.mark.parametrize("student", ["h_script_output", "h_script_markdown"])
def test_student_html_is_inert_in_feedback_and_formgrader(graded, student):
    root = graded["root"]
    page = (root / "feedback" / student / W.ASSIGNMENT / f"{W.NOTEBOOK}.html").read_text()
    nb = nbformat.read(root / "autograded" / student / W.ASSIGNMENT / f"{W.NOTEBOOK}.ipynb", 4)
    # What Formgrader renders as HTML: outputs and Markdown (code is shown as escaped text).
    rendered = json.dumps(
        [c.get("outputs", []) for c in nb.cells]
        + [c.source for c in nb.cells if c.cell_type == "markdown"]
    )
    for text in (page, rendered):
        assert "<script>document.title" not in text
        assert not re.search(r"<[a-z]+[^>]*\sonerror=", text, re.I)
        assert not re.search(r"<svg[^>]*onload", text, re.I)
    assert "application/javascript" not in rendered


def test_feedback_html(graded):
    feedback = graded["root"] / "feedback"
    for case in ALL_CASES:
        page = feedback / case.student / W.ASSIGNMENT / f"{W.NOTEBOOK}.html"
        if case.student in ("bad_json", "missing", "h_deep_json"):
            assert not page.exists()
            continue
        assert page.is_file(), case.student
    text = html.unescape(
        re.sub(
            r"<[^>]+>", "", (feedback / "partly" / W.ASSIGNMENT / f"{W.NOTEBOOK}.html").read_text()
        )
    )
    # the hidden check's failure message reaches the student
    assert re.search(r"expected [\d.]+ \(\d+ of \d+ rows correct\), got [\d.]+", text), text[-3000:]
    assert "✔ check_accuracy passed" in text
    # ... but not the hidden checks' source (the autograded notebook keeps it)
    assert "check_accuracy_hidden(accuracy)" not in text and "BEGIN HIDDEN TESTS" not in text
    ok = html.unescape((feedback / "correct" / W.ASSIGNMENT / f"{W.NOTEBOOK}.html").read_text())
    assert "✔ check_accuracy_hidden passed" in ok


def test_export_has_one_row_per_student(graded):
    with open(graded["root"] / "grades.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["student_id"] for r in rows) == sorted(c.student for c in ALL_CASES)
    by_student = {r["student_id"]: r for r in rows}
    for case in ALL_CASES:
        expected = max(0.0, case.score - (W.MAX_SCORE if case.timestamp else 0))
        assert float(by_student[case.student]["score"]) == expected, case.student
        assert float(by_student[case.student]["max_score"]) == W.MAX_SCORE


def test_parallel_merge_equals_serial_nbgrader(graded):
    """Plain `nbgrader autograde` (serial, in-kernel, no merge) gives the same gradebook."""
    serial = graded["serial_root"]
    env = isolated_env(serial)
    released = serial / "notebooks" / W.ASSIGNMENT / f"{W.NOTEBOOK}.ipynb"
    cases = [c for c in W.CASES if c.student in SERIAL_SUBSET]
    for case in cases:
        W.write_case(case, released, serial)
    proc = subprocess.run(
        [str(BIN / "nbgrader"), "autograde", W.ASSIGNMENT],
        cwd=serial,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with gradebook(serial) as a, gradebook(graded["root"]) as b:
        for case in cases:
            sa, sb = (
                a.find_submission(W.ASSIGNMENT, case.student),
                b.find_submission(W.ASSIGNMENT, case.student),
            )
            assert (sa.score, sa.timestamp, sa.total_seconds_late, sa.late_submission_penalty) == (
                sb.score,
                sb.timestamp,
                sb.total_seconds_late,
                sb.late_submission_penalty,
            ), case.student
            grades_a = {g.name: g.auto_score for g in sa.notebooks[0].grades}
            grades_b = {g.name: g.auto_score for g in sb.notebooks[0].grades}
            assert grades_a == grades_b


def test_nobody_is_missing_from_the_gradebook(graded):
    with gradebook(graded["root"]) as gb:
        students = {s.id for s in gb.students}
        assert students == {c.student for c in ALL_CASES}
        for s in students:
            try:
                gb.find_submission(W.ASSIGNMENT, s)
            except MissingEntry:
                pytest.fail(f"{s} has no submission in the gradebook")


@pytest.fixture(scope="module")
def tf_graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("tf") / "course"
    env = make_course(root, T.ASSIGNMENT, cell_timeout=120)
    released = root / "notebooks" / T.ASSIGNMENT / f"{T.NOTEBOOK}.ipynb"
    solution = root / "solutions" / T.ASSIGNMENT / f"{T.NOTEBOOK}.ipynb"
    for case in T.CASES:
        T.write_case(case, released, solution, root)
    proc = run(["course", "autograde", T.ASSIGNMENT, "--jobs", "2"], root, env, timeout=1800)
    return root, proc.stdout


@pytest.mark.parametrize("case", T.CASES, ids=[c.student for c in T.CASES])
def test_forbidden_builtins_reached_without_their_names_lose_their_task(tf_graded, case):
    root, table = tf_graded
    with gradebook(root) as gb:
        assert gb.find_submission(T.ASSIGNMENT, case.student).score == case.score, table
        nb = gb.find_submission_notebook(T.NOTEBOOK, T.ASSIGNMENT, case.student)
        lost = {g.name for g in nb.grades if g.name.startswith("test_") and g.auto_score == 0}
    assert lost == {f"test_{task}" for task in case.replace}, case.what


def tiny_assignment(root: Path) -> None:
    """solutions/tiny/tiny.ipynb: one answer cell and one 1-point test cell, no TensorFlow."""
    import nbformat

    def meta(grade_id, **kw):
        return {
            "nbgrader": {
                "grade": False,
                "grade_id": grade_id,
                "locked": False,
                "schema_version": 3,
                "solution": False,
                **kw,
            }
        }

    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {
        "name": "nn-course",
        "display_name": "nn-course",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell(
            "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
            metadata=meta("double", solution=True),
        ),
        nbformat.v4.new_code_cell(
            "assert double(2) == 4", metadata=meta("test_double", grade=True, locked=True, points=1)
        ),
    ]
    (root / "solutions" / "tiny").mkdir(parents=True)
    nbformat.write(nb, root / "solutions" / "tiny" / "tiny.ipynb")


def test_wall_clock_kill_is_zeroed_and_others_unaffected(tmp_path):
    """A kernel that ignores the interrupt is killed by the wall clock; its neighbour is fine."""
    import nbformat

    root = tmp_path / "tiny"
    root.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", root)
    tiny_assignment(root)
    env = isolated_env(root)
    run(["course", "release", "tiny"], root, env)
    released = nbformat.read(root / "notebooks" / "tiny" / "tiny.ipynb", as_version=4)
    answers = {
        "good": "def double(x):\n    return x + x",
        "stuck": "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n"
        "    pass",
    }
    for student, src in answers.items():
        released.cells[0].source = src
        (root / "submitted" / student / "tiny").mkdir(parents=True)
        nbformat.write(released, root / "submitted" / student / "tiny" / "tiny.ipynb")
    proc = run(
        ["course", "autograde", "tiny", "--jobs", "2", "--timeout", "25", "--cell-timeout", "120"],
        root,
        env,
        timeout=300,
    )
    rows = table_rows(proc.stdout)
    assert rows["good"][:2] == ("1", "1") and rows["good"][2] == "-"
    assert rows["stuck"][0] == "0" and "timeout: grading took longer than 25 s" in rows["stuck"][2]
    with gradebook(root) as gb:
        assert gb.find_submission("tiny", "good").score == 1
        assert gb.find_submission("tiny", "stuck").score == 0
    assert not (root / "autograded" / "stuck" / "tiny").exists()
    assert not list((root / ".course_work").glob("autograde-*"))  # scratch cleaned up
