"""nbgrader's ``Execute``, made to grade test cells outside the kernel and survive crashes.

``GradedExecute`` (the preprocessor of ``course autograde``'s workers, at the end of this
module) runs every test cell's checks in the grader process instead of the student's
kernel; ``CrashSafeExecute``, its base, keeps a notebook whose kernel dies.

nbgrader 0.9 lets ``DeadKernelError`` (a student's ``os._exit(1)``, a segfault, a kernel
killed by the memory watchdog) escape ``Execute``: the whole notebook then counts as failed
and its executed copy is deleted, so the points a student earned before the crash are lost
and nothing records where it happened. ``CrashSafeExecute`` catches that one error and
writes it into the notebook instead:

- the cell that was running gets an error output ``KernelDied``;
- every later graded cell gets an error output ``NotExecuted``: a test cell that never ran
  has no output at all, and ``nbgrader.utils.determine_grade`` would give it FULL points.

Test cells that ran before the crash keep their real outputs (and are audited like any
other). The worker configuration of ``course autograde`` puts ``GradedExecute`` in place
of ``Execute`` (``Autograde.autograde_preprocessors``); every ``Execute`` option
(``timeout``, ``kernel_name``, ``kernel_manager_class``...) still applies because traitlets
config follows subclasses.
"""

from __future__ import annotations

import contextlib
import json
import socket
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

import nbformat
from nbclient.exceptions import DeadKernelError
from nbconvert.preprocessors.sanitize import SanitizeHTML
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer, Unicode

from course_utils.grading.remote import KernelLink

from .verdict import Verdict, imports_of, run_test_cell

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
    # A cell that floods its output (100 MB printed) can take longer than nbclient's 4 s to
    # drain on a busy machine, and nbgrader then drops the whole notebook: its grades too.
    # Wait longer, and on a timeout keep what arrived (test cells are graded by the grader).
    iopub_timeout = Integer(30).tag(config=True)
    raise_on_iopub_timeout = Bool(False).tag(config=True)

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


# ---------------------------------------------------------------------------------------
# Test cells graded outside the kernel
# ---------------------------------------------------------------------------------------
SERVE = (
    "__import__('course_utils.grading.kernel_server', fromlist=['serve'])"
    ".serve({path!r}, globals())"
)
#: Seconds the checks get to finish after the kernel left ``serve`` (it hung up: they end).
BYE_SECONDS = 10


def is_test_cell(cell) -> bool:
    """An autograder test cell: a graded code cell that is not an answer cell."""
    return cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)


def locked_sources(nb) -> list[str]:
    """The instructor's read-only code cells (nbgrader restores their source)."""
    return [
        c.source
        for c in nb.cells
        if c.cell_type == "code" and utils.is_locked(c) and not is_test_cell(c)
    ]


def code_sources(nb, course_cells: Iterable[str] = ()) -> tuple[list[str], list[bool]]:
    """Every code cell but the tests, and per cell whether it is the course's own.

    The course's own: locked (nbgrader restores it), or exactly a code cell of the
    course's notebook that is not an answer (``course_cells``).
    """
    ours = {s.strip() for s in course_cells}
    cells = [c for c in nb.cells if c.cell_type == "code" and not is_test_cell(c)]
    trusted = [bool(utils.is_locked(c)) or c.source.strip() in ours for c in cells]
    return [c.source for c in cells], trusted


