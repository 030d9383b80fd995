"""End to end: each assignment's model answers, submitted as a student would, get every point.

The released student notebooks of 02, 03, 04, 05 and 07 get the solution's answer cells
back and go through `course autograde` (sandboxed kernel, verdicts in the grader), the five
assignments at once in their own course roots (05 alone took 148 s on a loaded 2-core
machine: two MNIST trainings; 07's two notebooks 184 s on a quiet one). 06 (200 s) is
measured by hand: with it the slow phase would grow by minutes. Every test cell must earn
its full points: a check that mistakes the course's own code (its data, its set-up cell) for the
student's, or that cannot reach the kernel, shows here as a lost cell. 00 and 01 are
graded the same way in test_pipeline.py ("correct", "tf_correct").
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from submissions.course import BIN, make_course

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")]

ASSIGNMENTS = ["02_numpy_layers", "03_backprop", "04_iris", "05_mnist", "07_tuning"]


def _submit_model_answers(root: Path, assignment: str) -> None:
    for solution in sorted((root / "solutions" / assignment).glob("*.ipynb")):
        answers = {
            c.metadata["nbgrader"]["grade_id"]: c.source
            for c in nbformat.read(solution, as_version=4).cells
            if c.metadata.get("nbgrader", {}).get("solution")
        }
        released = nbformat.read(root / "notebooks" / assignment / solution.name, as_version=4)
        for cell in released.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in answers:
                cell.source = answers[grade_id]
        folder = root / "submitted" / "model" / assignment
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(released, folder / solution.name)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    runs = {}
    for assignment in ASSIGNMENTS:
        root = tmp_path_factory.mktemp(assignment) / "course"
        env = make_course(root, assignment)
        _submit_model_answers(root, assignment)
        cmd = [str(BIN / "course"), "autograde", assignment, "--jobs", "1"]
        runs[assignment] = (root, subprocess.Popen(
            cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ))  # fmt: skip
    out = {}
    for assignment, (root, proc) in runs.items():
        table, _ = proc.communicate(timeout=1200)
        out[assignment] = (root, proc.returncode, table)
    return out


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_model_answers_earn_every_automatic_point(graded, assignment):
    root, returncode, table = graded[assignment]
    assert returncode == 0, table
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "nn-from-scratch") as gb:
        submission = gb.find_submission(assignment, "model")
        lost = {
            f"{nb.name}/{g.name}: {g.auto_score} of {g.max_score}"
            for nb in submission.notebooks
            for g in nb.grades
            if g.name.startswith("test_") and g.auto_score != g.max_score
        }
        tested = sum(g.name.startswith("test_") for nb in submission.notebooks for g in nb.grades)
    assert tested and not lost, f"{sorted(lost)}\n{table}"
    row = next(line for line in table.splitlines() if line.startswith("model "))
    assert row.rstrip().endswith("-"), row  # no problem reported for the model answers
