"""course_utils.functional: stability, agreement with tf.nn, derivatives vs numerical ones."""

import warnings

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

from course_utils import functional as F
from course_utils.gradcheck import numerical_gradient, rel_error

from strategies import GRAD_SETTINGS, assert_grad_close, batch_shapes, float_arrays

EXTREME = np.array(
    [[-1000.0, 0.0, 1000.0], [1000.0, 1000.0, -1000.0], [-1000.0, -1000.0, -999.0], [1, 2, 3]]
)


def random_logits(shape, scale=5.0, seed=0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


@pytest.fixture(autouse=True)
def _numpy_warnings_are_errors():
    """Overflow / invalid-value warnings mean an unstable implementation."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            yield


# --- softmax / log_softmax -----------------------------------------------------------


@pytest.mark.parametrize("x", [random_logits((6, 7)), random_logits((3, 10), 50.0), EXTREME])
def test_softmax_and_log_softmax_match_tf(x):
    assert rel_error(F.softmax(x), tf.nn.softmax(x).numpy()) < 1e-12
    np.testing.assert_allclose(F.log_softmax(x), tf.nn.log_softmax(x).numpy(), rtol=1e-12)
    np.testing.assert_allclose(F.softmax(x).sum(axis=-1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("axis", [0, 1, -1, -3])
def test_softmax_axis_matches_tf(axis):
    x = random_logits((2, 3, 4), seed=1)
    np.testing.assert_allclose(F.softmax(x, axis=axis), tf.nn.softmax(x, axis=axis), rtol=1e-12)
    np.testing.assert_allclose(
        F.log_softmax(x, axis=axis), tf.nn.log_softmax(x, axis=axis), rtol=1e-12
    )


def test_softmax_extreme_logits_are_exact_and_finite():
    s = F.softmax(EXTREME)
    assert np.all(np.isfinite(s))
    np.testing.assert_array_equal(s[0], [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(s[1], [0.5, 0.5, 0.0])
    ls = F.log_softmax(EXTREME)
    assert np.all(np.isfinite(ls))
    assert ls[0, 0] == -2000.0


def test_softmax_is_shift_invariant():
    x = random_logits((4, 5), seed=2)
    np.testing.assert_allclose(F.softmax(x + 700.0), F.softmax(x), rtol=1e-12)


def test_dtypes_preserved_or_promoted():
    x32 = random_logits((3, 4)).astype(np.float32)
    for fn in (F.softmax, F.log_softmax, F.sigmoid, F.log_sigmoid, F.relu, F.tanh, F.elu):
        assert fn(x32).dtype == np.float32, fn.__name__
    assert F.softmax(np.array([[1, 2, 3]])).dtype == np.float64  # ints promote


def test_softmax_does_not_mutate_input():
    x = random_logits((3, 4))
    before = x.copy()
    F.softmax(x)
    F.log_softmax(x)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: F.softmax(np.zeros((2, 3)), axis=2), "axis"),
        (lambda: F.softmax(np.float64(1.0)), r"x: .*\(\)"),
        (lambda: F.softmax(np.array([["a", "b"]])), "x: expected dtype"),
        (lambda: F.prelu(np.zeros((2, 3)), np.ones(4)), r"alpha: .*\(2, 3\).*\(4,\)"),
    ],
)
def test_bad_arguments_raise_named_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- sigmoid / log_sigmoid -----------------------------------------------------------


@pytest.mark.parametrize("x", [random_logits((5, 6)), EXTREME, np.linspace(-800, 800, 33)])
def test_sigmoid_and_log_sigmoid_match_tf(x):
    np.testing.assert_allclose(F.sigmoid(x), tf.nn.sigmoid(x).numpy(), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(F.log_sigmoid(x), tf.math.log_sigmoid(x).numpy(), rtol=1e-12)


def test_sigmoid_extremes_are_exact():
    np.testing.assert_array_equal(F.sigmoid(np.array([-1000.0, 0.0, 1000.0])), [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(F.log_sigmoid(np.array([-1000.0, 1000.0])), [-1000.0, 0.0])
    np.testing.assert_allclose(F.sigmoid(np.array([-30.0])), [9.357622968840175e-14], rtol=1e-12)


# --- activations ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (F.relu, tf.nn.relu),
        (lambda x: F.leaky_relu(x, 0.25), lambda x: tf.nn.leaky_relu(x, alpha=0.25)),
        (F.tanh, tf.math.tanh),
        (F.elu, tf.nn.elu),
        (lambda x: F.prelu(x, 0.375), lambda x: tf.nn.leaky_relu(x, alpha=0.375)),
    ],
    ids=["relu", "leaky_relu", "tanh", "elu", "prelu"],
)
def test_activations_match_tf(ours, theirs):
    x = np.concatenate([random_logits((40,), 3.0), [-1000.0, 0.0, 1000.0]])
    np.testing.assert_allclose(ours(x), theirs(x).numpy(), rtol=1e-12)


def test_prelu_per_feature_alpha_broadcasts():
    x = -np.ones((2, 3))
    np.testing.assert_array_equal(
        F.prelu(x, np.array([0.1, 0.2, 0.3])), -np.array([[0.1, 0.2, 0.3]] * 2)
    )
    np.testing.assert_array_equal(
        F.prelu_grad(x, np.array([0.1, 0.2, 0.3])), np.array([[0.1, 0.2, 0.3]] * 2)
    )


def test_derivative_conventions_at_zero():
    zero = np.zeros(1)
    assert F.relu_grad(zero)[0] == 0.0
    assert F.leaky_relu_grad(zero, 0.1)[0] == 0.1
    assert F.prelu_grad(zero, 0.25)[0] == 0.25
    assert F.elu_grad(zero, 0.5)[0] == 0.5
    assert F.sigmoid_grad(zero)[0] == 0.25
    assert F.tanh_grad(zero)[0] == 1.0


ELEMENTWISE = {
    "relu": (F.relu, F.relu_grad),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.1), lambda x: F.leaky_relu_grad(x, 0.1)),
    "prelu": (lambda x: F.prelu(x, -0.7), lambda x: F.prelu_grad(x, -0.7)),
    "elu": (lambda x: F.elu(x, 1.5), lambda x: F.elu_grad(x, 1.5)),
    "tanh": (F.tanh, F.tanh_grad),
    "sigmoid": (F.sigmoid, F.sigmoid_grad),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@GRAD_SETTINGS
@given(x=float_arrays(batch_shapes(max_ndim=3), max_abs=4.0, min_abs=1e-3))
def test_activation_grad_matches_numerical(name, x):
    f, f_grad = ELEMENTWISE[name]
    # Elementwise f: d sum(f(x)) / dx_i = f'(x_i).
    num = numerical_gradient(f, x)
    assert_grad_close(f_grad(x), num)


@GRAD_SETTINGS
@given(x=float_arrays((3, 4), max_abs=6.0), axis=st.sampled_from([0, 1, -1]))
def test_log_softmax_is_log_of_softmax(x, axis):
    np.testing.assert_allclose(F.log_softmax(x, axis), np.log(F.softmax(x, axis)), atol=1e-12)
