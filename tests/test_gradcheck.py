"""Tests for course_utils.gradcheck: central differences, rel_error, layer/function reports."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils.gradcheck import (
    GradReport,
    check_function_gradients,
    check_layer_gradients,
    compare_gradients,
    numerical_gradient,
    rel_error,
)
from course_utils.layers.base import Layer


# --- small reference layers/functions used below ------------------------------------------
class Affine(Layer):
    def __init__(self, D: int, M: int, seed: int = 0, bug: str | None = None):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.params = {"w": rng.standard_normal((D, M)), "b": rng.standard_normal(M)}
        self.bug = bug

    def forward(self, x):
        self._cache = x
        return x @ self.params["w"] + self.params["b"]

    def backward(self, dout):
        x = self._pop_cache()
        self.grads["w"] = x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        if self.bug == "dw_sign":
            self.grads["w"] = -self.grads["w"]
        return dout @ self.params["w"].T


def affine_forward(x, w, b):
    return x @ w + b, (x, w, b)


def affine_backward(dout, cache):
    x, w, _ = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def ce_forward(x, y):
    """Mean softmax cross-entropy; y are int labels (not differentiated)."""
    shifted = x - x.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = x.shape[0]
    return -logp[np.arange(n), y].mean(), (logp, y)


def ce_backward(dout, cache):
    logp, y = cache
    n = logp.shape[0]
    dx = np.exp(logp)
    dx[np.arange(n), y] -= 1
    return dout * dx / n


RNG = np.random.default_rng(1234)


# --- rel_error -------------------------------------------------------------------------
def test_rel_error_zero_for_equal_and_for_two_zero_arrays():
    a = RNG.standard_normal((3, 4))
    assert rel_error(a, a.copy()) == 0.0
    assert rel_error(np.zeros(5), np.zeros(5)) == 0.0


def test_rel_error_is_one_for_a_sign_flip_and_scale_invariant():
    a = RNG.standard_normal(10)
    assert rel_error(a, -a) == pytest.approx(1.0)
    b = a + 1e-3
    assert rel_error(1e6 * a, 1e6 * b) == pytest.approx(rel_error(a, b))


def test_rel_error_does_not_blow_up_at_exact_zeros():
    # CS231n's elementwise form gives 1.0 here; a correct gradient with a dead unit must pass.
    a = np.array([1.0, 0.0, -2.0])
    b = np.array([1.0, 1e-11, -2.0])
    assert rel_error(a, b) < 1e-10


def test_rel_error_rejects_shape_mismatch_and_flags_nan():
    with pytest.raises(ValueError, match=r"shapes differ.*\(3, 1\).*\(3,\)"):
        rel_error(np.zeros((3, 1)), np.zeros(3))
    assert rel_error(np.array([1.0, np.nan]), np.array([1.0, 2.0])) == float("inf")


# --- numerical_gradient ----------------------------------------------------------------
def test_numerical_gradient_of_square_and_default_dout_of_ones():
    x = RNG.standard_normal((4, 5))
    assert rel_error(numerical_gradient(lambda v: v**2, x), 2 * x) < 1e-9


def test_numerical_gradient_uses_dout_as_upstream_gradient():
    x, w = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 2))
    dout = RNG.standard_normal((3, 2))
    num = numerical_gradient(lambda v: v @ w, x, dout)
    assert num.shape == x.shape
    assert rel_error(num, dout @ w.T) < 1e-9


def test_numerical_gradient_restores_x_exactly_even_when_f_raises():
    x = RNG.standard_normal((3, 3)) * 1e3
    before = x.copy()
    numerical_gradient(lambda v: np.sin(v), x)
    assert np.array_equal(x, before)  # bitwise: restored, not recomputed

    calls = {"n": 0}

    def flaky(v):
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("boom")
        return v

    with pytest.raises(RuntimeError):
        numerical_gradient(flaky, x)
    assert np.array_equal(x, before)


def test_numerical_gradient_at_sampled_indices_only():
    x = RNG.standard_normal((4, 6))
    idx = [0, 7, 23]
    num = numerical_gradient(lambda v: v**3, x, indices=idx)
    flat = num.reshape(-1)
    assert np.allclose(flat[idx], 3 * x.reshape(-1)[idx] ** 2, rtol=1e-7)
    others = np.setdiff1d(np.arange(x.size), idx)
    assert np.all(flat[others] == 0)


def test_numerical_gradient_of_a_0d_input():
    x = np.array(1.5)
    assert numerical_gradient(lambda v: v**2, x) == pytest.approx(3.0)


def test_numerical_gradient_validates_its_inputs():
    with pytest.raises(ValueError, match="float64"):
        numerical_gradient(lambda v: v, np.ones(3, dtype=np.float32))
    with pytest.raises(ValueError, match="NumPy float64 array"):
        numerical_gradient(lambda v: v, [1.0, 2.0])
    with pytest.raises(ValueError, match=r"dout: expected shape \(3,\)"):
        numerical_gradient(lambda v: v, np.ones(3), dout=np.ones(4))
    with pytest.raises(ValueError, match="h: expected a positive"):
        numerical_gradient(lambda v: v, np.ones(3), h=0.0)


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(1, 5),
    d=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_numerical_gradient_matches_quadratic_form(n, d, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((d, d))
    x = rng.standard_normal((n, d))
    # L = sum_i x_i^T A x_i ; dL/dx = x (A + A^T)
    num = numerical_gradient(lambda v: np.einsum("nd,de,ne->n", v, a, v), x)
    assert rel_error(num, x @ (a + a.T)) < 1e-8


# --- reports ---------------------------------------------------------------------------
def test_check_layer_gradients_passes_a_correct_layer_with_all_tensors():
    x = RNG.standard_normal((6, 4))
    report = check_layer_gradients(Affine(4, 3), x)
    assert isinstance(report, GradReport)
    assert list(report.tensors) == ["dx", "w", "b"]
    assert report.max_error < 1e-9
    assert report.passed(1e-7)
    assert "dx: relative error" in str(report)


def test_check_layer_gradients_reports_worst_index_expected_and_got():
    x = RNG.standard_normal((6, 4))
    report = check_layer_gradients(Affine(4, 3, bug="dw_sign"), x)
    assert not report.passed(1e-6)
    assert [t.name for t in report.failures(1e-6)] == ["w"]
    t = report["w"]
    assert t.rel_error == pytest.approx(1.0)
    # The worst entry is the largest |numerical - analytic| = 2 |numerical|.
    assert t.worst_index == np.unravel_index(np.argmax(np.abs(t.numerical)), (4, 3))
    assert t.got == pytest.approx(-t.expected)
    assert f"worst at index {t.worst_index}" in t.describe()


def test_check_layer_gradients_does_not_change_x_or_params():
    x = RNG.standard_normal((5, 4))
    layer = Affine(4, 2)
    x0, w0 = x.copy(), layer.params["w"].copy()
    check_layer_gradients(layer, x)
    assert np.array_equal(x, x0) and np.array_equal(layer.params["w"], w0)


def test_sampled_mode_checks_k_entries_and_still_catches_a_bug():
    x = RNG.standard_normal((20, 30))
    report = check_layer_gradients(Affine(30, 10), x, sample=7, seed=3)
    assert report.passed(1e-7)
    assert all(len(t.checked) == 7 for t in report.tensors.values())
    bad = check_layer_gradients(Affine(30, 10, bug="dw_sign"), x, sample=7, seed=3)
    assert [t.name for t in bad.failures(1e-6)] == ["w"]
    assert "7 sampled entries" in bad["w"].describe()
    # sample >= size means "all entries"
    assert check_layer_gradients(Affine(30, 10), x, sample=10_000)["b"].checked is None


def test_atol_rescues_a_gradient_that_is_legitimately_zero():
    num = np.array([1e-11, -2e-11, 0.0])
    t = compare_gradients("dx", num, np.zeros(3))
    assert t.rel_error == pytest.approx(1.0)
    assert not t.passed(1e-6)
    assert t.passed(1e-6, atol=1e-9)


def test_compare_gradients_names_problems():
    num = np.zeros((2, 3))
    assert "None" in compare_gradients("dw", num, None).problem
    assert "expected shape (2, 3), got (3, 2)" in compare_gradients("dw", num, num.T).problem
    t = compare_gradients("dw", num, np.array([[0, np.nan, 0], [0, 0, 0]]))
    assert "non-finite" in t.problem and t.worst_index == (0, 1)


def test_check_function_gradients_pair_with_three_gradients():
    x, w, b = RNG.standard_normal((5, 4)), RNG.standard_normal((4, 3)), RNG.standard_normal(3)
    report = check_function_gradients(affine_forward, affine_backward, [x, w, b])
    assert list(report.tensors) == ["dx", "dw", "db"]
    assert report.passed(1e-8)

    def wrong_backward(dout, cache):
        dx, dw, db = affine_backward(dout, cache)
        return dx, dw, 5 * db

    bad = check_function_gradients(affine_forward, wrong_backward, [x, w, b])
    assert [t.name for t in bad.failures(1e-6)] == ["db"]


def test_check_function_gradients_skips_integer_labels():
    x = RNG.standard_normal((6, 4))
    y = RNG.integers(0, 4, size=6)
    report = check_function_gradients(ce_forward, ce_backward, [x, y])
    assert list(report.tensors) == ["dx"]
    assert report.passed(1e-7)


def test_check_function_gradients_rejects_wrong_number_of_gradients():
    x, w, b = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 2)), RNG.standard_normal(2)
    with pytest.raises(ValueError, match=r"expected 3 gradients \(dx, dw, db\), got 2"):
        check_function_gradients(affine_forward, lambda d, c: affine_backward(d, c)[:2], [x, w, b])


def test_default_dout_is_independent_of_inputs_drawn_from_the_same_seed():
    # A test drawing x from default_rng(0) must not get a dout that is a function of x.
    from course_utils.gradcheck import dout_rng

    x = np.random.default_rng(0).standard_normal(1000)
    dout = dout_rng(0).standard_normal(1000)
    assert abs(np.corrcoef(x, dout)[0, 1]) < 0.1
