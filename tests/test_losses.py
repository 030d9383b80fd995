"""course_utils.losses: gradients vs numerical ones, values and gradients vs TensorFlow."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

from course_utils import losses as L
from course_utils.gradcheck import numerical_gradient, rel_error

from strategies import (
    GRAD_SETTINGS,
    assert_grad_close,
    float_arrays,
    logits_and_labels,
    matrix_shapes,
    one_hot,
    probability_rows,
)

EXTREME = np.array([[-1000.0, 0.0, 1000.0], [1000.0, 1000.0, -1000.0], [0.0, -1000.0, 1000.0]])
EXTREME_Y = np.array([0, 2, 2])  # two confidently wrong rows, one right


def tf_value_and_grad(fn, logits):
    """fn(tf logits) -> scalar loss; returns (loss, dloss/dlogits) via GradientTape."""
    z = tf.Variable(logits)
    with tf.GradientTape() as tape:
        loss = fn(z)
    return float(loss.numpy()), tape.gradient(loss, z).numpy()


def assert_loss_matches(ours, theirs, rtol=1e-10):
    (loss, grad), (tf_loss, tf_grad) = ours, theirs
    assert isinstance(loss, float)
    np.testing.assert_allclose(loss, tf_loss, rtol=rtol)
    assert rel_error(grad, tf_grad) <= rtol


def random_case(n=8, c=5, scale=3.0, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, c)) * scale, rng.integers(0, c, size=n)


@pytest.fixture(autouse=True)
def _no_runtime_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


# --- softmax cross-entropy -------------------------------------------------------------


@pytest.mark.parametrize(
    ("logits", "y"), [random_case(), random_case(4, 10, 30.0, 1), (EXTREME, EXTREME_Y)]
)
def test_softmax_ce_int_labels_match_tf_sparse(logits, y):
    theirs = tf_value_and_grad(
        lambda z: tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=z)
        ),
        logits,
    )
    assert_loss_matches(L.softmax_cross_entropy(logits, y), theirs)


@pytest.mark.parametrize(
    ("logits", "y"), [random_case(), random_case(4, 10, 30.0, 1), (EXTREME, EXTREME_Y)]
)
def test_softmax_ce_one_hot_matches_tf(logits, y):
    y1 = one_hot(y, logits.shape[1])
    theirs = tf_value_and_grad(
        lambda z: tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y1, logits=z)),
        logits,
    )
    assert_loss_matches(L.softmax_cross_entropy(logits, y1), theirs)


def test_softmax_ce_extreme_logits_are_finite_and_exact():
    loss, grad = L.softmax_cross_entropy(EXTREME, EXTREME_Y)
    # row 0: 1000 - (-1000); row 1: 1000 + log(2) - (-1000); row 2: right with certainty.
    assert loss == pytest.approx((2000.0 + 2000.0 + np.log(2.0) + 0.0) / 3, rel=1e-12)
    assert np.all(np.isfinite(grad))


def test_softmax_ce_soft_targets_match_tf():
    logits, _ = random_case(6, 4, seed=3)
    y = np.random.default_rng(4).dirichlet(np.ones(4), size=6)
    theirs = tf_value_and_grad(
        lambda z: tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=z)),
        logits,
    )
    assert_loss_matches(L.softmax_cross_entropy(logits, y), theirs)


@pytest.mark.parametrize("labels", ["int", "one_hot"])
@pytest.mark.parametrize("case", [random_case(16, 4, seed=5), (EXTREME, EXTREME_Y)])
def test_class_weights_follow_keras_sample_weight_semantics(labels, case):
    """Weighted sum over the batch divided by N (Keras' sum_over_batch_size reduction)."""
    logits, y = case
    C = logits.shape[1]
    cw = np.linspace(0.5, 3.0, C)
    target = y if labels == "int" else one_hot(y, C)
    keras_loss = (
        keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if labels == "int"
        else keras.losses.CategoricalCrossentropy(from_logits=True)
    )
    sample_weight = cw[y]
    theirs = tf_value_and_grad(lambda z: keras_loss(target, z, sample_weight=sample_weight), logits)
    # Keras computes in float32 (its floatx); the gradient agrees to float32 precision.
    loss, grad = L.softmax_cross_entropy(logits, target, class_weights=cw)
    np.testing.assert_allclose(loss, theirs[0], rtol=1e-6)
    assert rel_error(grad, theirs[1]) <= 1e-6
    # and exactly the tf.nn formula in float64:
    exact = tf_value_and_grad(
        lambda z: (
            tf.reduce_sum(
                sample_weight * tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=z)
            )
            / len(y)
        ),
        logits,
    )
    assert_loss_matches((loss, grad), exact)


