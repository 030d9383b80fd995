"""Loss functions: ``loss_fn(y_hat, y, ...) -> (loss, dy_hat)``.

Each returns the scalar loss as a Python float and its gradient w.r.t. the first argument
(same shape and dtype), so a training step reads::

    loss, dout = softmax_cross_entropy(model.forward(x), y)
    model.backward(dout)

These callables are what ``course_utils.train.fit(model, loss_fn, ...)`` takes; bind extra
arguments with ``functools.partial(softmax_cross_entropy, class_weights=w)``.

All losses are means over the batch, so the gradient carries the 1/N factor.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from course_utils._validate import as_array, check_shape
from course_utils.functional import log_softmax, sigmoid

__all__ = ["mse", "sigmoid_binary_cross_entropy", "softmax_cross_entropy"]


def mse(y_hat: ArrayLike, y: ArrayLike) -> tuple[float, NDArray[np.floating]]:
    """Mean squared error over all elements: L = mean((y_hat - y)^2) (Keras' "mse").

    Args:
        y_hat: (N, D) or (N,) float predictions.
        y: targets of exactly the same shape (an (N,) target for (N, 1) predictions is an
            error, not a silent (N, N) broadcast).

    Returns:
        (loss, dy_hat) with dy_hat = 2 * (y_hat - y) / y_hat.size.
    """
    y_hat = as_array(y_hat, "y_hat", dtype_kind="f")
    if y_hat.ndim == 0:
        raise ValueError("y_hat: expected shape (N,) or (N, D), got ()")
    spec = ("N",) + tuple(y_hat.shape[1:])
    y = as_array(y, "y", shape=spec, dtype_kind="fiub", dims={"N": y_hat.shape[0]})
    diff = y_hat - y.astype(y_hat.dtype)
    loss = float(np.mean(diff * diff))
    return loss, (2.0 / diff.size) * diff


def _targets_as_probs(y: ArrayLike, N: int, C: int, dtype) -> np.ndarray:
    """Integer labels (N,) or one-hot / probability rows (N, C) -> (N, C) float array."""
    y = as_array(y, "y", ndim=(1, 2), dtype_kind="fiub")
    if y.ndim == 1:
        check_shape(y.shape, ("N",), "y", {"N": N})
        if y.dtype.kind == "f" and not np.all(np.floor(y) == y):
            raise ValueError("y: (N,) targets must be integer class labels, got fractions")
        labels = y.astype(np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= C):
            bad = labels[(labels < 0) | (labels >= C)][0]
            raise ValueError(f"y: class labels must lie in [0, {C}) for C={C} logits, got {bad}")
        probs = np.zeros((N, C), dtype=dtype)
        probs[np.arange(N), labels] = 1
        return probs
    check_shape(y.shape, ("N", "C"), "y", {"N": N, "C": C})
    probs = y.astype(dtype)
    if np.any(probs < 0) or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-5):
        raise ValueError("y: (N, C) targets must be one-hot or probability rows summing to 1")
    return probs


def softmax_cross_entropy(
    logits: ArrayLike, y: ArrayLike, class_weights: ArrayLike | None = None
) -> tuple[float, NDArray[np.floating]]:
    """Softmax cross-entropy from logits: L = (1/N) sum_i w_i * (-sum_c y_ic log softmax(x_i)_c).

    Computed with ``log_softmax`` so logits of +-1000 give finite values.

    Class weights follow Keras' ``class_weight`` / ``sample_weight`` semantics with the
    default "sum_over_batch_size" reduction: each sample's loss is multiplied by
    w_i = class_weights[y_i] (for one-hot or soft targets w_i = sum_c y_ic class_weights[c])
    and the sum is divided by the batch size N, *not* by sum_i w_i (PyTorch's
    ``CrossEntropyLoss(weight=...)`` divides by sum_i w_i instead).

    Args:
        logits: (N, C) float scores.
        y: (N,) integer labels in [0, C), or (N, C) one-hot / probability rows.
        class_weights: optional (C,) non-negative weight per class.

    Returns:
        (loss, dlogits) with dlogits = w_i * (softmax(x_i) - y_i) / N, shape (N, C).
    """
    logits = as_array(logits, "logits", shape=("N", "C"), dtype_kind="f")
    N, C = logits.shape
    probs = _targets_as_probs(y, N, C, logits.dtype)
    log_p = log_softmax(logits)
    per_sample = -np.sum(probs * log_p, axis=1)  # (N,)
    dlogits = np.exp(log_p) - probs  # softmax(logits) - y, reusing log_softmax
    if class_weights is not None:
        cw = as_array(class_weights, "class_weights", shape=("C",), dtype_kind="fiu", dims={"C": C})
        if np.any(cw < 0):
            raise ValueError("class_weights: expected non-negative weights")
        w = probs @ cw.astype(logits.dtype)  # (N,) per-sample weight
        per_sample = per_sample * w
        dlogits = dlogits * w[:, None]
    loss = float(np.sum(per_sample) / max(N, 1))
    return loss, dlogits / max(N, 1)


def sigmoid_binary_cross_entropy(
    logits: ArrayLike, y: ArrayLike
) -> tuple[float, NDArray[np.floating]]:
    """Binary cross-entropy from logits, averaged over all elements.

    l = -[y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))] = max(x, 0) - x y + log(1 + exp(-|x|))
    (the form ``tf.nn.sigmoid_cross_entropy_with_logits`` uses: finite for x = +-1000).

    Args:
        logits: (N,) or (N, K) float scores (K independent binary labels per sample).
        y: targets in [0, 1] of exactly the same shape.

    Returns:
        (loss, dlogits) with dlogits = (sigmoid(x) - y) / logits.size.
    """
    logits = as_array(logits, "logits", ndim=(1, 2), dtype_kind="f")
    spec = ("N",) if logits.ndim == 1 else ("N", logits.shape[1])
    y = as_array(y, "y", shape=spec, dtype_kind="fiub", dims={"N": logits.shape[0]})
    y = y.astype(logits.dtype)
    if np.any((y < 0) | (y > 1)):
        raise ValueError("y: binary targets must lie in [0, 1]")
    x = logits
    per_elem = np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
    size = max(x.size, 1)
    return float(np.sum(per_elem) / size), (sigmoid(x) - y) / size
