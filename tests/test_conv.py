"""course_utils.layers.conv: gradients, naive == im2col, agreement with tf.nn.conv2d, errors."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

from course_utils.gradcheck import check_layer_gradients, numerical_gradient, rel_error
from course_utils.layers.container import Sequential
from course_utils.layers.conv import (
    Conv2D,
    Conv2DNaive,
    col2im,
    conv_backward_im2col,
    conv_backward_naive,
    conv_forward_im2col,
    conv_forward_naive,
    im2col,
)
from course_utils.layers.core import Flatten, Linear

from strategies import GRAD_SETTINGS, assert_grad_close, seeds

# --- strategies ----------------------------------------------------------------------


@st.composite
def conv_problems(draw, max_n=2, max_c=3, max_f=3, max_k=3, max_hw=7):
    """(x, w, b, stride, pad) float64 with a kernel that fits the padded input."""
    n, c, f = draw(st.integers(1, max_n)), draw(st.integers(1, max_c)), draw(st.integers(1, max_f))
    kh, kw = draw(st.integers(1, max_k)), draw(st.integers(1, max_k))
    stride = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    pad = draw(st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2))))
    ph, pw = pad if isinstance(pad, tuple) else (pad, pad)
    h = draw(st.integers(max(1, kh - 2 * ph), max_hw))
    w_ = draw(st.integers(max(1, kw - 2 * pw), max_hw))
    rng = np.random.default_rng(draw(seeds))
    x = rng.standard_normal((n, c, h, w_))
    w = rng.standard_normal((f, c, kh, kw))
    b = rng.standard_normal(f)
    return x, w, b, stride, pad


def random_dout(out, seed=12345):
    return np.random.default_rng(seed).standard_normal(out.shape)


def numerical_conv_grads(forward, x, w, b, stride, pad, dout):
    """Numerical (dx, dw, db) of sum(forward(x, w, b) * dout)."""
    dx = numerical_gradient(lambda v: forward(v, w, b, stride, pad)[0], x, dout)
    dw = numerical_gradient(lambda v: forward(x, v, b, stride, pad)[0], w, dout)
    db = numerical_gradient(lambda v: forward(x, w, v, stride, pad)[0], b, dout)
    return dx, dw, db


# --- gradients -----------------------------------------------------------------------


@GRAD_SETTINGS
@given(conv_problems())
def test_im2col_gradients_match_numerical(problem):
    x, w, b, stride, pad = problem
    out, cache = conv_forward_im2col(x, w, b, stride, pad)
    dout = random_dout(out)
    grads = conv_backward_im2col(dout, cache)
    expected = numerical_conv_grads(conv_forward_im2col, x, w, b, stride, pad, dout)
    for name, got, want in zip(("dx", "dw", "db"), grads, expected, strict=True):
        assert_grad_close(got, want, name)


@pytest.mark.parametrize("stride, pad", [(1, 0), (2, 1), ((1, 2), (2, 0))])
def test_naive_gradients_match_numerical(stride, pad):
    rng = np.random.default_rng(3)
    x, w, b = (
        rng.standard_normal((2, 2, 5, 6)),
        rng.standard_normal((3, 2, 3, 2)),
        rng.normal(size=3),
    )
    out, cache = conv_forward_naive(x, w, b, stride, pad)
    dout = random_dout(out)
    grads = conv_backward_naive(dout, cache)
    expected = numerical_conv_grads(conv_forward_naive, x, w, b, stride, pad, dout)
    for name, got, want in zip(("dx", "dw", "db"), grads, expected, strict=True):
        assert_grad_close(got, want, name)


def test_layer_gradients_match_numerical():
    layer = Conv2D(2, 3, kernel_size=(3, 2), stride=(2, 1), padding=1, seed=0)
    layer.params["b"][:] = [0.1, -0.2, 0.3]
    x = np.random.default_rng(1).standard_normal((2, 2, 6, 5))
    report = check_layer_gradients(layer, x)
    assert report.passed(1e-6), str(report)
    assert set(report.tensors) == {"dx", "w", "b"}


# --- naive and im2col agree ----------------------------------------------------------


@GRAD_SETTINGS
@given(conv_problems(max_n=3, max_c=3, max_f=4, max_k=4, max_hw=8))
def test_naive_and_im2col_agree(problem):
    x, w, b, stride, pad = problem
    out_naive, cache_naive = conv_forward_naive(x, w, b, stride, pad)
    out_fast, cache_fast = conv_forward_im2col(x, w, b, stride, pad)
    np.testing.assert_allclose(out_fast, out_naive, rtol=1e-10, atol=1e-12)
    dout = random_dout(out_naive)
    for got, want in zip(
        conv_backward_im2col(dout, cache_fast), conv_backward_naive(dout, cache_naive), strict=True
    ):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@GRAD_SETTINGS
@given(conv_problems(), seeds)
def test_col2im_is_the_adjoint_of_im2col(problem, seed):
    """<im2col(x), c> == <x, col2im(c)> for every x and c: col2im is im2col's backward."""
    x, w, _, stride, pad = problem
    kh, kw = w.shape[2:]
    cols = im2col(x, kh, kw, stride, pad)
    c = np.random.default_rng(seed).standard_normal(cols.shape)
    lhs = np.sum(cols * c)
    rhs = np.sum(x * col2im(c, x.shape, kh, kw, stride, pad))
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs))


