"""Checks for assignment 02_numpy_layers: layers with forward/backward in NumPy, a two-layer
MNIST network trained with mini-batch SGD, and the same network in low-level TensorFlow.

The tasks (interfaces the checks rely on; the notebook's docstrings say the same)::

    class Matmul(Layer):       # Matmul(w): params["w"] (D, M); forward(x) -> x @ w;
                               # backward(dout) -> dx, sets grads["w"]
    class Relu(Layer):         # forward(x) -> max(x, 0); backward(dout) -> dout * [x > 0]
    class Softmax(Layer):      # forward(x) -> softmax over axis 1 (stable);
                               # backward(dout) -> s * (dout - sum(dout * s, axis=1))
    class Log(Layer):          # forward(x) -> log(x); backward(dout) -> dout / x
    def cross_entropy(log_probs, y) -> (loss, dlog_probs)
                               # loss = -mean_n log_probs[n, y[n]] (int labels);
                               # dlog_probs = -onehot(y) / N
    class TwoLayerNet:         # params {"w1": (D+1, H), "w2": (H+1, C)} (bias trick);
                               # forward(x) -> log-probabilities; backward(d) -> dx
    def train_epoch(net, X, y, batch_size, lr, rng) -> mean mini-batch loss
    class TFTwoLayerNet:       # w1 (D, H), b1 (H,), w2 (H, C), b2 (C,) tf.Variables;
                               # __call__(x) -> logits
    def tf_train_step(model, x, y, lr) -> loss   (one SGD step with tf.GradientTape)

Each check compares with a NumPy reference written here (never with the student's other
answers), runs central-difference gradient checks in float64, and names the likely bug.

Each test cell scores its own task. ``TwoLayerNet`` is checked built from the course's
reference layers (the student's class, with ``Matmul``, ``Relu``, ``Softmax`` and ``Log``
bound to ``course_utils.grading.stand_ins`` while the check runs), ``train_epoch`` with the
reference ``cross_entropy``, ``tf_train_step`` on a reference ``TFTwoLayerNet``. The
accuracy checks grade the composition alone (the given training cell runs every earlier
answer): when one fails, its message names the earlier tasks whose visible checks fail.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

import numpy as np

from course_utils.grading import (
    EXTREME_LOGITS,
    assert_close,
    assert_init_scale,
    assert_layer_gradients,
    assert_numerical_gradient,
    assert_scalar,
    call_student,
    check,
    check_stable,
    class_of,
    describe_value,
    expect_callable,
    fail,
    forbid_library,
    instance_of,
    library_names,
    reference,
    seal,
    student_rng,
    substituted,
    to_array,
)

#: Minimum test accuracy of the trained networks (NumPy and TensorFlow).
ACCURACY_THRESHOLD = 0.97

# --- what the student must not use -----------------------------------------------------
# Reference implementations of this very assignment: the course library's layers and
# losses, SciPy's softmax. TensorFlow/Keras ones are added only when they are already
# imported (resolving "tf.nn.softmax" would otherwise import TensorFlow inside a test cell,
# whose start-up messages on stderr would cost the student the points).
_NUMPY_REFERENCES = [
    "course_utils.layers.Matmul",
    "course_utils.layers.Linear",
    "course_utils.layers.ReLU",
    "course_utils.layers.Softmax",
    "course_utils.layers.Sequential",
    "course_utils.layers.core.matmul_forward",
    "course_utils.layers.core.matmul_backward",
    "course_utils.layers.core.affine_forward",
    "course_utils.layers.core.affine_backward",
    "course_utils.layers.core.relu_forward",
    "course_utils.layers.core.relu_backward",
    "course_utils.layers.core.softmax_forward",
    "course_utils.layers.core.softmax_backward",
    "course_utils.functional.softmax",
    "course_utils.functional.log_softmax",
    "course_utils.functional.relu",
    "course_utils.functional.relu_grad",
    "course_utils.losses.softmax_cross_entropy",
    "course_utils.train.fit",
    "course_utils.optim.SGD",
    "scipy.special.softmax",
    "scipy.special.log_softmax",
    "course_utils.grading.stand_ins.Matmul",
    "course_utils.grading.stand_ins.Relu",
    "course_utils.grading.stand_ins.Softmax",
    "course_utils.grading.stand_ins.Log",
    "course_utils.grading.stand_ins.cross_entropy",
]
_TF_REFERENCES = [
    "tf.nn.softmax",
    "tf.nn.log_softmax",
    "tf.nn.relu",
    "tf.nn.sparse_softmax_cross_entropy_with_logits",
    "tf.nn.softmax_cross_entropy_with_logits",
]
_KERAS = "Keras (layers, models, optimizers, losses) or the course library"
_NUMPY_HINT = (
    "write it yourself with NumPy (np.maximum, np.exp, np.log, @, ...); the course "
    "library's layers are what you are re-building here"
)
_KERAS_HINT = (
    "use tf.Variable, tf.matmul, tf.nn.relu, tf.GradientTape and Variable.assign_sub; "
    "no Keras layers, models, optimizers or losses in this task"
)


def _numpy_forbidden() -> list:
    return library_names(_NUMPY_REFERENCES, _TF_REFERENCES)


def _keras_forbidden() -> list:
    """Every public Keras layer/model/optimizer/loss (tf.keras.* are the same objects)."""
    _tf()  # Keras through the quiet TensorFlow import
    import keras

    names: list = [keras.Model, keras.Sequential, keras.Input]
    for module in (keras.layers, keras.models, keras.optimizers, keras.losses):
        for attr in dir(module):
            obj = getattr(module, attr, None)
            if not attr.startswith("_") and callable(obj):
                names.append(obj)
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        train_v1 = tf.compat.v1.train
        names += [getattr(train_v1, a) for a in dir(train_v1) if a.endswith("Optimizer")]
    return names + list(_NUMPY_REFERENCES)


def _forbid(obj, names: list, what: str, hint: str, lib: str = "") -> None:
    forbid_library(obj, names, what, hint, lib or "a library implementation of this task")


# --- the earlier tasks' reference answers (isolation) ----------------------------------
_STAND_INS = "course_utils.grading.stand_ins"
_LAYER_NAMES = ("Matmul", "Relu", "Softmax", "Log")


def _reference_layers() -> dict:
    """The notebook's layer names bound to the course's reference layers."""
    return {name: reference(_STAND_INS, name) for name in _LAYER_NAMES}


# --- small references ------------------------------------------------------------------
def _softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _one_hot(y: np.ndarray, c: int) -> np.ndarray:
    out = np.zeros((len(y), c))
    out[np.arange(len(y)), y] = 1.0
    return out


def _append_ones(x: np.ndarray) -> np.ndarray:
    return np.hstack([x, np.ones((len(x), 1), dtype=x.dtype)])


def _net_reference(x: np.ndarray, w1: np.ndarray, w2: np.ndarray) -> np.ndarray:
    h = np.maximum(_append_ones(x) @ w1, 0)
    return _log_softmax(_append_ones(h) @ w2)


def _same(a, b, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= atol + rtol * np.abs(b)))


def _known_mistake(got, candidates, correct, rtol: float = 1e-6, atol: float = 1e-9):
    """The explanation of the first known-wrong candidate ``got`` equals (None if none)."""
    try:
        arr = np.array(got, dtype=np.float64, copy=True)
    except (TypeError, ValueError):
        return None
    if _same(arr, correct, rtol, atol):
        return None
    for candidate, why in candidates:
        candidate = np.asarray(candidate, dtype=np.float64)
        if not _same(candidate, correct, rtol, atol) and _same(arr, candidate, rtol, atol):
            return why
    return None


def _new(cls, *args, name: str):
    return call_student(cls, *args, label=f"`{name}(...)`", check_mutation=False)


def _expect_layer(layer, name: str) -> None:
    for attr in ("forward", "backward"):
        if not callable(getattr(layer, attr, None)):
            fail(f"`{name}` has no method `{attr}`: keep the class skeleton of the answer cell")
    if not isinstance(getattr(layer, "params", None), dict):
        fail(
            f"`{name}` has no `params` dict: derive it from `Layer` and call "
            f"`super().__init__()` in `__init__` (as in the skeleton)"
        )


def _shape_hint(exc: BaseException) -> str | None:
    text = str(exc)
    if isinstance(exc, ValueError) and ("mismatch" in text or "aligned" in text):
        return (
            "the shapes do not fit: with x (N, D), w (D, M) and dout (N, M), "
            "dx = dout @ w.T is (N, M) @ (M, D) and dw = x.T @ dout is (D, N) @ (N, M)"
        )
    return None


def _forward_backward(layer, x, dout, name: str):
    out = call_student(layer.forward, x, label=f"`{name}.forward`", hint=_shape_hint)
    out = to_array(out, f"{name}.forward(x)", expected_ndim=np.ndim(x))
    dx = call_student(layer.backward, dout, label=f"`{name}.backward`", hint=_shape_hint)
    if isinstance(dx, tuple):
        fail(
            f"`{name}.backward` returned a tuple of {len(dx)} items: it returns dx only "
            f"(one array shaped like x); a weight gradient goes into self.grads['w']"
        )
    return out, to_array(dx, f"{name}.backward(dout)", expected_ndim=np.ndim(x))


def _away_from_zero(rng: np.random.Generator, shape, low: float = 0.1) -> np.ndarray:
    """Standard normal values with |x| >= low (ReLU's kink is never within h of a point)."""
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < low, np.sign(x + 1e-300) * (low + np.abs(x)), x)


