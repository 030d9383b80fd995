"""Task 2 of 05_mnist: ``he_normal(fan_in, fan_out, rng)``, ``xavier_uniform(fan_in, fan_out,
rng)``.

Both return a (fan_in, fan_out) weight matrix drawn from ``rng``. The statistical tests
use large draws (10^5 entries) and tolerances at which a correct initialiser fails less
than once in 10^6 runs: the root mean square through ``assert_init_scale`` (alpha 1e-8),
the mean (|z| < 6), the kurtosis (normal 3, uniform 1.8; 10 standard errors) and, for the
uniform one, the bounds (the largest |w| lies within a factor 1 - 2e-4 of the limit except
with probability e^-20).
"""

from __future__ import annotations

import math

import numpy as np

from course_utils.grading import (
    assert_init_scale,
    call_student,
    check,
    expect_callable,
    fail,
    seal,
    student_rng,
    to_array,
)

from ._common import forbid_library

_Z = 6.0  # |mean| / standard error above this: P < 2e-9 for a correct initialiser


def _draw(fn, name, fan_in, fan_out, seed):
    label = f"`{name}({fan_in}, {fan_out}, rng)`"
    got = call_student(fn, fan_in, fan_out, student_rng(seed), label=label)
    w = to_array(got, f"{name}({fan_in}, {fan_out}, rng)")
    if w.shape != (fan_in, fan_out):
        extra = ""
        if w.shape == (fan_out, fan_in):
            extra = " (transposed: rows are inputs, columns outputs, so x @ W works)"
        elif w.size == fan_in * fan_out:
            extra = " (the right number of entries in the wrong shape)"
        fail(f"{label}: expected shape ({fan_in}, {fan_out}), got {w.shape}{extra}")
    if w.dtype.kind != "f":
        fail(f"{label}: expected floating-point weights, got dtype {w.dtype}")
    if not np.isfinite(w).all():
        fail(f"{label}: the weights contain NaN or inf")
    return w.astype(np.float64), label


def _kurtosis(w: np.ndarray) -> float:
    c = w - w.mean()
    return float(np.mean(c**4) / np.mean(c**2) ** 2)


def _check_rng(fn, name, fan_in, fan_out) -> None:
    a, label = _draw(fn, name, fan_in, fan_out, 11)
    b, _ = _draw(fn, name, fan_in, fan_out, 11)
    c, _ = _draw(fn, name, fan_in, fan_out, 12)
    if not np.array_equal(a, b):
        fail(
            f"{label}: two calls with generators made from the same seed gave different "
            f"weights: draw every number from the `rng` argument (rng.normal / rng.uniform), "
            f"not from np.random.* (the global generator)"
        )
    if np.array_equal(a, c):
        fail(f"{label}: generators with different seeds gave the same weights: `rng` is ignored")


def _check_moments(w, label, std, stated, factors, normal: bool) -> None:
    n = w.size
    z = float(w.mean()) / (std / math.sqrt(n))
    if abs(z) > _Z:
        fail(
            f"{label}: the weights have mean {w.mean():.4g}, {abs(z):.0f} standard errors from 0 "
            f"(a correct initialiser is centred on 0: |mean| < {_Z * std / math.sqrt(n):.2g} "
            f"here); e.g. rng.uniform(0, a) instead of rng.uniform(-a, a), or rng.random()"
        )
    assert_init_scale(w, std, "weights", stated=stated, factors=factors, label=label, alpha=1e-8)
    k, se = _kurtosis(w), math.sqrt(24.0 / n)
    want, other = (3.0, 1.8) if normal else (1.8, 3.0)
    if abs(k - want) > 10 * se + 0.02:
        kind = "normal" if normal else "uniform"
        seen = (
            "uniform" if abs(k - 1.8) < 10 * se + 0.02
            else "normal" if abs(k - 3.0) < 10 * se + 0.02
            else "neither normal nor uniform"
        )  # fmt: skip
        fail(
            f"{label}: the weights have the right scale but the wrong distribution: their "
            f"kurtosis is {k:.2f}, {kind} entries have {want} ({other} would be "
            f"{'uniform' if normal else 'normal'}); yours look {seen}. Use "
            f"{'rng.normal(0, std, size)' if normal else 'rng.uniform(-limit, limit, size)'}"
        )