def test_im2col_layout_matches_documented_weight_matrix():
    rng = np.random.default_rng(4)
    x, w, b = (
        rng.standard_normal((2, 3, 5, 5)),
        rng.standard_normal((4, 3, 3, 2)),
        rng.normal(size=4),
    )
    cols = im2col(x, 3, 2, stride=1, pad=1)
    w_mat = w.transpose(0, 2, 3, 1).reshape(4, -1)
    out, _ = conv_forward_naive(x, w, b, 1, 1)
    expected = out.transpose(0, 2, 3, 1).reshape(-1, 4)
    np.testing.assert_allclose(cols @ w_mat.T + b, expected, rtol=1e-12)


# --- TensorFlow ----------------------------------------------------------------------


def tf_conv(x, w, b, stride, pad):
    """tf.nn.conv2d on NCHW/FCHW arrays with explicit symmetric padding; (out, grads fn)."""
    (sh, sw), (ph, pw) = [v if isinstance(v, tuple) else (v, v) for v in (stride, pad)]
    xt = tf.constant(x.transpose(0, 2, 3, 1))
    wt = tf.constant(w.transpose(2, 3, 1, 0))
    bt = tf.constant(b)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([xt, wt, bt])
        y = tf.nn.conv2d(xt, wt, [1, sh, sw, 1], [[0, 0], [ph, ph], [pw, pw], [0, 0]]) + bt
    out = y.numpy().transpose(0, 3, 1, 2)

    def grads(dout):
        dx, dw, db = tape.gradient(y, [xt, wt, bt], output_gradients=dout.transpose(0, 2, 3, 1))
        return dx.numpy().transpose(0, 3, 1, 2), dw.numpy().transpose(3, 2, 0, 1), db.numpy()

    return out, grads


