"""Every solution notebook follows the course's grading conventions (DESIGN.md, "Grading")."""

import re
from pathlib import Path

import nbformat
import pytest

from conftest import REPO

NOTEBOOKS = sorted((REPO / "solutions").glob("*/*.ipynb"))


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def grader_module(assignment: str) -> str:
    """`01_tf_basics` is checked by `grader_tests.tf_basics`."""
    return re.sub(r"^\d+_", "", assignment)


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


@pytest.fixture(params=NOTEBOOKS, ids=_id)
def notebook(request):
    return request.param, nbformat.read(request.param, as_version=4)


def test_runs_on_the_course_kernel(notebook):
    _, nb = notebook
    assert nb.metadata.kernelspec.name == "nn-course"


def test_grade_ids_are_unique(notebook):
    _, nb = notebook
    ids = [_nbgrader(c)["grade_id"] for c in nb.cells if "grade_id" in _nbgrader(c)]
    assert len(ids) == len(set(ids))


def test_first_code_cell_is_locked_setup_importing_the_checks(notebook):
    path, nb = notebook
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert _nbgrader(first).get("locked") is True, "the setup cell must be read-only"
    module = grader_module(path.parent.name)
    assert f"from grader_tests import {module}" in first.source, (
        "the setup cell must import the checks before any student code runs"
    )


def test_answer_cells_have_solution_markers(notebook):
    _, nb = notebook
    answers = [c for c in nb.cells if c.cell_type == "code" and _nbgrader(c).get("solution")]
    assert answers, "a graded notebook needs at least one answer cell"
    for cell in answers:
        assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source


def test_test_cells_call_visible_and_hidden_checks(notebook):
    path, nb = notebook
    module = grader_module(path.parent.name)
    tests = [c for c in nb.cells if c.cell_type == "code" and _nbgrader(c).get("grade")]
    assert tests
    for cell in tests:
        meta = _nbgrader(cell)
        assert meta["locked"] and meta["points"] > 0
        visible, _, rest = cell.source.partition("### BEGIN HIDDEN TESTS")
        hidden = rest.partition("### END HIDDEN TESTS")[0]
        assert re.search(rf"\b{module}\.check_\w+\(", visible), (
            f"{meta['grade_id']}: no visible check"
        )
        assert re.search(rf"\b{module}\.check_\w+_hidden\(", hidden), (
            f"{meta['grade_id']}: no hidden check"
        )


def test_points_in_the_introduction_add_up(notebook):
    _, nb = notebook
    total = sum(_nbgrader(c).get("points", 0) for c in nb.cells if _nbgrader(c).get("grade"))
    intro = nb.cells[0].source
    stated = re.search(r"\*\*total\*\*\s*\|\s*\*\*(\d+(?:\.\d+)?)\*\*", intro)
    assert stated, "the introduction must state the points (a table ending in a **total** row)"
    assert float(stated[1]) == total