def test_unit_class_weights_change_nothing():
    logits, y = random_case(seed=6)
    base = L.softmax_cross_entropy(logits, y)
    weighted = L.softmax_cross_entropy(logits, y, class_weights=np.ones(logits.shape[1]))
    assert weighted[0] == pytest.approx(base[0], rel=1e-14)
    np.testing.assert_allclose(weighted[1], base[1], rtol=1e-14)


@GRAD_SETTINGS
@given(case=logits_and_labels())
def test_softmax_ce_grad_matches_numerical(case):
    logits, y = case
    _, grad = L.softmax_cross_entropy(logits, y)
    num = numerical_gradient(lambda z: L.softmax_cross_entropy(z, y)[0], logits)
    assert_grad_close(grad, num)


@GRAD_SETTINGS
@given(case=logits_and_labels(), data=st.data())
def test_weighted_softmax_ce_grad_matches_numerical(case, data):
    logits, y = case
    cw = np.abs(data.draw(float_arrays((logits.shape[1],), max_abs=3.0, min_abs=0.1)))
    _, grad = L.softmax_cross_entropy(logits, y, class_weights=cw)
    num = numerical_gradient(lambda z: L.softmax_cross_entropy(z, y, class_weights=cw)[0], logits)
    assert_grad_close(grad, num)


@GRAD_SETTINGS
@given(data=st.data())
def test_soft_target_ce_grad_matches_numerical(data):
    n, c = data.draw(matrix_shapes().filter(lambda s: s[1] >= 2))
    logits = data.draw(float_arrays((n, c)))
    y = data.draw(probability_rows(n, c))
    _, grad = L.softmax_cross_entropy(logits, y)
    num = numerical_gradient(lambda z: L.softmax_cross_entropy(z, y)[0], logits)
    assert_grad_close(grad, num)


# --- sigmoid binary cross-entropy --------------------------------------------------------


@pytest.mark.parametrize(
    "logits",
    [
        np.random.default_rng(7).standard_normal((6, 3)) * 4,
        np.array([[-1000.0, 1000.0, 0.0], [1000.0, -1000.0, 5.0]]),
        np.random.default_rng(8).standard_normal(9),
    ],
)
def test_sigmoid_bce_matches_tf(logits):
    y = (np.random.default_rng(9).random(logits.shape) > 0.5).astype(np.float64)
    if logits.ndim == 2:
        y[0, :2] = [1.0, 0.0]  # confidently wrong at +-1000
    theirs = tf_value_and_grad(
        lambda z: tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=z)),
        logits,
    )
    ours = L.sigmoid_binary_cross_entropy(logits, y)
    assert_loss_matches(ours, theirs)
    assert np.isfinite(ours[0])


def test_sigmoid_bce_matches_keras_from_logits():
    logits = np.random.default_rng(10).standard_normal((8, 1)) * 3
    y = (np.arange(8) % 2).reshape(8, 1).astype(np.float64)
    keras_value = keras.losses.BinaryCrossentropy(from_logits=True)(y, logits)
    loss, _ = L.sigmoid_binary_cross_entropy(logits, y)
    assert loss == pytest.approx(float(keras_value), rel=1e-6)


@GRAD_SETTINGS
@given(logits=float_arrays(matrix_shapes(), max_abs=8.0))
def test_sigmoid_bce_grad_matches_numerical(logits):
    y = (np.arange(logits.size).reshape(logits.shape) % 3 == 0).astype(np.float64)
    _, grad = L.sigmoid_binary_cross_entropy(logits, y)
    num = numerical_gradient(lambda z: L.sigmoid_binary_cross_entropy(z, y)[0], logits)
    assert_grad_close(grad, num)


# --- mse ---------------------------------------------------------------------------------