@pytest.mark.parametrize(
    "x_shape, w_shape, stride, pad",
    [
        ((2, 3, 7, 7), (4, 3, 3, 3), 1, 0),
        ((2, 3, 7, 7), (4, 3, 3, 3), 1, 1),
        ((2, 1, 8, 9), (2, 1, 3, 3), 2, 1),
        ((3, 2, 7, 8), (3, 2, 3, 2), 3, 2),  # stride does not divide: floored like VALID
        ((1, 2, 9, 7), (2, 2, 4, 3), (2, 3), (1, 2)),
        ((2, 2, 5, 5), (3, 2, 5, 5), 1, 0),  # kernel as large as the input: one output
    ],
)
@pytest.mark.parametrize("implementation", ["im2col", "naive"])
def test_matches_tf_conv2d(x_shape, w_shape, stride, pad, implementation):
    rng = np.random.default_rng(5)
    x, w, b = (
        rng.standard_normal(x_shape),
        rng.standard_normal(w_shape),
        rng.normal(size=w_shape[0]),
    )
    forward, backward = {
        "im2col": (conv_forward_im2col, conv_backward_im2col),
        "naive": (conv_forward_naive, conv_backward_naive),
    }[implementation]
    out, cache = forward(x, w, b, stride, pad)
    out_tf, tf_grads = tf_conv(x, w, b, stride, pad)
    assert out.shape == out_tf.shape
    np.testing.assert_allclose(out, out_tf, rtol=1e-10, atol=1e-10)
    dout = random_dout(out)
    for name, got, want in zip(
        ("dx", "dw", "db"), backward(dout, cache), tf_grads(dout), strict=True
    ):
        assert rel_error(got, want) < 1e-12, name


def test_float32_matches_tf_and_stays_float32():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 3, 10, 10), dtype=np.float32)
    w = rng.standard_normal((5, 3, 3, 3), dtype=np.float32)
    b = rng.standard_normal(5, dtype=np.float32)
    out, cache = conv_forward_im2col(x, w, b, 1, 1)
    dout = random_dout(out).astype(np.float32)
    grads = conv_backward_im2col(dout, cache)
    assert out.dtype == np.float32
    assert [g.dtype for g in grads] == [np.float32] * 3
    out_tf, tf_grads = tf_conv(x, w, b, 1, 1)
    np.testing.assert_allclose(out, out_tf, rtol=1e-4, atol=1e-4)
    for got, want in zip(grads, tf_grads(dout), strict=True):
        assert rel_error(got, want) < 1e-5


def test_same_padding_keeps_size_and_matches_tf_same():
    rng = np.random.default_rng(7)
    x, w, b = rng.standard_normal((2, 2, 6, 7)), rng.standard_normal((3, 2, 5, 3)), np.zeros(3)
    out, _ = conv_forward_im2col(x, w, b, 1, "same")
    assert out.shape == (2, 3, 6, 7)
    ref = tf.nn.conv2d(x.transpose(0, 2, 3, 1), w.transpose(2, 3, 1, 0), 1, "SAME").numpy()
    np.testing.assert_allclose(out, ref.transpose(0, 3, 1, 2), rtol=1e-10, atol=1e-10)
    layer = Conv2D(2, 3, kernel_size=(5, 3), padding="same", seed=0)
    assert layer.forward(x).shape == (2, 3, 6, 7)
    assert layer.output_shape((2, 6, 7)) == (3, 6, 7)


def test_rows_skipped_by_a_non_dividing_stride_get_zero_gradient():
    x = np.random.default_rng(8).standard_normal((1, 1, 6, 6))
    w, b = np.ones((1, 1, 3, 3)), np.zeros(1)
    out, cache = conv_forward_im2col(x, w, b, stride=2, pad=0)  # (6 - 3) // 2 + 1 = 2
    assert out.shape == (1, 1, 2, 2)
    dx, _, _ = conv_backward_im2col(np.ones_like(out), cache)
    assert np.all(dx[..., 5, :] == 0) and np.all(dx[..., :, 5] == 0)
    assert np.all(dx[..., :5, :5] > 0)


# --- layers --------------------------------------------------------------------------


def test_conv2d_and_conv2d_naive_agree_and_fill_grads():
    x = np.random.default_rng(9).standard_normal((2, 3, 6, 6))
    fast = Conv2D(3, 4, 3, stride=2, padding=1, seed=11)
    slow = Conv2DNaive(3, 4, 3, stride=2, padding=1, seed=11)
    np.testing.assert_array_equal(fast.params["w"], slow.params["w"])
    out = fast.forward(x)
    np.testing.assert_allclose(out, slow.forward(x), rtol=1e-12)
    assert out.shape == (2, *fast.output_shape((3, 6, 6))) == (2, 4, 3, 3)
    dout = random_dout(out)
    np.testing.assert_allclose(fast.backward(dout), slow.backward(dout), rtol=1e-10, atol=1e-12)
    for key in ("w", "b"):
        assert fast.grads[key].shape == fast.params[key].shape
        np.testing.assert_allclose(fast.grads[key], slow.grads[key], rtol=1e-10)