# =====================================================================================
# Matmul
# =====================================================================================
_MM_X = np.array([[1.0, -2.0, 0.5, 3.0], [0.0, 1.5, -1.0, 2.0], [-0.5, 0.25, 2.0, -1.0]])
_MM_W = np.array([[0.2, -0.1], [0.4, 0.3], [-0.6, 0.5], [0.1, -0.2]])
_MM_DOUT = np.array([[1.0, -1.0], [0.5, 2.0], [-1.5, 0.25]])


def _check_matmul_case(Matmul, x, w, dout, case: str) -> None:
    name = "Matmul"
    layer = _new(Matmul, w.copy(), name=name)
    _expect_layer(layer, name)
    out, dx = _forward_backward(layer, x, dout, name)
    assert_close(out, x @ w, f"Matmul.forward(x) {case}")
    expected_dw, expected_dx = x.T @ dout, dout @ w.T
    dw = _stored_dw(layer, case)
    if dw.shape == expected_dw.shape[::-1] and dw.shape != expected_dw.shape:
        fail(
            f"Matmul {case}: grads['w'] has shape {dw.shape}, the weight has shape "
            f"{w.shape}: your weight gradient is transposed. With out = x @ w, "
            f"dL/dw = x.T @ dout, of shape (D, M) like w"
        )
    transposed = "your weight gradient is transposed: with out = x @ w, dL/dw = x.T @ dout"
    why = _known_mistake(
        dw, [(dout.T @ x, transposed)] if x.shape[1] == dout.shape[1] else [], expected_dw
    )
    if why:
        fail(f"Matmul {case}: grads['w'] is wrong: {why}")
    why = _known_mistake(
        dx,
        [(dout @ w, "dx = dout @ w.T (the TRANSPOSED weight)")] if w.shape[0] == w.shape[1] else [],
        expected_dx,
    )
    if why:
        fail(f"Matmul {case}: backward's dx is wrong: {why}")
    # backward must overwrite grads['w'], not accumulate: a second round gives the same.
    call_student(layer.forward, x, label="`Matmul.forward`")
    call_student(layer.backward, dout, label="`Matmul.backward`")
    again = _stored_dw(layer, case)
    if _same(again, 2 * expected_dw) and not _same(again, expected_dw):
        fail(
            f"Matmul {case}: grads['w'] doubled after a second forward/backward: overwrite "
            f"it (self.grads['w'] = ...) instead of accumulating (+=)"
        )
    # The comparison with numerical gradients (dx and grads['w']), plus the no-mutation
    # and params-unchanged checks, on a fresh layer.
    assert_layer_gradients(_new(Matmul, w.copy(), name=name), x, dout, label=f"Matmul {case}")


def _stored_dw(layer, case: str) -> np.ndarray:
    grads = getattr(layer, "grads", None)
    dw = grads.get("w") if isinstance(grads, dict) else None
    if dw is None:
        fail(
            f"Matmul {case}: after backward, self.grads['w'] is missing: store the weight "
            f"gradient there (self.grads['w'] = ...)"
        )
    return to_array(dw, "Matmul.grads['w']")


@check
def check_matmul(Matmul) -> None:
    """Visible: a fixed 3x4 @ 4x2 case, values and numerical gradients; no library layers."""
    expect_callable(Matmul, "Matmul", kind="class")
    _check_matmul_case(Matmul, _MM_X.copy(), _MM_W.copy(), _MM_DOUT.copy(), "(3x4 input)")
    _forbid(Matmul, _numpy_forbidden(), "`Matmul`", _NUMPY_HINT)


@check
def check_matmul_hidden(Matmul) -> None:
    """Hidden: random shapes (N=1, D=1, M=1, square D=M) and seeds."""
    expect_callable(Matmul, "Matmul", kind="class")
    rng = np.random.default_rng(2021)
    for n, d, m in [(1, 3, 2), (5, 1, 4), (7, 6, 1), (4, 5, 5), (16, 9, 12), (2, 2, 2)]:
        x, w = rng.standard_normal((n, d)), rng.standard_normal((d, m))
        dout = rng.standard_normal((n, m))
        _check_matmul_case(Matmul, x, w, dout, f"(N={n}, D={d}, M={m})")
    w = rng.standard_normal((784, 10)).astype(np.float32)
    layer = _new(Matmul, w.copy(), name="Matmul")
    x = rng.random((8, 784), dtype=np.float32)
    out = call_student(layer.forward, x, label="`Matmul.forward`")
    assert_close(out, x @ w, "Matmul.forward(x) (float32, 8x784)", rtol=1e-4, atol=1e-5)


# =====================================================================================
# Relu
# =====================================================================================
_RELU_X = np.array([[-1.5, 0.3, 2.0, -0.2], [0.7, -3.0, 0.1, 1.2]])
_RELU_ZEROS = np.array([[-1.0, 0.0, 2.0], [0.0, 3.0, -0.5]])
_RELU_ZEROS_DOUT = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])


def _relu_candidates(x, out, dout):
    return [
        (
            dout * (out >= 0),
            "`out >= 0` is true everywhere (out = max(x, 0) is never "
            "negative), so your mask lets every gradient through; mask with x > 0",
        ),
        (dout * (x >= 0), "x >= 0 gives relu'(0) = 1; the convention is relu'(0) = 0 (x > 0)"),
        (
            (x > 0).astype(float),
            "backward ignores dout: multiply the local gradient [x > 0] by dout (chain rule)",
        ),
        (
            np.maximum(dout, 0),
            "that is relu applied to dout; the mask comes from the "
            "sign of the forward INPUT x: dx = dout * (x > 0)",
        ),
        (dout * (x < 0), "the mask is inverted: the gradient flows where x > 0"),
        (dout, "the gradient is passed through unchanged: zero it where x <= 0"),
    ]


def _check_relu_case(Relu, x, dout, case: str) -> None:
    layer = _new(Relu, name="Relu")
    _expect_layer(layer, "Relu")
    out, dx = _forward_backward(layer, x, dout, "Relu")
    assert_close(out, np.maximum(x, 0), f"Relu.forward(x) {case}")
    expected = dout * (x > 0)
    why = _known_mistake(dx, _relu_candidates(x, np.maximum(x, 0), dout), expected)
    if why:
        fail(f"Relu.backward {case}: {why}")
    assert_layer_gradients(_new(Relu, name="Relu"), x, dout, label=f"Relu {case}")


def _check_relu_at_zero(Relu, x, dout, case: str) -> None:
    layer = _new(Relu, name="Relu")
    _, dx = _forward_backward(layer, x, dout, "Relu")
    zeros = x == 0
    expected = dout * (x > 0)
    if not _same(dx[zeros], expected[zeros]):
        idx = tuple(int(i) for i in np.argwhere(zeros & (np.abs(dx - expected) > 1e-12))[0])
        fail(
            f"Relu.backward at x == 0 {case}: expected 0 at index {idx} (convention "
            f"relu'(0) = 0), got {dx[idx]:.6g}. Build the mask with `x > 0`, not `x >= 0`"
        )
    assert_close(dx, expected, f"Relu.backward(dout) with exact zeros in x {case}")


@check
def check_relu(Relu) -> None:
    """Visible: forward/backward on a fixed 2x4 case, gradient 0 at x == 0, no library."""
    expect_callable(Relu, "Relu", kind="class")
    rng = np.random.default_rng(0)
    _check_relu_case(Relu, _RELU_X.copy(), rng.standard_normal(_RELU_X.shape), "(2x4 input)")
    _check_relu_at_zero(Relu, _RELU_ZEROS.copy(), _RELU_ZEROS_DOUT.copy(), "(2x3 input)")
    _forbid(Relu, _numpy_forbidden(), "`Relu`", _NUMPY_HINT)


@check
def check_relu_hidden(Relu) -> None:
    """Hidden: random shapes (1-D, 2-D, 4-D), all-negative/all-positive inputs, zeros."""
    expect_callable(Relu, "Relu", kind="class")
    rng = np.random.default_rng(1312)
    for shape in [(1, 5), (6, 3), (3, 2, 4), (2, 3, 2, 2), (7,)]:
        x = _away_from_zero(rng, shape)
        _check_relu_case(Relu, x, rng.standard_normal(shape), f"(shape {shape})")
    x = -np.abs(_away_from_zero(rng, (3, 4)))
    _check_relu_case(Relu, x, rng.standard_normal((3, 4)), "(all inputs negative)")
    x = np.abs(_away_from_zero(rng, (3, 4)))
    _check_relu_case(Relu, x, rng.standard_normal((3, 4)), "(all inputs positive)")
    x = rng.integers(-2, 3, size=(5, 6)).astype(np.float64)  # many exact zeros
    _check_relu_at_zero(Relu, x, rng.standard_normal((5, 6)), "(5x6 integers in [-2, 2])")


