"""The grading protocol in a real Jupyter kernel, as nbgrader runs it.

A notebook with the locked setup cell, a hostile answer cell (monkeypatches numpy and
``builtins.AssertionError``, tries to replace the check) and test cells is executed with
``COURSE_GRADER_KEY`` set: the wrong answer must still fail with the genuine
AssertionError, a correct one must print a keyed marker, the key must be gone from the
kernel's environment, ``forbid_calls`` must read the source of functions defined in cells,
and no cell may write to stderr.
"""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

from course_utils.grading import expected_marker, verify_markers

KEY = "kernel-test-key-123"

CELLS = [
    # 0: locked setup cell
    "import os\nos.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')\nimport numpy as np\n"
    "from grader_tests import welcome",
    # 1: hostile answer cell
    "import builtins\n"
    "np.allclose = lambda *a, **k: True\n"
    "class FakeAssertionError(Exception): pass\n"
    "builtins.AssertionError = FakeAssertionError\n"
    "try:\n"
    "    welcome.check_accuracy = lambda f: print('✔ check_accuracy passed')\n"
    "except AttributeError as exc:\n"
    "    print('sealed:', exc)\n"
    "def accuracy(scores, y):\n"
    "    return 0.5",
    # 2: test cell (must fail)
    "welcome.check_accuracy(accuracy)",
    # 3: a correct answer, then its test cell
    "def accuracy(scores, y):\n    return float(np.mean(np.argmax(scores, axis=1) == y))",
    "welcome.check_accuracy(accuracy)\nwelcome.check_accuracy_hidden(accuracy)",
    # 5: key hygiene
    "print('env:', 'COURSE_GRADER_KEY' in os.environ)\n"
    "print('proc:', b'" + KEY + "' in open('/proc/self/environ', 'rb').read())",
    # 6: a cell-defined alias and a function using it
    "total = np.sum\ndef my_sum(x):\n    return total(x)",
    "from course_utils.grading import find_forbidden_calls\n"
    "print(find_forbidden_calls(my_sum, ['np.sum']))",
]


def test_protocol_in_a_real_kernel(monkeypatch, repo_root):
    monkeypatch.setenv("COURSE_GRADER_KEY", KEY)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(repo_root)}},
    )
    client.execute()
    outputs = [cell.outputs for cell in nb.cells]

    def text(i: int) -> str:
        return "".join(o.get("text", "") for o in outputs[i] if o.output_type == "stream")

    for i, outs in enumerate(outputs):
        assert not [o for o in outs if o.get("name") == "stderr"], (i, outs)

    assert "sealed: grader_tests.welcome is read-only" in text(1)
    errors = [o for o in outputs[2] if o.output_type == "error"]
    assert errors and errors[0].ename == "AssertionError"
    assert "check_accuracy: `accuracy(scores, y)` on the 7-row example" in errors[0].evalue
    assert verify_markers(text(2), ["check_accuracy"], KEY) == ["check_accuracy"]

    assert text(4).splitlines() == [
        expected_marker("check_accuracy", KEY),
        expected_marker("check_accuracy_hidden", KEY),
    ]
    assert "env: False" in text(5) and "proc: False" in text(5)
    assert "`total` is np.sum" in text(7)
