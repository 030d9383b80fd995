"""The grading protocol in a real, sandboxed Jupyter kernel, as ``course autograde`` runs it.

A notebook with the locked setup cell, hostile answer cells and test cells goes through
``GradedExecute`` (the worker's execute preprocessor) with the kernel under bubblewrap:
the test cells' checks run in THIS process against the kernel, so a wrong answer fails
with the genuine message whatever the kernel does to its own Python (monkeypatched numpy,
a rebound ``AssertionError``, swallowed exceptions, forged success lines, a fake
``grader_tests``), a correct one passes, and every verdict is written outside the kernel.
"""

from __future__ import annotations

import json
import tempfile

import nbformat
import pytest

from course_utils.instructor.execute import GradedExecute
from course_utils.instructor.sandbox import bwrap_problem

pytestmark = pytest.mark.slow

SETUP = "import numpy as np\nfrom grader_tests import welcome"
CORRECT = "def accuracy(scores, y):\n    return float(np.mean(np.argmax(scores, axis=1) == y))"
TEST = "welcome.check_accuracy(accuracy)\nwelcome.check_accuracy_hidden(accuracy)"

HOSTILE = (
    "import builtins, sys, types\n"
    "np.allclose = lambda *a, **k: True\n"
    "class FakeAssertionError(Exception): pass\n"
    "builtins.AssertionError = FakeAssertionError\n"
    "forged = lambda *a, **k: print('✔ check_accuracy passed')\n"
    "get_ipython().set_custom_exc((BaseException,), forged)\n"
    "fake = types.ModuleType('grader_tests'); fake.__path__ = []\n"
    "fake.welcome = types.SimpleNamespace(check_accuracy=print, check_accuracy_hidden=print)\n"
    "sys.modules['grader_tests'] = fake; sys.modules['grader_tests.welcome'] = fake.welcome\n"
    "welcome = fake.welcome  # the name the test cell uses\n"
    "def accuracy(scores, y):\n    return 0.5\n"
    "print('✔ check_accuracy passed')"
)


def _cell(source: str, grade_id: str | None = None, *, test: bool = False, answer=False):
    cell = nbformat.v4.new_code_cell(source)
    if grade_id:
        cell.metadata["nbgrader"] = {
            "grade": test,
            "solution": answer,
            "locked": not answer,
            "grade_id": grade_id,
            "schema_version": 3,
            **({"points": 1} if test else {}),
        }
    return cell


def _run(cells, sandbox: bool):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "nn-course", "display_name": "nn-course"}
    nb.cells = cells
    run_dir = tempfile.mkdtemp(prefix="nnc-")
    verdicts = tempfile.mkdtemp()
    pre = GradedExecute(
        timeout=120,
        kernel_name="nn-course",
        socket_dir=run_dir,
        verdict_dir=verdicts,
        sandbox=sandbox,
    )
    resources = {"metadata": {"path": tempfile.mkdtemp()}, "unique_key": "nb"}
    nb, _ = pre.preprocess(nb, resources)
    with open(f"{verdicts}/nb.verdicts.json") as fh:
        return nb, {v["grade_id"]: v for v in json.load(fh)}


@pytest.mark.parametrize("sandbox", [True, False], ids=["sandboxed", "unsandboxed"])
def test_verdicts_come_from_the_grader_not_from_the_kernel(sandbox):
    if sandbox and bwrap_problem():
        pytest.skip(f"no bubblewrap here: {bwrap_problem()}")
    cells = [
        _cell(SETUP, "setup"),
        _cell(HOSTILE, "answer_bad", answer=True),
        _cell(TEST, "test_bad", test=True),
        _cell(CORRECT, "answer_good", answer=True),
        _cell(TEST, "test_good", test=True),
    ]
    nb, verdicts = _run(cells, sandbox)
    assert verdicts["test_bad"]["passed"] is False
    error = verdicts["test_bad"]["error"]
    assert error["ename"] == "AssertionError"
    assert "check_accuracy: `accuracy(scores, y)` on the 7-row example" in error["evalue"]
    assert verdicts["test_good"]["passed"] is True
    assert verdicts["test_good"]["stdout"].splitlines() == [
        "✔ check_accuracy passed",
        "✔ check_accuracy_hidden passed",
    ]
    # The cell outputs nbgrader scores are the grader's: an error for the wrong answer.
    bad = nb.cells[2].outputs
    assert [o.output_type for o in bad] == ["error"] and bad[0].ename == "AssertionError"
    assert not any(o.get("name") == "stderr" for c in nb.cells for o in c.get("outputs", []))


def test_the_sandbox_hides_the_course_and_the_network():
    if bwrap_problem():
        pytest.skip(f"no bubblewrap here: {bwrap_problem()}")
    probe = (
        "import os, socket, course_utils\n"
        "from pathlib import Path\n"
        "repo = Path(course_utils.__file__).resolve().parents[1]\n"
        "print('solutions', (repo / 'solutions').exists())\n"
        "print('grader', (repo / 'grader_tests' / 'welcome.py').read_text()[:40])\n"
        "print('uid', os.getuid(), 'pids', sorted(p for p in os.listdir('/proc') if p.isdigit()))\n"
        "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=2); print('net yes')\n"
        "except OSError as exc:\n    print('net no')\n"
        "try:\n    open(course_utils.__file__, 'a'); print('write yes')\n"
        "except OSError:\n    print('write no')\n"
    )
    nb, _ = _run([_cell(probe)], sandbox=True)
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert "solutions False" in text
    assert "At grading time the checks run in the" in text  # the stub, not the checks
    assert "uid 65534 pids ['1', '2']" in text
    assert "net no" in text and "write no" in text
