"""Numerically stable softmax / sigmoid and activation functions with their derivatives.

Every function takes an array of any shape (N, D), (N, C, H, W)... and works elementwise,
except ``softmax`` / ``log_softmax`` which normalise along ``axis``. Integer inputs are
promoted to float64; float inputs keep their dtype (float32 stays float32).

Stability:
    softmax(x) = exp(x - max(x)) / sum(exp(x - max(x)))   (never exp of a large number)
    sigmoid(x) = 1 / (1 + exp(-x)) for x >= 0, exp(x) / (1 + exp(x)) for x < 0
so logits of +-1000 give exact 0/1 probabilities and finite logs without overflow warnings.

Derivatives (``*_grad``) are taken w.r.t. the input, elementwise, and follow these
conventions at the kink x = 0: relu'(0) = 0, leaky_relu'(0) = prelu'(0) = alpha,
elu'(0) = alpha (the left-hand derivative, so elu is differentiable at 0 when alpha = 1).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from course_utils._validate import as_array

__all__ = [
    "elu",
    "elu_grad",
    "leaky_relu",
    "leaky_relu_grad",
    "log_sigmoid",
    "log_softmax",
    "prelu",
    "prelu_grad",
    "relu",
    "relu_grad",
    "sigmoid",
    "sigmoid_grad",
    "softmax",
    "tanh",
    "tanh_grad",
]


def _float_array(x: ArrayLike, name: str = "x") -> NDArray[np.floating]:
    """Validate a numeric array; ints/bools become float64, floats keep their dtype."""
    arr = as_array(x, name, dtype_kind="fiub")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    return arr


def _check_axis(x: np.ndarray, axis: int) -> None:
    if x.ndim == 0:
        raise ValueError("x: expected at least 1 dimension to normalise over, got shape ()")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis: expected an int in [{-x.ndim}, {x.ndim}), got {axis!r}")


# --- normalisers ---------------------------------------------------------------------


def softmax(x: ArrayLike, axis: int = -1) -> NDArray[np.floating]:
    """softmax(x)_i = exp(x_i - max x) / sum_j exp(x_j - max x), along ``axis``.

    Args:
        x: (N, C) float logits (any shape; normalised along ``axis``).
        axis: the class axis.

    Returns:
        Probabilities of the same shape and dtype; each slice along ``axis`` sums to 1.
    """
    x = _float_array(x)
    _check_axis(x, axis)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x: ArrayLike, axis: int = -1) -> NDArray[np.floating]:
    """log_softmax(x)_i = (x_i - max x) - log sum_j exp(x_j - max x), along ``axis``.

    Args:
        x: (N, C) float logits (any shape; normalised along ``axis``).
        axis: the class axis.

    Returns:
        Log-probabilities of the same shape; finite even for logits of +-1000.
    """
    x = _float_array(x)
    _check_axis(x, axis)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def sigmoid(x: ArrayLike) -> NDArray[np.floating]:
    """sigmoid(x) = 1 / (1 + exp(-x)), computed without overflow for any finite x.

    Args:
        x: float array of any shape.

    Returns:
        Values in [0, 1] of the same shape and dtype.
    """
    x = _float_array(x)
    z = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z)).astype(x.dtype, copy=False)


def log_sigmoid(x: ArrayLike) -> NDArray[np.floating]:
    """log sigmoid(x) = min(x, 0) - log(1 + exp(-|x|)), finite for any finite x.

    Args:
        x: float array of any shape.

    Returns:
        Values <= 0 of the same shape and dtype (log_sigmoid(-1000) = -1000, not -inf).
    """
    x = _float_array(x)
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


def sigmoid_grad(x: ArrayLike) -> NDArray[np.floating]:
    """sigmoid'(x) = sigmoid(x) * (1 - sigmoid(x))."""
    s = sigmoid(x)
    return s * (1 - s)


# --- activations and their derivatives -----------------------------------------------


def relu(x: ArrayLike) -> NDArray[np.floating]:
    """relu(x) = max(x, 0)."""
    x = _float_array(x)
    return np.maximum(x, 0)