def _check_he(fn, fan_in, fan_out) -> None:
    w, label = _draw(fn, "he_normal", fan_in, fan_out, 0)
    std = math.sqrt(2.0 / fan_in)
    factors = {"fan_in": fan_in, "fan_out": fan_out}
    _check_moments(w, label, std, f"√(2/fan_in) (fan_in = {fan_in})", factors, normal=True)


def _check_xavier(fn, fan_in, fan_out) -> None:
    w, label = _draw(fn, "xavier_uniform", fan_in, fan_out, 0)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    factors = {"fan_in": fan_in, "fan_out": fan_out}
    top = float(np.max(np.abs(w)))
    ratio = top / limit
    if abs(ratio - 1 / math.sqrt(3.0)) < 1e-3:  # the range is the stated std, not the limit
        fail(
            f"{label}: the weights lie in [-{top:.4g}, {top:.4g}], 1/√3 × the limit "
            f"a = √(6/(fan_in + fan_out)) = {limit:.4g}: you used the standard deviation "
            f"√(2/(fan_in + fan_out)) as the limit; a uniform on [-a, a] has standard "
            f"deviation a/√3, so a = √3 × that"
        )
    _check_moments(
        w,
        label,
        limit / math.sqrt(3.0),
        f"a/√3 = √(2/(fan_in + fan_out)) (fan_in + fan_out = {fan_in + fan_out})",
        factors,
        normal=False,
    )
    if top > limit * (1 + 1e-9):
        fail(
            f"{label}: some weights reach |w| = {top:.4g}, beyond the limit a = √(6/(fan_in + "
            f"fan_out)) = {limit:.4g}: draw rng.uniform(-a, a, size=(fan_in, fan_out))"
        )
    if top < limit * (1 - 2e-4):
        fail(
            f"{label}: the largest |w| of {w.size} draws is {top:.5g}, clearly below the limit "
            f"a = √(6/(fan_in + fan_out)) = {limit:.5g} (a correct draw comes within 0.02 %): "
            f"the range is too narrow"
        )


def _preamble(he_normal, xavier_uniform) -> None:
    expect_callable(he_normal, "he_normal")
    expect_callable(xavier_uniform, "xavier_uniform")
    for fn, name in ((he_normal, "he_normal"), (xavier_uniform, "xavier_uniform")):
        forbid_library(fn, name, "draw from rng yourself: rng.normal / rng.uniform")


def visible(he_normal, xavier_uniform) -> None:
    _preamble(he_normal, xavier_uniform)
    _check_he(he_normal, 500, 200)
    _check_xavier(xavier_uniform, 500, 200)
    _check_rng(he_normal, "he_normal", 30, 20)
    _check_rng(xavier_uniform, "xavier_uniform", 30, 20)


@check
def check_initializers(he_normal, xavier_uniform) -> None:
    """Visible: (500, 200) draws: shape, scale, mean, distribution, bounds, rng used."""
    visible(he_normal, xavier_uniform)


@check
def check_initializers_hidden(he_normal, xavier_uniform) -> None:
    """Hidden: other, random shapes (fan_out > fan_in, non-square, tall), seeds."""
    _preamble(he_normal, xavier_uniform)
    rng = np.random.default_rng(1605)  # hidden values, the same at every regrade
    fan_in = int(rng.integers(150, 300))
    fan_out = int(fan_in * rng.uniform(2.6, 3.4))  # not 2 fan_in: √(2/fan_out) ≠ √(1/fan_in)
    _check_he(he_normal, fan_in, fan_out)
    _check_xavier(xavier_uniform, fan_in, fan_out)
    _check_he(he_normal, 1000, 100)
    _check_xavier(xavier_uniform, 100, 1000)
    _check_rng(he_normal, "he_normal", 7, 3)
    _check_rng(xavier_uniform, "xavier_uniform", 3, 7)


seal(__name__)
