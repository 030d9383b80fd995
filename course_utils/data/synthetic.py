"""Seeded synthetic datasets: a 1-D function to fit, spirals, moons, an imbalanced set.

Every generator takes a ``seed`` and returns the same data for the same arguments.
Features are float32; class labels are int64; the rows of the classification sets are
shuffled (so no "sorted by class" trap here).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from course_utils._validate import check_positive_int


def _check_seed(seed) -> int | None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
        raise ValueError(f"seed: expected an int or None, got {seed!r}")
    return seed


def _check_noise(noise) -> float:
    v = float(noise)
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"noise: expected a finite number >= 0, got {noise!r}")
    return v


def default_target(x: np.ndarray) -> np.ndarray:
    """The course's fitting target: y = 24 sin(3.2 x) + 42 cos(2.3 x)."""
    return 24.0 * np.sin(3.2 * x) + 42.0 * np.cos(2.3 * x)


def make_function_data(
    n: int,
    fn: Callable[[np.ndarray], np.ndarray] | None = None,
    x_range: tuple[float, float] = (-2 * np.pi, 2 * np.pi),
    noise: float = 0.0,
    seed: int | None = 0,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Samples of y = fn(x) + noise with x uniform in ``x_range``.

    Args:
        n: number of samples.
        fn: vectorised function of a (n, 1) float64 array; default :func:`default_target`,
            y = 24 sin(3.2 x) + 42 cos(2.3 x).
        x_range: (low, high), low < high.
        noise: standard deviation of Gaussian noise added to y.
        seed: random seed.

    Returns:
        X: (n, 1) float32 inputs in random (unsorted) order; ``np.argsort(X[:, 0])``
        orders them for a line plot.
        y: (n, 1) float32 targets.
    """
    n = check_positive_int(n, "n")
    noise = _check_noise(noise)
    try:
        low, high = (float(v) for v in x_range)
    except (TypeError, ValueError):
        raise ValueError(f"x_range: expected (low, high), got {x_range!r}") from None
    if not low < high:
        raise ValueError(f"x_range: expected low < high, got {x_range!r}")
    fn = default_target if fn is None else fn
    if not callable(fn):
        raise ValueError(f"fn: expected a callable, got {type(fn).__name__}")
    rng = np.random.default_rng(_check_seed(seed))
    x = rng.uniform(low, high, size=(n, 1))
    y = np.asarray(fn(x), dtype=np.float64)
    if y.size != n:
        raise ValueError(f"fn: expected {n} outputs for X of shape {x.shape}, got shape {y.shape}")
    y = y.reshape(n, 1) + noise * rng.standard_normal((n, 1))
    return x.astype(np.float32), y.astype(np.float32)


def _shuffled(rng: np.random.Generator, X: np.ndarray, y: np.ndarray):
    perm = rng.permutation(len(y))
    return X[perm].astype(np.float32), y[perm].astype(np.int64)


def make_spirals(
    n_per_class: int, n_classes: int = 3, noise: float = 0.2, seed: int | None = 0
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Interleaved 2-D spirals (the CS231n toy set), one arm per class.

    Class k's points have radius r in [0, 1] and angle 4k + 4r (radians) plus Gaussian
    noise of standard deviation ``noise``: (r sin t, r cos t).

    Returns:
        X: (n_per_class * n_classes, 2) float32; y: (n_per_class * n_classes,) int64.
    """
    n_per_class = check_positive_int(n_per_class, "n_per_class")
    n_classes = check_positive_int(n_classes, "n_classes")
    noise = _check_noise(noise)
    rng = np.random.default_rng(_check_seed(seed))
    r = np.tile(np.linspace(0.0, 1.0, n_per_class), n_classes)
    k = np.repeat(np.arange(n_classes), n_per_class)
    t = 4.0 * k + 4.0 * r + noise * rng.standard_normal(r.shape)
    X = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)
    return _shuffled(rng, X, k)


def make_moons(
    n: int, noise: float = 0.1, seed: int | None = 0
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Two interleaving half circles (like scikit-learn's ``make_moons``).

    Class 0 (n - n // 2 points) lies on the upper unit half circle, class 1 (n // 2) on
    a lower one shifted by (1, 0.5); Gaussian noise of std ``noise`` is added to both
    coordinates.

    Returns:
        X: (n, 2) float32; y: (n,) int64.
    """
    n = check_positive_int(n, "n")
    noise = _check_noise(noise)
    rng = np.random.default_rng(_check_seed(seed))
    n1 = n // 2
    n0 = n - n1
    t0 = np.linspace(0.0, np.pi, n0)
    t1 = np.linspace(0.0, np.pi, n1)
    X = np.concatenate(
        [
            np.stack([np.cos(t0), np.sin(t0)], axis=1),
            np.stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)], axis=1),
        ]
    )
    X = X + noise * rng.standard_normal(X.shape)
    y = np.concatenate([np.zeros(n0, np.int64), np.ones(n1, np.int64)])
    return _shuffled(rng, X, y)


def make_imbalanced(
    n: int, ratio: float = 0.05, seed: int | None = 0, *, separation: float = 2.0
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Two overlapping 2-D Gaussian blobs with a rare class 1.

    Class 0 ~ N((0, 0), I), class 1 ~ N((s, s) / sqrt(2), I) with s = ``separation``
    (the distance between the means). Class 1 has ``round(ratio * n)`` samples (at
    least 1), so always predicting class 0 already scores ~1 - ratio accuracy.

    Returns:
        X: (n, 2) float32; y: (n,) int64 with ``y.mean()`` close to ``ratio``.
    """
    n = check_positive_int(n, "n")
    ratio_f = float(ratio)
    if not 0.0 < ratio_f <= 0.5:
        raise ValueError(f"ratio: expected a minority fraction in (0, 0.5], got {ratio!r}")
    if n < 2:
        raise ValueError(f"n: expected >= 2 so both classes appear, got {n}")
    sep = float(separation)
    if not np.isfinite(sep) or sep < 0:
        raise ValueError(f"separation: expected a finite number >= 0, got {separation!r}")
    rng = np.random.default_rng(_check_seed(seed))
    n1 = min(max(1, int(round(ratio_f * n))), n - 1)
    y = np.concatenate([np.zeros(n - n1, np.int64), np.ones(n1, np.int64)])
    X = rng.standard_normal((n, 2)) + y[:, None] * (sep / np.sqrt(2.0))
    return _shuffled(rng, X, y)
