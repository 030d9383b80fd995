"""Check, outside the kernel, that every test cell which earned points really passed.

nbgrader awards a test cell its points when the cell shows no error and no stderr. Student
code runs in the same kernel and can make a failing check look like that (swallow the
exception with ``get_ipython().set_custom_exc``, patch what the check uses...). Every
check of ``grader_tests`` prints a success marker keyed with the run's secret
(``course_utils.grading``); this audit reads the autograded notebook and, for each test
cell that got points, requires a valid marker for every ``check_*`` function that the
ORIGINAL cell (from the source notebook, hidden tests included) calls. A cell without
them gets ``manual_score = 0`` in the gradebook and a comment on the answer cell above it.

Overrides made here are tagged (``AUDIT_TAG``) so that the next ``course autograde`` run
removes them before re-grading, while scores an instructor entered by hand are kept.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from course_utils.grading import checks_called_in, verify_markers

from .execute import KERNEL_DIED, NOT_EXECUTED

AUDIT_TAG = "[autograde audit]"
_AUDIT_LINE = re.compile(re.escape(AUDIT_TAG) + r" (\S+):")


@dataclass
class Finding:
    grade_id: str
    missing: list[str]


def _source_cells(path: Path) -> list[dict]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return []


def _nbg(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _text(source) -> str:
    return "".join(source) if isinstance(source, list) else (source or "")


def original_test_sources(source_nb: Path) -> dict[str, str]:
    """grade_id -> source of each graded code cell of the instructor's notebook."""
    return {
        _nbg(c)["grade_id"]: _text(c.get("source"))
        for c in _source_cells(source_nb)
        if c.get("cell_type") == "code" and _nbg(c).get("grade") and _nbg(c).get("grade_id")
    }


def answer_cell_before(source_nb: Path, grade_id: str) -> str | None:
    """grade_id of the last solution cell above ``grade_id`` (where comments live)."""
    last = None
    for c in _source_cells(source_nb):
        nbg = _nbg(c)
        if nbg.get("grade_id") == grade_id:
            return last
        if nbg.get("solution"):
            last = nbg.get("grade_id")
    return None


def stdout_text(cell: dict) -> str:
    return "".join(
        _text(o.get("text"))
        for o in cell.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stdout"
    )


def audit_notebook(
    autograded_nb: Path, source_nb: Path, key: str, earned: dict[str, float]
) -> list[Finding]:
    """Test cells of ``autograded_nb`` that earned points without their success markers.

    Args:
        autograded_nb: the executed notebook nbgrader scored.
        source_nb: the instructor's notebook (the original test cell sources).
        key: the grading key of the run that executed ``autograded_nb``.
        earned: grade_id -> auto_score from the gradebook.
    """
    originals = original_test_sources(source_nb)
    findings = []
    for cell in _source_cells(autograded_nb):
        nbg = _nbg(cell)
        grade_id = nbg.get("grade_id")
        if cell.get("cell_type") != "code" or not nbg.get("grade") or not earned.get(grade_id):
            continue
        names = checks_called_in(originals.get(grade_id, _text(cell.get("source"))))
        missing = verify_markers(stdout_text(cell), names, key)
        if missing:
            findings.append(Finding(grade_id, missing))
    return findings


def execution_problems(autograded_nb: Path | dict) -> list[str]:
    """Short notes on what went wrong while running the notebook (first of each kind).

    ``autograded_nb`` is a notebook file or an already loaded notebook.
    """
    seen: dict[str, str] = {}
    cells = (
        autograded_nb.get("cells", [])
        if isinstance(autograded_nb, dict)
        else _source_cells(autograded_nb)
    )
    for number, cell in enumerate(cells, start=1):
        for out in cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            ename = out.get("ename", "")
            if ename == KERNEL_DIED:
                seen.setdefault("died", f"kernel died in cell {number}")
            elif ename == "CellTimeoutError":
                seen.setdefault("timeout", f"timeout in cell {number}")
            elif ename == "MemoryError":
                seen.setdefault("memory", f"out of memory (MemoryError) in cell {number}")
            elif ename == NOT_EXECUTED:
                continue
    return list(seen.values())


def clear_audit_overrides(gb, assignment: str, student: str) -> None:
    """Undo this module's earlier overrides for one submission (before re-grading)."""
    from nbgrader.api import MissingEntry

    try:
        submission = gb.find_submission(assignment, student)
    except MissingEntry:
        return
    for nb in submission.notebooks:
        grades = {g.name: g for g in nb.grades}
        for comment in nb.comments:
            text = comment.manual_comment or ""
            if AUDIT_TAG not in text:
                continue
            kept = []
            for line in text.splitlines():
                m = _AUDIT_LINE.match(line)
                if m and m.group(1) in grades and grades[m.group(1)].manual_score == 0:
                    grades[m.group(1)].manual_score = None
                elif not m:
                    kept.append(line)
            comment.manual_comment = "\n".join(kept) or None
    gb.db.commit()


def apply_override(
    gb, assignment: str, student: str, notebook: str, source_nb: Path, finding: Finding
) -> None:
    """Set the cell's score to 0 and say why on the answer cell above it."""
    grade = gb.find_grade(finding.grade_id, notebook, assignment, student)
    grade.manual_score = 0
    grade.needs_manual_grade = False
    answer = answer_cell_before(source_nb, finding.grade_id)
    if answer:
        comment = gb.find_comment(answer, notebook, assignment, student)
        line = (
            f"{AUDIT_TAG} {finding.grade_id}: tampering suspected: the check did not report "
            f"success ({', '.join(finding.missing)}); the test cell's points were set to 0."
        )
        comment.manual_comment = "\n".join(x for x in (comment.manual_comment, line) if x)
    gb.db.commit()
