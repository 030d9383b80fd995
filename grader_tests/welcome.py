"""Checks for assignment 00_welcome: ``accuracy(scores, y)``.

The task::

    def accuracy(scores, y):
        \"\"\"Fraction of rows whose highest score is at the true label.\"\"\"
        return float(np.mean(np.argmax(scores, axis=1) == y))
"""

from __future__ import annotations

import numpy as np

from course_utils.grading import assert_scalar, call_student, check, expect_callable, fail, seal

_NAME = "accuracy(scores, y)"

# Seven rows, three classes; the argmax of each row and whether it hits y are in the comments.
_SCORES = np.array(
    [
        [2.0, 1.0, 0.1],  # argmax 0, y 0: correct
        [0.5, 0.2, 3.0],  # argmax 2, y 2: correct
        [0.1, 4.0, 0.3],  # argmax 1, y 0: wrong
        [1.0, 1.5, 0.2],  # argmax 1, y 1: correct
        [0.3, 0.1, 0.2],  # argmax 0, y 2: wrong
        [1.2, 0.7, 0.9],  # argmax 0, y 0: correct
        [0.0, 0.4, 2.5],  # argmax 2, y 2: correct
    ]
)
_Y = np.array([0, 2, 0, 1, 2, 0, 2])
_EXPECTED = 5 / 7


def _reference(scores: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(scores, axis=1) == y))


def _axis_hint(exc: BaseException) -> str | None:
    text = str(exc)
    if isinstance(exc, ValueError | IndexError) and ("broadcast" in text or "shape" in text):
        return (
            "the shapes do not line up: scores has one ROW per sample and one COLUMN per "
            "class, so the predicted class of each row is np.argmax(scores, axis=1), "
            "an (N,) array you can compare with y"
        )
    return None


def _diagnose(value: float, scores: np.ndarray, y: np.ndarray) -> str:
    """The likely bug behind a wrong accuracy value (empty string if unrecognised)."""
    n, c = scores.shape
    expected = _reference(scores, y)
    correct = int(round(expected * n))
    candidates = [
        (correct, f"that is the NUMBER of correct rows; divide by N = {n} to get the fraction"),
        (100 * expected, "that is a percentage; return a fraction in [0, 1]"),
        (1 - expected, "that is the fraction of WRONG rows (the error rate)"),
        (correct / c, f"that divides by the number of classes C = {c}; divide by N = {n}"),
        (
            float(np.mean(np.argmin(scores, axis=1) == y)),
            "that is the accuracy of the LOWEST score (argmin); use argmax",
        ),
    ]
    if correct >= 1:
        candidates.append(
            (
                (correct - 1) / n,
                "one correct row is missing from your count: "
                "does a loop skip the first or the last row?",
            )
        )
    if n == c:
        axis0 = float(np.mean(np.argmax(scores, axis=0) == y))
        candidates.append(
            (
                axis0,
                "that takes the argmax over axis 0 (down the columns, "
                "across samples); the class of each row is the argmax over "
                "axis 1",
            )
        )
    matches = [
        why
        for candidate, why in candidates
        if abs(candidate - expected) > 1e-9 and abs(value - candidate) < 1e-6
    ]
    if matches:
        return "; or ".join(matches)
    if not 0.0 <= value <= 1.0:
        return "an accuracy is a fraction between 0 and 1"
    return ""


def _check_case(accuracy, scores: np.ndarray, y: np.ndarray, case: str) -> None:
    got = call_student(accuracy, scores, y, label=f"`{_NAME}`", hint=_axis_hint)
    value = assert_scalar(got, _NAME, kind="float")
    expected = _reference(scores, y)
    if not abs(value - expected) <= 1e-6:
        n = scores.shape[0]
        correct = int(round(expected * n))
        msg = (
            f"`{_NAME}` {case}: expected {expected:.6g} ({correct} of {n} rows correct), "
            f"got {value:.6g}"
        )
        why = _diagnose(value, scores, y)
        if why:
            msg += f"\nHint: {why}."
        fail(msg)


@check
def check_accuracy(accuracy) -> None:
    """Visible check: the seven-row example worked out in the comments of ``_SCORES``."""
    expect_callable(accuracy, "accuracy")
    scores, y = _SCORES.copy(), _Y.copy()
    got = call_student(accuracy, scores, y, label=f"`{_NAME}`", hint=_axis_hint)
    value = assert_scalar(got, _NAME, kind="float")
    if not abs(value - _EXPECTED) <= 1e-9:
        msg = (
            f"`{_NAME}` on the 7-row example: expected 5/7 = {_EXPECTED:.6f} (predicted "
            f"classes {np.argmax(_SCORES, axis=1).tolist()}, true labels {_Y.tolist()}: "
            f"rows 0, 1, 3, 5 and 6 are correct), got {value:.6g}"
        )
        why = _diagnose(value, _SCORES, _Y)
        if why:
            msg += f"\nHint: {why}."
        fail(msg)


def _hidden_cases() -> list[tuple[np.ndarray, np.ndarray, str]]:
    rng = np.random.default_rng(20240917)
    cases = []
    for i, (n, c) in enumerate([(13, 4), (40, 10), (5, 2), (27, 3), (1000, 10)]):
        scores = rng.standard_normal((n, c))
        y = rng.integers(0, c, size=n)
        cases.append((scores, y, f"(random case {i}: N={n}, C={c})"))
    logits = rng.standard_normal((20, 5))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    cases.append((probs, rng.integers(0, 5, size=20), "(probabilities, N=20, C=5)"))
    # N == C, where argmax over the wrong axis still has the right shape but other values.
    while True:
        scores = rng.standard_normal((6, 6))
        y = rng.integers(0, 6, size=6)
        if np.mean(np.argmax(scores, axis=0) == y) != _reference(scores, y):
            break
    cases.append((scores, y, "(square scores, N=C=6)"))
    one = np.array([[0.1, 0.7, 0.2, -1.0]])
    cases.append((one, np.array([1]), "(N=1, correct)"))
    cases.append((one.copy(), np.array([3]), "(N=1, wrong)"))
    scores = rng.standard_normal((9, 3))
    cases.append((scores, np.argmax(scores, axis=1), "(every row correct)"))
    cases.append((scores.copy(), (np.argmax(scores, axis=1) + 1) % 3, "(no row correct)"))
    scores32 = rng.standard_normal((11, 4)).astype(np.float32)
    y32 = rng.integers(0, 4, size=11).astype(np.int32)
    cases.append((scores32, y32, "(float32 scores, int32 labels, N=11, C=4)"))
    return cases


@check
def check_accuracy_hidden(accuracy) -> None:
    """Hidden check: random shapes, probabilities, N=C, N=1, all/none correct, float32."""
    expect_callable(accuracy, "accuracy")
    for scores, y, case in _hidden_cases():
        _check_case(accuracy, scores, y, case)


seal(__name__)
