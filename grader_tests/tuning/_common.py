"""Helpers shared by the checks of assignment 07_tuning (not checks themselves)."""

from __future__ import annotations

from course_utils.grading import forbid_library as _forbid_library
from course_utils.grading import library_names, seal

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
    "sklearn.preprocessing.StandardScaler",
    "sklearn.preprocessing.scale",
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


def forbid_library(obj, what: str, hint: str) -> None:
    _forbid_library(obj, library_names(LIBRARY, _TF_LIBRARY), what, hint)


def kwargs_text(kwargs: dict) -> str:
    return ", ".join(
        f"{k}={v!r}" if isinstance(v, bool) else f"{k}={v:g}" for k, v in kwargs.items()
    )


seal(__name__)