# =====================================================================================
# Softmax
# =====================================================================================
_SM_X = np.array([[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0], [0.2, 0.2, 0.2], [2.0, -2.0, 1.0]])
_SM_DOUT = np.array([[0.5, -1.0, 2.0], [1.0, 0.3, -0.7], [-1.2, 0.4, 1.1], [0.0, 2.0, -0.5]])


def _softmax_candidates(s, dout):
    diag = "only the diagonal of the Jacobian: ds_i/dx_j = s_i (delta_ij - s_j) also has the "
    return [
        (dout * s, diag + "off-diagonal terms -s_i s_j; dx = s * (dout - sum(dout * s, axis=1))"),
        (
            dout * s * (1 - s),
            diag + "off-diagonal terms -s_i s_j (s(1 - s) is only "
            "ds_i/dx_i); dx = s * (dout - sum(dout * s, axis=1, keepdims=True))",
        ),
        (
            s * (dout - np.sum(dout * s, axis=0, keepdims=True)),
            "the sum runs over axis 0 "
            "(across samples); each row is its own softmax: sum over axis=1",
        ),
        (
            s * (dout - np.sum(dout * s)),
            "the sum runs over the whole batch; each row is "
            "its own softmax: sum over axis=1 with keepdims=True",
        ),
        (
            s * (dout - np.sum(dout, axis=1, keepdims=True)),
            "the sum is missing the weights "
            "s: dx = s * (dout - sum(dout * s, axis=1, keepdims=True))",
        ),
        (
            dout * s - s * np.sum(dout, axis=1, keepdims=True),
            "the sum is missing the weights "
            "s: dx = s * (dout - sum(dout * s, axis=1, keepdims=True))",
        ),
    ]


def _check_softmax_case(Softmax, x, dout, case: str, stable: bool = True) -> None:
    layer = _new(Softmax, name="Softmax")
    _expect_layer(layer, "Softmax")
    out, dx = _forward_backward(layer, x, dout, "Softmax")
    s = _softmax(x)
    if out.shape == s.shape and _same(out, _softmax(x.T).T) and not _same(out, s):
        fail(
            f"Softmax.forward {case}: your outputs are normalised over axis 0 (down the "
            f"columns, across samples); each ROW is one sample: sum over axis=1"
        )
    assert_close(out, s, f"Softmax.forward(x) {case}", rtol=1e-6, atol=1e-12)
    why = _known_mistake(dx, _softmax_candidates(s, dout), s * (dout - (dout * s).sum(1)[:, None]))
    if why:
        fail(f"Softmax.backward {case}: {why}")
    assert_layer_gradients(_new(Softmax, name="Softmax"), x, dout, label=f"Softmax {case}")


@check
def check_softmax(Softmax) -> None:
    """Visible: a fixed 4x3 case, the full Jacobian-vector product, the stability probe."""
    expect_callable(Softmax, "Softmax", kind="class")
    _check_softmax_case(Softmax, _SM_X.copy(), _SM_DOUT.copy(), "(4x3 input)")
    layer = _new(Softmax, name="Softmax")
    check_stable(layer.forward, [EXTREME_LOGITS.copy()], _softmax, name="Softmax.forward")
    _forbid(Softmax, _numpy_forbidden(), "`Softmax`", _NUMPY_HINT)


@check
def check_softmax_hidden(Softmax) -> None:
    """Hidden: random shapes (N=1, C=2, C=10), large logits in float64 and float32."""
    expect_callable(Softmax, "Softmax", kind="class")
    rng = np.random.default_rng(77)
    for n, c in [(1, 4), (5, 2), (8, 10), (3, 7)]:
        x = 2 * rng.standard_normal((n, c))
        _check_softmax_case(Softmax, x, rng.standard_normal((n, c)), f"(N={n}, C={c})")
    big = rng.uniform(-1, 1, size=(6, 5)) * np.array(
        [[10.0], [100.0], [500.0], [900.0], [1e4], [1e5]]
    )
    check_stable(_new(Softmax, name="Softmax").forward, [big], _softmax, name="Softmax.forward")
    x32 = (rng.standard_normal((4, 10)) * 60).astype(np.float32)
    layer = _new(Softmax, name="Softmax")
    out = to_array(call_student(layer.forward, x32, label="`Softmax.forward`"), "Softmax")
    assert_close(
        out,
        _softmax(x32.astype(np.float64)),
        "Softmax.forward(x) (float32 logits up to |x| ~ 200)",
        rtol=1e-4,
        atol=1e-7,
    )


# =====================================================================================
# Log
# =====================================================================================
_LOG_X = np.array([[0.5, 1.0, 2.0], [0.25, 3.0, 0.8]])
_LOG_DOUT = np.array([[1.0, -2.0, 0.5], [0.3, 1.5, -1.0]])


def _log_candidates(x, dout):
    return [
        (
            dout * np.log(x),
            "backward returns dout * log(x), the forward value; the "
            "derivative of log x is 1/x: dx = dout / x",
        ),
        (
            np.log(x),
            "backward returns log(x), the forward value; the derivative of log x "
            "is 1/x: dx = dout / x",
        ),
        (1 / x, "backward ignores dout: multiply the local derivative 1/x by dout (chain rule)"),
        (dout * x, "backward multiplies by x; the derivative of log x is 1/x: divide"),
        (dout / x**2, "d/dx log x = 1/x, not 1/x^2"),
        (dout * np.exp(x), "d/dx log x = 1/x (exp is the inverse of log, not its derivative)"),
    ]


def _check_log_case(Log, x, dout, case: str) -> None:
    layer = _new(Log, name="Log")
    _expect_layer(layer, "Log")
    out, dx = _forward_backward(layer, x, dout, "Log")
    if _same(out, np.log10(x)) or _same(out, np.log2(x)):
        fail(f"Log.forward {case}: use the natural logarithm np.log (base e), not log10/log2")
    assert_close(out, np.log(x), f"Log.forward(x) {case}", rtol=1e-7, atol=1e-9)
    why = _known_mistake(dx, _log_candidates(x, dout), dout / x)
    if why:
        fail(f"Log.backward {case}: {why}")
    assert_layer_gradients(_new(Log, name="Log"), x, dout, label=f"Log {case}")


@check
def check_log(Log) -> None:
    """Visible: a fixed 2x3 case of positive inputs; backward is dout / x."""
    expect_callable(Log, "Log", kind="class")
    _check_log_case(Log, _LOG_X.copy(), _LOG_DOUT.copy(), "(2x3 input)")
    _forbid(Log, _numpy_forbidden(), "`Log`", _NUMPY_HINT)


@check
def check_log_hidden(Log) -> None:
    """Hidden: random shapes and magnitudes (probabilities, values above 1)."""
    expect_callable(Log, "Log", kind="class")
    rng = np.random.default_rng(4242)
    for shape in [(1, 3), (5, 4), (2, 3, 2), (6,)]:
        x = rng.uniform(0.2, 3.0, size=shape)
        _check_log_case(Log, x, rng.standard_normal(shape), f"(shape {shape})")
    p = _softmax(0.5 * rng.standard_normal((4, 5)))  # probabilities ~0.05-0.6
    _check_log_case(Log, p, rng.standard_normal((4, 5)), "(softmax probabilities)")


# =====================================================================================
# cross_entropy
# =====================================================================================
_CE_LOGP = _log_softmax(
    np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [-1.0, 3.0, 0.0], [1.0, 1.0, 2.0]])
)
_CE_Y = np.array([0, 2, 1, 0])


def _ce_reference(logp, y):
    n = len(y)
    loss = -float(np.mean(logp[np.arange(n), y]))
    return loss, -_one_hot(y, logp.shape[1]) / n


def _ce_hint(exc: BaseException) -> str | None:
    text = str(exc)
    if isinstance(exc, ValueError | IndexError) and ("broadcast" in text or "shape" in text):
        return (
            "y holds integer class labels of shape (N,), not one-hot rows: pick the "
            "log-probability of the true class with log_probs[np.arange(N), y]"
        )
    return None


def _ce_loss_candidates(logp, y):
    n, c = logp.shape
    picked = logp[np.arange(n), y]
    one_hot_assumed = []
    if n in (1, c):  # y * log_probs broadcasts (wrongly) only then
        one_hot_assumed.append(
            (
                -np.sum(y * logp) / n,
                "y holds integer class labels of "
                "shape (N,), not one-hot rows: pick the log-probability of "
                "the true class with log_probs[np.arange(N), y]",
            )
        )
    return one_hot_assumed + [
        (
            -picked.sum(),
            f"the loss is SUMMED over the batch: it must be the MEAN (divide by N = {n})",
        ),
        (picked.mean(), "the sign is flipped: the loss is MINUS the mean log-probability"),
        (
            -picked.sum() / (n * c),
            f"that averages over all N x C = {n * c} entries of the "
            f"one-hot product; average over the N samples only",
        ),
        (
            -np.mean(np.exp(logp)[np.arange(n), y]),
            "that uses the probabilities; the input is already log p, so use it directly",
        ),
        (
            -np.mean(np.log(-logp[np.arange(n), y])),
            "do not take the log again: the input is already log p",
        ),
    ]