class GradedExecute(CrashSafeExecute):
    """``CrashSafeExecute`` whose test cells are graded by the grader, not by the kernel.

    Every other cell runs in the (sandboxed) kernel as usual. For a test cell the kernel
    is sent one line, ``serve(<socket>, globals())`` (``course_utils.grading
    .kernel_server``), while this process runs the cell's checks against it
    (``verdict.run_test_cell``) and writes the cell's outputs itself: the checks' lines,
    or their failure message. The verdicts are also kept apart, per notebook, in
    ``verdict_dir`` (outside the sandbox), for the audit.
    """

    verdict_dir = Unicode("", help="folder for <notebook>.verdicts.json").tag(config=True)
    course_cells_dir = Unicode(
        "", help="folder of <notebook>.json: the course's own code cells (write_course_cells)"
    ).tag(config=True)
    socket_dir = Unicode("", help="folder (short path) for the grader's sockets").tag(config=True)
    sandbox = Bool(False, help="run the kernel under bubblewrap (sandbox.py)").tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # nbgrader's Execute passes its kernel_manager_class as an argument, which beats
        # any configuration: choose the sandboxed one here.
        if self.sandbox:
            from .sandbox import SandboxedKernelManager

            self.kernel_manager_class = SandboxedKernelManager

    def preprocess(self, nb, resources=None, km=None):
        self._verdicts: list[dict] = []
        try:
            return super().preprocess(nb, resources, km)
        finally:
            self._write_verdicts(resources or {})

    def _write_verdicts(self, resources: dict) -> None:
        if not self.verdict_dir:
            return
        name = resources.get("unique_key") or "notebook"
        path = Path(self.verdict_dir) / f"{name}.verdicts.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self._verdicts, indent=1, ensure_ascii=True))

    def preprocess_cell(self, cell, resources, index):
        if not is_test_cell(cell):
            return super().preprocess_cell(cell, resources, index)
        self._course_cell_index = index
        verdict = self._grade(cell, resources, index)
        self._verdicts.append(verdict.to_json())
        outputs = []
        if verdict.stdout:
            outputs.append(nbformat.v4.new_output("stream", name="stdout", text=verdict.stdout))
        if verdict.error:
            outputs.append(nbformat.v4.new_output(**verdict.error))
        cell.outputs = outputs
        return cell, resources

    def _course_cells(self, resources: dict) -> list[str]:
        path = Path(self.course_cells_dir or "/nonexistent") / f"{resources.get('unique_key')}.json"
        try:
            cells = json.loads(path.read_text())
        except (OSError, ValueError):
            return []
        return [c for c in cells if isinstance(c, str)] if isinstance(cells, list) else []

    def _grade(self, cell, resources, index) -> Verdict:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell-{index}")
        # The kernel must see the socket: in the sandbox, only its run folder is shared.
        run_dir = getattr(self.km, "run_dir", None)
        folder = Path(run_dir or self.socket_dir or tempfile.mkdtemp(prefix="nnc-"))
        path = folder / f"grader-{index}.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        listener.listen(1)
        listener.settimeout(0.2)
        result: dict = {}
        connection: list[socket.socket] = []
        served = threading.Event()  # the kernel is done with the serve cell

        def accept() -> socket.socket | None:
            while not served.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return None
                conn.settimeout(None)
                return conn
            return None

        def grade() -> None:
            conn = accept()
            if conn is None:
                result["verdict"] = Verdict(
                    grade_id, False, "", _lost("the kernel never connected")
                )
                return
            connection.append(conn)
            link = KernelLink(conn, *code_sources(self.nb, self._course_cells(resources)))
            preamble = imports_of(locked_sources(self.nb))
            result["verdict"] = run_test_cell(grade_id, cell.source, link, preamble)
            link.close()

        worker = threading.Thread(target=grade, name=f"grade-{grade_id}", daemon=True)
        worker.start()
        serve = nbformat.v4.new_code_cell(SERVE.format(path=str(path)))
        try:
            super().preprocess_cell(serve, resources, index)
        finally:
            self.nb.cells[index] = cell
            served.set()
            worker.join(BYE_SECONDS)
            listener.close()
            for conn in connection:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            worker.join()
            path.unlink(missing_ok=True)
        cell.execution_count = serve.get("execution_count")
        verdict = result.get("verdict") or Verdict(grade_id, False, "", _lost("no verdict"))
        kernel_error = next((o for o in serve.outputs if o.output_type == "error"), None)
        if (
            kernel_error is not None
            and not verdict.passed
            and verdict.error["ename"] == "KernelLost"
        ):
            why = f"{kernel_error.ename}: {kernel_error.get('evalue') or ''}".strip()
            verdict.error = _lost(f"the kernel stopped while the checks ran ({why})")
        return verdict


def _lost(why: str) -> dict:
    text = f"the grader could not finish this cell's checks: {why}"
    return {
        "output_type": "error",
        "ename": "KernelLost",
        "evalue": text,
        "traceback": [f"KernelLost: {text}"],
    }


class SafeOutputs(SanitizeHTML):
    """What a student's kernel displayed, made safe to render for the instructor and student.

    The autograded notebook is shown as HTML in Formgrader (in the instructor's browser,
    next to the Jupyter token) and in the feedback file. Code outputs lose JavaScript and
    other active types; their HTML and Markdown go through bleach (no ``<script>``, no
    ``on*=`` attributes); the student's own Markdown and raw cells (those not restored from
    the instructor's source) are cleaned the same way.
    """

    # nbconvert's preprocessors are off until enabled; nbgrader's are on. This one is on.
    enabled = Bool(True).tag(config=True)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type in ("markdown", "raw") and utils.is_locked(cell):
            return cell, resources
        return super().preprocess_cell(cell, resources, cell_index)
