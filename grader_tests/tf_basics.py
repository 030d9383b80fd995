"""Checks for assignment 01_tf_basics: softmax, sigmoid and both cross-entropies in TensorFlow 2.

The tasks (``x``, ``logits``: float32 or float64 tensors; results keep that dtype)::

    softmax(x)                  # (..., C) -> (..., C), over the last axis
    sigmoid(x)                  # any shape, elementwise
    softmax_ce(logits, labels)  # (N, C), one-hot (N, C) -> () mean over the batch
    sigmoid_ce(logits, labels)  # any shape, binary labels -> () mean over ALL elements

Each is compared with its TensorFlow built-in (``tf.nn.softmax``, ``tf.nn.sigmoid``, the
mean of ``tf.nn.softmax_cross_entropy_with_logits`` / ``tf.nn.sigmoid_cross_entropy_with_logits``)
on a fixed example and on logits of ±1000, and its gradient, taken with ``tf.GradientTape``,
with central differences (float64) and with the built-in's gradient, which must stay
finite at ±1000. The student's source must not use the built-ins (``forbid_calls``; see
``FORBIDDEN``). Hidden checks repeat all of it on random shapes, seeds and dtypes.

Tolerances: forward values ``rtol`` 1e-6 (float64) / 1e-5 (float32) with a tiny ``atol``
(1e-12 / 1e-7) for values near 0; on extreme inputs the relative tolerance grows to
``2 * eps * max|x|`` (float32 at |x| = 1000: 2.4e-4), because rounding the inputs themselves
already perturbs the exact answer that much. Gradients are never checked at exactly 0,
where ``tf.abs`` / ``tf.maximum`` have a kink that the exact function does not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from course_utils.environment import import_tensorflow
from course_utils.grading import (
    EXTREME_LOGITS,
    GUARD,
    assert_close,
    assert_numerical_gradient,
    call_student,
    check,
    check_stable,
    expect_callable,
    fail,
    find_forbidden_calls,
    is_remote,
    protect,
    resolve_dotted,
    seal,
    to_array,
)
from course_utils.grading.remote import NotTraceable
from course_utils.grading.tfgraph import traced_op_types

# Not `import tensorflow as tf`: the setup cell imports this module, and TensorFlow's
# start-up lines (absl, oneDNN, CUDA) would land on the cell's stderr. import_tensorflow
# loads it with those lines filtered out (it sets TF_CPP_MIN_LOG_LEVEL first).
tf = import_tensorflow()


# ---------------------------------------------------------------------------------------
# Forbidden built-ins
# ---------------------------------------------------------------------------------------
def _public_callables(module_name: str) -> list[str]:
    module = resolve_dotted(module_name)
    return [
        f"{module_name}.{name}"
        for name in sorted(dir(module))
        if not name.startswith("_") and callable(getattr(module, name, None))
    ]


_TF_BUILTINS = [
    f"tf.{mod}.{name}"
    for mod in ("nn", "math", "compat.v1.nn", "compat.v1.math")
    for name in (
        "softmax",
        "log_softmax",
        "sigmoid",
        "log_sigmoid",
        "softplus",
        "reduce_logsumexp",
        "softmax_cross_entropy_with_logits",
        "softmax_cross_entropy_with_logits_v2",
        "sigmoid_cross_entropy_with_logits",
        "sparse_softmax_cross_entropy_with_logits",
        "weighted_cross_entropy_with_logits",
    )
    if hasattr(resolve_dotted(f"tf.{mod}"), name)
] + ["tf.sigmoid", "tf.reduce_logsumexp"]
_KERAS_OPS = [
    f"keras.ops.{name}"
    for name in (
        "softmax",
        "log_softmax",
        "sigmoid",
        "log_sigmoid",
        "softplus",
        "logsumexp",
        "binary_crossentropy",
        "categorical_crossentropy",
        "sparse_categorical_crossentropy",
    )
]
_FORBIDDEN_MODULES = [
    "keras.activations",
    "keras.losses",
    "tf.keras.activations",
    "tf.keras.losses",
    "tf.compat.v1.losses",
    "course_utils.functional",
    "course_utils.losses",
    "course_utils.layers",
]

#: Everything the four functions must not use: TensorFlow's softmax/sigmoid/log-softmax/
#: log-sigmoid/softplus/log-sum-exp and cross-entropies (also under tf.compat.v1), Keras
#: losses and activations (modules and their functions, ``keras.ops`` versions, the Softmax
#: layer) and the course's own reference implementations (``course_utils``).
FORBIDDEN: tuple[str, ...] = tuple(
    dict.fromkeys(
        _TF_BUILTINS
        + _KERAS_OPS
        + ["keras.layers.Softmax", "tf.keras.layers.Softmax", "course_utils"]
        + [name for module in _FORBIDDEN_MODULES for name in [module, *_public_callables(module)]]
    )
)

# TensorFlow replaces its lazily loaded attributes (tf.keras, tf.losses, ...) on first
# access; load them before the guard snapshots ``tf`` so restoring never undoes that.
for _lazy in ("keras", "losses", "metrics", "optimizers", "initializers"):
    getattr(tf, _lazy, None)
protect(tf, tf.nn, tf.math)
GUARD.protect_class(tf.GradientTape)

# The references, captured before any student code runs.
_tf_softmax = tf.nn.softmax
_tf_sigmoid = tf.nn.sigmoid
_tf_softmax_ce = tf.nn.softmax_cross_entropy_with_logits
_tf_sigmoid_ce = tf.nn.sigmoid_cross_entropy_with_logits


# ---------------------------------------------------------------------------------------
# NumPy float64 versions of right and wrong answers, for diagnoses
# ---------------------------------------------------------------------------------------
def _np_softmax(x: np.ndarray, axis: int | None = -1) -> np.ndarray:
    z = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def _np_log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    z = x - np.max(x, axis=axis, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def _np_sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _np_softmax_ce(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-example softmax cross-entropy, shape (N,)."""
    return -np.sum(labels * _np_log_softmax(logits), axis=-1)


