"""A failing check shows the student the test cell's line and the message, not the grader.

In a real course kernel, and in ``nbgrader validate`` (what the Validate button runs), the
traceback of a failing check has no frame from ``course_utils/grading`` or
``grader_tests``, shows the test cell's own line, ends with the check's message wrapped at
``WIDTH`` columns, and keeps the exception's message (``evalue``) exactly as the check
raised it. An exception from the student's answer still shows the answer's line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from course_utils.grading.shown_failure import WIDTH, wrap_message
from grader_tests import welcome

KERNEL = "nn-course"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
SETUP = "import numpy as np\n\nfrom grader_tests import welcome"
WRONG = "def accuracy(scores, y):\n    return float(np.mean(np.argmin(scores, axis=1) == y))"
RAISES = (
    "def accuracy(scores, y):\n    pred = np.argmax(scores, axis=2)\n"
    "    return float(np.mean(pred == y))"
)
TEST = (
    "# Test: accuracy (2 points)\nfrom grader_tests import welcome\n\n"
    "welcome.check_accuracy(accuracy)"
)
GRADER_PATHS = ("course_utils/grading", "grader_tests/", "_core.py")


def local_message(answer: str) -> str:
    namespace: dict = {}
    exec(SETUP + "\n" + answer, namespace)  # noqa: S102
    with pytest.raises(AssertionError) as info:
        welcome.check_accuracy(namespace["accuracy"])
    return str(info.value)


def _meta(**kw) -> dict:
    return {"nbgrader": {"schema_version": 3, "grade": False, "solution": False,
                         "locked": False, **kw}}  # fmt: skip


def notebook(answer: str):
    cells = [
        nbformat.v4.new_code_cell(SETUP, metadata=_meta(grade_id="setup", locked=True)),
        nbformat.v4.new_code_cell(answer, metadata=_meta(grade_id="accuracy", solution=True)),
        nbformat.v4.new_code_cell(
            TEST, metadata=_meta(grade_id="test_accuracy", grade=True, locked=True, points=2)
        ),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata.kernelspec = {"name": KERNEL, "display_name": "Python 3 (nn-course)",
                              "language": "python"}  # fmt: skip
    return nb


def kernel_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}


def assert_short(text: str, message: str, answer_line: str | None = None) -> None:
    for path in GRADER_PATHS:
        assert path not in text, f"a grader frame is shown ({path}):\n{text}"
    assert "----> 4 welcome.check_accuracy(accuracy)" in text, text
    shown = f"AssertionError: {wrap_message(message, first=len('AssertionError: '))}"
    assert text.rstrip().endswith(shown), text
    assert max(len(line) for line in shown.splitlines()) <= WIDTH, shown
    if answer_line:
        assert answer_line in text, text


@pytest.mark.parametrize(
    ("answer", "answer_line"),
    [(WRONG, None), (RAISES, "----> 2     pred = np.argmax(scores, axis=2)")],
    ids=["wrong", "raises"],
)
def test_a_failing_check_in_the_kernel_shows_the_cell_line_and_the_message(answer, answer_line):
    nbclient = pytest.importorskip("nbclient")
    message = local_message(answer)
    nb = notebook(answer)
    nbclient.NotebookClient(nb, timeout=120, kernel_name=KERNEL, allow_errors=True).execute(
        env=kernel_env()
    )
    [error] = [o for o in nb.cells[2].outputs if o.output_type == "error"]
    assert error.ename == "AssertionError"
    assert error.evalue == message  # the message itself is not changed, only drawn wrapped
    assert_short(ANSI.sub("", "\n".join(error.traceback)), message, answer_line)


def test_validate_shows_the_cell_line_and_the_message(tmp_path):
    path = tmp_path / "welcome.ipynb"
    nbformat.write(notebook(WRONG), path)
    nbgrader = Path(sys.executable).with_name("nbgrader")
    env = kernel_env()
    env["PATH"] = f"{nbgrader.parent}{os.pathsep}{env.get('PATH', '')}"
    out = subprocess.run(
        [str(nbgrader), "validate", str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    text = ANSI.sub("", out.stdout)
    assert "VALIDATION FAILED" in text, out.stdout + out.stderr
    error = text.split("The error was:\n", 1)[1].split("\n=====", 1)[0]
    assert "..." not in error, f"validate cut a line:\n{error}"
    assert_short(textwrap.dedent(error), local_message(WRONG))
