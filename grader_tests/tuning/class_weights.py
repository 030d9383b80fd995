"""Task 10 of 07_tuning: class weights and a class-weighted cross-entropy (regularization.ipynb).

The student's functions::

    class_weights(y, num_classes) -> (num_classes,) float array
        the "balanced" weights w_c = N / (num_classes * count_c), sklearn's
        compute_class_weight("balanced", classes=arange(num_classes), y=y)
    weighted_cross_entropy(logits, y, weights) -> (loss, dlogits)
        loss = (1/N) sum_n weights[y_n] * CE_n, CE_n = -log softmax(logits_n)[y_n];
        dlogits = weights[y_n] * (softmax(logits_n) - onehot(y_n)) / N

A class that does not occur in y (count 0) has no balanced weight (N / 0): the checks
accept weight 0 for it (it never enters the loss) or a ValueError, and refuse inf or NaN
(0 * inf is NaN in any sum over one-hot labels). sklearn raises for it; the notebook
states the rule.

The loss is Keras' ``CategoricalCrossentropy(from_logits=True)(onehot, logits,
sample_weight=weights[y])``: its "sum_over_batch_size" reduction divides by N, not by the
sum of the weights (PyTorch's weighted mean); ``tests/grader/test_regularization_data_checks.py``
confirms the checks' NumPy reference against Keras and sklearn. dlogits is compared with
central differences (h = 1e-5, float64) of that reference to 1e-6 relative; the loss to
1e-8 relative. A wrong loss or gradient is explained by the computation it equals on
EVERY case tested (a weighted mean, the weights missing or squared, indexed by the
predicted class, multiplying the logits or the probabilities), else by its structure.
"""

from __future__ import annotations

import numpy as np

from course_utils import gradcheck
from course_utils.grading import (
    EXTREME_LOGITS,
    EXTREME_TARGETS,
    assert_close,
    assert_gradient,
    call_student,
    check,
    expect_callable,
    fail,
    seal,
    to_array,
)
from course_utils.grading._core import AssertionError_

from ._common import SKLEARN_LIBRARY, forbid_library


# --- class_weights -----------------------------------------------------------------------
def reference_weights(y: np.ndarray, num_classes: int) -> np.ndarray:
    counts = np.bincount(y, minlength=num_classes).astype(np.float64)
    with np.errstate(divide="ignore"):
        return np.where(counts > 0, len(y) / (num_classes * np.maximum(counts, 1)), 0.0)


def _weights_hint(got: np.ndarray, want: np.ndarray, counts: np.ndarray) -> str | None:
    present = counts > 0
    g, w, c = got[present], want[present], counts[present]
    if np.allclose(np.sort(g), np.sort(w), rtol=1e-9) and not np.allclose(g, w, rtol=1e-9):
        return (
            "these are the right weights in another class order: entry c must be class "
            "c's weight (count with np.bincount(y, minlength=num_classes), in class "
            "order, not in order of appearance or of np.unique's counts)"
        )
    k = np.sum(g * c) / np.sum(c * c)
    if len(c) > 2 and np.allclose(g, k * c, rtol=1e-9) and np.ptp(c) > 0:
        return (
            "your weights grow with the class counts: the balanced weight is inversely "
            "proportional to the count, N / (num_classes * count_c)"
        )
    if abs(float(np.sum(got)) - 1) < 1e-9 and np.ptp(c) > 0:
        return (
            "your weights sum to 1 (normalised): the balanced weights are N / "
            "(num_classes * count_c), which average 1 over the SAMPLES (sum_c count_c "
            "* w_c = N), not over the classes"
        )
    n_present = int(present.sum())
    if n_present < len(counts) and np.allclose(g, w * len(counts) / n_present, rtol=1e-9):
        return (
            f"your weights use the {n_present} classes present in y instead of "
            f"num_classes = {len(counts)}: the formula divides by num_classes"
        )
    return None


