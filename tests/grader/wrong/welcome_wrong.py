"""Implementations of 00_welcome's ``accuracy(scores, y)``: correct ones and known-wrong ones.

``CORRECT``: alternative correct implementations every check must accept.
``WRONG``: name -> (implementation, regex the failure message must match, checks that must
reject it). Most wrong entries must fail every check; a hard-coded copy of the visible
answer only fails the hidden check (that is what hidden checks are for).
"""

from __future__ import annotations

import numpy as np

BOTH = ("check_accuracy", "check_accuracy_hidden")


# --- correct -------------------------------------------------------------------------------
def reference(scores, y):
    return float(np.mean(np.argmax(scores, axis=1) == y))


def loop_version(scores, y):
    correct = 0
    for i in range(len(y)):
        best = 0
        for j in range(len(scores[i])):
            if scores[i][j] > scores[i][best]:
                best = j
        correct += int(best == y[i])
    return correct / len(y)


def numpy_scalar_version(scores, y):
    return np.count_nonzero(scores.argmax(axis=-1) == y) / y.shape[0]


def argsort_version(scores, y):
    return float((np.argsort(scores, axis=1)[:, -1] == y).mean())


def true_score_is_max_version(scores, y):
    true = np.take_along_axis(scores, y[:, None].astype(np.intp), axis=1)[:, 0]
    return float(np.mean(true >= scores.max(axis=1)))


CORRECT = [
    reference,
    loop_version,
    numpy_scalar_version,
    argsort_version,
    true_score_is_max_version,
]


# --- wrong ---------------------------------------------------------------------------------
def argmax_axis0(scores, y):
    return float(np.mean(np.argmax(scores, axis=0) == y))


def argmin(scores, y):
    return float(np.mean(np.argmin(scores, axis=1) == y))


def count_int(scores, y):
    return int(np.sum(np.argmax(scores, axis=1) == y))


def count_float(scores, y):
    return float(np.sum(np.argmax(scores, axis=1) == y))


def integer_division(scores, y):
    return np.sum(np.argmax(scores, axis=1) == y) // len(y)


def returns_array(scores, y):
    return np.argmax(scores, axis=1) == y


def returns_0d_array(scores, y):
    return np.asarray(np.mean(np.argmax(scores, axis=1) == y))


def returns_list(scores, y):
    return [float(np.mean(np.argmax(scores, axis=1) == y))]


def returns_bool(scores, y):
    return np.all(np.argmax(scores, axis=1) == y)


def forgot_return(scores, y):
    float(np.mean(np.argmax(scores, axis=1) == y))


def not_implemented(scores, y):
    raise NotImplementedError


def mutates_scores(scores, y):
    scores -= scores.max(axis=1, keepdims=True)  # "for stability": changes the caller's array
    return float(np.mean(np.argmax(scores, axis=1) == y))


def mutates_y(scores, y):
    y[y < 0] = 0
    y += 0  # harmless on its own...
    y[...] = np.argmax(scores, axis=1)  # ...but this overwrites the labels
    return float(np.mean(np.argmax(scores, axis=1) == y))


def hard_coded_half(scores, y):
    return 0.5


def hard_coded_visible_answer(scores, y):
    return 5 / 7


def percentage(scores, y):
    return 100 * float(np.mean(np.argmax(scores, axis=1) == y))


def error_rate(scores, y):
    return float(np.mean(np.argmax(scores, axis=1) != y))


def divides_by_classes(scores, y):
    return float(np.sum(np.argmax(scores, axis=1) == y) / scores.shape[1])


def skips_last_row(scores, y):
    correct = 0
    for i in range(len(y) - 1):
        correct += int(np.argmax(scores[i]) == y[i])
    return correct / len(y)


def rounded(scores, y):
    return round(float(np.mean(np.argmax(scores, axis=1) == y)), 2)


def flat_argmax(scores, y):
    return float(np.mean(np.argmax(scores) == y))


WRONG = {
    "argmax_axis0": (argmax_axis0, r"axis", BOTH),
    "argmin": (argmin, r"LOWEST score \(argmin\)", BOTH),
    "count_int": (count_int, r"integer \d+: a count instead of a fraction", BOTH),
    "count_float": (count_float, r"NUMBER of correct rows", BOTH),
    "integer_division": (integer_division, r"expected a float, got the integer 0", BOTH),
    "returns_array": (returns_array, r"NumPy array of shape \(\d+,\)", BOTH),
    "returns_0d_array": (returns_0d_array, r"NumPy array of shape \(\)", BOTH),
    "returns_list": (returns_list, r"list of length 1", BOTH),
    "returns_bool": (returns_bool, r"boolean", BOTH),
    "forgot_return": (forgot_return, r"is None: did you forget to `return`", BOTH),
    "not_implemented": (not_implemented, r"not implemented yet", BOTH),
    "mutates_scores": (mutates_scores, r"modified its argument `scores` in place", BOTH),
    "mutates_y": (mutates_y, r"modified its argument `y` in place", BOTH),
    "hard_coded_half": (hard_coded_half, r"expected .*got 0\.5\b", BOTH),
    "hard_coded_visible_answer": (
        hard_coded_visible_answer,
        r"expected .*got 0\.714286",
        ("check_accuracy_hidden",),
    ),
    "percentage": (percentage, r"percentage", BOTH),
    "error_rate": (error_rate, r"WRONG rows", BOTH),
    "divides_by_classes": (divides_by_classes, r"number of classes C", BOTH),
    "skips_last_row": (skips_last_row, r"does a loop skip the first or the last row", BOTH),
    "rounded": (rounded, r"expected .*got 0\.\d{1,2}(\n|$)", BOTH),
    "flat_argmax": (flat_argmax, r"expected", BOTH),
}