def relu_grad(x: ArrayLike) -> NDArray[np.floating]:
    """relu'(x) = 1 if x > 0 else 0 (by convention relu'(0) = 0)."""
    x = _float_array(x)
    return (x > 0).astype(x.dtype)


def _check_alpha(alpha, name: str = "alpha") -> float:
    a = float(alpha)
    if not np.isfinite(a):
        raise ValueError(f"{name}: expected a finite number, got {alpha!r}")
    return a


def leaky_relu(x: ArrayLike, alpha: float = 0.01) -> NDArray[np.floating]:
    """leaky_relu(x) = x if x > 0 else alpha * x.

    Args:
        x: float array of any shape.
        alpha: slope for x <= 0 (Keras' LeakyReLU default is 0.3, PyTorch's 0.01).
    """
    x = _float_array(x)
    a = _check_alpha(alpha)
    return np.where(x > 0, x, a * x).astype(x.dtype, copy=False)


def leaky_relu_grad(x: ArrayLike, alpha: float = 0.01) -> NDArray[np.floating]:
    """leaky_relu'(x) = 1 if x > 0 else alpha."""
    x = _float_array(x)
    a = _check_alpha(alpha)
    return np.where(x > 0, 1.0, a).astype(x.dtype, copy=False)


def prelu(x: ArrayLike, alpha: ArrayLike) -> NDArray[np.floating]:
    """prelu(x) = x if x > 0 else alpha * x, with a learned ``alpha``.

    Args:
        x: float array, e.g. (N, D).
        alpha: slope(s), a scalar or an array broadcastable to ``x`` (e.g. (D,)).
    """
    x = _float_array(x)
    a = _broadcast_alpha(alpha, x)
    return np.where(x > 0, x, a * x).astype(x.dtype, copy=False)


def prelu_grad(x: ArrayLike, alpha: ArrayLike) -> NDArray[np.floating]:
    """d prelu / dx = 1 if x > 0 else alpha (same shape as ``x``).

    The derivative w.r.t. alpha is ``where(x > 0, 0, x)``; the layer version
    (``course_utils.layers.core.prelu_backward``) sums it over the shared axes.
    """
    x = _float_array(x)
    a = _broadcast_alpha(alpha, x)
    return np.broadcast_to(np.where(x > 0, 1.0, a), x.shape).astype(x.dtype)


def _broadcast_alpha(alpha: ArrayLike, x: np.ndarray) -> np.ndarray:
    a = _float_array(alpha, "alpha")
    try:
        np.broadcast_shapes(a.shape, x.shape)
    except ValueError:
        raise ValueError(
            f"alpha: expected a scalar or a shape broadcastable to x {x.shape}, got {a.shape}"
        ) from None
    return a


def tanh(x: ArrayLike) -> NDArray[np.floating]:
    """tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x))."""
    return np.tanh(_float_array(x))


def tanh_grad(x: ArrayLike) -> NDArray[np.floating]:
    """tanh'(x) = 1 - tanh(x)^2."""
    t = tanh(x)
    return 1 - t * t


def elu(x: ArrayLike, alpha: float = 1.0) -> NDArray[np.floating]:
    """elu(x) = x if x > 0 else alpha * (exp(x) - 1).

    Args:
        x: float array of any shape.
        alpha: saturation value for x -> -inf is -alpha.
    """
    x = _float_array(x)
    a = _check_alpha(alpha)
    # expm1 only sees x <= 0, so large positive inputs cannot overflow.
    return np.where(x > 0, x, a * np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False)


def elu_grad(x: ArrayLike, alpha: float = 1.0) -> NDArray[np.floating]:
    """elu'(x) = 1 if x > 0 else alpha * exp(x) (= elu(x) + alpha)."""
    x = _float_array(x)
    a = _check_alpha(alpha)
    return np.where(x > 0, 1.0, a * np.exp(np.minimum(x, 0))).astype(x.dtype, copy=False)
