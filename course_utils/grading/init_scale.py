"""Statistical check of an initial weight scale stated by a task (He: std sqrt(2 / fan_in)).

For entries drawn independently from N(0, sigma^2), ``n * mean(w^2) / sigma^2`` follows a
chi-square distribution with n degrees of freedom. ``assert_init_scale`` accepts the
observed root-mean-square when it lies inside the two-sided ``1 - alpha`` interval of that
distribution (``alpha = 1e-8`` by default: a correct initialiser fails with probability
1e-8 per matrix), and otherwise names the scale the weights DO match among the usual
ones built from the task's sizes (sqrt(2/H) instead of sqrt(2/D): the wrong fan).

The interval uses the Wilson-Hilferty approximation of the chi-square quantiles (relative
error below 1e-3 for n >= 500, checked against SciPy in the tests); matrices smaller than
``min_entries`` are refused because the test would have too little power.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from statistics import NormalDist
from typing import Any

import numpy as np

from ._core import fail

__all__ = ["assert_init_scale", "chi2_interval", "rms_interval"]


def chi2_interval(n: int, alpha: float) -> tuple[float, float]:
    """The two-sided ``1 - alpha`` interval of a chi-square with ``n`` degrees of freedom."""
    z = NormalDist().inv_cdf(1 - alpha / 2)
    c = 2 / (9 * n)
    return (
        n * max(1 - c - z * math.sqrt(c), 0.0) ** 3,
        n * (1 - c + z * math.sqrt(c)) ** 3,
    )


def rms_interval(n: int, sigma: float, alpha: float) -> tuple[float, float]:
    """Where sqrt(mean(w^2)) of n N(0, sigma^2) entries falls with probability 1 - alpha."""
    lo, hi = chi2_interval(n, alpha)
    return sigma * math.sqrt(lo / n), sigma * math.sqrt(hi / n)


def _candidate_scales(factors: Mapping[str, float]) -> list[tuple[str, float]]:
    out = [("1 (no scaling)", 1.0)]
    sizes = [(k, float(v)) for k, v in factors.items() if float(v) > 0]
    for name, v in sizes:
        out += [(f"√(2/{name}) ({name} = {v:g})", math.sqrt(2 / v)),
                (f"√(1/{name}) ({name} = {v:g})", math.sqrt(1 / v)),
                (f"1/{name} ({name} = {v:g})", 1 / v)]  # fmt: skip
    for i, (a, va) in enumerate(sizes):
        for b, vb in sizes[i + 1 :]:
            out += [(f"√(2/({a}+{b}))", math.sqrt(2 / (va + vb))),
                    (f"√(1/({a}+{b}))", math.sqrt(1 / (va + vb)))]  # fmt: skip
    return out


def assert_init_scale(
    values: Any,
    expected_std: float,
    name: str,
    *,
    stated: str,
    factors: Mapping[str, float] | None = None,
    label: str = "",
    alpha: float = 1e-8,
    min_entries: int = 500,
    hint: str | None = None,
) -> None:
    """Fail unless ``values`` look drawn from N(0, expected_std^2), naming the scale they match.

    Args:
        values: the initial weights (a copy: any array-like of floats).
        expected_std: the standard deviation the task states.
        name: the weights' name in messages (``w1``).
        stated: the stated scale as the task writes it (``"√(2/D) (D = 784)"``).
        factors: the sizes the usual scales are built from (``{"D": 784, "H": 100}``).
        label: what built the weights (``TFTwoLayerNet(784, 100, 10)``).
        alpha: probability that a correct initialiser fails.
        min_entries: smaller matrices are a programming error (too little power).
        hint: a sentence appended to the failure (e.g. what the fan-in is).
    """
    w = np.array(values, dtype=np.float64).reshape(-1)
    if w.size < min_entries:
        raise ValueError(f"values: need at least {min_entries} entries, got {w.size}")
    rms = float(np.sqrt(np.mean(w * w)))
    lo, hi = rms_interval(w.size, expected_std, alpha)
    if lo <= rms <= hi:
        return
    msg = (
        f"{label}: the initial {name} has standard deviation {rms:.4g} (root mean square of its "
        f"{w.size} entries, {rms / expected_std:.3g} × the stated scale); the task states "
        f"{stated} = {expected_std:.4g} (a correct initialiser lands in [{lo:.4g}, {hi:.4g}] "
        f"except with probability {alpha:g})"
    )
    for text, scale in _candidate_scales(factors or {}):
        c_lo, c_hi = rms_interval(w.size, scale, alpha)
        if c_lo <= rms <= c_hi and abs(scale - expected_std) > 1e-12:
            msg += f"\nHint: it matches the scale {text}, {scale:.4g}: check what you divide by"
            break
    if hint:
        msg += f"\nHint: {hint}"
    fail(msg)
