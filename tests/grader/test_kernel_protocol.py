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


# The 02 notebook's TwoLayerNet looks its layers up by their global names; Log is wrong.
LAYERS_SETUP = (
    "import numpy as np\nfrom course_utils.layers import Layer\n"
    "from grader_tests import numpy_layers"
)
LAYERS_ANSWER = """\
class Matmul(Layer):
    def __init__(self, w):
        super().__init__()
        self.params["w"] = w
    def forward(self, x):
        self.x = x
        return x @ self.params["w"]
    def backward(self, dout):
        self.grads["w"] = self.x.T @ dout
        return dout @ self.params["w"].T
class Relu(Layer):
    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)
    def backward(self, dout):
        return dout * (self.x > 0)
class Softmax(Layer):
    def forward(self, x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        self.s = e / e.sum(axis=1, keepdims=True)
        return self.s
    def backward(self, dout):
        return self.s * (dout - np.sum(dout * self.s, axis=1, keepdims=True))
class Log(Layer):
    def forward(self, x):
        self.x = x
        return np.log(x)
    def backward(self, dout):
        return dout * np.log(self.x)  # wrong: the forward value, not dout / x
def append_ones(x):
    return np.hstack([x, np.ones((len(x), 1), dtype=x.dtype)])
class TwoLayerNet:
    def __init__(self, D, H, C, seed=0, dtype=np.float32):
        rng = np.random.default_rng(seed)
        w1 = np.zeros((D + 1, H), dtype=dtype)
        w1[:D] = rng.standard_normal((D, H)) * np.sqrt(2.0 / D)
        w2 = np.zeros((H + 1, C), dtype=dtype)
        w2[:H] = rng.standard_normal((H, C)) * np.sqrt(2.0 / H)
        self.params = {"w1": w1, "w2": w2}
        self.grads = {}
        self.mul1, self.relu, self.mul2 = Matmul(w1), Relu(), Matmul(w2)
        self.softmax, self.log = Softmax(), Log()
    def forward(self, x):
        h = self.relu.forward(self.mul1.forward(append_ones(x)))
        return self.log.forward(self.softmax.forward(self.mul2.forward(append_ones(h))))
    def backward(self, dlog_probs):
        dscores = self.softmax.backward(self.log.backward(dlog_probs))
        dh = self.mul2.backward(dscores)[:, :-1]
        dx = self.mul1.backward(self.relu.backward(dh))[:, :-1]
        self.grads["w1"] = self.mul1.grads["w"]
        self.grads["w2"] = self.mul2.grads["w"]
        return dx
"""


def test_a_later_task_is_graded_with_reference_earlier_ones_in_the_kernel():
    """The ``rebind`` request: TwoLayerNet is scored with the course's layers bound to the
    notebook's names (Log's bug costs only Log's cell), and the student's names are back
    in the kernel afterwards."""
    sandbox = not bwrap_problem()
    cells = [
        _cell(LAYERS_SETUP, "setup"),
        _cell(LAYERS_ANSWER, "answers", answer=True),
        _cell("numpy_layers.check_log(Log)", "test_log", test=True),
        _cell("numpy_layers.check_two_layer_net(TwoLayerNet)", "test_net", test=True),
        _cell("print('after:', Log.__module__, Log.__qualname__, Matmul.__module__)"),
    ]
    nb, verdicts = _run(cells, sandbox)
    assert verdicts["test_log"]["passed"] is False
    assert "backward returns dout * log(x)" in verdicts["test_log"]["error"]["evalue"]
    assert verdicts["test_net"]["passed"] is True, verdicts["test_net"]
    text = "".join(o.get("text", "") for o in nb.cells[4].outputs)
    assert "after: __main__ Log __main__" in text, nb.cells[4].outputs
