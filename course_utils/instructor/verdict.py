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

from course_utils.grading.remote import KernelLink, KernelLost

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
                self.remote[name] = self.link.lookup(name)
            except NameError:
                self.remote[name] = _MISSING
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


def run_test_cell(grade_id: str, source: str, link: KernelLink) -> Verdict:
    """Execute the test cell ``source`` here, its free names bound to the kernel's objects."""
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
            exec(code, glob, namespace)  # noqa: S102  (the instructor's test cell, trusted)
    except BaseException as exc:  # noqa: BLE001  (any failure is this cell's verdict)
        return Verdict(grade_id, False, out.getvalue(), _error(source, exc), checks)
    return Verdict(grade_id, True, out.getvalue(), None, checks)