def _weights_case(class_weights, y: np.ndarray, num_classes: int, label_text: str) -> None:
    label = f"`class_weights(y, num_classes={num_classes})` on {label_text}"
    counts = np.bincount(y, minlength=num_classes)
    absent = np.nonzero(counts == 0)[0]
    try:
        got = call_student(class_weights, y, num_classes, label=label)
    except AssertionError_ as exc:
        if absent.size and isinstance(exc.__cause__, ValueError):
            return  # a clear error for a class without samples is accepted
        raise
    arr = to_array(got, "class_weights(...)", expected_ndim=1)
    want = reference_weights(y, num_classes)
    if arr.shape != want.shape:
        fail(f"{label} returned shape {arr.shape}, expected ({num_classes},)\nHint: one "
             f"weight per class 0..num_classes-1, also for classes that do not occur in y "
             f"(np.bincount(y, minlength=num_classes))")  # fmt: skip
    if arr.dtype.kind in "biu":
        fail(f"{label} returned {arr.dtype} weights {arr.tolist()[:6]}\nHint: the weights "
             f"are fractions: N / (num_classes * count_c) in floating point (not //)")  # fmt: skip
    if absent.size and arr.dtype.kind == "f":
        bad = absent[~np.isfinite(arr[absent]) | (arr[absent] != 0)]
        if bad.size:
            c = int(bad[0])
            fail(f"{label}: class {c} does not occur in y, and its weight is {float(arr[c])}\n"
                 f"Hint: with count 0 the formula gives N / 0; give such a class weight 0 "
                 f"(it never enters the loss), or raise a ValueError that names it")  # fmt: skip
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)):
        hint = _weights_hint(arr.astype(np.float64), want, counts)
        if hint and not np.allclose(arr, want, rtol=1e-9):
            fail(f"{label}: expected {np.round(want, 4).tolist()}, got "
                 f"{np.round(arr, 4).tolist()}\nHint: {hint}")  # fmt: skip
    assert_close(arr, want, f"class_weights(y, {num_classes})", rtol=1e-9, atol=1e-12,
                 factors={"N": len(y), "C": num_classes},
                 hint=f"class counts {counts.tolist()}: w_c = N / (num_classes * "
                 f"count_c)")  # fmt: skip


def _labels(rng, counts) -> np.ndarray:
    return rng.permutation(np.repeat(np.arange(len(counts)), counts)).astype(np.int64)


def _weights_preamble(class_weights) -> None:
    expect_callable(class_weights, "class_weights")
    forbid_library(class_weights, "class_weights", "count the classes with np.bincount",
                   extra=SKLEARN_LIBRARY)  # fmt: skip


@check
def check_class_weights(class_weights) -> None:
    """Visible: imbalanced labels, balanced labels, a class absent from y."""
    _weights_preamble(class_weights)
    rng = np.random.default_rng(10)
    for counts, text in (([50, 10, 25, 5], "imbalanced labels, counts [50, 10, 25, 5]"),
                         ([12, 12, 12], "balanced labels (every weight 1)"),
                         ([30, 3, 9, 6, 1, 11, 2, 8, 40, 5], "10 imbalanced classes"),
                         ([20, 0, 5, 15, 0], "labels where classes 1 and 4 never occur"),
                         ):  # fmt: skip
        _weights_case(class_weights, _labels(rng, counts), len(counts), text)


@check
def check_class_weights_hidden(class_weights) -> None:
    """Hidden: random numbers of classes and counts (one case with an absent class)."""
    _weights_preamble(class_weights)
    rng = np.random.default_rng(5110)
    for k in range(4):
        c = int(rng.integers(3, 13))
        counts = rng.integers(1, 60, c)
        if k >= 2:  # a class without samples: one in the middle, then the last one
            counts[int(rng.integers(1, c - 1)) if k == 2 else c - 1] = 0
        _weights_case(class_weights, _labels(rng, counts), c, f"random labels of {c} classes")