def test_conv2d_init_seed_dtype_and_config():
    a = Conv2D(3, 8, 3, seed=0, dtype=np.float32)
    assert a.params["w"].shape == (8, 3, 3, 3) and a.params["w"].dtype == np.float32
    np.testing.assert_array_equal(a.params["b"], 0)
    np.testing.assert_array_equal(a.params["w"], Conv2D(3, 8, 3, seed=0).params["w"].astype("f4"))
    assert not np.array_equal(a.params["w"], Conv2D(3, 8, 3, seed=1, dtype=np.float32).params["w"])
    big = Conv2D(16, 64, 3, seed=0)  # he_normal: std = sqrt(2 / (C * kh * kw))
    assert abs(big.params["w"].std() / np.sqrt(2 / (16 * 9)) - 1) < 0.05
    assert a.num_params() == 8 * 3 * 9 + 8
    cfg = Conv2D(1, 4, (3, 5), stride=2, padding=(1, 2), init="xavier_uniform").get_config()
    assert cfg["kernel_size"] == (3, 5) and cfg["stride"] == (2, 2)
    assert cfg["padding"] == (1, 2) and cfg["init"] == "xavier_uniform"
    x = np.zeros((2, 3, 8, 8), dtype=np.float32)
    a.forward(x)
    assert a.backward(np.ones((2, 8, 6, 6), dtype=np.float32)).dtype == np.float32
    assert a.grads["w"].dtype == np.float32


@pytest.mark.parametrize(
    "forward, backward",
    [(conv_forward_im2col, conv_backward_im2col), (conv_forward_naive, conv_backward_naive)],
)
def test_backward_without_input_grad_skips_dx_and_keeps_dw_db(forward, backward):
    rng = np.random.default_rng(12)
    x, w, b = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 3)), rng.random(4)
    out, cache = forward(x, w, b, 2, 1)
    dout = random_dout(out)
    _, dw, db = backward(dout, cache)
    dx, dw_skip, db_skip = backward(dout, cache, input_grad=False)
    assert dx is None
    np.testing.assert_array_equal(dw_skip, dw)
    np.testing.assert_array_equal(db_skip, db)


@pytest.mark.parametrize("cls", [Conv2D, Conv2DNaive])
def test_first_conv_layer_of_a_sequential_skips_dx(cls, monkeypatch):
    calls = []
    original = cls._backward

    def spy(dout, cache, input_grad=True):
        calls.append(input_grad)
        return original(dout, cache, input_grad=input_grad)

    monkeypatch.setattr(cls, "_backward", staticmethod(spy))
    conv = cls(1, 2, 3, padding=1, seed=0)
    model = Sequential(conv, Flatten(), Linear(2 * 4 * 4, 3, seed=1))
    model.forward(np.random.default_rng(13).standard_normal((2, 1, 4, 4)))
    assert model.backward(np.ones((2, 3)), input_grad=False) is None
    assert calls == [False] and conv.grads["w"].shape == (2, 1, 3, 3)


@pytest.mark.parametrize("cls", [Conv2D, Conv2DNaive])
def test_backward_before_forward_is_a_clear_error(cls):
    with pytest.raises(RuntimeError, match="backward called before forward"):
        cls(1, 2, 3).backward(np.zeros((1, 2, 2, 2)))


# --- errors --------------------------------------------------------------------------


def _args(x_shape=(2, 1, 8, 8), w_shape=(4, 1, 3, 3), b_shape=(4,)):
    return np.zeros(x_shape), np.zeros(w_shape), np.zeros(b_shape)


