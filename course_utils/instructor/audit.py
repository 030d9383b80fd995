"""Check, after the merge, that every test cell which earned points has a passing verdict.

nbgrader awards a test cell its points when the cell's outputs show no error and no
stderr. In ``course autograde`` those outputs are written by the grader
(``execute.GradedExecute``), which also records each test cell's verdict in a file the
student's kernel cannot reach. This audit compares the two: a test cell that earned
points in the gradebook without a passing verdict for it (none recorded, or a failure)
gets ``manual_score = 0`` and a comment on the answer cell above it. With the grader
writing the outputs this should never fire; it guards the step from the executed
notebook to the gradebook (nbgrader's own scoring and everything between).

Overrides made here are tagged (``AUDIT_TAG``) so that the next ``course autograde`` run
removes them before re-grading, while scores an instructor entered by hand are kept.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from .execute import KERNEL_DIED, NOT_EXECUTED

AUDIT_TAG = "[autograde audit]"
_AUDIT_LINE = re.compile(re.escape(AUDIT_TAG) + r" (\S+):")


@dataclass
class Finding:
    grade_id: str
    why: str


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


def read_verdicts(path: Path) -> dict[str, dict]:
    """grade_id -> verdict, from a worker's ``<notebook>.verdicts.json`` ({} if unreadable)."""
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return (
        {
            v["grade_id"]: v
            for v in items
            if isinstance(v, dict) and isinstance(v.get("grade_id"), str)
        }
        if isinstance(items, list)
        else {}
    )


def audit_scores(
    source_nb: Path, verdicts: dict[str, dict], earned: dict[str, float]
) -> list[Finding]:
    """Test cells of ``source_nb`` that earned points without a passing verdict.

    Args:
        source_nb: the instructor's notebook (which cells are test cells).
        verdicts: grade_id -> the worker's verdict (``read_verdicts``).
        earned: grade_id -> auto_score from the gradebook.
    """
    findings = []
    for grade_id in original_test_sources(source_nb):
        if not earned.get(grade_id):
            continue
        verdict = verdicts.get(grade_id)
        if verdict is None:
            findings.append(Finding(grade_id, "no verdict from the grader for this test cell"))
        elif verdict.get("passed") is not True:
            findings.append(Finding(grade_id, "points without a passing verdict"))
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
            f"{AUDIT_TAG} {finding.grade_id}: {finding.why}; the test cell's points were set to 0."
        )
        comment.manual_comment = "\n".join(x for x in (comment.manual_comment, line) if x)
    gb.db.commit()
