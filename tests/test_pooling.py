"""course_utils.layers.pooling: loop reference, gradients, tf.nn.max_pool2d/avg_pool2d, ties."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

from course_utils.gradcheck import numerical_gradient, rel_error
from course_utils.layers.pooling import (
    AvgPool2D,
    MaxPool2D,
    _max_tiles,
    _scatter_windows,
    _windows,
    avg_pool_backward,
    avg_pool_forward,
    max_pool_backward,
    max_pool_forward,
)

from strategies import GRAD_SETTINGS, assert_grad_close, seeds


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


@st.composite
def pool_problems(draw, max_n=2, max_c=3, max_hw=8):
    """(x, pool_size, stride) with distinct values (no ties) spaced >= 0.1 apart.

    stride is None (non-overlapping, the fast path), an int or a pair (general path).
    """
    pool = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    stride = draw(
        st.one_of(st.none(), st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))
    )
    ph, pw = _pair(pool)
    shape = (
        draw(st.integers(1, max_n)),
        draw(st.integers(1, max_c)),
        draw(st.integers(ph, max_hw)),
        draw(st.integers(pw, max_hw)),
    )
    rng = np.random.default_rng(draw(seeds))
    # A permutation of 0.1 * (0, 1, ..., size-1), shifted: no two inputs are equal, so no
    # window has a tie within the central-difference step h = 1e-5.
    x = (rng.permutation(int(np.prod(shape))).reshape(shape) - 20) / 10.0
    return x, pool, stride


def loop_pool(x, pool, stride, reduce):
    """Reference pooling with loops over output positions."""
    (ph, pw) = _pair(pool)
    sh, sw = _pair(stride) if stride is not None else (ph, pw)
    N, C, H, W = x.shape
    out = np.zeros((N, C, (H - ph) // sh + 1, (W - pw) // sw + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = reduce(x[:, :, i * sh : i * sh + ph, j * sw : j * sw + pw], (2, 3))
    return out


OPS = {
    "max": (max_pool_forward, max_pool_backward, np.max),
    "avg": (avg_pool_forward, avg_pool_backward, np.mean),
}


@GRAD_SETTINGS
@given(pool_problems(), st.sampled_from(sorted(OPS)))
def test_forward_matches_loop_reference(problem, op):
    x, pool, stride = problem
    forward, _, reduce = OPS[op]
    out, _ = forward(x, pool, stride)
    np.testing.assert_allclose(out, loop_pool(x, pool, stride, reduce), rtol=1e-13)


@GRAD_SETTINGS
@given(pool_problems(), st.sampled_from(sorted(OPS)))
def test_gradients_match_numerical(problem, op):
    x, pool, stride = problem
    forward, backward, _ = OPS[op]
    out, cache = forward(x, pool, stride)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    dx = backward(dout, cache)
    assert_grad_close(dx, numerical_gradient(lambda v: forward(v, pool, stride)[0], x, dout))


def test_float32_stays_float32():
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32)
    for forward, backward, _ in OPS.values():
        for stride in (None, 1):
            out, cache = forward(x, 2, stride)
            assert out.dtype == np.float32
            assert backward(np.ones_like(out), cache).dtype == np.float32


# --- ties ----------------------------------------------------------------------------


def test_tie_gradient_goes_to_the_first_maximum_only():
    x = np.array([[1.0, 3.0], [3.0, 3.0]]).reshape(1, 1, 2, 2)
    out, cache = max_pool_forward(x, 2)
    dx = max_pool_backward(np.array([[[[5.0]]]]), cache)
    np.testing.assert_array_equal(dx[0, 0], [[0.0, 5.0], [0.0, 0.0]])


def test_overlapping_windows_accumulate_at_a_shared_maximum():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 1.0  # the max of all four 2x2 windows (stride 1)
    out, cache = max_pool_forward(x, 2, stride=1)
    np.testing.assert_array_equal(out[0, 0], np.ones((2, 2)))
    dx = max_pool_backward(np.arange(1.0, 5.0).reshape(1, 1, 2, 2), cache)
    assert dx[0, 0, 1, 1] == 1 + 2 + 3 + 4 and np.count_nonzero(dx) == 1


@pytest.mark.parametrize("pool, stride", [(2, None), (3, 1), (2, 3)])
def test_tie_convention_matches_tf(pool, stride):
    """All-equal and repeated-value inputs: same single-element routing as TF's CPU kernel."""
    rng = np.random.default_rng(2)
    x = rng.integers(0, 3, size=(2, 2, 7, 7)).astype(np.float64)  # many ties
    out, cache = max_pool_forward(x, pool, stride)
    dout = rng.standard_normal(out.shape)
    dx_tf, out_tf = tf_pool_grad(tf.nn.max_pool2d, x, pool, stride, dout)
    np.testing.assert_array_equal(out, out_tf)
    np.testing.assert_allclose(max_pool_backward(dout, cache), dx_tf, rtol=1e-12, atol=0)


