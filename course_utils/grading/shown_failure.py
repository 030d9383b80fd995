"""How a failing check looks in the student's notebook: the test cell's line, then the message.

A check raises its ``AssertionError`` from inside the grading code, so IPython's traceback
would show frames of ``course_utils/grading/_core.py`` (and of ``grader_tests``) between
the test cell's line and the message that explains the bug. ``attach(error)`` gives the
error a ``_render_traceback_`` method, the hook IPython (and so ipykernel, JupyterLab and
``nbgrader validate``) calls to draw an exception: it draws the usual IPython traceback of
that error, less every frame inside the grader, with the message's long lines wrapped at
``WIDTH`` columns (the Validate dialog shows the traceback as preformatted text, unwrapped).

Only the drawing changes: the exception, its type, its message (``str(error)``) and its
``__cause__`` (the student's own exception, when their code raised) are what the check
raised; outside IPython nothing calls the hook. Frames of the student's code and of the
libraries it called stay, so an exception raised in an answer still shows where.
"""

from __future__ import annotations

import os
import sys
import textwrap
import types
from pathlib import Path

__all__ = ["WIDTH", "attach", "grader_file", "without_grader_frames", "wrap_message"]

WIDTH = 80  # nbgrader validate cuts lines at 87 columns, after its 4-column indent

_GRADING_DIR = str(Path(__file__).resolve().parent) + os.sep


def _grader_dirs() -> list[str]:
    dirs = [_GRADING_DIR]
    tests = sys.modules.get("grader_tests")
    for folder in getattr(tests, "__path__", None) or []:
        dirs.append(str(Path(folder).resolve()) + os.sep)
    return dirs


def grader_file(filename: str) -> bool:
    """Is ``filename`` a module of the grader (``course_utils.grading``, ``grader_tests``)?"""
    try:
        path = str(Path(filename).resolve())
    except (OSError, ValueError):
        return False
    return any(path.startswith(d) for d in _grader_dirs())


def without_grader_frames(tb: types.TracebackType | None) -> types.TracebackType | None:
    """A copy of the traceback chain ``tb`` without the grader's frames."""
    kept = []
    while tb is not None:
        if not grader_file(tb.tb_frame.f_code.co_filename):
            kept.append(tb)
        tb = tb.tb_next
    chain = None
    for entry in reversed(kept):
        chain = types.TracebackType(chain, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return chain


def wrap_message(text: str, width: int = WIDTH, first: int = 0) -> str:
    """``text`` with every line longer than ``width`` wrapped (continuations indented).

    ``first``: columns already taken on the first line (by ``AssertionError: ``).
    """
    lines = []
    for number, line in enumerate(text.split("\n")):
        taken = first if number == 0 else 0
        if taken + len(line) <= width:
            lines.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        wrapped = textwrap.wrap(
            "\0" * taken + line,
            width=width,
            subsequent_indent=indent + "  ",
            break_long_words=False,
            break_on_hyphens=False,
        )
        lines.extend([wrapped[0][taken:], *wrapped[1:]])
    return "\n".join(lines)


def _render(error: BaseException) -> list[str]:
    from IPython import get_ipython

    shell = get_ipython()
    formatter = shell.InteractiveTB
    try:
        shown = type(error)(wrap_message(str(error), first=len(type(error).__name__) + 2))
        cause = error.__cause__
        if cause is not None and cause.__traceback__ is not None:
            cause.__traceback__ = without_grader_frames(cause.__traceback__)
        shown.__cause__ = cause
        shown.__suppress_context__ = True
        tb = without_grader_frames(error.__traceback__)
        return formatter.structured_traceback(type(error), shown, tb)
    except Exception:  # noqa: BLE001  (never lose the failure: draw it as IPython would)
        return formatter.structured_traceback(type(error), error, error.__traceback__)


def attach(error: BaseException) -> BaseException:
    """Give ``error`` the short drawing in IPython; return it."""
    error._render_traceback_ = lambda: _render(error)
    return error
