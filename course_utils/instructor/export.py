"""``course export --per-task``: the points of every graded cell, one CSV per assignment.

``grades.csv`` (``nbgrader export``) has one row per student per assignment and counts a
missing submission as 0. Next to it, ``<stem>_tasks_<assignment>.csv`` has one row per
student the gradebook knows and one column per graded cell (``<notebook>/<grade_id> (max
P)``, in the notebook's order), read from the gradebook with nbgrader's API
(``Gradebook.find_grade``). An empty cell is never a zero:

- ``status`` says what the row is: ``graded``; ``needs grading`` (a cell has no score yet:
  manually graded, or not autograded); ``not autograded`` (a folder in ``submitted/`` but
  no submission in the gradebook); ``no submission``;
- a cell's points are its score (``manual_score`` if set, else ``auto_score``, plus extra
  credit), empty when it has neither; a row without a submission has no points at all;
- ``raw_score`` and ``max_score`` are the gradebook's totals (nbgrader's ``raw_score``:
  before any late penalty, which is in ``grades.csv``); ``raw_score`` is empty without a
  submission.
"""

from __future__ import annotations

import csv
from pathlib import Path

from . import submissions
from .course import Course

GRADED, NEEDS_GRADING, NOT_AUTOGRADED, ABSENT = (
    "graded",
    "needs grading",
    "not autograded",
    "no submission",
)


def _number(x: float | None) -> str:
    return "" if x is None else f"{x:g}"


def task_path(dest: Path, assignment: str) -> Path:
    """``grades.csv`` -> ``grades_tasks_<assignment>.csv`` in the same folder."""
    return dest.with_name(f"{dest.stem}_tasks_{assignment}.csv")


def _cell_order(course: Course, assignment: str, notebook: str) -> list[str]:
    """Grade ids in the order of the source notebook (the gradebook keeps no order)."""
    path = course.step_dir("source") / assignment / f"{notebook}.ipynb"
    data, _ = submissions.read_notebook_json(path) if path.is_file() else (None, None)
    ids = []
    for cell in (data or {}).get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and meta.get("grade_id"):
            ids.append(meta["grade_id"])
    return ids


def task_table(gb, course: Course, assignment: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the per-task CSV of ``assignment`` (``gb``: an open Gradebook)."""
    from nbgrader.api import MissingEntry

    cells: list[tuple[str, str, float]] = []  # (notebook, grade id, max points)
    for nb in sorted(gb.find_assignment(assignment).notebooks, key=lambda n: n.name):
        order = _cell_order(course, assignment, nb.name)
        rank = {name: i for i, name in enumerate(order)}
        for cell in sorted(nb.grade_cells, key=lambda c: (rank.get(c.name, len(rank)), c.name)):
            cells.append((nb.name, cell.name, cell.max_score))
    header = [
        "student_id",
        "status",
        *(f"{nb}/{name} (max {_number(points)})" for nb, name, points in cells),
        "raw_score",
        "max_score",
    ]
    max_score = _number(sum(points for _, _, points in cells))
    submitted = course.step_dir("submitted")
    rows = []
    for student in sorted(s.id for s in gb.students):
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            status = NOT_AUTOGRADED if (submitted / student / assignment).is_dir() else ABSENT
            rows.append([student, status, *([""] * len(cells)), "", max_score])
            continue
        points = []
        for nb, name, _ in cells:
            try:
                grade = gb.find_grade(name, nb, assignment, student)
            except MissingEntry:
                grade = None
            scored = grade is not None and (
                grade.auto_score is not None or grade.manual_score is not None
            )
            points.append(_number(grade.score) if scored else "")
        status = GRADED if all(points) else NEEDS_GRADING
        rows.append([student, status, *points, _number(submission.score), max_score])
    return header, rows


def write_task_csvs(course: Course, dest: Path) -> list[Path]:
    """Write ``task_path(dest, A)`` for every assignment of the gradebook; their paths."""
    from nbgrader.api import Gradebook

    written = []
    with Gradebook(course.db_url, course.course_id) as gb:
        for assignment in sorted(a.name for a in gb.assignments):
            header, rows = task_table(gb, course, assignment)
            path = task_path(dest, assignment)
            with path.open("w", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(header)
                writer.writerows(rows)
            written.append(path)
    return written
