"""Hypothesis strategies shared by the course_utils tests (one place, as in MiniTorch).

Gradient checks run in float64 with inputs drawn from a bounded range; strategies with
``min_abs`` keep every entry at least that far from 0 so central differences (h = 1e-5)
never straddle a kink (ReLU, leaky ReLU, PReLU, ELU at 0).
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# Relative error (course_utils.gradcheck.rel_error) a float64 backward must reach.
GRAD_TOL = 1e-6

# A gradient that is 0 or tiny (e.g. softmax CE when the prediction is close to the soft
# target) is compared in absolute terms as well: central differences carry ~1e-11 of
# rounding noise, which rel_error scales up to 1.0 when the gradient itself is ~1e-11.
# Bugs in these O(1)-scaled tests differ by far more than GRAD_ATOL.
GRAD_ATOL = 1e-9

# Few examples each: every example runs a full numerical gradient.
GRAD_SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)


def assert_grad_close(analytic, numerical, name: str = "gradient") -> None:
    """Assert rel_error(analytic, numerical) <= GRAD_TOL or max |difference| <= GRAD_ATOL."""
    from course_utils.gradcheck import rel_error

    analytic, numerical = np.asarray(analytic), np.asarray(numerical)
    assert analytic.shape == numerical.shape, f"{name}: shape {analytic.shape} != {numerical.shape}"
    err = rel_error(analytic, numerical)
    if err <= GRAD_TOL:
        return
    worst = float(np.max(np.abs(analytic - numerical)))
    assert worst <= GRAD_ATOL, (
        f"{name}: relative error {err:.2e} > {GRAD_TOL:.0e} (max abs difference {worst:.2e})"
    )


seeds = st.integers(min_value=0, max_value=2**32 - 1)


def floats(max_abs: float = 3.0, min_abs: float = 0.0) -> st.SearchStrategy[float]:
    """Finite float64 values in [-max_abs, max_abs] with |v| >= min_abs."""
    if min_abs <= 0:
        return st.floats(-max_abs, max_abs, allow_nan=False, allow_infinity=False)
    pos = st.floats(min_abs, max_abs, allow_nan=False, allow_infinity=False)
    return st.one_of(pos, pos.map(lambda v: -v))


def float_arrays(
    shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]],
    max_abs: float = 3.0,
    min_abs: float = 0.0,
) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays of ``shape`` (a tuple or a strategy of tuples)."""
    return hnp.arrays(np.float64, shape, elements=floats(max_abs, min_abs))


def dims(min_value: int = 1, max_value: int = 5) -> st.SearchStrategy[int]:
    return st.integers(min_value, max_value)


def matrix_shapes(max_n: int = 4, max_d: int = 5) -> st.SearchStrategy[tuple[int, int]]:
    """(N, D) with 1 <= N <= max_n, 1 <= D <= max_d."""
    return st.tuples(dims(1, max_n), dims(1, max_d))


def batch_shapes(max_ndim: int = 4, max_side: int = 4) -> st.SearchStrategy[tuple[int, ...]]:
    """(N, ...) shapes of 1 to ``max_ndim`` dimensions, e.g. (N,), (N, D), (N, C, H, W)."""
    return hnp.array_shapes(min_dims=1, max_dims=max_ndim, min_side=1, max_side=max_side)


def nchw_shapes(
    max_n: int = 2, max_c: int = 3, min_hw: int = 1, max_hw: int = 6
) -> st.SearchStrategy[tuple[int, int, int, int]]:
    """(N, C, H, W) image-batch shapes."""
    return st.tuples(dims(1, max_n), dims(1, max_c), dims(min_hw, max_hw), dims(min_hw, max_hw))


@st.composite
def affine_inputs(draw, max_n: int = 4, max_d: int = 5, max_m: int = 4):
    """(x (N, D), w (D, M), b (M,)) float64."""
    n, d, m = draw(dims(1, max_n)), draw(dims(1, max_d)), draw(dims(1, max_m))
    return (
        draw(float_arrays((n, d))),
        draw(float_arrays((d, m))),
        draw(float_arrays((m,))),
    )


@st.composite
def logits_and_labels(draw, max_n: int = 5, max_c: int = 5, max_abs: float = 10.0):
    """(logits (N, C) float64, y (N,) int labels in [0, C)) with C >= 2."""
    n, c = draw(dims(1, max_n)), draw(dims(2, max_c))
    logits = draw(float_arrays((n, c), max_abs=max_abs))
    y = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    return logits, y


@st.composite
def probability_rows(draw, n: int, c: int):
    """(n, c) float64 rows of non-negative numbers summing to 1 (soft targets)."""
    raw = draw(hnp.arrays(np.float64, (n, c), elements=st.floats(0.01, 1.0)))
    return raw / raw.sum(axis=1, keepdims=True)


def one_hot(y: np.ndarray, num_classes: int) -> np.ndarray:
    """(N,) int labels -> (N, C) float64 one-hot rows."""
    out = np.zeros((y.shape[0], num_classes))
    out[np.arange(y.shape[0]), y] = 1.0
    return out