# --- TensorFlow ----------------------------------------------------------------------


def tf_pool_grad(tf_pool, x, pool, stride, dout):
    """(dx, out) of tf_pool on NCHW arrays with VALID padding."""
    ksize = list(_pair(pool))
    strides = list(_pair(stride)) if stride is not None else ksize
    xt = tf.constant(x.transpose(0, 2, 3, 1))
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = tf_pool(xt, ksize, strides, "VALID")
    dx = tape.gradient(y, xt, output_gradients=dout.transpose(0, 2, 3, 1))
    return dx.numpy().transpose(0, 3, 1, 2), y.numpy().transpose(0, 3, 1, 2)


@pytest.mark.parametrize(
    "x_shape, pool, stride",
    [
        ((2, 3, 8, 8), 2, None),
        ((2, 3, 7, 9), 2, None),  # odd sizes: last row/column dropped
        ((2, 2, 7, 7), 3, 2),  # overlapping
        ((1, 2, 9, 8), (2, 3), (3, 1)),
        ((2, 1, 5, 5), 5, None),  # global pooling
    ],
)
@pytest.mark.parametrize("op", ["max", "avg"])
def test_matches_tf(x_shape, pool, stride, op):
    rng = np.random.default_rng(3)
    x = rng.permutation(int(np.prod(x_shape))).reshape(x_shape) / 7.0  # distinct values
    forward, backward, _ = OPS[op]
    tf_pool = {"max": tf.nn.max_pool2d, "avg": tf.nn.avg_pool2d}[op]
    out, cache = forward(x, pool, stride)
    dout = rng.standard_normal(out.shape)
    dx_tf, out_tf = tf_pool_grad(tf_pool, x, pool, stride, dout)
    assert out.shape == out_tf.shape
    np.testing.assert_allclose(out, out_tf, rtol=1e-12)
    assert rel_error(backward(dout, cache), dx_tf) < 1e-12


# --- layers --------------------------------------------------------------------------


@pytest.mark.parametrize("cls, op", [(MaxPool2D, "max"), (AvgPool2D, "avg")])
def test_layers_wrap_the_functions(cls, op):
    x = np.random.default_rng(4).permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6) / 5.0
    layer = cls(pool_size=3, stride=2)
    forward, backward, _ = OPS[op]
    out_ref, cache = forward(x, 3, 2)
    out = layer.forward(x)
    np.testing.assert_array_equal(out, out_ref)
    assert out.shape == (2, *layer.output_shape((3, 7, 6))) == (2, 3, 3, 2)
    dout = np.random.default_rng(5).standard_normal(out.shape)
    np.testing.assert_array_equal(layer.backward(dout), backward(dout, cache))
    assert layer.params == {} and layer.num_params() == 0
    assert layer.get_config()["pool_size"] == (3, 3) and layer.get_config()["stride"] == (2, 2)
    assert cls().get_config()["stride"] == (2, 2)  # stride defaults to pool_size


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
def test_backward_before_forward_is_a_clear_error(cls):
    with pytest.raises(RuntimeError, match="backward called before forward"):
        cls().backward(np.zeros((1, 1, 2, 2)))


# --- errors --------------------------------------------------------------------------


