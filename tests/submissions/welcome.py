"""Submissions of 00_welcome, good, broken and hostile, each with the score it deserves.

Every case is built from the RELEASED notebook (``notebooks/00_welcome/welcome.ipynb``)
by replacing the answer cell and/or editing cells, so the catalogue follows the notebook
as it evolves. ``write_case`` lays a case out as ``submitted/<student>/00_welcome/``.
Scores are out of 2 (the ``test_accuracy`` cell).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

ASSIGNMENT = "00_welcome"
NOTEBOOK = "welcome"
ANSWER, TEST = "accuracy", "test_accuracy"
MAX_SCORE = 2.0

CORRECT = '''\
def accuracy(scores, y):
    """Fraction of rows whose highest score is at the true label."""
    return float(np.mean(np.argmax(scores, axis=1) == y))
'''
# Wrong everywhere: returns the error rate.
WRONG = """\
def accuracy(scores, y):
    return float(np.mean(np.argmax(scores, axis=1) != y))
"""
# Right on the visible 7-row example only: N hard-coded from it.
PARTLY = """\
def accuracy(scores, y):
    return float(np.sum(np.argmax(scores, axis=1) == y) / 7)
"""


def _index(nb: NotebookNode, grade_id: str) -> int:
    for i, cell in enumerate(nb.cells):
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return i
    raise KeyError(grade_id)


def answer(src: str) -> Callable[[NotebookNode], NotebookNode]:
    """Replace the answer cell's source."""

    def build(nb: NotebookNode) -> NotebookNode:
        nb.cells[_index(nb, ANSWER)].source = src
        return nb

    return build


def then(*steps: Callable[[NotebookNode], NotebookNode]):
    def build(nb: NotebookNode) -> NotebookNode:
        for step in steps:
            nb = step(nb)
        return nb

    return build


def edit_test(src: str):
    def build(nb):
        nb.cells[_index(nb, TEST)].source = src
        return nb

    return build


def delete_test(nb):
    del nb.cells[_index(nb, TEST)]
    return nb


def insert_before_test(src: str):
    def build(nb):
        nb.cells.insert(_index(nb, TEST), nbformat.v4.new_code_cell(src))
        return nb

    return build


def insert_before_setup(src: str):
    def build(nb):
        nb.cells.insert(_index(nb, "setup"), nbformat.v4.new_code_cell(src))
        return nb

    return build


def insert_markdown_after_answer(src: str):
    def build(nb):
        nb.cells.insert(_index(nb, ANSWER) + 1, nbformat.v4.new_markdown_cell(src))
        return nb

    return build


def insert_after_test(src: str):
    def build(nb):
        nb.cells.insert(_index(nb, TEST) + 1, nbformat.v4.new_code_cell(src))
        return nb

    return build


def unchanged(nb):
    return nb


@dataclass(frozen=True)
class Case:
    """One student's submission and what grading must make of it."""

    student: str
    score: float
    build: Callable[[NotebookNode], NotebookNode | bytes] | None  # None: no notebook
    what: str
    problems: tuple[str, ...] = ()  # substrings of the autograde table's problems
    filename: str = f"{NOTEBOOK}.ipynb"
    timestamp: str | None = None
    files: tuple[tuple[str, str], ...] = ()  # extra files in the submission folder


