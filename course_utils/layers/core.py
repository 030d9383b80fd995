"""Dense layers and activations, in two tiers.

1. Pure functions ``*_forward(x, ...) -> (out, cache)`` / ``*_backward(dout, cache) -> grads``
   (the CS231n pattern). ``backward`` returns ``dx`` alone for parameter-free operations and
   a tuple ``(dx, dw, ...)`` otherwise, in the order of ``forward``'s arguments.
2. Thin ``Layer`` classes over them that keep the cache privately and fill ``self.grads``
   (same keys as ``self.params``) in ``backward``. ``backward`` overwrites the gradients of
   the previous call; it never accumulates and never modifies its inputs.

Each ``*_backward`` states the local derivative it applies, next to its forward.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from course_utils._validate import as_array, check_positive_int, check_probability, check_shape
from course_utils.functional import sigmoid, softmax
from course_utils.init import Seed, get_initializer
from course_utils.layers.base import Layer
from course_utils.threads import blas_threads_for

__all__ = [
    "ELU",
    "Dropout",
    "Flatten",
    "LeakyReLU",
    "Linear",
    "Matmul",
    "PReLU",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "affine_backward",
    "affine_forward",
    "dropout_backward",
    "dropout_forward",
    "elu_backward",
    "elu_forward",
    "flatten_backward",
    "flatten_forward",
    "leaky_relu_backward",
    "leaky_relu_forward",
    "matmul_backward",
    "matmul_forward",
    "prelu_backward",
    "prelu_forward",
    "relu_backward",
    "relu_forward",
    "sigmoid_backward",
    "sigmoid_forward",
    "softmax_backward",
    "softmax_forward",
    "tanh_backward",
    "tanh_forward",
]

Array = NDArray[np.floating]


def _x(x: ArrayLike, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    return as_array(x, "x", ndim=ndim, dtype_kind="f")


def _dout(dout: ArrayLike, shape: tuple[int, ...]) -> np.ndarray:
    """Check the upstream gradient has exactly the forward output's shape (no broadcasting)."""
    dout = as_array(dout, "dout", dtype_kind="f")
    check_shape(dout.shape, shape, "dout")
    return dout


# =====================================================================================
# Functional tier
# =====================================================================================


def affine_forward(x: ArrayLike, w: ArrayLike, b: ArrayLike) -> tuple[Array, tuple]:
    """out = x @ w + b.

    Args:
        x: (N, D) float inputs.
        w: (D, M) float weights.
        b: (M,) float biases.

    Returns:
        out: (N, M); cache: (x, w) for ``affine_backward``.
    """
    dims: dict[str, int] = {}
    w = as_array(w, "w", shape=("D", "M"), dtype_kind="f", dims=dims)
    b = as_array(b, "b", shape=("M",), dtype_kind="f", dims=dims)
    x = as_array(x, "x", shape=("N", "D"), dtype_kind="f", dims=dims)
    return x @ w + b, (x, w)


def affine_backward(
    dout: ArrayLike, cache: tuple, input_grad: bool = True
) -> tuple[Array | None, Array, Array]:
    """dx = dout @ w.T, dw = x.T @ dout, db = sum_n dout.

    Args:
        dout: (N, M) upstream gradient.
        cache: from ``affine_forward``.
        input_grad: False skips dx (returned as None). The first layer of a network does
            not need it (nothing is upstream of the data) and it costs as much as dw.

    Returns:
        dx: (N, D) or None, dw: (D, M), db: (M,).
    """
    x, w = cache
    dout = _dout(dout, (x.shape[0], w.shape[1]))
    dx = dout @ w.T if input_grad else None
    return dx, x.T @ dout, dout.sum(axis=0)


def matmul_forward(x: ArrayLike, w: ArrayLike) -> tuple[Array, tuple]:
    """out = x @ w (a bias-free affine layer).

    Args:
        x: (N, D) float inputs.
        w: (D, M) float weights.

    Returns:
        out: (N, M); cache: (x, w).
    """
    dims: dict[str, int] = {}
    w = as_array(w, "w", shape=("D", "M"), dtype_kind="f", dims=dims)
    x = as_array(x, "x", shape=("N", "D"), dtype_kind="f", dims=dims)
    return x @ w, (x, w)


def matmul_backward(
    dout: ArrayLike, cache: tuple, input_grad: bool = True
) -> tuple[Array | None, Array]:
    """dx = dout @ w.T, dw = x.T @ dout.

    Args:
        dout: (N, M) upstream gradient.
        cache: from ``matmul_forward``.
        input_grad: False skips dx (returned as None), as in ``affine_backward``.

    Returns:
        dx: (N, D) or None, dw: (D, M).
    """
    x, w = cache
    dout = _dout(dout, (x.shape[0], w.shape[1]))
    dx = dout @ w.T if input_grad else None
    return dx, x.T @ dout


def relu_forward(x: ArrayLike) -> tuple[Array, np.ndarray]:
    """out = max(x, 0), elementwise; x of any shape. cache: x."""
    x = _x(x)
    return np.maximum(x, 0), x


def relu_backward(dout: ArrayLike, cache: np.ndarray) -> Array:
    """dx = dout * [x > 0] (relu'(0) = 0 by convention)."""
    x = cache
    dout = _dout(dout, x.shape)
    return dout * (x > 0)


def leaky_relu_forward(x: ArrayLike, alpha: float = 0.01) -> tuple[Array, tuple]:
    """out = x if x > 0 else alpha * x; cache: (x, alpha)."""
    x = _x(x)
    alpha = float(alpha)
    return np.where(x > 0, x, alpha * x), (x, alpha)


def leaky_relu_backward(dout: ArrayLike, cache: tuple) -> Array:
    """dx = dout * (1 if x > 0 else alpha)."""
    x, alpha = cache
    dout = _dout(dout, x.shape)
    return dout * np.where(x > 0, 1.0, alpha).astype(x.dtype)


def _alpha_view(alpha: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Reshape (K,) slopes to broadcast over x: K = 1 shared, else one per x[:, k]."""
    shape = [1] * x.ndim
    if alpha.size > 1:
        shape[1] = alpha.size
    return alpha.reshape(shape)


def prelu_forward(x: ArrayLike, alpha: ArrayLike) -> tuple[Array, tuple]:
    """out = x if x > 0 else alpha * x, with learned slopes.

    Args:
        x: (N, D) or (N, C, H, W) float inputs.
        alpha: (1,) one shared slope, or (D,) / (C,) one slope per feature / channel
            (axis 1 of x, as in PyTorch's PReLU).

    Returns:
        out: shaped like x; cache: (x, alpha).
    """
    x = _x(x)
    alpha = as_array(alpha, "alpha", ndim=1, dtype_kind="f")
    if alpha.size != 1 and (x.ndim < 2 or x.shape[1] != alpha.size):
        raise ValueError(
            f"x: expected shape (N, {alpha.size}, ...) to match alpha of shape {alpha.shape}, "
            f"got {x.shape}"
        )
    a = _alpha_view(alpha, x)
    return np.where(x > 0, x, a * x), (x, alpha)


def prelu_backward(dout: ArrayLike, cache: tuple) -> tuple[Array, Array]:
    """dx = dout * (1 if x > 0 else alpha); dalpha = sum of dout * (0 if x > 0 else x)
    over every axis alpha is shared along.

    Returns:
        dx: shaped like x; dalpha: shaped like alpha.
    """
    x, alpha = cache
    dout = _dout(dout, x.shape)
    a = _alpha_view(alpha, x)
    dx = dout * np.where(x > 0, 1.0, a)
    dalpha_full = dout * np.where(x > 0, 0.0, x)
    if alpha.size == 1:
        dalpha = np.sum(dalpha_full).reshape(alpha.shape)
    else:
        dalpha = np.sum(dalpha_full, axis=tuple(i for i in range(x.ndim) if i != 1))
    return dx, dalpha.astype(alpha.dtype)


def elu_forward(x: ArrayLike, alpha: float = 1.0) -> tuple[Array, tuple]:
    """out = x if x > 0 else alpha * (exp(x) - 1); cache: (x, out, alpha)."""
    x = _x(x)
    alpha = float(alpha)
    out = np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))
    return out, (x, out, alpha)


def elu_backward(dout: ArrayLike, cache: tuple) -> Array:
    """dx = dout * (1 if x > 0 else out + alpha)   (since d/dx alpha (e^x - 1) = alpha e^x)."""
    x, out, alpha = cache
    dout = _dout(dout, x.shape)
    return dout * np.where(x > 0, 1.0, out + alpha)


def sigmoid_forward(x: ArrayLike) -> tuple[Array, np.ndarray]:
    """out = 1 / (1 + exp(-x)) (stable); cache: out."""
    out = sigmoid(_x(x))
    return out, out


def sigmoid_backward(dout: ArrayLike, cache: np.ndarray) -> Array:
    """dx = dout * out * (1 - out)."""
    out = cache
    dout = _dout(dout, out.shape)
    return dout * out * (1 - out)


def tanh_forward(x: ArrayLike) -> tuple[Array, np.ndarray]:
    """out = tanh(x); cache: out."""
    out = np.tanh(_x(x))
    return out, out


def tanh_backward(dout: ArrayLike, cache: np.ndarray) -> Array:
    """dx = dout * (1 - out^2)."""
    out = cache
    dout = _dout(dout, out.shape)
    return dout * (1 - out * out)


def softmax_forward(x: ArrayLike) -> tuple[Array, np.ndarray]:
    """out = softmax(x) along the last axis (stable); cache: out.

    Args:
        x: (N, C) float logits.
    """
    x = as_array(x, "x", shape=("N", "C"), dtype_kind="f")
    out = softmax(x, axis=-1)
    return out, out


def softmax_backward(dout: ArrayLike, cache: np.ndarray) -> Array:
    """Vector-Jacobian product with J = diag(s) - s s^T, row by row:

    dx = s * (dout - sum_c dout_c s_c)

    Args:
        dout: (N, C) upstream gradient.
        cache: s = softmax(x), (N, C).

    Returns:
        dx: (N, C).
    """
    s = cache
    dout = _dout(dout, s.shape)
    return s * (dout - np.sum(dout * s, axis=-1, keepdims=True))


def dropout_forward(
    x: ArrayLike,
    p: float,
    training: bool = True,
    rng: Seed = None,
    mask: ArrayLike | None = None,
) -> tuple[Array, np.ndarray | None]:
    """Inverted dropout: out = x * m with m = [u >= p] / (1 - p), u ~ U(0, 1).

    Each unit is dropped with probability ``p`` (Keras' ``rate``, PyTorch's ``p``; CS231n's
    ``p`` is the *keep* probability instead) and survivors are scaled by 1 / (1 - p) so
    E[out] = x and evaluation needs no rescaling.

    Args:
        x: float inputs of any shape, e.g. (N, D).
        p: drop probability in [0, 1).
        training: False makes the layer the identity (mask None).
        rng: int seed, None or np.random.Generator used to draw the mask.
        mask: optional precomputed scaled mask shaped like x (overrides ``rng``).

    Returns:
        out: shaped like x; cache: the scaled mask (None when not training).
    """
    x = _x(x)
    p = check_probability(p, "p")
    if not training:
        return x.copy(), None
    if mask is None:
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        mask = (gen.random(x.shape) >= p).astype(x.dtype) / (1.0 - p)
    else:
        mask = as_array(mask, "mask", dtype_kind="fb")
        check_shape(mask.shape, x.shape, "mask")
    return x * mask, mask


def dropout_backward(dout: ArrayLike, cache: np.ndarray | None) -> Array:
    """dx = dout * m (the same scaled mask); the identity in evaluation mode."""
    mask = cache
    dout = as_array(dout, "dout", dtype_kind="f")
    if mask is None:
        return dout.copy()
    check_shape(dout.shape, mask.shape, "dout")
    return dout * mask


def flatten_forward(x: ArrayLike) -> tuple[Array, tuple[int, ...]]:
    """out = x reshaped to (N, prod(rest)), e.g. (N, C, H, W) -> (N, C*H*W); cache: x.shape."""
    x = as_array(x, "x", dtype_kind="f")
    if x.ndim < 1:
        raise ValueError("x: expected shape (N, ...), got ()")
    return x.reshape(x.shape[0], -1), x.shape


def flatten_backward(dout: ArrayLike, cache: tuple[int, ...]) -> Array:
    """dx = dout reshaped back to the input's shape."""
    shape = cache
    dout = _dout(dout, (shape[0], int(np.prod(shape[1:]))))
    return dout.reshape(shape)


# =====================================================================================
# Layer tier
# =====================================================================================


class _Dense(Layer):
    """Shared set-up of Linear and Matmul: a (D, M) weight and optionally an (M,) bias."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        init="he_normal",
        seed: Seed = None,
        dtype: DTypeLike = np.float64,
        bias: bool = True,
        name: str | None = None,
    ):
        super().__init__(name)
        self.in_features = check_positive_int(in_features, "in_features")
        self.out_features = check_positive_int(out_features, "out_features")
        self.init = init
        initializer = get_initializer(init)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        shape = (self.in_features, self.out_features)
        self.params["w"] = np.asarray(initializer(shape, seed=rng), dtype=dtype)
        if bias:
            self.params["b"] = np.zeros(self.out_features, dtype=dtype)
        self._macs = 0  # N * D * M of the last forward: the size of each of its products

    def _check_input(self, x: ArrayLike) -> np.ndarray:
        x = as_array(x, "x", shape=("N", self.in_features), dtype_kind="f")
        self._macs = x.shape[0] * self.in_features * self.out_features
        return x

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        check_shape(tuple(input_shape), (self.in_features,), f"{self.name} input_shape")
        return (self.out_features,)

    def get_config(self) -> dict:
        init = self.init if isinstance(self.init, str) else getattr(self.init, "__name__", "?")
        return {
            "name": self.name,
            "in_features": self.in_features,
            "out_features": self.out_features,
            "init": init,
        }


class Linear(_Dense):
    """Fully connected layer: out = x @ w + b.

    Input shape: (N, in_features). Output shape: (N, out_features).

    Args:
        in_features: D, size of each input sample.
        out_features: M, size of each output sample.
        init: weight initialiser name ("he_normal", "xavier_uniform", "normal", ...;
            see ``course_utils.init.get_initializer``) or a callable ``(shape, seed=)``.
            The bias starts at zero.
        seed: int, None or np.random.Generator for the initial weights.
        dtype: parameter dtype (float64 for gradient checks, float32 for speed).
        name: optional layer name (default "linear").

    Attributes:
        params: {"w": (D, M), "b": (M,)}; grads: the same keys after ``backward``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        init="he_normal",
        seed: Seed = None,
        dtype: DTypeLike = np.float64,
        name: str | None = None,
    ):
        super().__init__(in_features, out_features, init, seed, dtype, bias=True, name=name)

    def forward(self, x: ArrayLike) -> Array:
        x = self._check_input(x)
        with blas_threads_for(self._macs):  # BLAS threads: see course_utils.threads
            out, self._cache = affine_forward(x, self.params["w"], self.params["b"])
        return out

    def backward(self, dout: ArrayLike, input_grad: bool = True) -> Array | None:
        """Fill ``grads`` and return dx (None with ``input_grad=False``: dx is skipped)."""
        cache = self._pop_cache()
        with blas_threads_for(self._macs):
            dx, self.grads["w"], self.grads["b"] = affine_backward(dout, cache, input_grad)
        return dx


class Matmul(_Dense):
    """Bias-free fully connected layer: out = x @ w (the nndl ``Matmul`` exercise).

    Input shape: (N, in_features). Output shape: (N, out_features).

    Args: as ``Linear`` (no bias). Attributes: params/grads {"w": (D, M)}.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        init="he_normal",
        seed: Seed = None,
        dtype: DTypeLike = np.float64,
        name: str | None = None,
    ):
        super().__init__(in_features, out_features, init, seed, dtype, bias=False, name=name)

    def forward(self, x: ArrayLike) -> Array:
        x = self._check_input(x)
        with blas_threads_for(self._macs):
            out, self._cache = matmul_forward(x, self.params["w"])
        return out

    def backward(self, dout: ArrayLike, input_grad: bool = True) -> Array | None:
        """Fill ``grads`` and return dx (None with ``input_grad=False``: dx is skipped)."""
        cache = self._pop_cache()
        with blas_threads_for(self._macs):
            dx, self.grads["w"] = matmul_backward(dout, cache, input_grad)
        return dx


class ReLU(Layer):
    """out = max(x, 0). Input shape: any. Output shape: same as input."""

    def forward(self, x: ArrayLike) -> Array:
        out, self._cache = relu_forward(x)
        return out

    def backward(self, dout: ArrayLike) -> Array:
        return relu_backward(dout, self._pop_cache())


class LeakyReLU(Layer):
    """out = x if x > 0 else alpha * x. Input shape: any. Output shape: same.

    Args:
        alpha: slope for x <= 0 (default 0.01 as in PyTorch; Keras uses 0.3).
    """

    def __init__(self, alpha: float = 0.01, name: str | None = None):
        super().__init__(name)
        self.alpha = float(alpha)

    def forward(self, x: ArrayLike) -> Array:
        out, self._cache = leaky_relu_forward(x, self.alpha)
        return out

    def backward(self, dout: ArrayLike) -> Array:
        return leaky_relu_backward(dout, self._pop_cache())

    def get_config(self) -> dict:
        return {"name": self.name, "alpha": self.alpha}


class PReLU(Layer):
    """Parametric ReLU: out = x if x > 0 else alpha * x with learned ``alpha``.

    Input shape: (N, D) or (N, C, H, W). Output shape: same.

    Args:
        num_features: 1 for one shared slope, or D / C for one slope per feature / channel
            (axis 1 of the input).
        alpha_init: initial slope (0.25, as in He et al. 2015).
        dtype: parameter dtype.

    Attributes:
        params: {"alpha": (num_features,)}; grads: {"alpha": (num_features,)}.
    """

    def __init__(
        self,
        num_features: int = 1,
        alpha_init: float = 0.25,
        dtype: DTypeLike = np.float64,
        name: str | None = None,
    ):
        super().__init__(name)
        self.num_features = check_positive_int(num_features, "num_features")
        self.alpha_init = float(alpha_init)
        self.params["alpha"] = np.full(self.num_features, self.alpha_init, dtype=dtype)

    def forward(self, x: ArrayLike) -> Array:
        out, self._cache = prelu_forward(x, self.params["alpha"])
        return out

    def backward(self, dout: ArrayLike) -> Array:
        dx, self.grads["alpha"] = prelu_backward(dout, self._pop_cache())
        return dx

    def get_config(self) -> dict:
        return {"name": self.name, "num_features": self.num_features, "alpha_init": self.alpha_init}


class ELU(Layer):
    """out = x if x > 0 else alpha * (exp(x) - 1). Input shape: any. Output shape: same."""

    def __init__(self, alpha: float = 1.0, name: str | None = None):
        super().__init__(name)
        self.alpha = float(alpha)

    def forward(self, x: ArrayLike) -> Array:
        out, self._cache = elu_forward(x, self.alpha)
        return out

    def backward(self, dout: ArrayLike) -> Array:
        return elu_backward(dout, self._pop_cache())

    def get_config(self) -> dict:
        return {"name": self.name, "alpha": self.alpha}


class Sigmoid(Layer):
    """out = 1 / (1 + exp(-x)). Input shape: any. Output shape: same."""

    def forward(self, x: ArrayLike) -> Array:
        out, self._cache = sigmoid_forward(x)
        return out

    def backward(self, dout: ArrayLike) -> Array:
        return sigmoid_backward(dout, self._pop_cache())


class Tanh(Layer):
    """out = tanh(x). Input shape: any. Output shape: same."""

    def forward(self, x: ArrayLike) -> Array:
        out, self._cache = tanh_forward(x)
        return out

    def backward(self, dout: ArrayLike) -> Array:
        return tanh_backward(dout, self._pop_cache())


class Softmax(Layer):
    """out = softmax(x) over classes; backward is the full Jacobian-vector product.

    Input shape: (N, C). Output shape: (N, C). For training a classifier prefer raw
    logits with ``losses.softmax_cross_entropy`` (stabler, simpler gradient).
    """

    def forward(self, x: ArrayLike) -> Array:
        out, self._cache = softmax_forward(x)
        return out

    def backward(self, dout: ArrayLike) -> Array:
        return softmax_backward(dout, self._pop_cache())


class Dropout(Layer):
    """Inverted dropout: in training drop each unit with probability ``p`` and scale the
    rest by 1 / (1 - p); in evaluation mode (``eval()``) the identity.

    Input shape: any. Output shape: same.

    Args:
        p: drop probability in [0, 1) (Keras' ``rate``).
        seed: int, None or np.random.Generator; a seeded layer draws the same sequence of
            masks on every run.
    """

    def __init__(self, p: float = 0.5, seed: Seed = None, name: str | None = None):
        super().__init__(name)
        self.p = check_probability(p, "p")
        self.seed = seed
        self._rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    def forward(self, x: ArrayLike) -> Array:
        out, mask = dropout_forward(x, self.p, self.training, self._rng)
        self._cache = (mask,)  # a tuple so that eval mode (mask None) still counts as cached
        return out

    def backward(self, dout: ArrayLike) -> Array:
        (mask,) = self._pop_cache()
        return dropout_backward(dout, mask)

    def get_config(self) -> dict:
        seed = self.seed if not isinstance(self.seed, np.random.Generator) else "Generator"
        return {"name": self.name, "p": self.p, "seed": seed}


class Flatten(Layer):
    """Reshape (N, d1, d2, ...) to (N, d1 * d2 * ...). Output shape: (N, prod(d))."""

    def forward(self, x: ArrayLike) -> Array:
        out, self._cache = flatten_forward(x)
        return out

    def backward(self, dout: ArrayLike) -> Array:
        return flatten_backward(dout, self._pop_cache())

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (int(np.prod(input_shape)),)
