"""nbgrader's ``Execute`` preprocessor, made to survive a kernel that dies mid-notebook.

nbgrader 0.9 lets ``DeadKernelError`` (a student's ``os._exit(1)``, a segfault, a kernel
killed by the memory watchdog) escape ``Execute``: the whole notebook then counts as failed
and its executed copy is deleted, so the points a student earned before the crash are lost
and nothing records where it happened. ``CrashSafeExecute`` catches that one error and
writes it into the notebook instead:

- the cell that was running gets an error output ``KernelDied``;
- every later graded cell gets an error output ``NotExecuted``: a test cell that never ran
  has no output at all, and ``nbgrader.utils.determine_grade`` would give it FULL points.

Test cells that ran before the crash keep their real outputs (and are audited like any
other). The worker configuration of ``course autograde`` puts this class in place of
``Execute`` (``Autograde.autograde_preprocessors``); every ``Execute`` option
(``timeout``, ``kernel_name``...) still applies because traitlets config follows subclasses.
"""

from __future__ import annotations

from nbclient.exceptions import DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import Execute

KERNEL_DIED = "KernelDied"
NOT_EXECUTED = "NotExecuted"


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(
        output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
    )


def mark_dead_kernel(nb: NotebookNode, index: int | None, reason: str) -> None:
    """Record, in ``nb``, that the kernel died while running cell ``index`` (0-based).

    ``index=None`` means it died before the first cell ran: every graded cell is marked.
    """
    start = 0 if index is None else index
    where = "before the first cell" if index is None else f"in cell {index + 1}"
    if index is not None and index < len(nb.cells):
        cell = nb.cells[index]
        if cell.cell_type == "code":
            cell.setdefault("outputs", []).append(
                _error(KERNEL_DIED, f"the kernel died while running this cell ({reason})")
            )
        start = index + 1
    for cell in nb.cells[start:]:
        if cell.cell_type == "code" and utils.is_grade(cell):
            cell["outputs"] = [_error(NOT_EXECUTED, f"not run: the kernel died {where} ({reason})")]


class CrashSafeExecute(Execute):
    """``Execute`` that turns a dead kernel into error outputs instead of a lost notebook."""

    _course_cell_index: int | None = None

    def preprocess_cell(self, cell, resources, index):
        self._course_cell_index = index
        return super().preprocess_cell(cell, resources, index)

    def preprocess(self, nb, resources=None, km=None):
        self._course_cell_index = None
        try:
            return super().preprocess(nb, resources, km)
        except DeadKernelError as exc:
            index = self._course_cell_index
            self.log.error("The kernel died in cell %s: %s", index, exc)
            mark_dead_kernel(nb, index, str(exc) or "kernel died")
            return nb, resources if resources is not None else {}
