"""Task 7 of 05_mnist: ``build_keras_mlp(hidden=(256, 128), num_inputs=784, num_classes=10,
seed=0)`` -> an uncompiled ``keras.Sequential``: Input -> Dense(h, relu) for each h ->
Dense(num_classes) (logits), He-normal kernels, zero biases; and the model the notebook
trained with it, graded from its weights rebuilt here (``keras_model_copy``).
"""

from __future__ import annotations

import numpy as np

from course_utils.grading import (
    call_student,
    check,
    expect_callable,
    fail,
    keras_model_copy,
    seal,
)

from ._common import mnist_test
from .train import ACCURACY_THRESHOLD, _accuracy, fitted_to_training_set


def _keras():
    from course_utils.environment import import_tensorflow

    import_tensorflow()
    import keras

    return keras


def _dense_weights(model, label) -> tuple[list, list]:
    keras = _keras()
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    kinds = [type(layer).__name__ for layer in model.layers]
    weights, acts = [], []
    for layer in dense:
        if not layer.use_bias:
            fail(f"{label}: a Dense layer has no bias; keep use_bias=True (the default)")
        weights.append(
            (
                np.asarray(keras.ops.convert_to_numpy(layer.kernel), dtype=np.float64),
                np.asarray(keras.ops.convert_to_numpy(layer.bias), dtype=np.float64),
            )
        )
        acts.append(getattr(layer.activation, "__name__", str(layer.activation)))
    others = [k for k in kinds if k not in ("Dense", "InputLayer")]
    if others:
        fail(
            f"{label}: the model should hold only Dense layers (activations inside them, "
            f'activation="relu"), found {kinds}'
        )
    return weights, acts


def _structure(fn, hidden, d, c, seed) -> None:
    label = f"`build_keras_mlp(hidden={hidden}, num_inputs={d}, num_classes={c}, seed={seed})`"
    model = call_student(fn, hidden=hidden, num_inputs=d, num_classes=c, seed=seed, label=label)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((6, d)).astype(np.float32)
    copy = keras_model_copy(model, x, label=label)
    weights, acts = _dense_weights(copy, label)
    sizes = [d, *hidden, c]
    shapes = [w.shape for w, _ in weights]
    want = list(zip(sizes[:-1], sizes[1:], strict=True))
    if shapes != want:
        fail(f"{label}: the Dense kernels have shapes {shapes}, expected {want}")
    if acts[-1] != "linear":
        fail(
            f'{label}: the output layer has activation "{acts[-1]}": it must output logits '
            f"(no activation); the loss takes them with from_logits=True"
        )
    if any(a != "relu" for a in acts[:-1]):
        fail(f"{label}: the hidden layers should use ReLU, got activations {acts[:-1]}")
    for i, (w, b) in enumerate(weights):
        if np.any(b != 0):
            fail(f"{label}: the bias of Dense layer {i} should start at zero")
        std, want_std = float(w.std()), float(np.sqrt(2.0 / w.shape[0]))
        tol = 0.01 + 6.0 / np.sqrt(2.0 * w.size)  # 6 standard errors of a std estimate
        if w.size >= 500 and abs(std / want_std - 1.0) > tol:
            fail(
                f"{label}: Dense layer {i} starts with weights of standard deviation "
                f"{std:.3g}, He-normal gives about √(2/{w.shape[0]}) = {want_std:.3g}: pass "
                f'kernel_initializer="he_normal" (Keras\' default is Glorot uniform)'
            )
    got = np.asarray(call_student(model, x, label=f"{label}: model(x)"), dtype=np.float64)
    h = x.astype(np.float64)
    for w, b in weights[:-1]:
        h = np.maximum(h @ w + b, 0.0)
    expected = h @ weights[-1][0] + weights[-1][1]
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-4, atol=1e-5):
        fail(f"{label}: model(x) does not compute the Dense/ReLU stack from its own weights")
    again = keras_model_copy(
        call_student(fn, hidden=hidden, num_inputs=d, num_classes=c, seed=seed, label=label),
        x,
        label=label,
    )
    if any(not np.array_equal(a, b) for a, b in zip(copy.get_weights(), again.get_weights(),
                                                    strict=True)):  # fmt: skip
        fail(
            f"{label}: two models built with seed={seed} start from different weights: call "
            f"keras.utils.set_random_seed(seed) first"
        )


def _preamble(fn) -> None:
    expect_callable(fn, "build_keras_mlp")


@check
def check_build_keras_mlp(build_keras_mlp) -> None:
    """Visible: the 784-256-128-10 model (structure, logits, He init, zero bias, seed)."""
    _preamble(build_keras_mlp)
    _structure(build_keras_mlp, (256, 128), 784, 10, 0)


@check
def check_build_keras_mlp_hidden(build_keras_mlp) -> None:
    """Hidden: other widths, depths, sizes and seeds."""
    _preamble(build_keras_mlp)
    rng = np.random.default_rng(5051)  # hidden values, the same at every regrade
    _structure(build_keras_mlp, (int(rng.integers(20, 60)),), 30, 4, int(rng.integers(100)))
    _structure(build_keras_mlp, (40, 30, 20), 50, 3, 1)


def _check_keras_accuracy(model, hidden: bool) -> None:
    x, y = mnist_test()
    label = "your trained Keras model"
    copy = keras_model_copy(model, x[:2], label=label)
    weights, acts = _dense_weights(copy, label)
    shapes = [w.shape for w, _ in weights]
    if shapes != [(784, 256), (256, 128), (128, 10)] or acts != ["relu", "relu", "linear"]:
        fail(f"{label}: expected Dense 784-256-128-10 with ReLU, got {shapes} {acts}")
    acc = _accuracy(weights, x, y)
    if not acc >= ACCURACY_THRESHOLD:
        fail(
            f"{label}: test accuracy {acc:.2%} (from its weights, on the 10 000 test images) "
            f"is below {ACCURACY_THRESHOLD:.0%}: train with the same settings as your NumPy "
            f"MLP (Adam, the learning-rate decay, batch size and epochs)"
        )
    if hidden:
        fitted_to_training_set(weights, acc, label)


@check
def check_keras_accuracy(keras_model) -> None:
    """Visible: the trained Keras MLP reaches >= 98 % test accuracy (its weights)."""
    _check_keras_accuracy(keras_model, False)


@check
def check_keras_accuracy_hidden(keras_model) -> None:
    """Hidden: the same, and trained on the training set (not on the test set)."""
    _check_keras_accuracy(keras_model, True)


seal(__name__)