CASES: list[Case] = [
    Case("correct", 2, answer(CORRECT), "the reference answer"),
    Case("blank", 0, unchanged, "the released notebook, untouched"),
    Case("partly", 0, answer(PARTLY), "passes the visible check, fails the hidden one"),
    Case(
        "raises",
        0,
        answer("import numpy as np\n\nratio = 1 / 0\n\n" + CORRECT),
        "the answer cell raises before defining accuracy",
    ),
    Case(
        "noisy",
        2,
        answer(
            "import os\nimport sys\nimport warnings\n\nimport tensorflow as tf\n\n"
            "print('debugging to stderr', file=sys.stderr)\n"
            "warnings.warn('a UserWarning from the answer cell')\n"
            "tf.get_logger().warning('a TensorFlow warning from the answer cell')\n"
            "os.write(2, b'W0000 00:00:1700000000.000000 1 fake.cc:1] C-level log line\\n')\n\n"
            "def accuracy(scores, y):\n"
            "    print('accuracy called', file=sys.stderr)\n"
            "    return float(np.mean(np.argmax(scores, axis=1) == y))\n"
        ),
        "correct, with stderr, a warning and a TF log from the answer cell",
    ),
    Case(
        "test_pass",
        0,
        then(answer(PARTLY), edit_test("pass")),
        "test cell replaced by `pass` (restored from the gradebook, hidden check included)",
    ),
    Case(
        "test_deleted",
        2,
        then(answer(CORRECT), delete_test),
        "test cell deleted (re-added by add_missing_cells), correct answer",
    ),
    Case(
        "fake_module",
        0,
        then(
            answer(WRONG),
            insert_before_test(
                "import sys, types\n"
                "fake = types.ModuleType('grader_tests')\n"
                "fake.__path__ = []\n"
                "ok = lambda name: lambda f: print('\\u2714', name, 'passed')\n"
                "fake.welcome = types.SimpleNamespace(\n"
                "    check_accuracy=ok('check_accuracy'),\n"
                "    check_accuracy_hidden=ok('check_accuracy_hidden'),\n"
                ")\n"
                "sys.modules['grader_tests'] = fake\n"
                "sys.modules['grader_tests.welcome'] = fake.welcome\n"
            ),
        ),
        "extra cell before the test swaps in a fake grader_tests package (forged markers)",
    ),
    Case(
        "infinite_loop",
        0,
        answer(
            "while True:  # never ends: the per-cell timeout interrupts it\n    pass\n\n" + CORRECT
        ),
        "an infinite loop in the answer cell (per-cell timeout; accuracy never defined)",
        ("timeout in cell",),
    ),
    Case(
        "os_exit",
        0,
        answer("import os\n\nos._exit(1)\n"),
        "the answer cell kills the kernel",
        ("kernel died in cell",),
    ),
    Case(
        "exit_after_test",
        2,
        then(answer(CORRECT), insert_after_test("import os\n\nos._exit(1)\n")),
        "correct, then a cell after the test kills the kernel: points earned are kept",
        ("kernel died in cell",),
    ),
    Case(
        "memory_hog",
        0,
        answer(
            "import numpy as np\n\nhoard = []\nwhile True:\n"
            "    hoard.append(np.ones(50_000_000))  # 400 MB a step, until the cap\n\n" + CORRECT
        ),
        "allocates until the memory cap stops it",
        ("out of memory",),
    ),
    Case(
        "patch_check",
        0,
        answer(
            WRONG + "\nimport grader_tests.welcome\n\n"
            "grader_tests.welcome.check_accuracy = lambda *a: None\n"
            "grader_tests.welcome.check_accuracy_hidden = lambda *a: None\n"
        ),
        "replaces the checks (sealed module), wrong answer",
    ),
    Case(
        "patch_allclose",
        0,
        answer(
            WRONG + "\nimport numpy\n\nnumpy.allclose = lambda *a, **k: True\n"
            "numpy.isclose = lambda *a, **k: True\n"
        ),
        "numpy.allclose always True, wrong answer",
    ),
    Case(
        "patch_assertion",
        0,
        answer(
            WRONG + "\nimport builtins\n\n"
            "class AssertionError(Exception):\n    pass\n\n"
            "builtins.AssertionError = AssertionError\n"
        ),
        "AssertionError redefined in builtins and the namespace, wrong answer",
    ),
    Case(
        "custom_exc",
        0,
        answer(WRONG + "\nget_ipython().set_custom_exc((Exception,), lambda *a, **k: None)\n"),
        "swallows every exception with set_custom_exc, wrong answer",
    ),
    Case(
        "swallow_transform",
        0,
        answer(
            WRONG + "\n\ndef _swallow(lines):\n"
            "    body = ['    ' + line for line in lines] or ['    pass\\n']\n"
            "    return ['try:\\n', *body, '\\nexcept BaseException:\\n', '    pass\\n']\n\n"
            "get_ipython().input_transformers_post.append(_swallow)\n"
        ),
        "wraps every later cell in try/except: the test cell 'succeeds' silently",
    ),
    Case(
        "bad_json",
        0,
        lambda nb: b'{"cells": [',
        "a notebook file that is not JSON",
        ("invalid JSON",),
    ),
    Case(
        "renamed",
        2,
        answer(CORRECT),
        "correct, saved as 'welcome (1).ipynb'",
        ("renamed",),
        filename="welcome (1).ipynb",
    ),
    Case("missing", 0, None, "a submission folder without the notebook", ("notebook missing",)),
    Case(
        "late",
        2,
        answer(CORRECT),
        "correct, submitted after the due date",
        ("late by",),
        timestamp="2030-01-02 00:00:00 UTC",
    ),
]

#: The due date the pipeline test gives the assignment (``late`` is one day after).
DUEDATE = "2030-01-01 00:00:00 UTC"


def write_case(case: Case, released: Path, course_root: Path) -> Path:
    """Write ``case`` to ``course_root/submitted/<student>/00_welcome/``; return the folder."""
    folder = course_root / "submitted" / case.student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    if case.build is None:
        (folder / "notes.txt").write_text("I could not find the notebook, sorry.\n")
    else:
        nb = case.build(copy.deepcopy(nbformat.read(released, as_version=4)))
        if isinstance(nb, bytes):
            (folder / case.filename).write_bytes(nb)
        else:
            nbformat.write(nb, folder / case.filename)
    if case.timestamp:
        (folder / "timestamp.txt").write_text(case.timestamp + "\n")
    for name, text in case.files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder
