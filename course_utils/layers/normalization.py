"""Batch normalisation (Ioffe & Szegedy, 2015) for (N, D) and (N, C, H, W) inputs.

Training mode normalises with the statistics of the current batch, then scales and shifts:

    mu = mean(x),  var = mean((x - mu)**2)      (biased variance, over the batch)
    x_hat = (x - mu) / sqrt(var + eps),   out = gamma * x_hat + beta

and updates the running statistics used at evaluation time:

    running_mean = momentum * running_mean + (1 - momentum) * mu
    running_var  = momentum * running_var  + (1 - momentum) * var

Evaluation mode uses ``running_mean``/``running_var`` instead of batch statistics.

For (N, D) inputs the statistics are per feature (over N). For (N, C, H, W) inputs
("spatial" batch norm, after a convolution) they are per channel, over N, H and W, so
``gamma``/``beta`` have shape (C,).

Momentum convention, and how it maps to the libraries:

- Keras ``BatchNormalization(momentum=m)`` updates ``moving = m * moving + (1 - m) * batch``
  with the same biased batch variance: our ``momentum`` IS Keras' ``momentum``. Keras'
  defaults are momentum=0.99, epsilon=1e-3; ours are 0.9 and 1e-5 (CS231n's, and PyTorch's
  effective values). Keras normalises the last axis (channels-last); here (N, C, H, W)
  is channels-first, which matches Keras' ``axis=1``.
- PyTorch ``BatchNorm2d(momentum=p)`` weights the *new* batch by p, so p = 1 - momentum,
  and it stores the unbiased (N - 1) variance in ``running_var``.

The ``bn_param`` dict is the state container, as in CS231n: it holds "mode" ("train" or
"eval"; "test" is accepted for "eval"), optional "eps" and "momentum", and the running
statistics. In training mode ``batchnorm_forward`` stores *new* arrays under
"running_mean"/"running_var" (it never modifies the old arrays in place), creating them
as zeros/ones the first time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from course_utils._validate import as_array, check_positive_int, check_probability
from course_utils.layers.base import Layer

__all__ = [
    "BatchNorm",
    "batchnorm_backward",
    "batchnorm_forward",
    "spatial_batchnorm_backward",
    "spatial_batchnorm_forward",
]

_DEFAULT_EPS = 1e-5
_DEFAULT_MOMENTUM = 0.9


def _mode(bn_param: dict) -> str:
    if not isinstance(bn_param, dict):
        raise ValueError(f"bn_param: expected a dict, got {type(bn_param).__name__}")
    mode = bn_param.get("mode", "train")
    if mode == "test":
        mode = "eval"
    if mode not in ("train", "eval"):
        raise ValueError(f"bn_param['mode']: expected 'train' or 'eval', got {mode!r}")
    return mode


def _bn_forward(x, gamma, beta, bn_param: dict, axes: tuple[int, ...], stat_shape):
    """Batch norm over ``axes`` of ``x``; gamma/beta/statistics broadcast via ``stat_shape``."""
    mode = _mode(bn_param)
    eps = float(bn_param.get("eps", _DEFAULT_EPS))
    if not eps > 0:
        raise ValueError(f"bn_param['eps']: expected a positive number, got {eps!r}")
    momentum = check_probability(
        bn_param.get("momentum", _DEFAULT_MOMENTUM), "bn_param['momentum']", inclusive_one=True
    )
    D = x.shape[1]
    dims = {"D": D}
    dtype = np.result_type(x, gamma, beta)
    running_mean = bn_param.get("running_mean")
    running_var = bn_param.get("running_var")
    running_mean = np.zeros(D, dtype) if running_mean is None else running_mean
    running_var = np.ones(D, dtype) if running_var is None else running_var
    running_mean = as_array(running_mean, "bn_param['running_mean']", shape=("D",), dims=dims)
    running_var = as_array(running_var, "bn_param['running_var']", shape=("D",), dims=dims)

    if mode == "train":
        mu = x.mean(axis=axes)
        var = x.var(axis=axes)  # biased (divides by the count), as in the paper and Keras
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mu.reshape(stat_shape)) * inv_std.reshape(stat_shape)
    out = gamma.reshape(stat_shape) * x_hat + beta.reshape(stat_shape)
    cache = (mode, x_hat, gamma, inv_std, axes, stat_shape)
    return out.astype(dtype, copy=False), cache


def _bn_backward(dout, cache):
    mode, x_hat, gamma, inv_std, axes, stat_shape = cache
    dout = as_array(dout, "dout", dtype_kind="f")
    if dout.shape != x_hat.shape:
        raise ValueError(
            f"dout: expected shape {x_hat.shape} (the forward output's), got {dout.shape}"
        )
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    dx_hat = dout * gamma.reshape(stat_shape)
    if mode == "eval":  # mean and variance are constants
        return dx_hat * inv_std.reshape(stat_shape), dgamma, dbeta
    # Training: mu and var depend on every x in the batch. With M values per statistic,
    #   dx = inv_std / M * (M * dx_hat - sum(dx_hat) - x_hat * sum(dx_hat * x_hat))
    M = x_hat.size // x_hat.shape[1]
    sum_dx_hat = dx_hat.sum(axis=axes).reshape(stat_shape)
    sum_dx_hat_x_hat = (dx_hat * x_hat).sum(axis=axes).reshape(stat_shape)
    dx = (inv_std.reshape(stat_shape) / M) * (M * dx_hat - sum_dx_hat - x_hat * sum_dx_hat_x_hat)
    return dx, dgamma, dbeta


def batchnorm_forward(
    x: NDArray[np.floating],
    gamma: NDArray[np.floating],
    beta: NDArray[np.floating],
    bn_param: dict[str, Any],
) -> tuple[NDArray[np.floating], tuple]:
    """Batch norm of (N, D) inputs, per feature: ``gamma * (x - mu) / sqrt(var + eps) + beta``.

    Args:
        x: (N, D) float inputs.
        gamma: (D,) scale.
        beta: (D,) shift.
        bn_param: dict with "mode" ("train" or "eval"), optional "eps" (1e-5),
            "momentum" (0.9), "running_mean" (D,) and "running_var" (D,). Training mode
            stores updated running statistics in it (new arrays).

    Returns:
        out: (N, D).
        cache: for ``batchnorm_backward``.
    """
    x = as_array(x, "x", shape=("N", "D"), dtype_kind="f")
    dims = {"D": x.shape[1]}
    gamma = as_array(gamma, "gamma", shape=("D",), dtype_kind="f", dims=dims)
    beta = as_array(beta, "beta", shape=("D",), dtype_kind="f", dims=dims)
    return _bn_forward(x, gamma, beta, bn_param, (0,), (1, -1))


def batchnorm_backward(
    dout: NDArray[np.floating], cache: tuple
) -> tuple[NDArray[np.floating], NDArray[np.floating], NDArray[np.floating]]:
    """Backward pass of ``batchnorm_forward``.

    Args:
        dout: (N, D) upstream gradient.
        cache: from ``batchnorm_forward``.

    Returns:
        dx: (N, D), dgamma: (D,), dbeta: (D,).
    """
    return _bn_backward(dout, cache)


def spatial_batchnorm_forward(
    x: NDArray[np.floating],
    gamma: NDArray[np.floating],
    beta: NDArray[np.floating],
    bn_param: dict[str, Any],
) -> tuple[NDArray[np.floating], tuple]:
    """Batch norm of (N, C, H, W) inputs, per channel (statistics over N, H and W).

    Args:
        x: (N, C, H, W) float inputs.
        gamma: (C,) scale.
        beta: (C,) shift.
        bn_param: as for ``batchnorm_forward``, with (C,) running statistics.

    Returns:
        out: (N, C, H, W).
        cache: for ``spatial_batchnorm_backward``.
    """
    x = as_array(x, "x", shape=("N", "C", "H", "W"), dtype_kind="f")
    dims = {"C": x.shape[1]}
    gamma = as_array(gamma, "gamma", shape=("C",), dtype_kind="f", dims=dims)
    beta = as_array(beta, "beta", shape=("C",), dtype_kind="f", dims=dims)
    return _bn_forward(x, gamma, beta, bn_param, (0, 2, 3), (1, -1, 1, 1))


def spatial_batchnorm_backward(
    dout: NDArray[np.floating], cache: tuple
) -> tuple[NDArray[np.floating], NDArray[np.floating], NDArray[np.floating]]:
    """Backward pass of ``spatial_batchnorm_forward``.

    Args:
        dout: (N, C, H, W) upstream gradient.
        cache: from ``spatial_batchnorm_forward``.

    Returns:
        dx: (N, C, H, W), dgamma: (C,), dbeta: (C,).
    """
    return _bn_backward(dout, cache)


class BatchNorm(Layer):
    """Batch normalisation layer for (N, D) or (N, C, H, W) inputs.

    Normalises each feature (2-D input) or each channel (4-D input, axis 1) with batch
    statistics in training mode and with the running statistics after ``eval()``.
    ``momentum`` follows Keras (see the module docstring): running statistics are updated
    as ``momentum * running + (1 - momentum) * batch``.

    Input shape: (N, num_features) or (N, num_features, H, W). Output shape: the same.

    Args:
        num_features: D or C.
        momentum: weight of the old running statistics, in [0, 1].
        eps: added to the variance before the square root.
        dtype: dtype of gamma, beta and the running statistics.
        name: optional layer name.

    Attributes:
        params: {"gamma": ones (D,), "beta": zeros (D,)}; grads: same keys.
        running_mean, running_var: (D,) arrays (not trained by the optimiser).
    """

    def __init__(
        self,
        num_features: int,
        momentum: float = _DEFAULT_MOMENTUM,
        eps: float = _DEFAULT_EPS,
        dtype: DTypeLike = np.float64,
        name: str | None = None,
    ):
        super().__init__(name)
        self.num_features = check_positive_int(num_features, "num_features")
        self.momentum = check_probability(momentum, "momentum", inclusive_one=True)
        if not float(eps) > 0:
            raise ValueError(f"eps: expected a positive number, got {eps!r}")
        self.eps = float(eps)
        self.params["gamma"] = np.ones(self.num_features, dtype=dtype)
        self.params["beta"] = np.zeros(self.num_features, dtype=dtype)
        self.running_mean = np.zeros(self.num_features, dtype=dtype)
        self.running_var = np.ones(self.num_features, dtype=dtype)
        self.zero_grad()

    def forward(self, x: NDArray[np.floating]) -> NDArray[np.floating]:
        """(N, D) -> (N, D) or (N, C, H, W) -> (N, C, H, W)."""
        x = as_array(x, "x", ndim=(2, 4), dtype_kind="f")
        if x.ndim == 2:
            spec, fn = ("N", self.num_features), batchnorm_forward
        else:
            spec, fn = ("N", self.num_features, "H", "W"), spatial_batchnorm_forward
        as_array(x, "x", shape=spec)
        bn_param = {
            "mode": "train" if self.training else "eval",
            "eps": self.eps,
            "momentum": self.momentum,
            "running_mean": self.running_mean,
            "running_var": self.running_var,
        }
        out, self._cache = fn(x, self.params["gamma"], self.params["beta"], bn_param)
        dtype = self.running_mean.dtype
        self.running_mean = bn_param["running_mean"].astype(dtype, copy=False)
        self.running_var = bn_param["running_var"].astype(dtype, copy=False)
        return out

    def backward(self, dout: NDArray[np.floating]) -> NDArray[np.floating]:
        """Fill ``grads["gamma"]``, ``grads["beta"]``; return dx shaped like x."""
        dx, dgamma, dbeta = _bn_backward(dout, self._pop_cache())
        self.grads["gamma"] = dgamma
        self.grads["beta"] = dbeta
        return dx

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "num_features": self.num_features,
            "momentum": self.momentum,
            "eps": self.eps,
        }