def _ce_grad_candidates(logp, y):
    n, c = logp.shape
    onehot = _one_hot(y, c)
    return [
        (
            -onehot,
            f"the gradient is N = {n} times too large: the loss is a mean, so each "
            f"entry carries a factor 1/N",
        ),
        (
            (np.exp(logp) - onehot) / n,
            "that is the gradient with respect to the LOGITS, "
            "(softmax - one-hot) / N. This function takes log-probabilities: dL/dlog_probs = "
            "-one-hot / N (the Log and Softmax backward passes produce the rest)",
        ),
        (
            np.full((n, c), -1.0 / n),
            "the gradient is non-zero only at the true class of each row: -1/N there, 0 elsewhere",
        ),
        (-onehot / (n * c), "the gradient of the mean over N samples is -one-hot / N, not / (N C)"),
        (onehot / n, "the sign is flipped: dL/dlog_probs = -one-hot / N"),
    ]


def _check_ce_case(cross_entropy, logp, y, case: str) -> None:
    label = "`cross_entropy`"
    result = call_student(cross_entropy, logp, y, label=label, hint=_ce_hint)
    if not (isinstance(result, tuple) and len(result) == 2):
        got = type(result).__name__ + (
            f" of length {len(result)}" if isinstance(result, tuple) else ""
        )
        fail(f"cross_entropy {case}: expected a pair (loss, dlog_probs), got {got}")
    loss_got, grad_got = result
    n = len(y)
    loss_exp, grad_exp = _ce_reference(logp.astype(np.float64), y)
    if isinstance(loss_got, np.ndarray) and loss_got.shape == ():
        loss_got = float(loss_got)  # a 0-d array is as good as a number here
    loss = assert_scalar(loss_got, "loss (first value returned by cross_entropy)")
    why = _known_mistake(loss, _ce_loss_candidates(logp.astype(np.float64), y), loss_exp)
    if why:
        fail(f"cross_entropy {case}: loss is {loss:.6g}, expected {loss_exp:.6g}: {why}")
    assert_close(
        loss,
        loss_exp,
        f"cross_entropy loss {case}",
        rtol=1e-5 if logp.dtype == np.float32 else 1e-9,
        batch_size=n,
    )
    grad = to_array(
        grad_got, "dlog_probs (second value returned by cross_entropy)", expected_ndim=2
    )
    why = _known_mistake(grad, _ce_grad_candidates(logp.astype(np.float64), y), grad_exp)
    if why:
        fail(f"cross_entropy {case}: dlog_probs is wrong: {why}")
    assert_close(
        grad,
        grad_exp,
        f"dlog_probs {case}",
        batch_size=n,
        rtol=1e-5 if logp.dtype == np.float32 else 1e-9,
    )
    if logp.dtype == np.float64:
        assert_numerical_gradient(
            lambda z: call_student(cross_entropy, z, y.copy(), label=label)[0],
            logp,
            grad,
            name="dlog_probs",
            batch_size=n,
            label=f"cross_entropy {case}",
        )


@check
def check_cross_entropy(cross_entropy) -> None:
    """Visible: four samples, three classes; loss and gradient (numerically checked)."""
    expect_callable(cross_entropy, "cross_entropy")
    _check_ce_case(cross_entropy, _CE_LOGP.copy(), _CE_Y.copy(), "(N=4, C=3)")
    _forbid(cross_entropy, _numpy_forbidden(), "`cross_entropy`", _NUMPY_HINT)


@check
def check_cross_entropy_hidden(cross_entropy) -> None:
    """Hidden: random N, C (N=1, N=C), int32 labels, float32 inputs, confident rows."""
    expect_callable(cross_entropy, "cross_entropy")
    rng = np.random.default_rng(31337)
    for n, c in [(1, 3), (6, 6), (10, 2), (9, 10)]:
        logp = _log_softmax(2 * rng.standard_normal((n, c)))
        y = rng.integers(0, c, size=n)
        _check_ce_case(cross_entropy, logp, y, f"(N={n}, C={c})")
    logp = _log_softmax(rng.standard_normal((7, 4)))
    _check_ce_case(cross_entropy, logp, np.full(7, 3, dtype=np.int32), "(int32 labels, all 3)")
    logp = _log_softmax(30 * rng.standard_normal((5, 10))).astype(np.float32)
    y = rng.integers(0, 10, size=5)
    _check_ce_case(cross_entropy, logp, y, "(float32 log-probabilities of confident rows)")


# =====================================================================================
# TwoLayerNet
# =====================================================================================
def _build_net(TwoLayerNet, d, h, c, seed, rng):
    """The student's net in float64 with random weights (bias rows too), set IN PLACE."""
    net = call_student(
        TwoLayerNet,
        d,
        h,
        c,
        seed,
        np.float64,
        label=f"`TwoLayerNet({d}, {h}, {c}, seed={seed}, dtype=np.float64)`",
    )
    params = getattr(net, "params", None)
    if not isinstance(params, dict) or set(params) != {"w1", "w2"}:
        fail(
            "TwoLayerNet: expected `net.params` to be the dict {'w1', 'w2'} set up by the "
            f"given __init__, got {describe_value(params)}"
        )
    for key, shape in (("w1", (d + 1, h)), ("w2", (h + 1, c))):
        value = params[key]
        if not isinstance(value, np.ndarray) or value.shape != shape:
            fail(
                f"TwoLayerNet: params[{key!r}] should be a {shape} array, got "
                f"{describe_value(value)}: keep the given __init__"
            )
        value[...] = rng.standard_normal(shape) / np.sqrt(shape[0])
    return net


def _kink_free_input(net, rng, n, d):
    """An input whose hidden pre-activations all satisfy |z| > 1e-3 (no ReLU kink nearby)."""
    w1 = net.params["w1"]
    for _ in range(100):
        x = rng.standard_normal((n, d))
        if np.abs(_append_ones(x) @ w1).min() > 1e-3:
            return x
    return x  # pragma: no cover (astronomically unlikely)


_NET_FORWARD = (
    "forward is: append a column of ones to x; Matmul(w1); Relu; append a column of ones; "
    "Matmul(w2); Softmax; Log"
)
_NET_BACKWARD = (
    "backward calls the layers' backward in REVERSE order: Log, Softmax, Matmul(w2) (drop "
    "the last column), Relu, Matmul(w1) (drop the last column)"
)


def _net_hint(exc: BaseException) -> str | None:
    if isinstance(exc, ValueError) and "mismatch" in str(exc):
        return (
            "the shapes do not fit: w1 has D + 1 rows and w2 has H + 1 rows, so append the "
            "column of ones (append_ones) before EACH Matmul in forward, and drop the last "
            "column of the gradient after each Matmul.backward"
        )
    return None


def _net_backward_variants(x, w1, w2, dout):
    """(dx, dw1, dw2) of the correct backward pass and of typical wrong compositions."""
    xa = _append_ones(x)
    z1 = xa @ w1
    ha = _append_ones(np.maximum(z1, 0))
    s = _softmax(ha @ w2)

    def softmax_back(g):
        return s * (g - np.sum(g * s, axis=1, keepdims=True))

    def rest(dz2, relu=True, keep=slice(None, -1)):
        dz1 = (dz2 @ w2.T)[:, keep] * ((z1 > 0) if relu else 1.0)
        return (dz1 @ w1.T)[:, keep], xa.T @ dz1, ha.T @ dz2

    skip = "the {} layer's backward is missing: " + _NET_BACKWARD
    variants = [
        (rest(softmax_back(dout)), skip.format("Log")),
        (rest(dout / s), skip.format("Softmax")),
        (rest(softmax_back(dout / s), relu=False), skip.format("Relu")),
        (
            rest(softmax_back(dout / s), keep=slice(1, None)),
            "the FIRST column was dropped; the constant 1-column added by append_ones is "
            "the LAST one: drop it with [:, :-1]",
        ),
    ]
    return rest(softmax_back(dout / s)), variants


def _check_net_case(TwoLayerNet, d, h, c, n, seed, case: str) -> None:
    rng = np.random.default_rng(seed)
    net = _build_net(TwoLayerNet, d, h, c, seed, rng)
    x = _kink_free_input(net, rng, n, d)
    w1, w2 = net.params["w1"].copy(), net.params["w2"].copy()
    expected = _net_reference(x, w1, w2)
    out = call_student(net.forward, x, label="`TwoLayerNet.forward`", hint=_net_hint)
    out = to_array(out, "TwoLayerNet.forward(x)", expected_ndim=2)
    logits = _append_ones(np.maximum(_append_ones(x) @ w1, 0)) @ w2
    why = _known_mistake(
        out,
        [
            (np.exp(expected), "returns probabilities; end with the Log layer"),
            (logits, "returns the scores (logits); pass them through Softmax, then Log"),
            (
                _log_softmax(_append_ones(_append_ones(x) @ w1) @ w2),
                "there is no Relu between the two Matmul layers",
            ),
        ],
        expected,
    )
    if why:
        fail(f"TwoLayerNet.forward {case}: {why}. It must return LOG-probabilities; {_NET_FORWARD}")
    assert_close(
        out,
        expected,
        f"TwoLayerNet.forward(x) {case}",
        rtol=1e-6,
        atol=1e-9,
        rows_are_samples=False,
        hint=_NET_FORWARD,
    )
    dout = rng.standard_normal((n, c))
    dx = call_student(net.backward, dout, label="`TwoLayerNet.backward`", hint=_net_hint)
    dx = to_array(dx, "TwoLayerNet.backward(dout)", expected_ndim=2)
    if dx.shape == (n, d + 1):
        fail(
            f"TwoLayerNet.backward {case}: returns shape {dx.shape}, x has shape {x.shape}: "
            f"the last column is the gradient of the constant 1-column added by "
            f"append_ones; drop it (dx[:, :-1]), here and before the Relu"
        )
    grads = getattr(net, "grads", None)
    if not isinstance(grads, dict) or any(grads.get(k) is None for k in ("w1", "w2")):
        fail(
            f"TwoLayerNet.backward {case}: set self.grads['w1'] and self.grads['w2'] "
            f"(the grads of the two Matmul layers)"
        )
    got = (dx, grads["w1"], grads["w2"])
    correct, variants = _net_backward_variants(x, w1, w2, dout)
    for variant, why in variants:
        if all(
            _same(np.asarray(g, dtype=np.float64), v) for g, v in zip(got, variant, strict=True)
        ):
            if not all(_same(v, r) for v, r in zip(variant, correct, strict=True)):
                fail(f"TwoLayerNet.backward {case}: {why}")
    assert_layer_gradients(net, x, dout, label=f"TwoLayerNet {case}")


