"""Helpers shared by the checks of assignment 05_mnist (not checks themselves)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from course_utils.grading import forbid_library as _forbid_library
from course_utils.grading import library_names

STAND_INS = "course_utils.grading.stand_ins"
DOUBLES = "course_utils.grading.doubles"

#: Library versions of this assignment's tasks: writing them is the exercise.
LIBRARY = [
    "course_utils.data.DataLoader",
    "course_utils.data.loader.DataLoader",
    "course_utils.init.he_normal",
    "course_utils.init.xavier_uniform",
    "course_utils.init.get_initializer",
    "course_utils.layers.Linear",
    "course_utils.layers.core.affine_forward",
    "course_utils.layers.core.affine_backward",
    "course_utils.losses.softmax_cross_entropy",
    "course_utils.functional.log_softmax",
    "course_utils.functional.softmax",
    "course_utils.optim.Adam",
    "course_utils.optim.adam",
    "course_utils.train.fit",
    "scipy.special.softmax",
    "scipy.special.log_softmax",
    "course_utils.grading.stand_ins.DataLoader",
    "course_utils.grading.stand_ins.he_normal",
    "course_utils.grading.stand_ins.xavier_uniform",
    "course_utils.grading.stand_ins.Linear",
    "course_utils.grading.stand_ins.softmax_cross_entropy",
    "course_utils.grading.stand_ins.Adam",
]
_TF_LIBRARY = [
    "tf.nn.softmax",
    "tf.nn.log_softmax",
    "tf.nn.sparse_softmax_cross_entropy_with_logits",
    "keras.optimizers.Adam",
    "keras.losses.SparseCategoricalCrossentropy",
    "keras.layers.Dense",
]


def forbid_library(obj, what: str, hint: str) -> None:
    _forbid_library(obj, library_names(LIBRARY, _TF_LIBRARY), what, hint)


def first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200]


def failing_task(name: str, probe: Callable[[], None]) -> str | None:
    """``"your <name> fails its test (<why>)"`` if ``probe`` (a visible case) fails."""
    try:
        probe()
    except AssertionError as exc:
        return f"your {name} fails its test ({first_line(exc)})"
    return None


def make_mnist_test() -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    """The MNIST test set, loaded once and kept as bytes; each call returns fresh copies."""
    store: dict[str, bytes] = {}

    def get() -> tuple[np.ndarray, np.ndarray]:
        if not store:
            from course_utils.data import load_mnist

            data = load_mnist(flatten=True, verbose=False)
            store["x"] = np.ascontiguousarray(data.X_test, dtype=np.float32).tobytes()
            store["y"] = np.ascontiguousarray(data.y_test, dtype=np.int64).tobytes()
            store["xt"] = np.ascontiguousarray(data.X_train[:6000], dtype=np.float32).tobytes()
            store["yt"] = np.ascontiguousarray(data.y_train[:6000], dtype=np.int64).tobytes()
        x = np.frombuffer(store["x"], dtype=np.float32).reshape(-1, 784).copy()
        y = np.frombuffer(store["y"], dtype=np.int64).copy()
        return x, y

    def train_subset() -> tuple[np.ndarray, np.ndarray]:
        get()
        x = np.frombuffer(store["xt"], dtype=np.float32).reshape(-1, 784).copy()
        y = np.frombuffer(store["yt"], dtype=np.int64).copy()
        return x, y

    get.train_subset = train_subset
    return get


mnist_test = make_mnist_test()