@pytest.mark.parametrize("forward", [max_pool_forward, avg_pool_forward])
@pytest.mark.parametrize(
    "x_shape, kwargs, pattern",
    [
        ((2, 3, 8), {}, r"x: expected shape \(N, C, H, W\), got \(2, 3, 8\)"),
        ((2, 3, 1, 8), {}, r"pool_size: window 2x2 is larger than the input 1x8"),
        ((2, 3, 8, 8), {"pool_size": 0}, r"pool_size: expected a positive int"),
        ((2, 3, 8, 8), {"stride": (1, 0)}, r"stride: expected a positive int"),
        ((2, 3, 8, 8), {"pool_size": (2, 2, 2)}, r"pool_size: expected a positive int"),
    ],
)
def test_argument_errors(forward, x_shape, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        forward(np.zeros(x_shape), **kwargs)


@pytest.mark.parametrize("forward, backward", [OPS["max"][:2], OPS["avg"][:2]])
def test_dout_of_the_wrong_shape_is_rejected(forward, backward):
    _, cache = forward(np.zeros((2, 3, 8, 8)), 2)
    with pytest.raises(ValueError, match=r"dout: expected shape \(2, 3, 4, 4\).*got \(2, 3, 4\)"):
        backward(np.zeros((2, 3, 4)), cache)


# --- the non-overlapping fast path against the general window path -------------------


def _general_max_pool(x, pool):
    """(out, dx for dout) of the general path (window copy + np.argmax) at stride == pool."""
    ph, pw = pool
    out_hw = ((x.shape[2] - ph) // ph + 1, (x.shape[3] - pw) // pw + 1)
    win = _windows(x, pool, pool, out_hw)
    idx = np.argmax(win, axis=-1)
    out = np.take_along_axis(win, idx[..., None], axis=-1)[..., 0]

    def backward(dout):
        dwin = np.zeros(win.shape, dout.dtype)
        np.put_along_axis(dwin, idx[..., None], dout[..., None], axis=-1)
        return _scatter_windows(dwin, x.shape, pool, pool)

    return out, idx, backward


@pytest.mark.parametrize(
    "x_shape, pool",
    [
        ((3, 2, 8, 8), (2, 2)),
        ((2, 3, 7, 9), (2, 2)),  # odd sizes: last row/column dropped
        ((2, 2, 9, 8), (3, 2)),
        ((1, 2, 5, 5), (5, 5)),  # global pooling
    ],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fast_path_matches_the_general_path(x_shape, pool, dtype):
    rng = np.random.default_rng(6)
    x = rng.integers(-2, 3, size=x_shape).astype(dtype)  # many ties
    out_ref, idx_ref, backward_ref = _general_max_pool(x, pool)
    out, idx = _max_tiles(x, pool, out_ref.shape[2:])
    np.testing.assert_array_equal(out, out_ref)
    np.testing.assert_array_equal(idx, idx_ref)
    assert out.dtype == dtype and out.flags.c_contiguous
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = max_pool_backward(dout, max_pool_forward(x, pool)[1])
    np.testing.assert_array_equal(dx, backward_ref(dout))
    assert dx.dtype == dtype


def test_nan_inputs_route_to_the_first_nan_like_argmax():
    x = np.array([[1.0, np.nan], [np.nan, 5.0]]).reshape(1, 1, 2, 2)
    out, cache = max_pool_forward(x, 2)
    assert np.isnan(out).all()
    dx = max_pool_backward(np.array([[[[3.0]]]]), cache)
    np.testing.assert_array_equal(dx[0, 0], [[0.0, 3.0], [0.0, 0.0]])


def test_non_finite_dout_reaches_only_the_argmax():
    x = np.random.default_rng(7).permutation(2 * 3 * 6 * 6).reshape(2, 3, 6, 6) / 4.0
    _, _, backward_ref = _general_max_pool(x, (2, 2))
    dout = np.ones((2, 3, 3, 3))
    dout[0, 0, 0, 0], dout[1, 2, 1, 2], dout[0, 1, 2, 0] = np.inf, -np.inf, np.nan
    dx = max_pool_backward(dout, max_pool_forward(x, 2)[1])
    np.testing.assert_array_equal(dx, backward_ref(dout))
    assert np.count_nonzero(dx) == dout.size  # NaN counts as non-zero; nothing else became NaN