@check
def check_two_layer_net(TwoLayerNet) -> None:
    """Visible: D=5, H=4, C=3, N=6 in float64: log-probabilities and every gradient."""
    expect_callable(TwoLayerNet, "TwoLayerNet", kind="class")
    _forbid(
        TwoLayerNet,
        _numpy_forbidden(),
        "`TwoLayerNet`",
        "compose YOUR Matmul, Relu, Softmax and Log layers",
    )
    # Scored alone: the student's TwoLayerNet built from the reference layers.
    with substituted(TwoLayerNet, _reference_layers()):
        _check_net_case(TwoLayerNet, 5, 4, 3, 6, 0, "(D=5, H=4, C=3, N=6)")


@check
def check_two_layer_net_hidden(TwoLayerNet) -> None:
    """Hidden: other sizes (N=1, C=2, wider hidden layers) and seeds."""
    expect_callable(TwoLayerNet, "TwoLayerNet", kind="class")
    with substituted(TwoLayerNet, _reference_layers()):
        for d, h, c, n, seed in [
            (3, 7, 2, 1, 11),
            (8, 6, 10, 9, 12),
            (2, 2, 4, 5, 13),
            (12, 16, 5, 20, 14),
        ]:
            _check_net_case(TwoLayerNet, d, h, c, n, seed, f"(D={d}, H={h}, C={c}, N={n})")


# =====================================================================================
# train_epoch
# =====================================================================================
def _epoch_data(rng, n, d, c, dtype=np.float64):
    X = rng.standard_normal((n, d))
    X[:, 0] = np.arange(n) / n
    return X.astype(dtype), rng.integers(0, c, size=n)


def _run_epoch(train_epoch, X, y, c, batch_size, lr, seed, net_seed=0):
    recording_net = reference("course_utils.grading.doubles", "RecordingNet")
    net = call_student(
        recording_net, X.astype(np.float64), c, np.random.default_rng(net_seed), label="net"
    )
    rng = np.random.default_rng(seed)
    result = call_student(train_epoch, net, X, y, batch_size, lr, rng, label="`train_epoch`")
    return net, result


