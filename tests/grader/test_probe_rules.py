"""Rules every stability probe of a log-domain result follows (issue 15).

A probe of log-softmax, softmax cross-entropy or sigmoid cross-entropy must contain a
CONFIDENTLY WRONG row: a true class so far below the row maximum (or a sigmoid logit so
far on the wrong side) that its probability underflows to 0. Only there does "subtract
the max, then log(softmax)" give inf instead of the finite loss. These tests list the
probes of every check that has one and hold each to the rule, and show that the rule
separates the two implementations.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from course_utils.grading import EXTREME_LOGITS, EXTREME_TARGETS, confidently_wrong_rows
from grader_tests import backprop


def _softmax_probes():
    """(name, logits, targets) of every softmax log-domain stability probe."""
    probes = [("grading.EXTREME_LOGITS", EXTREME_LOGITS, EXTREME_TARGETS)]
    for Y, t, case in backprop._ce_hidden_cases("logits"):
        if float(np.abs(Y).max()) >= 1000:
            probes.append((f"backprop ce_from_logits {case}", Y, t))
    tf_basics = pytest.importorskip("grader_tests.tf_basics")
    probes.append(
        (
            "tf_basics softmax_ce visible",
            tf_basics.EXTREME_LOGITS,
            tf_basics.SOFTMAX_CE_EXTREME_LABELS,
        )
    )
    for (logits, labels), _, case, flags in tf_basics._softmax_ce_cases():
        if flags.get("extreme"):
            probes.append((f"tf_basics softmax_ce {case}", logits, labels))
    from grader_tests.mnist import loss as mnist_loss

    for n, c in ((5, 3), (9, 10)):  # the ±1000 probes of check_softmax_cross_entropy(_hidden)
        logits, labels = mnist_loss._extreme(n, c, np.random.default_rng(0))
        probes.append((f"mnist softmax_cross_entropy ±1000 ({n} x {c})", logits, labels))
    return probes


def _sigmoid_probes():
    tf_basics = pytest.importorskip("grader_tests.tf_basics")
    probes = [
        (
            "tf_basics sigmoid_ce visible",
            tf_basics.SIGMOID_CE_EXTREME,
            tf_basics.SIGMOID_CE_EXTREME_LABELS,
        )
    ]
    for (logits, labels), _, case, flags in tf_basics._sigmoid_ce_cases():
        if flags.get("extreme"):
            probes.append((f"tf_basics sigmoid_ce {case}", logits, labels))
    return probes


def test_every_softmax_probe_has_a_confidently_wrong_row():
    probes = _softmax_probes()
    assert len(probes) >= 6
    missing = [name for name, Y, t in probes if not confidently_wrong_rows(Y, t)]
    assert not missing, missing


def test_every_sigmoid_probe_has_a_confidently_wrong_entry():
    probes = _sigmoid_probes()
    assert len(probes) >= 3
    missing = [name for name, z, t in probes if not confidently_wrong_rows(z, t, sigmoid=True)]
    assert not missing, missing


def test_the_default_probe_has_entries_that_underflow_for_per_entry_outputs():
    assert confidently_wrong_rows(EXTREME_LOGITS) == [0, 3]


def _shift_then_log_softmax(Y, t):
    e = np.exp(Y - Y.max(axis=1, keepdims=True))
    return float(-np.mean(np.log((e / e.sum(axis=1, keepdims=True))[np.arange(len(Y)), t])))


def test_a_confidently_wrong_row_separates_log_of_softmax_from_log_sum_exp():
    with np.errstate(divide="ignore"):
        assert _shift_then_log_softmax(EXTREME_LOGITS, EXTREME_TARGETS) == math.inf
        row = np.array([[1000.0, -400.0, 0.0]])
        assert _shift_then_log_softmax(row, np.array([1])) == math.inf
    assert backprop._ce_logits_ref(row, np.array([1])) == pytest.approx(1400.0)
    # without a confidently wrong row the two agree: such a probe could not tell them apart
    tied = np.array([[1000.0, -1000.0, 0.0], [5.0, 5.0, 5.0]])
    t = np.array([0, 2])
    assert not confidently_wrong_rows(tied, t)
    assert _shift_then_log_softmax(tied, t) == pytest.approx(backprop._ce_logits_ref(tied, t))