@pytest.mark.parametrize("forward", [conv_forward_im2col, conv_forward_naive])
@pytest.mark.parametrize(
    "args, kwargs, pattern",
    [
        (
            _args(x_shape=(2, 3, 8, 8)),
            {},
            r"x: expected shape \(N, 1, H, W\) to match the C=1 input channels of w "
            r"\(shape \(4, 1, 3, 3\)\), got \(2, 3, 8, 8\)",
        ),
        (_args(x_shape=(3, 8, 8)), {}, r"x: expected shape \(N, C, H, W\).*got \(3, 8, 8\)"),
        (_args(b_shape=(3,)), {}, r"b: expected shape \(F,\) with F=4, got \(3,\)"),
        (_args(w_shape=(4, 1, 3)), {}, r"w: expected shape \(F, C, HH, WW\), got \(4, 1, 3\)"),
        (_args(x_shape=(2, 1, 2, 8)), {}, r"w: kernel 3x3 is larger than the padded input 2x8"),
        (_args(x_shape=(2, 1, 1, 8)), {"pad": 1}, None),  # padded to 3x10: fits
        (_args(), {"stride": 0}, r"stride: expected a positive int or a pair of them, got 0"),
        (_args(), {"pad": -1}, r"pad: expected a non-negative int or a pair of them, got -1"),
        (_args(), {"pad": "same", "stride": 2}, r"pad: 'same' needs stride 1 and an odd kernel"),
        (_args(), {"pad": "full"}, r"pad: expected an int, a pair, 'same' or 'valid'"),
    ],
)
def test_forward_argument_errors(forward, args, kwargs, pattern):
    if pattern is None:
        forward(*args, **kwargs)
        return
    with pytest.raises(ValueError, match=pattern):
        forward(*args, **kwargs)


def test_integer_inputs_are_rejected_with_dtype_in_message():
    x, w, b = _args()
    with pytest.raises(ValueError, match=r"x: expected dtype kind in 'f' \(float\), got int64"):
        conv_forward_im2col(x.astype(np.int64), w, b)


@pytest.mark.parametrize(
    "forward, backward",
    [(conv_forward_im2col, conv_backward_im2col), (conv_forward_naive, conv_backward_naive)],
)
def test_dout_of_the_wrong_shape_is_rejected(forward, backward):
    out, cache = forward(*_args())
    with pytest.raises(
        ValueError, match=r"dout: expected shape \(2, 4, 6, 6\).*got \(2, 4, 6, 5\)"
    ):
        backward(np.zeros((2, 4, 6, 5)), cache)


def test_layer_names_the_expected_channels():
    layer = Conv2D(in_channels=1, out_channels=8, kernel_size=3)
    with pytest.raises(
        ValueError, match=r"x: expected shape \(N, 1, H, W\).*got \(64, 3, 28, 28\)"
    ):
        layer.forward(np.zeros((64, 3, 28, 28)))


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"in_channels": 0}, r"in_channels: expected a positive int, got 0"),
        ({"kernel_size": (3, 0)}, r"kernel_size: expected a positive int"),
        ({"kernel_size": 4, "padding": "same"}, r"'same' needs stride 1 and an odd kernel"),
        ({"init": "nope"}, r"init: expected one of"),
    ],
)
def test_layer_constructor_errors(kwargs, pattern):
    full = {"in_channels": 1, "out_channels": 2, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=pattern):
        Conv2D(**full)


def test_im2col_and_col2im_validate_the_kernel_size():
    with pytest.raises(ValueError, match=r"HH: expected a positive int, got 0"):
        im2col(np.zeros((1, 1, 4, 4)), 0, 3)
    with pytest.raises(ValueError, match=r"HH, WW: kernel 5x3 is larger than the padded input 4x4"):
        im2col(np.zeros((1, 1, 4, 4)), 5, 3)
    with pytest.raises(ValueError, match=r"cols: expected shape \(4, 9\), got \(4, 8\)"):
        col2im(np.zeros((4, 8)), (1, 1, 4, 4), 3, 3)