# --- weighted_cross_entropy --------------------------------------------------------------
def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _ce(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    return -_log_softmax(z)[np.arange(len(y)), y]


def reference_loss(logits, y, weights) -> float:
    return float(np.sum(weights[y] * _ce(logits, y)) / len(y))


def reference_grad(logits, y, weights) -> np.ndarray:
    p = np.exp(_log_softmax(logits))
    p[np.arange(len(y)), y] -= 1
    return weights[y][:, None] * p / len(y)


def _variants(z, y, w) -> dict:
    """Losses and gradients of computations that differ from the task's in one part."""
    n, ce, wy = len(y), _ce(z, y), w[y]
    p = np.exp(_log_softmax(z))
    d = p.copy()
    d[np.arange(n), y] -= 1
    pred = w[np.argmax(z, axis=1)]
    zw = z * w[None, :]
    pw = p * w[None, :]
    pw = pw / pw.sum(axis=1, keepdims=True)
    return {
        "weighted_mean": (np.sum(wy * ce) / np.sum(wy), wy[:, None] * d / np.sum(wy),
                          "you divide by the sum of the weights (a weighted mean); Keras' "
                          "sum_over_batch_size divides by N"),
        "unweighted": (np.mean(ce), d / n, "the weights are not applied: each sample's CE_n "
                       "is multiplied by weights[y_n]"),
        "squared": (np.mean(wy**2 * ce), wy[:, None] ** 2 * d / n,
                    "the weights are applied twice (weights[y]**2)"),
        "predicted": (np.mean(pred * ce), pred[:, None] * d / n,
                      "the weights are taken by the PREDICTED class (argmax of the logits); "
                      "each sample's weight is weights[y_n], of its true label"),
        "logits": (np.mean(_ce(zw, y)), None, "the weights multiply the logits; they must "
                   "multiply each sample's loss, weights[y_n] * CE_n"),
        "probabilities": (np.mean(-np.log(pw[np.arange(n), y])), None,
                          "the weights multiply the probabilities; they must multiply each "
                          "sample's loss, weights[y_n] * CE_n"),
        "grad_unweighted": (None, d / n, "the weights are missing from dlogits (row n "
                            "carries the factor weights[y_n], as the loss does)"),
        "grad_no_mean": (None, wy[:, None] * d, "dlogits is not divided by N (the loss is a "
                         "mean over the batch, so its gradient carries 1/N)"),
    }  # fmt: skip


def _explain(results, cases, which: int) -> str | None:
    """The variant that reproduces the student's loss (which=0) or dlogits (1) everywhere."""
    names = None
    for (got_loss, got_grad), (z, y, w) in zip(results, cases, strict=True):
        fits = set()
        for name, (loss, grad, _) in _variants(z, y, w).items():
            want = (loss, grad)[which]
            got = (got_loss, got_grad)[which]
            if want is None or np.shape(got) != np.shape(want):
                continue
            if np.allclose(got, want, rtol=1e-7, atol=1e-12):
                fits.add(name)
        names = fits if names is None else names & fits
    if names:
        return _variants(*cases[0])[sorted(names)[0]][2]
    return None


def _cases(rng, sizes) -> list:
    out = []
    for n, c in sizes:
        z = rng.standard_normal((n, c)) * 2
        y = rng.integers(0, c, n)
        y[:c] = np.arange(c)
        counts = np.bincount(y, minlength=c)
        w = n / (c * counts) * rng.uniform(0.7, 1.3, c)
        out.append((z, y, w))
    return out


def _call_ce(fn, z, y, w, label):
    got = call_student(fn, z, y, w, label=label)
    if not isinstance(got, tuple | list) or len(got) != 2:
        fail(f"{label} returned {type(got).__name__}, expected the pair (loss, dlogits)")
    loss = to_array(got[0], "loss")
    if loss.size != 1:
        fail(f"{label}: loss has shape {loss.shape}, expected a single number (the mean "
             f"over the batch)")  # fmt: skip
    return float(loss.reshape(-1)[0]), to_array(got[1], "dlogits", expected_ndim=2)


def _ce_cases(fn, cases) -> None:
    results, labels = [], []
    for z, y, w in cases:
        label = f"`weighted_cross_entropy(logits, y, weights)` with logits {z.shape}"
        results.append(_call_ce(fn, z, y, w, label))
        labels.append(label)
    for (loss, _), (z, y, w), label in zip(results, cases, labels, strict=True):
        want = reference_loss(z, y, w)
        if not np.isclose(loss, want, rtol=1e-8, atol=1e-12):
            hint = _explain(results, cases, 0)
            ratio = loss / want if want else float("nan")
            fail(f"{label}: loss {loss:.8g}, expected {want:.8g} (ratio {ratio:.6g})\nHint: "
                 + (hint or "loss = (1/N) * sum_n weights[y_n] * CE_n"))  # fmt: skip
    for (_, grad), (z, y, w), label in zip(results, cases, labels, strict=True):
        numerical = gradcheck.numerical_gradient(
            lambda t, y=y, w=w: reference_loss(t, y, w), z.copy()
        )
        if grad.shape == z.shape and not np.allclose(grad, numerical, rtol=1e-5, atol=1e-9):
            hint = _explain(results, cases, 1)
            if hint:
                fail(f"{label}: dlogits differs from the numerical gradient of the loss\n"
                     f"Hint: {hint}")  # fmt: skip
        assert_gradient(grad, numerical, "dlogits", 1e-6, batch_size=len(y),
                        batch_axis=True, label=label)  # fmt: skip


def _stable(fn) -> None:
    z = EXTREME_LOGITS.copy()
    y = EXTREME_TARGETS.copy()
    w = np.array([0.5, 2.0, 1.5])
    label = "`weighted_cross_entropy` on logits of +-1000"
    loss, grad = _call_ce(fn, z, y, w, label)
    hint = ("compute log-softmax as (z - max) - log(sum(exp(z - max))) (log-sum-exp): a "
            "softmax without the max overflows, and log(softmax) of a confidently wrong row "
            "is log(0)")  # fmt: skip
    if not (np.isfinite(loss) and np.all(np.isfinite(grad))):
        fail(f"{label} returned a loss of {loss!r} or non-finite dlogits\nHint: {hint}")
    assert_close(loss, reference_loss(z, y, w), "loss on extreme logits", rtol=1e-8, hint=hint)
    assert_close(grad, reference_grad(z, y, w), "dlogits on extreme logits", rtol=1e-6,
                 atol=1e-12, hint=hint)  # fmt: skip


def _ce_preamble(fn) -> None:
    expect_callable(fn, "weighted_cross_entropy")
    forbid_library(fn, "weighted_cross_entropy", "compute the log-softmax with NumPy")


@check
def check_weighted_cross_entropy(weighted_cross_entropy) -> None:
    """Visible: three batches, the numerical gradient, logits of +-1000."""
    _ce_preamble(weighted_cross_entropy)
    cases = _cases(np.random.default_rng(100), [(8, 4), (12, 3), (20, 5)])
    _ce_cases(weighted_cross_entropy, cases)
    _stable(weighted_cross_entropy)


@check
def check_weighted_cross_entropy_hidden(weighted_cross_entropy) -> None:
    """Hidden: random batch sizes and numbers of classes."""
    _ce_preamble(weighted_cross_entropy)
    rng = np.random.default_rng(5111)
    sizes = [(int(rng.integers(12, 40)), int(rng.integers(3, 11))) for _ in range(3)]
    _ce_cases(weighted_cross_entropy, _cases(rng, sizes))
    _stable(weighted_cross_entropy)


seal(__name__)
