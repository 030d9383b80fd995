"""Helpers shared by the checks of assignment 07_tuning (not checks themselves)."""

from __future__ import annotations

from course_utils.grading import call_student, fail, library_names, seal
from course_utils.grading import forbid_library as _forbid_library

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
    "course_utils.layers.core.dropout_forward",
    "course_utils.layers.core.dropout_backward",
    "course_utils.layers.Dropout",
    "course_utils.layers.normalization.batchnorm_forward",
    "course_utils.layers.normalization.batchnorm_backward",
    "course_utils.layers.normalization.spatial_batchnorm_forward",
    "course_utils.layers.normalization.spatial_batchnorm_backward",
    "course_utils.layers.BatchNorm",
    "sklearn.preprocessing.StandardScaler",
    "sklearn.preprocessing.scale",
    "course_utils.losses.softmax_cross_entropy",
]
#: Only for the checks that need them (importing sklearn takes seconds).
SKLEARN_LIBRARY = ["sklearn.utils.class_weight.compute_class_weight"]
_TF_LIBRARY = [
    "keras.optimizers.SGD",
    "keras.optimizers.RMSprop",
    "keras.optimizers.Adam",
    "keras.optimizers.schedules.ExponentialDecay",
    "keras.optimizers.schedules.PolynomialDecay",
    "keras.optimizers.schedules.CosineDecay",
    "keras.optimizers.schedules.PiecewiseConstantDecay",
    "keras.callbacks.EarlyStopping",
    "keras.layers.Dropout",
    "keras.layers.BatchNormalization",
    "keras.layers.GaussianNoise",
    "keras.layers.RandomRotation",
    "keras.layers.RandomTranslation",
    "keras.layers.RandomZoom",
    "keras.losses.CategoricalCrossentropy",
    "keras.losses.SparseCategoricalCrossentropy",
    "keras.losses.categorical_crossentropy",
    "keras.losses.sparse_categorical_crossentropy",
    "tf.nn.softmax_cross_entropy_with_logits",
    "tf.nn.sparse_softmax_cross_entropy_with_logits",
]


def forbid_library(obj, what: str, hint: str, extra=()) -> None:
    """Refuse the library versions of the tasks (and ``extra`` names) in ``obj``."""
    _forbid_library(obj, library_names(LIBRARY + list(extra), _TF_LIBRARY), what, hint)


def kwargs_text(kwargs: dict) -> str:
    return ", ".join(
        f"{k}={v!r}" if isinstance(v, bool) else f"{k}={v:g}" for k, v in kwargs.items()
    )


_IN_PLACE_HINT = (
    "the caller still needs its arrays (in a network x is the previous layer's output, which "
    "backward uses again): compute a new array instead of changing the argument"
)


def call_with_hint(fn, *args, label: str, hint: str | None = None):
    """``call_student``, with a ``Hint:`` line added to its in-place-change message."""
    try:
        return call_student(fn, *args, label=label, hint=hint)
    except AssertionError as exc:
        message = str(exc)
        if "Hint:" in message:
            raise
        extra = _IN_PLACE_HINT if "in place" in message else hint or "see the task's contract"
        fail(f"{message}\nHint: {extra}")


seal(__name__)
