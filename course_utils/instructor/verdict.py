"""Run one test cell's checks in the grader process, against the student's kernel.

``run_test_cell(source, link)`` executes the ORIGINAL test cell (restored by nbgrader from
the gradebook, hidden tests included) here, in the grader: ``from grader_tests import
welcome`` imports the real checks, and every other name the cell reads (``accuracy``,
``Matmul``, ``net``) is looked up in the student's kernel and arrives as a proxy (see
``course_utils.grading.remote``). The result is a ``Verdict``: whether every check passed,
the output lines (``✔ check_x passed``) and the failure message, as the student will read
them in the feedback. No code of the student's runs in this process, and nothing the
kernel prints decides the verdict.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import traceback
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from course_utils.grading.remote import KernelLink, KernelLost, Remote, remote_description

__all__ = ["Verdict", "run_test_cell"]

_MISSING = object()


@dataclass
class Verdict:
    """The outcome of one test cell, decided in the grader."""

    grade_id: str
    passed: bool
    stdout: str = ""
    error: dict | None = None  # {"ename", "evalue", "traceback"} when it did not pass
    checks: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


class _KernelNames(Mapping):
    """The test cell's local namespace: its own assignments, else the kernel's globals."""

    def __init__(self, link: KernelLink):
        self.link = link
        self.own: dict[str, Any] = {}
        self.remote: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name in self.own:
            return self.own[name]
        if name not in self.remote:
            try:
                value = self.link.lookup(name)
            except NameError:
                value = _MISSING
            # A module in the kernel (a stub of grader_tests, numpy...) is never called
            # through: a test cell's modules are the grader's own (``preamble``).
            if isinstance(value, Remote) and remote_description(value).get("kind") == "module":
                value = _MISSING
            self.remote[name] = value
        if self.remote[name] is _MISSING:
            raise KeyError(name)
        return self.remote[name]

    def __setitem__(self, name: str, value: Any) -> None:
        self.own[name] = value

    def __delitem__(self, name: str) -> None:
        del self.own[name]

    def __iter__(self):
        return iter(self.own)

    def __len__(self) -> int:
        return len(self.own)


def _failed_line(source: str, exc: BaseException) -> str:
    """The test cell's own line that was running when ``exc`` was raised."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<test cell>"]
    if not frames:
        return ""
    number = frames[-1].lineno or 0
    lines = source.splitlines()
    text = lines[number - 1].strip() if 0 < number <= len(lines) else ""
    return f"test cell, line {number}: {text}"


def _error(source: str, exc: BaseException) -> dict:
    if isinstance(exc, KernelLost):
        ename, evalue = "KernelLost", str(exc)
    else:
        ename = getattr(exc, "remote_type", None) or type(exc).__name__
        evalue = str(exc)
    where = _failed_line(source, exc)
    lines = ([where] if where else []) + [f"{ename}: {evalue}"]
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": lines}


def imports_of(sources: list[str]) -> str:
    """The top-level import statements of ``sources`` (the notebook's locked cells)."""
    lines = []
    for source in sources:
        try:
            tree = ast.parse(
                "\n".join(
                    "" if ln.lstrip().startswith(("%", "!")) else ln for ln in source.splitlines()
                )
            )
        except SyntaxError:
            continue
        lines += [ast.unparse(n) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    return "\n".join(lines)


def run_test_cell(grade_id: str, source: str, link: KernelLink, preamble: str = "") -> Verdict:
    """Execute the test cell ``source`` here, its free names bound to the kernel's objects.

    ``preamble`` (the imports of the notebook's locked cells, e.g. ``from grader_tests
    import numpy_layers`` in the setup cell) runs first, here, so the modules a test cell
    uses are the grader's, whatever the kernel has under those names.
    """
    checks = [
        node.func.attr
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    ]
    namespace = _KernelNames(link)
    glob = {"__builtins__": builtins, "__name__": "__grader__"}
    out = io.StringIO()
    try:
        code = compile(source, "<test cell>", "exec")
        with link, contextlib.redirect_stdout(out):
            exec(compile(preamble, "<setup>", "exec"), glob, namespace)  # noqa: S102
            exec(code, glob, namespace)  # noqa: S102  (the instructor's test cell, trusted)
    except BaseException as exc:  # noqa: BLE001  (any failure is this cell's verdict)
        return Verdict(grade_id, False, out.getvalue(), _error(source, exc), checks)
    return Verdict(grade_id, True, out.getvalue(), None, checks)
