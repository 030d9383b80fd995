"""course_utils.layers.normalization: gradients, running statistics, Keras BatchNormalization."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

from course_utils.gradcheck import check_layer_gradients, numerical_gradient, rel_error
from course_utils.layers.normalization import (
    BatchNorm,
    batchnorm_backward,
    batchnorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)

from strategies import GRAD_SETTINGS, assert_grad_close, seeds

PAIRS = {
    2: (batchnorm_forward, batchnorm_backward),
    4: (spatial_batchnorm_forward, spatial_batchnorm_backward),
}


@st.composite
def bn_problems(draw, mode=None):
    """(x, gamma, beta, bn_param) for (N, D) or (N, C, H, W), float64.

    Training mode gets at least two values per statistic (a batch of one has variance 0).
    """
    mode = draw(st.sampled_from(["train", "eval"])) if mode is None else mode
    ndim = draw(st.sampled_from([2, 4]))
    if ndim == 2:
        shape = (draw(st.integers(2, 6)), draw(st.integers(1, 4)))
    else:
        shape = (
            draw(st.integers(1, 3)),
            draw(st.integers(1, 3)),
            draw(st.integers(1, 3)),
            draw(st.integers(2, 3)),
        )
    rng = np.random.default_rng(draw(seeds))
    scale, shift = draw(st.floats(0.1, 10.0)), draw(st.floats(-5.0, 5.0))
    D = shape[1]
    x = rng.standard_normal(shape) * scale + shift
    gamma, beta = rng.standard_normal(D), rng.standard_normal(D)
    bn_param = {
        "mode": mode,
        "running_mean": rng.standard_normal(D),
        "running_var": rng.uniform(0.5, 2.0, D),
    }
    return x, gamma, beta, bn_param


def _dout(shape, seed=99):
    # Its own stream: a dout drawn like x would be affine in x, and then dx is exactly 0.
    return np.random.default_rng(seed).standard_normal(shape)


# --- gradients -----------------------------------------------------------------------


@GRAD_SETTINGS
@given(bn_problems())
def test_gradients_match_numerical(problem):
    x, gamma, beta, bn_param = problem
    forward, backward = PAIRS[x.ndim]
    out, cache = forward(x, gamma, beta, bn_param)
    dout = _dout(out.shape)
    dx, dgamma, dbeta = backward(dout, cache)

    def f(x_=x, gamma_=gamma, beta_=beta):
        return forward(x_, gamma_, beta_, dict(bn_param))[0]

    assert_grad_close(dx, numerical_gradient(lambda v: f(x_=v), x, dout), "dx")
    assert_grad_close(dgamma, numerical_gradient(lambda v: f(gamma_=v), gamma, dout), "dgamma")
    assert_grad_close(dbeta, numerical_gradient(lambda v: f(beta_=v), beta, dout), "dbeta")


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2, 2)])
def test_layer_gradients_match_numerical(training, shape):
    layer = BatchNorm(3, momentum=0.5)
    layer.params["gamma"][:] = [0.5, -1.5, 2.0]
    layer.params["beta"][:] = [0.1, 0.2, -0.3]
    layer.running_mean[:] = [0.3, -0.1, 0.0]
    layer.running_var[:] = [0.7, 1.3, 2.0]
    if not training:
        layer.eval()
    x = np.random.default_rng(7).standard_normal(shape) * 2 + 1
    report = check_layer_gradients(layer, x, seed=123)
    assert report.passed(1e-6), str(report)


# --- forward behaviour ---------------------------------------------------------------


@pytest.mark.parametrize("shape, axes", [((50, 4), (0,)), ((6, 4, 3, 5), (0, 2, 3))])
def test_train_output_has_batch_mean_beta_and_std_gamma(shape, axes):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) * 5 + 3
    gamma, beta = np.array([1.0, 2.0, 0.5, 3.0]), np.array([0.0, -1.0, 4.0, 0.5])
    out, _ = PAIRS[len(shape)][0](x, gamma, beta, {"mode": "train", "eps": 1e-12})
    np.testing.assert_allclose(out.mean(axis=axes), beta, atol=1e-10)
    np.testing.assert_allclose(out.std(axis=axes), gamma, rtol=1e-8)


def test_running_statistics_follow_the_documented_momentum_rule():
    rng = np.random.default_rng(1)
    x1, x2 = rng.standard_normal((8, 3)) + 2, rng.standard_normal((8, 3)) * 3
    gamma, beta = np.ones(3), np.zeros(3)
    bn_param = {"mode": "train", "momentum": 0.8}
    batchnorm_forward(x1, gamma, beta, bn_param)  # creates zeros / ones, then updates
    first_mean = bn_param["running_mean"]
    np.testing.assert_allclose(first_mean, 0.2 * x1.mean(0), rtol=1e-12)
    np.testing.assert_allclose(bn_param["running_var"], 0.8 + 0.2 * x1.var(0), rtol=1e-12)
    kept = first_mean.copy()
    batchnorm_forward(x2, gamma, beta, bn_param)
    np.testing.assert_array_equal(first_mean, kept)  # old array not modified in place
    np.testing.assert_allclose(
        bn_param["running_mean"], 0.8 * 0.2 * x1.mean(0) + 0.2 * x2.mean(0), rtol=1e-12
    )
    np.testing.assert_allclose(
        bn_param["running_var"], 0.8 * (0.8 + 0.2 * x1.var(0)) + 0.2 * x2.var(0), rtol=1e-12
    )


@pytest.mark.parametrize("mode", ["eval", "test"])
def test_eval_mode_uses_running_statistics_and_leaves_them(mode):
    x = np.random.default_rng(2).standard_normal((5, 2, 3, 3))
    gamma, beta = np.array([2.0, 0.5]), np.array([1.0, -1.0])
    mean, var = np.array([0.5, -0.5]), np.array([4.0, 0.25])
    bn_param = {"mode": mode, "eps": 1e-5, "running_mean": mean, "running_var": var}
    out, _ = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    s = (1, 2, 1, 1)
    expected = gamma.reshape(s) * (x - mean.reshape(s)) / np.sqrt(var.reshape(s) + 1e-5)
    np.testing.assert_allclose(out, expected + beta.reshape(s), rtol=1e-12)
    assert bn_param["running_mean"] is mean and bn_param["running_var"] is var


def test_layer_train_eval_and_running_statistics():
    layer = BatchNorm(2, momentum=0.5, dtype=np.float32)
    x = np.random.default_rng(3).standard_normal((10, 2)).astype(np.float32) * 4 + 7
    out = layer.forward(x)
    assert out.dtype == np.float32 and layer.running_mean.dtype == np.float32
    np.testing.assert_allclose(layer.running_mean, 0.5 * x.mean(0), rtol=1e-6)
    layer.eval()
    before = layer.running_mean.copy()
    out_eval = layer.forward(x)
    np.testing.assert_array_equal(layer.running_mean, before)
    expected = (x - before) / np.sqrt(layer.running_var + layer.eps)
    np.testing.assert_allclose(out_eval, expected, rtol=1e-5)
    assert layer.backward(np.ones_like(x)).dtype == np.float32
    assert set(layer.params) == set(layer.grads) == {"gamma", "beta"}
    assert layer.get_config() == {
        "name": "batchnorm",
        "num_features": 2,
        "momentum": 0.5,
        "eps": 1e-5,
    }
    layer4 = BatchNorm(3)
    assert layer4.forward(np.ones((2, 3, 4, 4))).shape == (2, 3, 4, 4)
    assert layer4.running_mean.shape == (3,)


def test_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="backward called before forward"):
        BatchNorm(3).backward(np.zeros((2, 3)))


# --- Keras and TensorFlow ------------------------------------------------------------


def keras_bn(ndim, D, momentum, eps, gamma, beta):
    """Keras BatchNormalization over our feature axis (1), float64, given gamma/beta."""
    layer = keras.layers.BatchNormalization(axis=1, momentum=momentum, epsilon=eps, dtype="float64")
    layer.build((None, D) if ndim == 2 else (None, D, 4, 4))
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)
    return layer


@pytest.mark.parametrize("shape", [(16, 5), (4, 3, 5, 6)])
def test_matches_keras_batch_normalization(shape):
    rng = np.random.default_rng(4)
    D, m, eps = shape[1], 0.7, 1e-3
    gamma, beta = rng.standard_normal(D), rng.standard_normal(D)
    ref = keras_bn(len(shape), D, m, eps, gamma, beta)
    ours = BatchNorm(D, momentum=m, eps=eps)
    ours.params["gamma"][:], ours.params["beta"][:] = gamma, beta
    for step in range(3):  # training: batch statistics, moving statistics updated
        x = rng.standard_normal(shape) * (step + 1) + step
        np.testing.assert_allclose(
            ours.forward(x), ref(x, training=True).numpy(), rtol=1e-10, atol=1e-10
        )
    np.testing.assert_allclose(ours.running_mean, ref.moving_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.running_var, ref.moving_variance.numpy(), rtol=1e-12)
    x = rng.standard_normal(shape) * 2 - 1  # evaluation: moving statistics
    ours.eval()
    np.testing.assert_allclose(
        ours.forward(x), ref(x, training=False).numpy(), rtol=1e-10, atol=1e-10
    )


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(8, 4), (3, 4, 3, 5)])
def test_gradients_match_gradient_tape(training, shape):
    rng = np.random.default_rng(5)
    D = shape[1]
    gamma, beta = rng.standard_normal(D), rng.standard_normal(D)
    running_mean, running_var = rng.standard_normal(D), rng.uniform(0.5, 2.0, D)
    x = rng.standard_normal(shape) * 3 + 1
    dout = _dout(shape)
    ref = keras_bn(len(shape), D, 0.9, 1e-5, gamma, beta)
    ref.moving_mean.assign(running_mean)
    ref.moving_variance.assign(running_var)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = ref(xt, training=training)
    dx_tf, dgamma_tf, dbeta_tf = tape.gradient(
        y, [xt, ref.gamma.value, ref.beta.value], output_gradients=tf.constant(dout)
    )
    bn_param = {
        "mode": "train" if training else "eval",
        "running_mean": running_mean,
        "running_var": running_var,
    }
    forward, backward = PAIRS[len(shape)]
    out, cache = forward(x, gamma, beta, bn_param)
    np.testing.assert_allclose(out, y.numpy(), rtol=1e-10, atol=1e-10)
    dx, dgamma, dbeta = backward(dout, cache)
    assert rel_error(dx, dx_tf.numpy()) < 1e-10
    assert rel_error(dgamma, dgamma_tf.numpy()) < 1e-10
    assert rel_error(dbeta, dbeta_tf.numpy()) < 1e-10


# --- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "x_shape, g_shape, bn_param, pattern",
    [
        ((4, 3), (3,), {"mode": "training"}, r"bn_param\['mode'\]: expected 'train' or 'eval'"),
        ((4, 3), (2,), {}, r"gamma: expected shape \(D,\) with D=3, got \(2,\)"),
        ((4, 3, 2), (3,), {}, r"x: expected shape \(N, D\), got \(4, 3, 2\)"),
        ((4, 3), (3,), {"momentum": 1.5}, r"bn_param\['momentum'\]: expected a number in \[0, 1\]"),
        ((4, 3), (3,), {"eps": 0.0}, r"bn_param\['eps'\]: expected a positive number"),
        (
            (4, 3),
            (3,),
            {"running_mean": np.zeros(4)},
            r"bn_param\['running_mean'\]: expected shape \(D,\) with D=3, got \(4,\)",
        ),
    ],
)
def test_argument_errors(x_shape, g_shape, bn_param, pattern):
    with pytest.raises(ValueError, match=pattern):
        batchnorm_forward(np.zeros(x_shape), np.ones(g_shape), np.zeros(g_shape), bn_param)


def test_spatial_and_layer_errors():
    with pytest.raises(ValueError, match=r"gamma: expected shape \(C,\) with C=3, got \(4,\)"):
        spatial_batchnorm_forward(np.zeros((2, 3, 4, 4)), np.ones(4), np.zeros(4), {})
    with pytest.raises(ValueError, match=r"x: expected shape \(N, 8, H, W\).*got \(2, 3, 4, 4\)"):
        BatchNorm(8).forward(np.zeros((2, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"x: expected 2 or 4 dimensions, got shape \(2, 3, 4\)"):
        BatchNorm(3).forward(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"momentum: expected a number in \[0, 1\], got -0.1"):
        BatchNorm(3, momentum=-0.1)
    with pytest.raises(ValueError, match=r"eps: expected a positive number, got 0"):
        BatchNorm(3, eps=0)
    _, cache = batchnorm_forward(np.ones((4, 3)), np.ones(3), np.zeros(3), {})
    with pytest.raises(ValueError, match=r"dout: expected shape \(4, 3\).*got \(3, 4\)"):
        batchnorm_backward(np.zeros((3, 4)), cache)
