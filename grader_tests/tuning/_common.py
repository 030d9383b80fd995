"""Helpers shared by the checks of assignment 07_tuning (not checks themselves)."""

from __future__ import annotations

import sys

from course_utils.grading import fail, find_forbidden_calls, seal

LOOPS = "course_utils.grading.loops"

#: Library versions of this assignment's tasks: writing them is the exercise.
LIBRARY = [
    "course_utils.optim.sgd",
    "course_utils.optim.momentum",
    "course_utils.optim.nesterov",
    "course_utils.optim.rmsprop",
    "course_utils.optim.adam",
    "course_utils.optim.Momentum",
    "course_utils.optim.Nesterov",
    "course_utils.optim.RMSProp",
    "course_utils.optim.Adam",
    "course_utils.schedules.step_decay",
    "course_utils.schedules.piecewise_constant",
    "course_utils.schedules.exponential_decay",
    "course_utils.schedules.polynomial_decay",
    "course_utils.schedules.cosine_decay",
    "course_utils.train.EarlyStopping",
]
_TF_LIBRARY = [
    "keras.optimizers.SGD",
    "keras.optimizers.RMSprop",
    "keras.optimizers.Adam",
    "keras.optimizers.schedules.ExponentialDecay",
    "keras.optimizers.schedules.PolynomialDecay",
    "keras.optimizers.schedules.CosineDecay",
    "keras.optimizers.schedules.PiecewiseConstantDecay",
    "keras.callbacks.EarlyStopping",
]


def forbidden() -> list:
    """The library names; Keras' only once TensorFlow is imported (resolving them would
    import TensorFlow inside a test cell)."""
    names = list(LIBRARY)
    if "tensorflow" in sys.modules:
        names += _TF_LIBRARY
    return names


def forbid_library(obj, what: str, hint: str) -> None:
    violations = find_forbidden_calls(obj, forbidden())
    if violations:
        shown = "\n  ".join(violations[:5])
        fail(
            f"{what} must not use a library implementation of this task, but it does:\n  "
            f"{shown}\nHint: {hint}"
        )


def kwargs_text(kwargs: dict) -> str:
    return ", ".join(
        f"{k}={v!r}" if isinstance(v, bool) else f"{k}={v:g}" for k, v in kwargs.items()
    )


seal(__name__)