def _check_epoch_structure(net, n, batch_size, case: str) -> None:
    pattern = ["forward", "backward"] * (len(net.calls) // 2)
    if net.calls != pattern or not net.calls:
        shown = ", ".join(net.calls[:6]) + (", ..." if len(net.calls) > 6 else "")
        fail(
            f"train_epoch {case}: expected net.forward / net.backward to alternate, once "
            f"per mini-batch; the calls were: {shown or 'none'}"
        )
    sizes = [len(b) for b in net.batches]
    seen = np.concatenate(net.batches)
    counts = np.bincount(seen[(seen >= 0) & (seen < n)], minlength=n)
    missing = np.nonzero(counts == 0)[0]
    if len(missing) and len(seen) < n:
        fail(
            f"train_epoch {case}: {len(missing)} of the N = {n} samples were never used "
            f"(batch sizes {sizes}): every sample must be used once per epoch; keep the "
            f"last, smaller batch (e.g. for start in range(0, N, batch_size))"
        )
    if (counts > 1).any() or len(missing):
        fail(
            f"train_epoch {case}: each sample must be used exactly once per epoch; "
            f"{int((counts > 1).sum())} samples were used more than once and "
            f"{len(missing)} never (batch sizes {sizes}). Index the batches with a "
            f"permutation of range(N)"
        )
    expected_sizes = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    if batch_size >= n:
        expected_sizes = [n]
    if sizes != expected_sizes:
        fail(
            f"train_epoch {case}: expected mini-batches of sizes {expected_sizes} "
            f"(batch_size={batch_size}, N={n}), got {sizes}"
        )


def _check_epoch_updates(net, lr, case: str) -> None:
    snapshots = net.params_at_forward[1:] + [
        {k: np.asarray(v, dtype=np.float64) for k, v in net.params.items()}
    ]
    for step, (before, grads, after) in enumerate(
        zip(net.params_at_forward, net.grads_at_backward, snapshots, strict=True)
    ):
        for key in before:
            change, expected = after[key] - before[key], -lr * grads[key]
            if _same(change, expected, rtol=1e-6, atol=1e-12):
                continue
            where = f"train_epoch {case}, update {step + 1}, parameter {key!r}"
            if not np.abs(change).max() > 0:
                fail(
                    f"{where}: the parameter did not change: after net.backward, update "
                    f"every array in net.params in place: net.params[k] -= lr * "
                    f"net.grads[k]"
                )
            if _same(change, -expected, rtol=1e-6, atol=1e-12):
                fail(
                    f"{where}: the step goes uphill (+lr * grad): gradient descent "
                    f"subtracts: net.params[k] -= lr * net.grads[k]"
                )
            ratio = float(np.median(change[expected != 0] / expected[expected != 0]))
            if _same(change, ratio * expected, rtol=1e-6, atol=1e-12):
                fail(
                    f"{where}: the step is {ratio:.4g} x (-lr * grad): the update is "
                    f"net.params[k] -= lr * net.grads[k] with lr = {lr}, nothing else"
                )
            assert_close(
                change,
                expected,
                f"{where}: the change params_new - params_old",
                rtol=1e-6,
                atol=1e-12,
                rows_are_samples=False,
                hint="the update must use the gradients of THIS mini-batch, "
                "right after net.backward",
            )
    replaced = call_student(net.replaced_params, label="net.replaced_params")
    for key in net.originals:
        if key in replaced:
            fail(
                f"train_epoch {case}: net.params[{key!r}] was replaced by a new array. "
                f"Update it IN PLACE (net.params[k] -= lr * net.grads[k]): the Matmul "
                f"layers of TwoLayerNet hold the original arrays, so a replaced array "
                f"would never reach them and the network would not learn"
            )


def _check_epoch_loss(net, y, result, case: str) -> None:
    loss = assert_scalar(
        float(result) if isinstance(result, np.ndarray) and result.shape == () else result,
        "the value returned by train_epoch",
    )
    batch_losses = [
        -float(np.mean(lp[np.arange(len(ids)), y[ids]]))
        for lp, ids in zip(net.log_probs, net.batches, strict=True)
    ]
    sizes = [len(ids) for ids in net.batches]
    plain = float(np.mean(batch_losses))
    weighted = float(np.dot(batch_losses, sizes) / np.sum(sizes))
    if abs(loss - plain) <= 1e-6 * max(1.0, abs(plain)) or abs(loss - weighted) <= 1e-6 * max(
        1.0, abs(weighted)
    ):
        return
    msg = (
        f"train_epoch {case}: returned {loss:.6g}, expected the mean of the mini-batch "
        f"losses {plain:.6g}"
    )
    if abs(loss - batch_losses[-1]) <= 1e-9:
        msg += "; you returned the LAST mini-batch's loss: average them all"
    elif abs(loss - sum(batch_losses)) <= 1e-9:
        msg += "; you returned their SUM: divide by the number of batches"
    else:
        msg += (
            " (each the loss cross_entropy returned for that mini-batch, before its "
            "update; this check runs your train_epoch with a reference cross_entropy)"
        )
    fail(msg)


def _check_epoch_case(train_epoch, n, d, c, batch_size, lr, seed, case, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X, y = _epoch_data(rng, n, d, c, dtype)
    net, result = _run_epoch(train_epoch, X, y, c, batch_size, lr, seed)
    _check_epoch_structure(net, n, batch_size, case)
    _check_epoch_updates(net, lr, case)
    _check_epoch_loss(net, y, result, case)
    return net


def _check_shuffled(train_epoch, n, batch_size, case: str) -> None:
    rng = np.random.default_rng(5)
    X, y = _epoch_data(rng, n, 3, 2)
    net_a, _ = _run_epoch(train_epoch, X, y, 2, batch_size, 0.1, seed=7)
    order = np.concatenate(net_a.batches)
    if (order == np.arange(n)).all():
        fail(
            f"train_epoch {case}: the samples are visited in their stored order 0, 1, 2, "
            f"...; shuffle them every epoch with the given generator: rng.permutation(N)"
        )
    net_b, _ = _run_epoch(train_epoch, X, y, 2, batch_size, 0.1, seed=7)
    if not (np.concatenate(net_b.batches) == order).all():
        fail(
            f"train_epoch {case}: two calls with generators seeded alike visited the "
            f"samples in different orders: shuffle with the `rng` argument "
            f"(rng.permutation(N)), not np.random.*, so training is reproducible"
        )
    net_c, _ = _run_epoch(train_epoch, X, y, 2, batch_size, 0.1, seed=8)
    if (np.concatenate(net_c.batches) == order).all():
        fail(
            f"train_epoch {case}: generators with different seeds gave the same order: "
            f"use the `rng` argument to shuffle (do not create your own generator)"
        )


@check
def check_train_epoch(train_epoch) -> None:
    """Visible: one full-batch step, then N=10 in batches of 4; shuffling with ``rng``."""
    expect_callable(train_epoch, "train_epoch")
    with substituted(train_epoch, {"cross_entropy": reference(_STAND_INS, "cross_entropy")}):
        _check_epoch_case(train_epoch, 8, 3, 2, 8, 0.5, 0, "(N=8, batch_size=8: one step)")
        _check_epoch_case(train_epoch, 10, 4, 3, 4, 0.1, 1, "(N=10, batch_size=4)")
        _check_shuffled(train_epoch, 30, 8, "(N=30, batch_size=8)")
    _forbid(
        train_epoch,
        _numpy_forbidden(),
        "`train_epoch`",
        "write the loop yourself with your cross_entropy and net.forward/backward",
    )


@check
def check_train_epoch_hidden(train_epoch) -> None:
    """Hidden: batch_size 1, > N and dividing N; other learning rates; float32 data."""
    expect_callable(train_epoch, "train_epoch")
    with substituted(train_epoch, {"cross_entropy": reference(_STAND_INS, "cross_entropy")}):
        _check_epoch_hidden_cases(train_epoch)


def _check_epoch_hidden_cases(train_epoch) -> None:
    cases = [
        (7, 2, 3, 1, 0.05, 21),
        (12, 5, 4, 6, 0.2, 22),
        (5, 3, 2, 64, 1.0, 23),
        (33, 6, 10, 10, 0.01, 24),
    ]
    for n, d, c, b, lr, seed in cases:
        _check_epoch_case(train_epoch, n, d, c, b, lr, seed, f"(N={n}, batch_size={b}, lr={lr})")
    _check_epoch_case(train_epoch, 20, 4, 3, 8, 0.1, 25, "(float32 data)", dtype=np.float32)
    _check_shuffled(train_epoch, 64, 16, "(N=64, batch_size=16)")
    # Two epochs in a row with the same generator: a new order each epoch.
    rng = np.random.default_rng(26)
    X, y = _epoch_data(rng, 40, 3, 2)
    recording_net = reference("course_utils.grading.doubles", "RecordingNet")
    net = call_student(recording_net, X, 2, np.random.default_rng(0), label="net")
    gen = student_rng(3)
    for _ in range(2):
        call_student(train_epoch, net, X, y, 40, 0.1, gen, label="`train_epoch`")
    if (net.batches[0] == net.batches[1]).all():
        fail(
            "train_epoch: two epochs with the same generator visited the samples in the "
            "same order: draw a fresh permutation at every call (rng.permutation(N))"
        )


# =====================================================================================
# MNIST accuracy (NumPy and TensorFlow)
# =====================================================================================
def _make_mnist_test() -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    """Load the MNIST test set once; keep it as immutable bytes; return fresh copies."""
    store: dict[str, bytes] = {}

    def get() -> tuple[np.ndarray, np.ndarray]:
        if not store:
            from course_utils.data import load_mnist

            data = load_mnist(flatten=True, verbose=False)
            store["x"] = np.ascontiguousarray(data.X_test, dtype=np.float32).tobytes()
            store["y"] = np.ascontiguousarray(data.y_test, dtype=np.int64).tobytes()
        x = np.frombuffer(store["x"], dtype=np.float32).reshape(-1, 784).copy()
        y = np.frombuffer(store["y"], dtype=np.int64).copy()
        return x, y

    return get


_mnist_test = _make_mnist_test()


def _outputs(fn, x, label: str, expect_log_probs: bool) -> np.ndarray:
    """The student's outputs on a batch of test images (only to compare with the weights)."""
    out = to_array(call_student(fn, x, label=label), f"{label} on test images", expected_ndim=2)
    if out.shape != (len(x), 10):
        fail(
            f"{label}: expected an output of shape {(len(x), 10)} for a batch of "
            f"{len(x)} test images, got {out.shape}"
        )
    if not np.isfinite(out).all():
        fail(
            f"{label}: the output contains NaN or inf on MNIST test images: the "
            f"training diverged (learning rate too large?) or a layer is unstable"
        )
    if expect_log_probs and not _same(
        np.exp(out).sum(axis=1), np.ones(len(x)), rtol=1e-3, atol=1e-3
    ):
        fail(f"{label}: the rows of exp(output) must sum to 1 (log-probabilities)")
    return out


def _graded_accuracy(fn, forward, x, y, sample, label, log_probs, what, task) -> float:
    """Test accuracy of the network's WEIGHTS, computed here with the reference forward pass.

    The student's own forward pass is only compared with it, on ``sample`` (indices of test
    images): predictions computed by the student's process are never counted, since that
    process can read the test labels as easily as the grader can.
    """
    expected = forward(x[sample])
    if not np.isfinite(expected).all():
        fail(
            f"{label}: the output contains NaN or inf on MNIST test images: the "
            f"training diverged (learning rate too large?) or a layer is unstable"
        )
    got = _outputs(fn, x[sample], label, log_probs)
    if not _same(got, expected, rtol=1e-3, atol=1e-4):
        fail(
            f"{what}: {label} on test images does not compute the network from its own "
            f"weights (max difference {float(np.max(np.abs(got - expected))):.3g}): "
            f"{task} must pass its test first"
        )
    preds = np.concatenate(
        [forward(x[i : i + 1000]).argmax(axis=1) for i in range(0, len(x), 1000)]
    )
    return float(np.mean(preds == y))


def _assert_accuracy(acc: float, what: str, advice: str) -> None:
    if not acc >= ACCURACY_THRESHOLD:
        fail(
            f"{what}: test accuracy {acc:.2%} is below the required "
            f"{ACCURACY_THRESHOLD:.0%}. {advice}"
        )


_NP_ADVICE = (
    "Check that every layer passes its test, then train longer or tune lr "
    "(e.g. 8 epochs, batch_size 64, lr 0.2, 100 hidden units)"
)


def _numpy_net_checks(net) -> tuple[np.ndarray, np.ndarray]:
    """The trained net's weights (copies) after checking what it is; fails otherwise."""
    if net is None or not callable(getattr(net, "forward", None)):
        fail(f"expected your trained TwoLayerNet, got {describe_value(net)}")
    net_class = class_of(net)
    expect_callable(net_class, net_class.__name__, kind="class")
    _forbid(
        net_class,
        _numpy_forbidden(),
        f"`{net_class.__name__}`",
        "train YOUR TwoLayerNet made of your layers",
    )
    params = getattr(net, "params", None)
    w1 = params.get("w1") if isinstance(params, dict) else None
    w2 = params.get("w2") if isinstance(params, dict) else None
    if not (
        isinstance(w1, np.ndarray)
        and isinstance(w2, np.ndarray)
        and w1.ndim == w2.ndim == 2
        and w1.shape[0] == 785
        and w1.shape[1] >= 100
        and w2.shape == (w1.shape[1] + 1, 10)
    ):
        fail(
            f"expected a 784-H-10 TwoLayerNet with H >= 100 hidden units (params w1 of shape "
            f"(785, H), w2 of shape (H + 1, 10)), got w1 {describe_value(w1)}, "
            f"w2 {describe_value(w2)}"
        )
    return w1.astype(np.float64), w2.astype(np.float64)


def _failing_task(name: str, probe: Callable[[], None]) -> str | None:
    """``"your <name> fails its test (<why>)"`` if ``probe`` (a visible case) fails."""
    try:
        probe()
    except AssertionError as exc:
        first = str(exc).splitlines()[0]
        return f"your {name} fails its test ({first[:160]})"
    return None


def _blame_earlier_tasks(message: str, faults: list) -> None:
    """Fail with ``message``, naming the earlier tasks at fault (``faults``) if any."""
    faults = [f for f in faults if f]
    if not faults:
        fail(message)
    fail(
        f"{message}\nHint: this task grades the network your earlier answers built and "
        f"trained, and {'; '.join(faults)}. Fix that task first (its own test cell)"
    )


def _numpy_tasks_at_fault(net) -> list:
    """The earlier tasks of the trained net (its layers, its class) that fail their test."""
    cases = {
        "Matmul": lambda cls: _check_matmul_case(
            cls, _MM_X.copy(), _MM_W.copy(), _MM_DOUT.copy(), "(3x4 input)"
        ),
        "Relu": lambda cls: _check_relu_case(
            cls, _RELU_X.copy(), np.random.default_rng(0).standard_normal((2, 4)), "(2x4 input)"
        ),
        "Softmax": lambda cls: _check_softmax_case(cls, _SM_X.copy(), _SM_DOUT.copy(), "(4x3)"),
        "Log": lambda cls: _check_log_case(cls, _LOG_X.copy(), _LOG_DOUT.copy(), "(2x3 input)"),
    }
    layers = {}
    attributes = {"mul1": "Matmul", "relu": "Relu", "softmax": "Softmax", "log": "Log"}
    for attr, name in attributes.items():
        layer = getattr(net, attr, None)
        if layer is None:
            return []  # not the notebook's TwoLayerNet: nothing to attribute
        layers[name] = class_of(layer)
    faults = [
        _failing_task(name, functools.partial(cases[name], cls)) for name, cls in layers.items()
    ]
    net_class = class_of(net)

    def net_probe():
        with substituted(net_class, _reference_layers()):
            _check_net_case(net_class, 5, 4, 3, 6, 0, "(D=5, H=4, C=3, N=6)")

    faults.append(_failing_task("TwoLayerNet", net_probe))
    return faults


def _check_numpy_accuracy(net, sample: np.ndarray) -> None:
    w1, w2 = _numpy_net_checks(net)
    x, y = _mnist_test()
    try:
        acc = _graded_accuracy(
            net.forward,
            lambda batch: _net_reference(batch.astype(np.float64), w1, w2),
            x,
            y,
            sample,
            "`net.forward`",
            True,
            "your NumPy network",
            "TwoLayerNet",
        )
        _assert_accuracy(acc, "your NumPy network", _NP_ADVICE)
    except AssertionError as exc:
        _blame_earlier_tasks(str(exc), _numpy_tasks_at_fault(net))


@check
def check_mnist_accuracy(net) -> None:
    """Visible: the trained NumPy network's weights reach >= 97 % on the 10,000 test images."""
    _check_numpy_accuracy(net, np.arange(200))


@check
def check_mnist_accuracy_hidden(net) -> None:
    """Hidden: the same, the forward pass compared with the weights on 997 random images."""
    _check_numpy_accuracy(net, np.random.default_rng(97).permutation(10_000)[:997])


# =====================================================================================
# TensorFlow: TFTwoLayerNet and tf_train_step
# =====================================================================================
_TF_VARS = ("w1", "b1", "w2", "b2")


def _tf():
    """TensorFlow, imported quietly on first use (the grader process imports it here)."""
    from course_utils.environment import import_tensorflow

    return import_tensorflow()


def _build_tf_model(TFTwoLayerNet, d, h, c, seed):
    tf = _tf()
    model = call_student(
        TFTwoLayerNet,
        d,
        h,
        c,
        seed,
        check_mutation=False,
        label=f"`TFTwoLayerNet({d}, {h}, {c}, seed={seed})`",
    )
    shapes = {"w1": (d, h), "b1": (h,), "w2": (h, c), "b2": (c,)}
    for key in _TF_VARS:
        var = getattr(model, key, None)
        if not instance_of(var, tf.Variable):
            fail(
                f"TFTwoLayerNet: `self.{key}` must be a tf.Variable, got "
                f"{describe_value(var)}: create it with tf.Variable(initial_value)"
            )
        if tuple(var.shape) != shapes[key]:
            hint = " (transposed?)" if tuple(var.shape) == shapes[key][::-1] else ""
            fail(
                f"TFTwoLayerNet({d}, {h}, {c}): `self.{key}` has shape {tuple(var.shape)}, "
                f"expected {shapes[key]}{hint}"
            )
        if var.dtype != tf.float32:
            fail(
                f"TFTwoLayerNet: `self.{key}` has dtype {var.dtype.name}, expected float32 "
                f"(MNIST images are float32; tf.matmul does not mix dtypes)"
            )
        if not var.trainable:
            fail(f"TFTwoLayerNet: `self.{key}` is not trainable (trainable=False?)")
    variables = call_student(lambda: model.variables, label="`TFTwoLayerNet.variables`")
    if (
        not isinstance(variables, list | tuple)
        or len(variables) != 4
        or any(v is not getattr(model, k) for v, k in zip(variables, _TF_VARS, strict=False))
    ):
        fail(
            "TFTwoLayerNet.variables must be [self.w1, self.b1, self.w2, self.b2] (keep the "
            "given property)"
        )
    return model


def _check_tf_init(model, d, h, c, case: str) -> None:
    w1, b1 = model.w1.numpy(), model.b1.numpy()
    w2, b2 = model.w2.numpy(), model.b2.numpy()
    if np.abs(b1).max() > 0 or np.abs(b2).max() > 0:
        fail(f"TFTwoLayerNet {case}: the biases must start at zero (tf.zeros)")
    for key, w in (("w1", w1), ("w2", w2)):
        if w.size > 1 and np.ptp(w) == 0:
            fail(
                f"TFTwoLayerNet {case}: all entries of {key} are equal: initialise the "
                f"weights randomly (He: normal * sqrt(2 / fan_in)) so the units differ"
            )
        if not np.isfinite(w).all():
            fail(f"TFTwoLayerNet {case}: {key} contains NaN or inf")
    # The task states He initialisation: normal, std sqrt(2 / fan_in), fan_in = rows.
    for key, w, fan, size in (("w1", w1, "D", d), ("w2", w2, "H", h)):
        if w.size >= _INIT_MIN_ENTRIES:
            assert_init_scale(
                w,
                np.sqrt(2.0 / size),
                key,
                stated=f"√(2/{fan}) ({fan} = {size})",
                factors={"D": d, "H": h, "C": c},
                label=f"TFTwoLayerNet {case}",
                hint=(
                    f"He initialisation divides by the fan-in, the number of INPUTS of the "
                    f"layer ({key} has {fan} = {size} rows): std = √(2/{fan})"
                ),
            )


#: Matrices this large get the statistical scale check (enough entries for its power).
_INIT_MIN_ENTRIES = 500


def _set_tf_weights(model, rng, d, h, c):
    values = {
        "w1": rng.standard_normal((d, h)) / np.sqrt(d),
        "b1": 0.5 * rng.standard_normal(h),
        "w2": rng.standard_normal((h, c)) / np.sqrt(h),
        "b2": 0.5 * rng.standard_normal(c),
    }
    for key, value in values.items():
        getattr(model, key).assign(value.astype(np.float32))
    return {k: v.astype(np.float32).astype(np.float64) for k, v in values.items()}


def _tf_logits(x, p):
    return np.maximum(x @ p["w1"] + p["b1"], 0) @ p["w2"] + p["b2"]


def _check_tf_model_case(TFTwoLayerNet, d, h, c, n, seed, case, as_tensor=False) -> None:
    tf = _tf()
    model = _build_tf_model(TFTwoLayerNet, d, h, c, seed)
    _check_tf_init(model, d, h, c, case)
    rng = np.random.default_rng(seed)
    p = _set_tf_weights(model, rng, d, h, c)
    x = rng.standard_normal((n, d)).astype(np.float32)
    arg = tf.constant(x) if as_tensor else x
    out = call_student(model, arg, label="`TFTwoLayerNet.__call__`")
    expected = _tf_logits(x.astype(np.float64), p)
    got = to_array(out, "model(x)", expected_ndim=2)
    if got.shape == expected.shape:
        no_relu = (x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
        if _same(got, no_relu, rtol=1e-4, atol=1e-5):
            fail(f"TFTwoLayerNet {case}: model(x) has no ReLU between the two layers")
        if _same(got, _softmax(expected), rtol=1e-4, atol=1e-5) or _same(
            got, _log_softmax(expected), rtol=1e-4, atol=1e-5
        ):
            fail(
                f"TFTwoLayerNet {case}: model(x) must return the LOGITS (scores), without "
                f"softmax: the loss applies it"
            )
    assert_close(
        got,
        expected,
        f"model(x) {case}",
        rtol=1e-4,
        atol=1e-5,
        hint="model(x) = relu(x @ w1 + b1) @ w2 + b2",
    )


@check
def check_tf_model(TFTwoLayerNet) -> None:
    """Visible: D=4, H=3, C=2: tf.Variables of the right shapes, zero biases, logits."""
    expect_callable(TFTwoLayerNet, "TFTwoLayerNet", kind="class")
    _forbid(TFTwoLayerNet, _keras_forbidden(), "`TFTwoLayerNet`", _KERAS_HINT, _KERAS)
    _check_tf_model_case(TFTwoLayerNet, 4, 3, 2, 5, 0, "(D=4, H=3, C=2)")
    # The initial scale at the notebook's size (enough entries for a sound statistical test).
    _check_tf_init(_build_tf_model(TFTwoLayerNet, 784, 100, 10, 0), 784, 100, 10, "(784-100-10)")


@check
def check_tf_model_hidden(TFTwoLayerNet) -> None:
    """Hidden: other sizes, a tf.Tensor input, N=1, and seeded (reproducible) weights."""
    expect_callable(TFTwoLayerNet, "TFTwoLayerNet", kind="class")
    for d, h, c, n, seed in [(784, 100, 10, 3, 1), (3, 8, 5, 1, 2), (6, 2, 7, 9, 3)]:
        _check_tf_model_case(
            TFTwoLayerNet, d, h, c, n, seed, f"(D={d}, H={h}, C={c}, N={n})", as_tensor=seed == 3
        )
    a = _build_tf_model(TFTwoLayerNet, 5, 4, 3, 17)
    b = _build_tf_model(TFTwoLayerNet, 5, 4, 3, 17)
    other = _build_tf_model(TFTwoLayerNet, 5, 4, 3, 18)
    if not (a.w1.numpy() == b.w1.numpy()).all():
        fail(
            "TFTwoLayerNet: two models built with the same seed have different weights: "
            "draw them from the seed (e.g. tf.random.Generator.from_seed(seed))"
        )
    if (a.w1.numpy() == other.w1.numpy()).all():
        fail(
            "TFTwoLayerNet: models built with different seeds have the same weights: "
            "use the `seed` argument"
        )


def _tf_step_expected(p, x, y, lr):
    n = len(y)
    z1 = x @ p["w1"] + p["b1"]
    a1 = np.maximum(z1, 0)
    logits = a1 @ p["w2"] + p["b2"]
    logp = _log_softmax(logits)
    loss = -float(np.mean(logp[np.arange(n), y]))
    dlogits = (np.exp(logp) - _one_hot(y, logits.shape[1])) / n
    grads = {"w2": a1.T @ dlogits, "b2": dlogits.sum(0)}
    dz1 = (dlogits @ p["w2"].T) * (z1 > 0)
    grads.update({"w1": x.T @ dz1, "b1": dz1.sum(0)})
    return loss, {k: p[k] - lr * grads[k] for k in p}, grads


def _check_tf_step_case(
    tf_train_step, TFTwoLayerNet, d, h, c, n, lr, seed, case, y_as_tensor=False
) -> None:
    tf = _tf()
    model = _build_tf_model(TFTwoLayerNet, d, h, c, seed)
    rng = np.random.default_rng(seed)
    p = _set_tf_weights(model, rng, d, h, c)
    x = rng.standard_normal((n, d)).astype(np.float32)
    y = rng.integers(0, c, size=n)
    originals = {k: getattr(model, k) for k in _TF_VARS}
    y_arg = tf.constant(y, dtype=tf.int32) if y_as_tensor else y
    loss = call_student(tf_train_step, model, x, y_arg, lr, label="`tf_train_step`")
    exp_loss, exp_params, grads = _tf_step_expected(p, x.astype(np.float64), y, lr)
    for key in _TF_VARS:
        if getattr(model, key, None) is not originals[key]:
            fail(
                f"tf_train_step {case}: model.{key} was replaced by a new object; update the "
                f"existing tf.Variable in place: {key}.assign_sub(lr * grad)"
            )
    for key in _TF_VARS:
        now = getattr(model, key).numpy().astype(np.float64)
        change, expected = now - p[key], exp_params[key] - p[key]
        where = f"tf_train_step {case}: the update of {key}"
        if not np.abs(change).max() > 0:
            fail(
                f"{where}: {key} did not change: compute the gradients of ALL of "
                f"model.variables and assign_sub(lr * grad) to each"
            )
        why = _known_mistake(
            change,
            [
                (
                    -expected,
                    "the sign is flipped: the step goes uphill; gradient descent "
                    "subtracts: var.assign_sub(lr * grad)",
                ),
                (
                    n * expected,
                    f"the step is N = {n} times too large: the loss must be the "
                    f"MEAN over the batch (tf.reduce_mean), not the sum",
                ),
                (expected / lr, "the step ignores the learning rate: assign_sub(lr * grad)"),
            ],
            expected,
            rtol=2e-3,
            atol=1e-6,
        )
        if why:
            fail(f"{where}: {why}")
        assert_close(
            change,
            expected,
            f"{where} (new - old)",
            rtol=2e-3,
            atol=1e-6,
            batch_size=n,
            rows_are_samples=False,
            hint="new = old - lr * dL/dvariable with L the MEAN cross-entropy of "
            "the batch, computed inside tf.GradientTape",
        )
    if loss is None:
        fail(f"tf_train_step {case}: returned None; return the batch's loss (before the update)")
    got = to_array(loss, "the loss returned by tf_train_step")
    if got.size != 1:
        fail(
            f"tf_train_step {case}: returned shape {got.shape}; return the MEAN loss "
            f"(a scalar, tf.reduce_mean)"
        )
    assert_close(
        float(got.reshape(-1)[0]), exp_loss, f"tf_train_step's loss {case}", rtol=1e-4, batch_size=n
    )


def _reference_tf_model():
    """The course's TFTwoLayerNet class (made where the student's code runs)."""
    _tf()
    return reference(_STAND_INS, "tf_two_layer_net_class")()


@check
def check_tf_train_step(tf_train_step, TFTwoLayerNet) -> None:
    """Visible: one SGD step on 6 samples: every variable moves by -lr * gradient."""
    expect_callable(tf_train_step, "tf_train_step")
    expect_callable(TFTwoLayerNet, "TFTwoLayerNet", kind="class")
    _forbid(tf_train_step, _keras_forbidden(), "`tf_train_step`", _KERAS_HINT, _KERAS)
    model_class = _reference_tf_model()  # scored alone: a reference model, not yours
    _check_tf_step_case(tf_train_step, model_class, 5, 4, 3, 6, 0.5, 0, "(N=6, lr=0.5)")


@check
def check_tf_train_step_hidden(tf_train_step, TFTwoLayerNet) -> None:
    """Hidden: other sizes and learning rates, N=1, int32 label tensors, two steps."""
    expect_callable(tf_train_step, "tf_train_step")
    model_class = _reference_tf_model()  # scored alone: a reference model, not yours
    for d, h, c, n, lr, seed in [
        (3, 6, 4, 1, 0.1, 5),
        (8, 5, 10, 12, 0.05, 6),
        (4, 3, 2, 7, 1.0, 7),
    ]:
        _check_tf_step_case(
            tf_train_step,
            model_class,
            d,
            h,
            c,
            n,
            lr,
            seed,
            f"(N={n}, C={c}, lr={lr})",
            y_as_tensor=seed == 6,
        )
    # Two successive steps continue from the updated variables.
    model = _build_tf_model(model_class, 4, 3, 3, 8)
    rng = np.random.default_rng(8)
    p = _set_tf_weights(model, rng, 4, 3, 3)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=5)
    for _ in range(2):
        call_student(tf_train_step, model, x, y, 0.3, label="`tf_train_step`")
        _, p, _ = _tf_step_expected(p, x.astype(np.float64), y, 0.3)
    assert_close(
        model.w1.numpy(),
        p["w1"],
        "w1 after two tf_train_step calls",
        rtol=2e-3,
        atol=1e-5,
        rows_are_samples=False,
    )


_TF_ADVICE = (
    "Check that tf_train_step passes its test, then train longer or tune lr "
    "(e.g. 5 epochs, batch_size 64, lr 0.2)"
)


def _tf_model_checks(model) -> dict[str, np.ndarray]:
    """The trained model's variables (copies) after checking what it is; fails otherwise."""
    tf = _tf()
    if model is None or not callable(model):
        fail(f"expected your trained TFTwoLayerNet, got {describe_value(model)}")
    model_class = class_of(model)
    expect_callable(model_class, model_class.__name__, kind="class")
    _forbid(model_class, _keras_forbidden(), f"`{model_class.__name__}`", _KERAS_HINT, _KERAS)
    w1, w2 = getattr(model, "w1", None), getattr(model, "w2", None)
    if not (
        instance_of(w1, tf.Variable)
        and instance_of(w2, tf.Variable)
        and tuple(w1.shape)[0] == 784
        and tuple(w1.shape)[1] >= 100
        and tuple(w2.shape) == (tuple(w1.shape)[1], 10)
    ):
        fail(
            f"expected a 784-H-10 TFTwoLayerNet with H >= 100 (w1 (784, H), w2 (H, 10)), "
            f"got w1 {describe_value(w1)}, w2 {describe_value(w2)}"
        )
    return {k: np.asarray(getattr(model, k), dtype=np.float64) for k in _TF_VARS}


def _check_tf_accuracy(model, sample: np.ndarray) -> None:
    tf = _tf()
    p = _tf_model_checks(model)
    x, y = _mnist_test()
    try:
        acc = _graded_accuracy(
            lambda batch: model(tf.constant(batch)),
            lambda batch: _tf_logits(batch.astype(np.float64), p),
            x,
            y,
            sample,
            "`model`",
            False,
            "your TensorFlow network",
            "TFTwoLayerNet",
        )
        _assert_accuracy(acc, "your TensorFlow network", _TF_ADVICE)
    except AssertionError as exc:
        model_class = class_of(model)
        fault = _failing_task(
            "TFTwoLayerNet",
            lambda: _check_tf_model_case(model_class, 4, 3, 2, 5, 0, "(D=4, H=3, C=2)"),
        )
        _blame_earlier_tasks(str(exc), [fault])


@check
def check_tf_mnist_accuracy(model) -> None:
    """Visible: the TensorFlow network's weights reach >= 97 % on the 10,000 test images."""
    _check_tf_accuracy(model, np.arange(200))


@check
def check_tf_mnist_accuracy_hidden(model) -> None:
    """Hidden: the same, the forward pass compared with the weights on 997 random images."""
    _check_tf_accuracy(model, np.random.default_rng(97).permutation(10_000)[:997])


seal(__name__)