def _np_sigmoid_ce(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Elementwise sigmoid cross-entropy (the stable form), same shape as ``logits``."""
    return np.maximum(logits, 0) - logits * labels + np.log1p(np.exp(-np.abs(logits)))


_EPSILONS = (1e-7, 1e-8, 1e-9, 1e-10, 1e-12, 1e-15, 1e-16)


# ---------------------------------------------------------------------------------------
# Task descriptions
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Task:
    fn_name: str  # "softmax"
    call: str  # "softmax(x)": how results are named in messages
    wrt: str  # "x" / "logits": the argument differentiated
    scalar: bool  # a loss (returns one number)
    reference: Callable[..., Any]  # built-in on tensors
    diagnose: Callable[..., str | None]  # (got float64 ndarray, inputs float64) -> hint
    stability_hint: str
    gradient_hint: str
    forbid_hint: str


def _ref_softmax(x):
    return _tf_softmax(x, axis=-1)


def _ref_sigmoid(x):
    return _tf_sigmoid(x)


def _ref_softmax_ce(logits, labels):
    return tf.reduce_mean(_tf_softmax_ce(labels=labels, logits=logits))


def _ref_sigmoid_ce(logits, labels):
    return tf.reduce_mean(_tf_sigmoid_ce(labels=labels, logits=logits))


def _close(a: np.ndarray, b: np.ndarray, rtol: float = 1e-4, atol: float = 1e-7) -> bool:
    if a.shape != b.shape or not np.all(np.isfinite(b)):
        return False
    return bool(np.all(np.abs(a - b) <= atol + rtol * np.abs(b)))


def _first_match(got: np.ndarray, expected: np.ndarray, candidates) -> str | None:
    """The explanation of the candidate wrong answer that ``got`` matches best, if any.

    A candidate matches when ``got`` is within 1e-4 of it AND at least twice as close to
    it as to the expected value (so a candidate that is almost right only explains a
    result that is off in the same direction).
    """
    best, best_distance = None, np.inf
    off = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else np.inf
    for value, why in candidates:
        value = np.asarray(value, dtype=np.float64)
        if not _close(got, value):
            continue
        distance = float(np.max(np.abs(got - value))) if value.size else 0.0
        if distance < 0.5 * off and distance < best_distance:
            best, best_distance = why, distance
    return best


def _diagnose_softmax(got: np.ndarray, x: np.ndarray) -> str | None:
    expected = _np_softmax(x)
    candidates = []
    if x.ndim >= 2:
        candidates.append(
            (
                _np_softmax(x, axis=0),
                "you normalised over axis 0 (down the columns, across the batch); softmax "
                "normalises each row over the LAST axis: tf.reduce_max / tf.reduce_sum "
                "with axis=-1, keepdims=True",
            )
        )
    if x.ndim >= 2:
        candidates.append(
            (
                _np_softmax(x.reshape(-1), axis=-1).reshape(x.shape),
                "you normalised over the whole tensor; each row (the last axis) must sum "
                "to 1 on its own: reduce with axis=-1, keepdims=True",
            )
        )
    with np.errstate(all="ignore"):
        candidates += [
            (np.exp(x), "you returned exp(x) without dividing by the row sum"),
            (_np_sigmoid(x), "that is the sigmoid of each entry, not the softmax"),
            (_np_softmax(-x), "that is softmax(-x): check the sign inside exp"),
            (_np_log_softmax(x), "that is log-softmax; return the probabilities exp(...)"),
        ]
    why = _first_match(got, expected, candidates)
    if why:
        return why
    sums = got.sum(axis=-1)
    if got.ndim and not np.allclose(sums, 1.0, rtol=1e-4, atol=1e-6):
        shown = np.array2string(sums.reshape(-1)[:4], precision=4)
        return f"each row of softmax(x) must sum to 1, yours sum to {shown}..."
    return None


def _diagnose_sigmoid(got: np.ndarray, x: np.ndarray) -> str | None:
    s = _np_sigmoid(x)
    candidates = [
        (_np_sigmoid(-x), "that is sigmoid(-x) = 1 - sigmoid(x): check the sign inside exp"),
        (np.tanh(x), "that is tanh(x); sigmoid(x) = 1 / (1 + exp(-x))"),
        (s * (1 - s), "that is the derivative sigmoid(x) * (1 - sigmoid(x))"),
    ]
    if x.ndim >= 1:
        candidates.append(
            (_np_softmax(x), "that is a softmax over the last axis; sigmoid is elementwise")
        )
    with np.errstate(all="ignore"):
        candidates.append((np.exp(x), "that is exp(x); sigmoid(x) = 1 / (1 + exp(-x))"))
    return _first_match(got, s, candidates)


def _from_probabilities(probs: np.ndarray, labels: np.ndarray, binary: bool) -> list:
    """Losses computed from probabilities with the usual epsilon tricks (per element)."""
    out = []
    with np.errstate(all="ignore"):
        for eps in _EPSILONS:
            for how, p in (
                (f"log(p + {eps:g})", probs + eps),
                (f"log(clip(p, {eps:g}, 1 - {eps:g}))", np.clip(probs, eps, 1 - eps)),
            ):
                if binary:
                    q = 1 - probs + eps if how.startswith("log(p") else 1 - p
                    loss = -(labels * np.log(p) + (1 - labels) * np.log(q))
                else:
                    loss = -np.sum(labels * np.log(p), axis=-1)
                out.append((loss, how))
    return out


_LOGITS_NOT_PROBS = (
    "computed from probabilities with {how}: the loss saturates at -log(eps) "
    "(18.4 for eps = 1e-8) for confidently wrong predictions, where the true loss grows "
    "linearly with the logit, and its gradient vanishes. Compute the loss from the logits"
)


def _saturation_hint(got: float, expected: float, per_example: np.ndarray) -> str | None:
    if np.isfinite(got) and got < 0.9 * expected and np.max(per_example) > 40:
        return (
            f"on confidently wrong predictions (a per-example loss of {np.max(per_example):.4g} "
            f"is expected) your loss is far too small: it saturates, which is what "
            f"log(p + eps) or clipping p does. Work from the logits (log-sum-exp / "
            f"max(x, 0) - x*z + log(1 + exp(-|x|))), not from probabilities"
        )
    return None


def _diagnose_softmax_ce(got: np.ndarray, logits: np.ndarray, labels: np.ndarray) -> str | None:
    value = float(got)
    per_example = _np_softmax_ce(logits, labels)
    expected = float(per_example.mean())
    n, c = logits.shape
    with np.errstate(all="ignore"):
        swapped = float(np.mean(-np.sum(logits * _np_log_softmax(labels), axis=-1)))
    candidates = [
        (
            per_example.sum(),
            f"you summed the per-example losses; average them over the batch (divide by "
            f"N = {n}: tf.reduce_mean)",
        ),
        (
            expected / c,
            f"you averaged over all N*C = {n * c} entries of labels * log-probabilities; sum "
            f"over the classes (last axis) first, then average over the N = {n} examples",
        ),
        (-expected, "the sign is flipped: cross-entropy is -sum(y * log p), never negative"),
        (
            swapped,
            "labels and logits are swapped: the checks call softmax_ce(logits, labels), "
            "logits first (tf.nn.softmax_cross_entropy_with_logits takes labels first)",
        ),
        (expected / np.log(2), "that is in bits (log2); use the natural log"),
        (expected / np.log(10), "that is log10; use the natural log"),
    ]
    for loss, how in _from_probabilities(_np_softmax(logits), labels, binary=False):
        candidates.append((np.mean(loss), _LOGITS_NOT_PROBS.format(how=how)))
    why = _first_match(got, np.asarray(expected), candidates)
    return why or _saturation_hint(value, expected, per_example)


def _diagnose_sigmoid_ce(got: np.ndarray, logits: np.ndarray, labels: np.ndarray) -> str | None:
    value = float(got)
    per_element = _np_sigmoid_ce(logits, labels)
    expected = float(per_element.mean())
    size = per_element.size
    candidates = [
        (
            per_element.sum(),
            f"you summed over all {size} elements; this task averages over ALL elements "
            f"(tf.reduce_mean of the elementwise losses)",
        ),
        (-expected, "the sign is flipped: cross-entropy is never negative"),
        (
            np.mean(_np_sigmoid_ce(labels, logits)),
            "labels and logits are swapped: the checks call sigmoid_ce(logits, labels), "
            "logits first (tf.nn.sigmoid_cross_entropy_with_logits takes labels first)",
        ),
        (
            np.mean(np.maximum(logits, 0) - logits * labels),
            "the log(1 + exp(-|x|)) term is missing",
        ),
        (expected / np.log(2), "that is in bits (log2); use the natural log"),
    ]
    if logits.ndim >= 2 and logits.shape[-1] > 1:
        d = logits.shape[-1]
        candidates.append(
            (
                per_element.sum(axis=-1).mean(),
                f"you summed over the last axis and averaged over the rest; this task "
                f"averages over ALL elements (divide by the total count, not by "
                f"{size // d})",
            )
        )
    for loss, how in _from_probabilities(_np_sigmoid(logits), labels, binary=True):
        candidates.append((np.mean(loss), _LOGITS_NOT_PROBS.format(how=how)))
    why = _first_match(got, np.asarray(expected), candidates)
    return why or _saturation_hint(value, expected, per_element)


_SOFTMAX = _Task(
    fn_name="softmax",
    call="softmax(x)",
    wrt="x",
    scalar=False,
    reference=_ref_softmax,
    diagnose=_diagnose_softmax,
    stability_hint=(
        "tf.exp overflows to inf above ~88.7 (float32) or ~709.8 (float64) and "
        "inf / inf = NaN; TensorFlow does this silently, without a warning. Subtract the "
        "max of each row before exp: softmax(x) = softmax(x - max(x, axis=-1, "
        "keepdims=True)). The global max is not enough: rows far below it underflow to "
        "0 / 0"
    ),
    gradient_hint=(
        "the backward pass goes through an overflow even if the forward values are fine "
        "(e.g. a tf.where whose unused branch is inf/NaN: its gradient is still computed "
        "and 0 * NaN = NaN). Subtract the row max before exp so no intermediate overflows"
    ),
    forbid_hint="write it with tf.exp, tf.reduce_max and tf.reduce_sum (axis=-1, keepdims=True)",
)
_SIGMOID = _Task(
    fn_name="sigmoid",
    call="sigmoid(x)",
    wrt="x",
    scalar=False,
    reference=_ref_sigmoid,
    diagnose=_diagnose_sigmoid,
    stability_hint=(
        "tf.exp overflows to inf above ~88.7 (float32) / ~709.8 (float64): exp(x) / "
        "(1 + exp(x)) gives inf / inf = NaN for large positive x. Compute e = exp(-|x|), "
        "which is in (0, 1], and return 1 / (1 + e) where x >= 0, e / (1 + e) where x < 0"
    ),
    gradient_hint=(
        "your forward values are right, but TensorFlow's gradient of your formula is not: "
        "for 1 / (1 + exp(-x)) at very negative x, exp(-x) = inf and the derivative "
        "exp(-x) / (1 + exp(-x))**2 becomes inf / inf = NaN (float32 already below x = -88; "
        "TensorFlow prints no warning). tf.where(c, a, b) does not help on its own: the "
        "gradient of the branch NOT taken is computed too, and 0 * NaN = NaN. Make both "
        "branches finite: e = exp(-|x|), then tf.where(x >= 0, 1 / (1 + e), e / (1 + e))"
    ),
    forbid_hint="write it with tf.exp, tf.abs (or tf.where) and arithmetic",
)
_SOFTMAX_CE = _Task(
    fn_name="softmax_ce",
    call="softmax_ce(logits, labels)",
    wrt="logits",
    scalar=True,
    reference=_ref_softmax_ce,
    diagnose=_diagnose_softmax_ce,
    stability_hint=(
        "log(softmax(x)) hits log(0) = -inf as soon as a probability underflows to 0 (then "
        "0 * -inf = NaN), and log(sum(exp(x))) overflows to inf for large logits. Never "
        "form the probabilities: log_softmax(x) = (x - m) - log(sum(exp(x - m))) with "
        "m = max(x, axis=-1, keepdims=True) (log-sum-exp), and the loss is "
        "-sum(labels * log_softmax(x), axis=-1)"
    ),
    gradient_hint=(
        "the loss is finite but its gradient is not: the backward pass differentiates "
        "log(softmax) (1/p with p = 0) or an overflowing tf.where branch. Use log-sum-exp "
        "so no probability is ever passed to log"
    ),
    forbid_hint=(
        "write the log-sum-exp yourself with tf.reduce_max, tf.exp, tf.reduce_sum and "
        "tf.math.log (tf.reduce_logsumexp is the thing you write here)"
    ),
)
_SIGMOID_CE = _Task(
    fn_name="sigmoid_ce",
    call="sigmoid_ce(logits, labels)",
    wrt="logits",
    scalar=True,
    reference=_ref_sigmoid_ce,
    diagnose=_diagnose_sigmoid_ce,
    stability_hint=(
        "log(sigmoid(x)) and log(1 - sigmoid(x)) hit log(0) = -inf once the probability "
        "rounds to 0 or 1 (then 0 * -inf = NaN), and log(1 + exp(-x)) overflows for very "
        "negative x. Use the form in which nothing overflows: "
        "max(x, 0) - x*z + log(1 + exp(-|x|))"
    ),
    gradient_hint=(
        "the loss is finite but its gradient is not: log(sigmoid(x)) (1/p with p = 0), "
        "log(1 + exp(-x)) with exp(-x) = inf, or an overflowing tf.where branch. Use "
        "max(x, 0) - x*z + log(1 + exp(-|x|)), where nothing overflows"
    ),
    forbid_hint=(
        "write max(x, 0) - x*z + log(1 + exp(-|x|)) with tf.maximum, tf.abs, tf.exp and "
        "tf.math.log1p (tf.math.softplus is the thing you write here)"
    ),
)


# ---------------------------------------------------------------------------------------
# The machinery shared by the four tasks
# ---------------------------------------------------------------------------------------
_EPS = {np.dtype(t): float(np.finfo(t).eps) for t in (np.float32, np.float64)}
_TOLS = {np.dtype(np.float32): (1e-5, 1e-7), np.dtype(np.float64): (1e-6, 1e-12)}
_GRAD_ATOL = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-10}


def _forbid(fn: Any, task: _Task) -> None:
    violations = find_forbidden_calls(fn, FORBIDDEN)
    if violations:
        shown = "\n  ".join(violations[:5])
        fail(
            f"`{task.fn_name}` must be written with basic TensorFlow operations, but it uses "
            f"a built-in this assignment forbids (TensorFlow's or Keras's softmax, sigmoid, "
            f"softplus, log-sum-exp, cross-entropies, or course_utils):\n  {shown}\n"
            f"Hint: {task.forbid_hint}"
        )


#: TensorFlow operations that ARE the built-ins: whatever the source text says, a function
#: whose graph runs one of these uses a forbidden built-in (``tf.raw_ops.Softmax``,
#: ``operator.attrgetter("nn.softmax")(tf)``, a Keras activation...).
FORBIDDEN_OPS = frozenset(
    {
        "Softmax",
        "LogSoftmax",
        "Sigmoid",
        "Softplus",
        "SoftmaxCrossEntropyWithLogits",
        "SparseSoftmaxCrossEntropyWithLogits",
    }
)


def _forbid_ops(fn: Any, task: _Task, tensors: Sequence[Any]) -> None:
    """Fail when the graph ``fn`` runs on these inputs holds a forbidden operation.

    A function that cannot be traced has no graph to read: it leaves TensorFlow, and the
    gradient checks fail it (no gradient reaches the inputs).
    """
    try:
        ops = traced_op_types(fn, tensors)
    except NotTraceable as exc:
        fail(f"`{task.fn_name}`: {exc}")
    except Exception:  # noqa: BLE001  (tracing runs the student's code; see above)
        GUARD.restore()
        return
    used = sorted(ops & FORBIDDEN_OPS)
    if used:
        fail(
            f"`{task.fn_name}` must be written with basic TensorFlow operations, but the "
            f"graph it runs contains the built-in operation{'s' if len(used) > 1 else ''} "
            f"{', '.join(used)} (tf.nn / tf.math / Keras / tf.raw_ops versions of softmax, "
            f"sigmoid, softplus or a cross-entropy).\nHint: {task.forbid_hint}"
        )


def _tf_error_hint(exc: BaseException) -> str | None:
    text = str(exc)
    if "expected to be a" in text and "tensor" in text:
        return (
            "TensorFlow does not mix dtypes (float32 and float64): make constants with the "
            "input's dtype (tf.constant(1.0, dtype=x.dtype), tf.cast(c, x.dtype)) or use "
            "plain Python numbers"
        )
    if "reduction dimension" in text.lower() or "out of bounds" in text:
        return (
            "an axis that does not exist for this input: use axis=-1 (the last axis) so "
            "your function works for any number of dimensions"
        )
    if "Incompatible shapes" in text:
        return "shapes do not broadcast: did you forget keepdims=True in a reduction?"
    return None


def _rtol_for(dtype: np.dtype, inputs: Sequence[np.ndarray], extreme: bool) -> float:
    rtol = _TOLS[dtype][0]
    if extreme:
        rtol = max(rtol, 2 * _EPS[dtype] * float(np.max(np.abs(inputs[0]))))
    return rtol


def _describe_case(case: str) -> str:
    return f" {case}" if case else ""


def _check_forward(task, got, expected: np.ndarray, inputs, dtype, case: str, extreme: bool):
    name = f"{task.call}{_describe_case(case)}"
    arr = to_array(got, name, expected_ndim=expected.ndim)
    if task.scalar and arr.shape != ():
        lead = inputs[0].shape[0] if inputs[0].ndim else None
        if arr.shape in {(lead,), inputs[0].shape, inputs[0].shape[:-1]} and arr.size > 1:
            fail(
                f"`{name}`: expected a single number (shape ()), got shape {arr.shape}: "
                f"one loss per example/element. Average them with tf.reduce_mean"
            )
        if arr.shape == (1,):
            fail(
                f"`{name}`: expected a single number (shape ()), got shape (1,): "
                f"reduce without keepdims, or drop the extra axis"
            )
    if arr.shape != expected.shape:
        assert_close(arr, expected, name)  # fails with the shape message
    if arr.dtype != dtype:
        fail(
            f"`{name}`: the input is {dtype.name}, so the result must be {dtype.name} too; "
            f"got {arr.dtype.name}. Keep the input's dtype end to end (no NumPy or Python "
            f"float conversion, no tf.cast to another dtype)"
        )
    rtol, atol = _rtol_for(dtype, inputs, extreme), _TOLS[dtype][1]
    got64 = arr.astype(np.float64)
    if not np.all(np.isfinite(got64)):
        # Report it exactly like the stability probe does (the result is already computed).
        check_stable(lambda *_: arr, [tuple(inputs)], name=task.fn_name, hint=task.stability_hint)
    exp64 = expected.astype(np.float64)
    if np.all(np.abs(got64 - exp64) <= atol + rtol * np.abs(exp64)):
        return
    with np.errstate(all="ignore"):
        why = task.diagnose(got64, *[np.asarray(a, dtype=np.float64) for a in inputs])
    if task.scalar:
        msg = f"`{name}`: expected {float(exp64):.8g}, got {float(got64):.8g}"
        if why:
            msg += f"\nHint: {why}."
        fail(msg)
    assert_close(arr, expected, name, rtol=rtol, atol=atol, hint=why)


def _gradient_target(out: Any, dout: Any) -> Any:
    return tf.reduce_sum(out * dout)


def _dense(grad: Any) -> Any:
    if isinstance(grad, tf.IndexedSlices):
        return tf.convert_to_tensor(grad)
    return grad


def _check_case(
    task: _Task,
    fn: Callable[..., Any],
    inputs: Sequence[np.ndarray],
    dtype: Any,
    case: str,
    *,
    seed: int = 0,
    extreme: bool = False,
    numerical: bool = False,
    first: bool = False,
) -> None:
    """Forward values, dtype, stability and GradientTape gradients of one input.

    ``first``: also check the operations of the traced graph (done for every case when
    ``fn`` is a proxy: its graph is traced anyway).
    """
    dtype = np.dtype(dtype)
    inputs = [np.asarray(a, dtype=dtype) for a in inputs]
    tensors = [tf.constant(a) for a in inputs]
    label = f"`{task.fn_name}`"
    if extreme:
        check_stable(fn, [tuple(tensors)], name=task.fn_name, hint=task.stability_hint)
    rng = np.random.default_rng(seed)
    out_shape = () if task.scalar else inputs[0].shape
    dout_np = np.asarray(1.0 if task.scalar else rng.standard_normal(out_shape), dtype=dtype)
    dout = tf.constant(dout_np)

    with tf.GradientTape() as tape:
        tape.watch(tensors[0])
        reference = task.reference(*tensors)
        ref_target = _gradient_target(reference, dout)
    ref_grad = tape.gradient(ref_target, tensors[0])
    expected, expected_grad = np.array(reference), np.array(ref_grad)

    with tf.GradientTape() as tape:
        tape.watch(tensors[0])
        got = call_student(fn, *tensors, label=label, hint=_tf_error_hint)
        GUARD.restore()
        if first or is_remote(fn):
            _forbid_ops(fn, task, tensors)
        _check_forward(task, got, expected, inputs, dtype, case, extreme)
        target = _gradient_target(got, dout)
    grad = _dense(tape.gradient(target, tensors[0]))
    GUARD.restore()
    where = _describe_case(case)
    gname = f"d{task.wrt} (the GradientTape gradient of {task.call}{where})"
    if grad is None:
        fail(
            f"{label}: tf.GradientTape finds no gradient from your result back to "
            f"`{task.wrt}`{where}: the computation leaves TensorFlow somewhere (np.* "
            f"functions, .numpy(), float(), np.array(...)) or is cut by tf.stop_gradient. "
            f"Use TensorFlow operations throughout so that autodiff can follow them"
        )
    grad_np = np.array(grad)
    bad = ~np.isfinite(grad_np.astype(np.float64))
    if bad.any():
        idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), grad_np.shape))
        kind = "NaN" if np.isnan(grad_np[idx]) else "inf"
        fail(
            f"{label}: the gradient d{task.wrt}{where} contains {kind} "
            f"({int(bad.sum())} non-finite entries), first at index {idx} where "
            f"{task.wrt} = {inputs[0][idx]:.6g}; the built-in's gradient there is "
            f"{expected_grad[idx] + 0.0:.6g}.\nHint: {task.gradient_hint}"
        )
    if numerical and dtype == np.float64:
        rest = tensors[1:]

        def as_numpy(a: np.ndarray) -> np.ndarray:
            out = call_student(fn, tf.constant(a), *rest, label=label)
            return to_array(out, task.call)

        assert_numerical_gradient(
            as_numpy,
            inputs[0],
            grad_np,
            None if task.scalar else dout_np,
            tol=1e-6,
            name=f"d{task.wrt}",
            label=f"{label} (GradientTape{where})",
        )
    scale = max(1.0, float(np.max(np.abs(expected_grad)))) if expected_grad.size else 1.0
    assert_close(
        grad_np,
        expected_grad,
        gname,
        rtol=_rtol_for(dtype, inputs, extreme),
        atol=_GRAD_ATOL[dtype] * scale,
        hint=(
            "the gradient of your function differs from the gradient of the built-in: "
            "a tf.stop_gradient in the wrong place, or a formula that is right only in "
            "the forward direction?"
        ),
    )


def _onehot(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    return np.eye(c)[rng.integers(0, c, size=n)]


def _binary(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(0, 2, size=shape).astype(np.float64)


def _start(fn: Any, task: _Task) -> None:
    expect_callable(fn, task.fn_name)
    _forbid(fn, task)


# ---------------------------------------------------------------------------------------
# Task 1: softmax
# ---------------------------------------------------------------------------------------
#: The visible example: three rows of four logits (no two rows alike, no zero logits).
SOFTMAX_X = np.array(
    [
        [1.0, 2.0, 3.0, 4.0],
        [-1.5, 0.5, 2.5, -0.5],
        [3.0, 3.0, -2.0, 1.0],
    ]
)


@check
def check_softmax(softmax) -> None:
    """Visible: the 3x4 example (values, dtype, gradients) and logits of ±1000."""
    _start(softmax, _SOFTMAX)
    _check_case(
        _SOFTMAX, softmax, [SOFTMAX_X], np.float64, "on the 3x4 example", numerical=True, first=True
    )
    for dtype in (np.float64, np.float32):
        _check_case(
            _SOFTMAX,
            softmax,
            [EXTREME_LOGITS],
            dtype,
            f"on logits of ±1000 ({np.dtype(dtype).name})",
            extreme=True,
        )


def _softmax_cases() -> list[tuple[list[np.ndarray], Any, str, dict]]:
    rng = np.random.default_rng(20240101)
    cases = []
    shapes = [(7,), (1, 5), (6, 10), (2, 3, 4), (32, 2), (4, 1), (5, 5)]
    for i, shape in enumerate(shapes):
        dtype = (np.float64, np.float32)[i % 2]
        x = 3 * rng.standard_normal(shape)
        cases.append(([x], dtype, f"on random logits of shape {shape}", {"numerical": i < 3}))
    for dtype in (np.float32, np.float64):
        x = 300 * rng.standard_normal((5, 6))
        cases.append(([x], dtype, "on logits of scale 300", {"extreme": True}))
        x = rng.standard_normal((2, 4, 3)) + np.array([1000.0, -1000.0, 0.0])
        cases.append(([x], dtype, "on 3-D logits of ±1000", {"extreme": True}))
        x = np.full((3, 4), -1000.0) + np.arange(4) * 0.5
        cases.append(([x], dtype, "on rows all close to -1000", {"extreme": True}))
    return cases


@check
def check_softmax_hidden(softmax) -> None:
    """Hidden: 1-D to 3-D shapes, float32 and float64, large and extreme logits."""
    _start(softmax, _SOFTMAX)
    for i, (inputs, dtype, case, flags) in enumerate(_softmax_cases()):
        _check_case(_SOFTMAX, softmax, inputs, dtype, case, seed=i, first=i == 0, **flags)


# ---------------------------------------------------------------------------------------
# Task 2: sigmoid
# ---------------------------------------------------------------------------------------
SIGMOID_X = np.array([[-6.0, -2.0, -0.5], [0.25, 1.0, 4.0]])
SIGMOID_EXTREME = np.array([[-1000.0, -100.0, -89.0, -30.0], [30.0, 89.0, 100.0, 1000.0]])


@check
def check_sigmoid(sigmoid) -> None:
    """Visible: a 2x3 example (values, dtype, gradients) and inputs up to ±1000."""
    _start(sigmoid, _SIGMOID)
    _check_case(
        _SIGMOID, sigmoid, [SIGMOID_X], np.float64, "on the 2x3 example", numerical=True, first=True
    )
    for dtype in (np.float64, np.float32):
        _check_case(
            _SIGMOID,
            sigmoid,
            [SIGMOID_EXTREME],
            dtype,
            f"on inputs up to ±1000 ({np.dtype(dtype).name})",
            extreme=True,
        )


def _sigmoid_cases() -> list[tuple[list[np.ndarray], Any, str, dict]]:
    rng = np.random.default_rng(20240202)
    cases = []
    for i, shape in enumerate([(9,), (4, 5), (2, 3, 2), (1,), (16, 8)]):
        dtype = (np.float32, np.float64)[i % 2]
        x = 4 * rng.standard_normal(shape)
        cases.append(([x], dtype, f"on random inputs of shape {shape}", {"numerical": i < 3}))
    for dtype in (np.float32, np.float64):
        x = 500 * rng.standard_normal((6, 7))
        cases.append(([x], dtype, "on inputs of scale 500", {"extreme": True}))
        x = np.array([-1e4, -750.0, -710.0, -90.0, 90.0, 710.0, 750.0, 1e4])
        cases.append(([x], dtype, "on inputs up to ±1e4", {"extreme": True}))
    return cases


@check
def check_sigmoid_hidden(sigmoid) -> None:
    """Hidden: random shapes, float32 and float64, inputs up to ±1e4."""
    _start(sigmoid, _SIGMOID)
    for i, (inputs, dtype, case, flags) in enumerate(_sigmoid_cases()):
        _check_case(_SIGMOID, sigmoid, inputs, dtype, case, seed=i, first=i == 0, **flags)


# ---------------------------------------------------------------------------------------
# Task 3: softmax cross-entropy
# ---------------------------------------------------------------------------------------
SOFTMAX_CE_LOGITS = np.array(
    [
        [2.0, 1.0, 0.1],
        [0.5, 2.5, -1.0],
        [-0.3, 0.8, 1.7],
        [1.2, -2.0, 0.4],
    ]
)
SOFTMAX_CE_LABELS = np.eye(3)[[0, 2, 1, 2]]
#: Each extreme row with the class that makes it interesting (confidently wrong, tied, ...).
SOFTMAX_CE_EXTREME_LABELS = np.eye(3)[[2, 0, 2, 1]]


@check
def check_softmax_ce(softmax_ce) -> None:
    """Visible: 4 examples of 3 classes, then logits of ±1000 (losses up to 2000)."""
    _start(softmax_ce, _SOFTMAX_CE)
    _check_case(
        _SOFTMAX_CE,
        softmax_ce,
        [SOFTMAX_CE_LOGITS, SOFTMAX_CE_LABELS],
        np.float64,
        "on the 4x3 example",
        numerical=True,
        first=True,
    )
    for dtype in (np.float64, np.float32):
        _check_case(
            _SOFTMAX_CE,
            softmax_ce,
            [EXTREME_LOGITS, SOFTMAX_CE_EXTREME_LABELS],
            dtype,
            f"on logits of ±1000 ({np.dtype(dtype).name})",
            extreme=True,
        )


def _softmax_ce_cases() -> list[tuple[list[np.ndarray], Any, str, dict]]:
    rng = np.random.default_rng(20240303)
    cases = []
    for i, (n, c) in enumerate([(5, 4), (1, 3), (8, 10), (16, 2), (3, 7), (64, 5)]):
        dtype = (np.float64, np.float32)[i % 2]
        logits = 2 * rng.standard_normal((n, c))
        cases.append(
            (
                [logits, _onehot(rng, n, c)],
                dtype,
                f"on random logits (N={n}, C={c})",
                {"numerical": i < 3},
            )
        )
    for dtype in (np.float32, np.float64):
        logits = 1000 * rng.standard_normal((6, 4))
        cases.append(
            ([logits, _onehot(rng, 6, 4)], dtype, "on logits of scale 1000", {"extreme": True})
        )
        logits = np.array([[-1000.0, 1000.0], [1000.0, -1000.0], [-1000.0, 1000.0]])
        labels = np.eye(2)[[0, 1, 1]]
        cases.append(([logits, labels], dtype, "on ±1000, mostly wrong", {"extreme": True}))
    return cases


@check
def check_softmax_ce_hidden(softmax_ce) -> None:
    """Hidden: random N and C (N = 1 too), float32 and float64, logits up to ±1000s."""
    _start(softmax_ce, _SOFTMAX_CE)
    for i, (inputs, dtype, case, flags) in enumerate(_softmax_ce_cases()):
        _check_case(_SOFTMAX_CE, softmax_ce, inputs, dtype, case, seed=i, first=i == 0, **flags)


# ---------------------------------------------------------------------------------------
# Task 4: sigmoid cross-entropy
# ---------------------------------------------------------------------------------------
SIGMOID_CE_LOGITS = np.array(
    [[1.5, -0.5, 3.0, -2.0], [0.2, -4.0, 2.5, -1.0], [-0.7, 0.9, -3.0, 5.0]]
)
SIGMOID_CE_LABELS = np.array([[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]])
SIGMOID_CE_EXTREME = np.array([[1000.0, -1000.0, 50.0], [1000.0, -1000.0, -50.0]])
SIGMOID_CE_EXTREME_LABELS = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])


@check
def check_sigmoid_ce(sigmoid_ce) -> None:
    """Visible: a 3x4 example, then logits of ±1000 right and wrong (loss 1000 each)."""
    _start(sigmoid_ce, _SIGMOID_CE)
    _check_case(
        _SIGMOID_CE,
        sigmoid_ce,
        [SIGMOID_CE_LOGITS, SIGMOID_CE_LABELS],
        np.float64,
        "on the 3x4 example",
        numerical=True,
        first=True,
    )
    for dtype in (np.float64, np.float32):
        _check_case(
            _SIGMOID_CE,
            sigmoid_ce,
            [SIGMOID_CE_EXTREME, SIGMOID_CE_EXTREME_LABELS],
            dtype,
            f"on logits of ±1000 ({np.dtype(dtype).name})",
            extreme=True,
        )


def _sigmoid_ce_cases() -> list[tuple[list[np.ndarray], Any, str, dict]]:
    rng = np.random.default_rng(20240404)
    cases = []
    for i, shape in enumerate([(6,), (4, 3), (2, 3, 2), (1,), (32, 5)]):
        dtype = (np.float32, np.float64)[i % 2]
        logits = 3 * rng.standard_normal(shape)
        cases.append(
            (
                [logits, _binary(rng, shape)],
                dtype,
                f"on random logits of shape {shape}",
                {"numerical": i < 3},
            )
        )
    for dtype in (np.float32, np.float64):
        logits = 1000 * rng.standard_normal((5, 4))
        cases.append(
            ([logits, _binary(rng, (5, 4))], dtype, "on logits of scale 1000", {"extreme": True})
        )
        logits = np.array([-1e4, -800.0, -100.0, 100.0, 800.0, 1e4])
        labels = np.array([1.0, 1.0, 0.0, 1.0, 0.0, 0.0])
        cases.append(([logits, labels], dtype, "on logits up to ±1e4", {"extreme": True}))
    return cases


@check
def check_sigmoid_ce_hidden(sigmoid_ce) -> None:
    """Hidden: random shapes (1-D to 3-D), float32 and float64, logits up to ±1e4."""
    _start(sigmoid_ce, _SIGMOID_CE)
    for i, (inputs, dtype, case, flags) in enumerate(_sigmoid_ce_cases()):
        _check_case(_SIGMOID_CE, sigmoid_ce, inputs, dtype, case, seed=i, first=i == 0, **flags)


# Read-only data and task descriptions (restored by the guard if changed anyway).
for _array in (
    SOFTMAX_X,
    SIGMOID_X,
    SIGMOID_EXTREME,
    SOFTMAX_CE_LOGITS,
    SOFTMAX_CE_LABELS,
    SOFTMAX_CE_EXTREME_LABELS,
    SIGMOID_CE_LOGITS,
    SIGMOID_CE_LABELS,
    SIGMOID_CE_EXTREME,
    SIGMOID_CE_EXTREME_LABELS,
):
    _array.setflags(write=False)
for _task in (_SOFTMAX, _SIGMOID, _SOFTMAX_CE, _SIGMOID_CE):
    GUARD.protect_dict(vars(_task))

seal(__name__)
