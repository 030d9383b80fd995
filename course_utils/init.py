"""Weight initialisers: zeros, normal, Xavier/Glorot and He/Kaiming.

Every initialiser is ``init(shape, seed=None, dtype=np.float64) -> ndarray``; ``seed`` is an
int, ``None`` (fresh entropy) or a ``np.random.Generator`` (drawn from, so successive calls
differ). Fans follow the course's layouts (and agree with Keras' for the same layer):

=====================  =====================  ===============  =================
weight                 shape                  fan_in           fan_out
=====================  =====================  ===============  =================
dense                  (D, M)                 D                M
conv (NCHW)            (F, C, HH, WW)         C * HH * WW      F * HH * WW
bias / vector          (M,)                   M                M
=====================  =====================  ===============  =================

(Keras stores a conv kernel as (kh, kw, C, F); its fans are the same numbers.)

Variances: Glorot 2 / (fan_in + fan_out), He 2 / fan_in. The uniform versions draw from
U(-limit, limit) with limit = sqrt(3 * variance). The normal versions draw from N(0, variance)
as in the papers (and PyTorch); ``truncated=True`` instead draws like Keras: a normal cut
at two of its standard deviations, scaled up (by 1 / 0.8796) so the variance is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import DTypeLike, NDArray

__all__ = [
    "compute_fans",
    "get_initializer",
    "he_normal",
    "he_uniform",
    "normal",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]

Seed = int | np.random.Generator | None
Initializer = Callable[..., NDArray[np.floating]]

# std of a standard normal truncated to [-2, 2] (scipy.stats.truncnorm(-2, 2).std()).
_TRUNC_STD = 0.87962566103423978


def _shape(shape: Sequence[int] | int) -> tuple[int, ...]:
    if isinstance(shape, int | np.integer):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise ValueError(f"shape: expected a tuple of positive ints, got {shape!r}") from None
    if not dims or any(
        isinstance(d, bool) or not isinstance(d, int | np.integer) or d <= 0 for d in dims
    ):
        raise ValueError(f"shape: expected a non-empty tuple of positive ints, got {shape!r}")
    return tuple(int(d) for d in dims)


def _rng(seed: Seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, int | np.integer) and not isinstance(seed, bool)):
        return np.random.default_rng(seed)
    raise ValueError(f"seed: expected an int, None or a np.random.Generator, got {seed!r}")


def compute_fans(shape: Sequence[int]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of ``shape``: (M,), dense (D, M) or conv (F, C, HH, WW).

    For ndim >= 3 the layout is (out_channels, in_channels, *kernel_size), as in NCHW conv
    weights: fan_in = C * prod(kernel), fan_out = F * prod(kernel).
    """
    dims = _shape(shape)
    if len(dims) == 1:
        return dims[0], dims[0]
    if len(dims) == 2:
        return dims[0], dims[1]
    receptive = int(np.prod(dims[2:]))
    return dims[1] * receptive, dims[0] * receptive


def zeros(shape: Sequence[int], seed: Seed = None, dtype: DTypeLike = np.float64) -> NDArray:
    """All zeros (biases). ``seed`` is accepted for a uniform signature and ignored."""
    _rng(seed)
    return np.zeros(_shape(shape), dtype=dtype)


def normal(
    shape: Sequence[int], std: float = 0.01, seed: Seed = None, dtype: DTypeLike = np.float64
) -> NDArray:
    """w ~ N(0, std^2) (the CS231n ``weight_scale`` initialisation).

    Args:
        shape: the weight's shape.
        std: standard deviation, > 0.
        seed: int, None or a np.random.Generator.
        dtype: float dtype of the result.
    """
    if not float(std) > 0:
        raise ValueError(f"std: expected a positive number, got {std!r}")
    return (_rng(seed).standard_normal(_shape(shape)) * float(std)).astype(dtype)


def _normal_with_std(shape, std: float, seed: Seed, dtype, truncated: bool) -> NDArray:
    rng = _rng(seed)
    dims = _shape(shape)
    if not truncated:
        return (rng.standard_normal(dims) * std).astype(dtype)
    # Keras' truncated normal: resample until every draw lies within 2 std.
    z = rng.standard_normal(dims)
    bad = np.abs(z) > 2
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2
    return (z * (std / _TRUNC_STD)).astype(dtype)


def _uniform_with_var(shape, var: float, seed: Seed, dtype) -> NDArray:
    limit = np.sqrt(3.0 * var)
    return _rng(seed).uniform(-limit, limit, _shape(shape)).astype(dtype)


def xavier_uniform(
    shape: Sequence[int], seed: Seed = None, dtype: DTypeLike = np.float64, gain: float = 1.0
) -> NDArray:
    """Glorot uniform: w ~ U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = compute_fans(shape)
    return _uniform_with_var(shape, gain**2 * 2.0 / (fan_in + fan_out), seed, dtype)


def xavier_normal(
    shape: Sequence[int],
    seed: Seed = None,
    dtype: DTypeLike = np.float64,
    gain: float = 1.0,
    truncated: bool = False,
) -> NDArray:
    """Glorot normal: w ~ N(0, s^2), s = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = compute_fans(shape)
    std = gain * np.sqrt(2.0 / (fan_in + fan_out))
    return _normal_with_std(shape, std, seed, dtype, truncated)


def he_uniform(shape: Sequence[int], seed: Seed = None, dtype: DTypeLike = np.float64) -> NDArray:
    """He/Kaiming uniform (for ReLU): w ~ U(-a, a), a = sqrt(6 / fan_in)."""
    fan_in, _ = compute_fans(shape)
    return _uniform_with_var(shape, 2.0 / fan_in, seed, dtype)


def he_normal(
    shape: Sequence[int], seed: Seed = None, dtype: DTypeLike = np.float64, truncated: bool = False
) -> NDArray:
    """He/Kaiming normal (for ReLU): w ~ N(0, s^2), s = sqrt(2 / fan_in)."""
    fan_in, _ = compute_fans(shape)
    return _normal_with_std(shape, np.sqrt(2.0 / fan_in), seed, dtype, truncated)


_INITIALIZERS: dict[str, Initializer] = {
    "zeros": zeros,
    "normal": normal,
    "xavier_uniform": xavier_uniform,
    "glorot_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "glorot_normal": xavier_normal,
    "he_uniform": he_uniform,
    "kaiming_uniform": he_uniform,
    "he_normal": he_normal,
    "kaiming_normal": he_normal,
}


def get_initializer(name: str | Initializer) -> Initializer:
    """Look up an initialiser by name ("he_normal", "glorot_uniform"...) or pass a callable.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if callable(name):
        return name
    if not isinstance(name, str) or name.lower() not in _INITIALIZERS:
        known = ", ".join(sorted(_INITIALIZERS))
        raise ValueError(f"init: expected one of {known} or a callable, got {name!r}")
    return _INITIALIZERS[name.lower()]
