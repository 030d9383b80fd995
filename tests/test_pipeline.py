"""End to end: the hostile catalogue through `course autograde --jobs 2`, feedback, export.

A throw-away course root gets the repo's nbgrader config (cell timeout lowered to 20 s,
late submissions zeroed) and solutions/00_welcome; `course release` generates the
student notebook, every case of tests/submissions/welcome.py is written under
submitted/<student>/00_welcome/, and the CLI runs as an instructor would run it.
The scores are read back from the gradebook with nbgrader's API and must be EXACT.
A second root grades a subset with plain, serial `nbgrader autograde` to show that the
parallel execute + serial merge gives the same scores, timestamps and late penalties.
"""

from __future__ import annotations

import csv
import html
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from nbgrader.api import Gradebook, MissingEntry

from conftest import REPO
from submissions import welcome as W
from submissions.course import BIN, isolated_env, make_course, run

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")]

CELL_TIMEOUT = 20
SERIAL_SUBSET = ["late", "partly", "noisy"]
LATE_CONFIG = 'c.LateSubmissionPlugin.penalty_method = "zero"  # test: late work scores 0\n'


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The catalogue graded in parallel (plus a copy of the course for a serial run)."""
    base = tmp_path_factory.mktemp("pipeline")
    root = base / "course"
    t0 = time.monotonic()
    env = make_course(
        root, W.ASSIGNMENT, cell_timeout=CELL_TIMEOUT, duedate=W.DUEDATE, extra_config=LATE_CONFIG
    )
    serial_root = base / "serial"
    shutil.copytree(root, serial_root)  # released, gradebook seeded, no submission yet
    released = root / "notebooks" / W.ASSIGNMENT / f"{W.NOTEBOOK}.ipynb"
    for case in W.CASES:
        W.write_case(case, released, root)
    t1 = time.monotonic()
    proc = run(
        [
            "course",
            "autograde",
            W.ASSIGNMENT,
            "--jobs",
            "2",
            "--memory",
            "2048",
            "--timeout",
            "300",
        ],
        root,
        env,
        timeout=900,
    )
    t2 = time.monotonic()
    run(["course", "feedback", W.ASSIGNMENT], root, env, timeout=300)
    run(["course", "export", "--to", "grades.csv"], root, env, timeout=300)
    t3 = time.monotonic()
    print(
        f"\n[timing] setup {t1 - t0:.0f} s, autograde {t2 - t1:.0f} s "
        f"({len(W.CASES)} students, 2 jobs), feedback+export {t3 - t2:.0f} s"
    )
    return {"root": root, "env": env, "table": proc.stdout, "serial_root": serial_root}


def gradebook(root: Path) -> Gradebook:
    return Gradebook(f"sqlite:///{root / 'gradebook.db'}", "nn-from-scratch")


def table_rows(stdout: str) -> dict[str, tuple[str, str, str]]:
    rows = {}
    for line in stdout.splitlines():
        m = re.match(r"^(\S+)\s+(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?)\s+(.*)$", line)
        if m:
            rows[m.group(1)] = (m.group(2), m.group(3), m.group(4))
    return rows


@pytest.mark.parametrize("case", W.CASES, ids=[c.student for c in W.CASES])
def test_exact_score_in_the_gradebook(graded, case):
    with gradebook(graded["root"]) as gb:
        submission = gb.find_submission(W.ASSIGNMENT, case.student)
        assert submission.score == case.score, case.what
        assert submission.max_score == W.MAX_SCORE
        assert not submission.needs_manual_grade, case.what


@pytest.mark.parametrize("case", W.CASES, ids=[c.student for c in W.CASES])
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


def test_late_penalty_survives_the_merge(graded):
    with gradebook(graded["root"]) as gb:
        late = gb.find_submission(W.ASSIGNMENT, "late")
        assert late.total_seconds_late == 24 * 3600
        assert late.score == 2 and late.late_submission_penalty == 2
        on_time = gb.find_submission(W.ASSIGNMENT, "correct")
        assert on_time.timestamp is None and on_time.late_submission_penalty == 0


def test_tampering_is_zeroed_with_a_comment(graded):
    with gradebook(graded["root"]) as gb:
        for student in ["fake_module", "swallow_transform"]:
            grade = gb.find_grade("test_accuracy", W.NOTEBOOK, W.ASSIGNMENT, student)
            assert grade.auto_score == 2 and grade.manual_score == 0  # nbgrader was fooled
            comment = gb.find_comment("accuracy", W.NOTEBOOK, W.ASSIGNMENT, student)
            assert "tampering suspected: the check did not report success" in (
                comment.manual_comment
            )
        clean = gb.find_grade("test_accuracy", W.NOTEBOOK, W.ASSIGNMENT, "correct")
        assert clean.manual_score is None


def test_feedback_html(graded):
    feedback = graded["root"] / "feedback"
    for case in W.CASES:
        page = feedback / case.student / W.ASSIGNMENT / f"{W.NOTEBOOK}.html"
        if case.student in ("bad_json", "missing"):
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
    ok = html.unescape((feedback / "correct" / W.ASSIGNMENT / f"{W.NOTEBOOK}.html").read_text())
    assert "✔ check_accuracy_hidden passed" in ok


def test_export_has_one_row_per_student(graded):
    with open(graded["root"] / "grades.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["student_id"] for r in rows) == sorted(c.student for c in W.CASES)
    by_student = {r["student_id"]: r for r in rows}
    for case in W.CASES:
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
        assert students == {c.student for c in W.CASES}
        for s in students:
            try:
                gb.find_submission(W.ASSIGNMENT, s)
            except MissingEntry:
                pytest.fail(f"{s} has no submission in the gradebook")


@pytest.mark.parametrize(
    "notebook",
    sorted((REPO / "notebooks").glob("*/*.ipynb")),
    ids=lambda p: f"{p.parent.name}/{p.stem}",
)
def test_validate_invert_on_released_notebook(tmp_path, notebook):
    """Every test cell FAILS on the blank student version (no test passes by accident)."""
    env = isolated_env(tmp_path / "home")
    proc = subprocess.run(
        [str(BIN / "nbgrader"), "validate", "--invert", str(notebook)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Success! The notebook does not pass any tests." in proc.stdout, proc.stdout[-2000:]


def test_no_stray_processes_left(graded):
    """Kernels of killed or crashed submissions were reaped: nothing runs in the course."""
    root = str(graded["root"].resolve())
    left = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if os.readlink(entry / "cwd").startswith(root):
                left.append((entry.name, (entry / "cmdline").read_bytes()[:200]))
        except OSError:
            continue
    assert left == []


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
