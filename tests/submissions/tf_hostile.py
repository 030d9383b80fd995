"""01_tf_basics submissions that call the forbidden built-ins in ways no source text shows.

Every case is the model answer (from ``solutions/``) with ONE task replaced; the
replacement computes the right values with the forbidden built-in, reached through
``tf.raw_ops`` or a string lookup. The graph the function runs gives it away, so the case
loses exactly that task's 2 points (of 8).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

ASSIGNMENT = "01_tf_basics"
NOTEBOOK = "tf_basics"
MAX_SCORE = 8.0
TASKS = ("softmax", "sigmoid", "softmax_ce", "sigmoid_ce")


@dataclass(frozen=True)
class TFCase:
    student: str
    score: float
    replace: dict[str, str]  # answer cell grade_id -> new source
    what: str


CASES = [
    TFCase("tf_correct", 8, {}, "the model answers"),
    TFCase(
        "tf_raw_softmax",
        6,
        {"softmax": "def softmax(x):\n    return tf.raw_ops.Softmax(logits=x)\n"},
        "softmax through tf.raw_ops.Softmax",
    ),
    TFCase(
        "tf_attrgetter_softmax",
        6,
        {
            "softmax": "import operator\n\ndef softmax(x):\n"
            "    return operator.attrgetter('nn.soft' + 'max')(tf)(x)\n"
        },
        "softmax through operator.attrgetter with a computed name",
    ),
    TFCase(
        "tf_raw_sigmoid_ce",
        6,
        {
            "sigmoid_ce": "def sigmoid_ce(logits, labels):\n"
            "    labels = tf.cast(labels, logits.dtype)\n"
            "    per = tf.raw_ops.Softplus(features=-tf.abs(logits)) "
            "+ tf.maximum(logits, 0) - logits * labels\n"
            "    return tf.reduce_mean(per)\n"
        },
        "sigmoid cross-entropy through tf.raw_ops.Softplus",
    ),
    TFCase(
        "tf_raw_softmax_ce",
        6,
        {
            "softmax_ce": "def softmax_ce(logits, labels):\n"
            "    labels = tf.cast(labels, logits.dtype)\n"
            "    op = getattr(tf.raw_ops, 'SoftmaxCrossEntropy' + 'WithLogits')\n"
            "    return tf.reduce_mean(op(features=logits, labels=labels)[0])\n"
        },
        "softmax cross-entropy through a raw op looked up by a computed name",
    ),
]


def _answers(solution: Path) -> dict[str, str]:
    """The model answer of each task: the solution cells without the SOLUTION markers."""
    nb = json.loads(solution.read_text())
    out = {}
    for cell in nb["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution") and cell["cell_type"] == "code":
            src = "".join(cell["source"])
            out[meta["grade_id"]] = re.sub(r"^\s*### (BEGIN|END) SOLUTION\n", "", src, flags=re.M)
    return out


def write_case(case: TFCase, released: Path, solution: Path, course_root: Path) -> Path:
    nb = copy.deepcopy(nbformat.read(released, as_version=4))
    answers = {**_answers(solution), **case.replace}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers and cell.cell_type == "code":
            cell.source = answers[gid]
    folder = course_root / "submitted" / case.student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{NOTEBOOK}.ipynb")
    return folder