def test_mse_matches_keras():
    rng = np.random.default_rng(11)
    y_hat, y = rng.standard_normal((7, 3)), rng.standard_normal((7, 3))
    theirs = tf_value_and_grad(lambda z: keras.losses.MeanSquaredError()(y, z), y_hat)
    loss, grad = L.mse(y_hat, y)
    np.testing.assert_allclose(loss, theirs[0], rtol=1e-6)  # Keras reduces in float32
    assert rel_error(grad, theirs[1]) <= 1e-6
    assert loss == pytest.approx(np.mean((y_hat - y) ** 2), rel=1e-14)


@GRAD_SETTINGS
@given(y_hat=float_arrays(matrix_shapes()))
def test_mse_grad_matches_numerical(y_hat):
    y = np.cos(np.arange(y_hat.size)).reshape(y_hat.shape)
    _, grad = L.mse(y_hat, y)
    num = numerical_gradient(lambda z: L.mse(z, y)[0], y_hat)
    assert_grad_close(grad, num)


# --- contract: dtypes, no mutation, errors ---------------------------------------------


def test_float32_logits_give_float32_gradients():
    logits, y = random_case()
    for loss_fn, target in [
        (L.softmax_cross_entropy, y),
        (L.sigmoid_binary_cross_entropy, one_hot(y, 5)),
        (L.mse, one_hot(y, 5)),
    ]:
        loss, grad = loss_fn(logits.astype(np.float32), target)
        assert isinstance(loss, float)
        assert grad.dtype == np.float32, loss_fn.__name__


def test_losses_do_not_mutate_inputs():
    logits, y = random_case()
    y1 = one_hot(y, 5)
    cw = np.arange(1.0, 6.0)
    copies = [a.copy() for a in (logits, y, y1, cw)]
    L.softmax_cross_entropy(logits, y, class_weights=cw)
    L.softmax_cross_entropy(logits, y1)
    L.sigmoid_binary_cross_entropy(logits, y1)
    L.mse(logits, y1)
    for before, after in zip(copies, (logits, y, y1, cw), strict=True):
        np.testing.assert_array_equal(before, after)


LOGITS, LABELS = random_case(4, 3)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: L.softmax_cross_entropy(LOGITS[0], LABELS), r"logits: expected shape \(N, C\)"),
        (lambda: L.softmax_cross_entropy(LOGITS, LABELS[:3]), r"y: expected shape \(N,\).*\(3,\)"),
        (lambda: L.softmax_cross_entropy(LOGITS, np.array([0, 1, 3, 1])), r"y: .*\[0, 3\).*3"),
        (lambda: L.softmax_cross_entropy(LOGITS, np.array([0, -1, 2, 1])), r"y: .*-1"),
        (lambda: L.softmax_cross_entropy(LOGITS, np.ones((4, 4)) / 4), r"y: expected shape"),
        (lambda: L.softmax_cross_entropy(LOGITS, np.ones((4, 3))), "y: .*summing to 1"),
        (lambda: L.softmax_cross_entropy(LOGITS, np.array([0.5, 1, 2, 0])), "y: .*integer"),
        (
            lambda: L.softmax_cross_entropy(LOGITS, LABELS, class_weights=np.ones(4)),
            r"class_weights: expected shape \(C,\) with C=3, got \(4,\)",
        ),
        (
            lambda: L.softmax_cross_entropy(LOGITS, LABELS, class_weights=-np.ones(3)),
            "class_weights: .*non-negative",
        ),
        (lambda: L.softmax_cross_entropy(LOGITS.astype(int), LABELS), "logits: expected dtype"),
        (lambda: L.mse(np.zeros((4, 1)), np.zeros(4)), r"y: expected shape \(N, 1\).*\(4,\)"),
        (lambda: L.mse(np.zeros(4), np.zeros(5)), r"y: expected shape \(N,\).*\(5,\)"),
        (lambda: L.sigmoid_binary_cross_entropy(np.zeros((4, 1)), np.zeros(4)), r"y: .*\(4,\)"),
        (lambda: L.sigmoid_binary_cross_entropy(np.zeros(3), np.array([0, 2, 1])), "y: .*0, 1"),
    ],
)
def test_bad_arguments_raise_named_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_float_integral_labels_are_accepted():
    logits, y = random_case()
    assert L.softmax_cross_entropy(logits, y.astype(np.float64))[0] == pytest.approx(
        L.softmax_cross_entropy(logits, y)[0], rel=1e-15
    )
