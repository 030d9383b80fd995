"""course_utils.layers.core: every backward vs numerical gradients, and the Layer contract."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from course_utils.gradcheck import check_function_gradients, check_layer_gradients
from course_utils.layers import (
    ELU,
    Dropout,
    Flatten,
    LeakyReLU,
    Linear,
    Matmul,
    PReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from course_utils.layers import core as C

from strategies import (
    GRAD_SETTINGS,
    affine_inputs,
    assert_grad_close,
    batch_shapes,
    dims,
    float_arrays,
    matrix_shapes,
    nchw_shapes,
    seeds,
)


def assert_report_ok(report):
    for name, t in report.tensors.items():
        assert t.problem is None, f"{name}: {t.problem}"
        assert_grad_close(t.analytic, t.numerical, name)


def check_pair(forward, backward, args, **kwargs):
    assert_report_ok(check_function_gradients(forward, backward, args, **kwargs))


# --- functional tier: gradients ----------------------------------------------------------


@GRAD_SETTINGS
@given(args=affine_inputs())
def test_affine_backward(args):
    check_pair(C.affine_forward, C.affine_backward, args)


@GRAD_SETTINGS
@given(args=affine_inputs())
def test_matmul_backward(args):
    x, w, _ = args
    check_pair(C.matmul_forward, C.matmul_backward, [x, w])


AWAY = {"max_abs": 3.0, "min_abs": 1e-3}  # keep central differences off the kink at 0


@GRAD_SETTINGS
@given(x=float_arrays(batch_shapes(), **AWAY))
def test_relu_backward(x):
    check_pair(C.relu_forward, C.relu_backward, [x])


@GRAD_SETTINGS
@given(x=float_arrays(batch_shapes(), **AWAY), alpha=st.floats(-1.0, 1.0))
def test_leaky_relu_backward(x, alpha):
    check_pair(lambda x: C.leaky_relu_forward(x, alpha), C.leaky_relu_backward, [x])


@GRAD_SETTINGS
@given(x=float_arrays(batch_shapes(), **AWAY), alpha=st.floats(0.01, 3.0))
def test_elu_backward(x, alpha):
    check_pair(lambda x: C.elu_forward(x, alpha), C.elu_backward, [x])


@GRAD_SETTINGS
@given(x=float_arrays(batch_shapes(), max_abs=6.0))
def test_sigmoid_backward(x):
    check_pair(C.sigmoid_forward, C.sigmoid_backward, [x])


@GRAD_SETTINGS
@given(x=float_arrays(batch_shapes(), max_abs=4.0))
def test_tanh_backward(x):
    check_pair(C.tanh_forward, C.tanh_backward, [x])


@GRAD_SETTINGS
@given(x=float_arrays(matrix_shapes(max_d=6), max_abs=5.0))
def test_softmax_backward(x):
    check_pair(C.softmax_forward, C.softmax_backward, [x])


@GRAD_SETTINGS
@given(data=st.data(), shared=st.booleans())
def test_prelu_backward_dense(data, shared):
    n, d = data.draw(matrix_shapes())
    x = data.draw(float_arrays((n, d), **AWAY))
    alpha = data.draw(float_arrays((1 if shared else d,), max_abs=1.0))
    check_pair(C.prelu_forward, C.prelu_backward, [x, alpha], names=["dx", "dalpha"])


@GRAD_SETTINGS
@given(data=st.data(), shared=st.booleans())
def test_prelu_backward_nchw(data, shared):
    shape = data.draw(nchw_shapes(max_hw=3))
    x = data.draw(float_arrays(shape, **AWAY))
    alpha = data.draw(float_arrays((1 if shared else shape[1],), max_abs=1.0))
    check_pair(C.prelu_forward, C.prelu_backward, [x, alpha], names=["dx", "dalpha"])


@GRAD_SETTINGS
@given(x=float_arrays(batch_shapes()), p=st.floats(0.0, 0.9), seed=seeds)
def test_dropout_backward_with_fixed_mask(x, p, seed):
    _, mask = C.dropout_forward(x, p, rng=seed)  # draw once, then hold the mask fixed
    check_pair(lambda x: C.dropout_forward(x, p, mask=mask), C.dropout_backward, [x])


@GRAD_SETTINGS
@given(x=float_arrays(nchw_shapes()))
def test_flatten_backward(x):
    check_pair(C.flatten_forward, C.flatten_backward, [x])


def test_softmax_backward_is_the_full_jacobian_product():
    rng = np.random.default_rng(0)
    x, dout = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    s, cache = C.softmax_forward(x)
    dx = C.softmax_backward(dout, cache)
    for n in range(3):
        jac = np.diag(s[n]) - np.outer(s[n], s[n])  # ds_i / dx_j
        np.testing.assert_allclose(dx[n], jac.T @ dout[n], rtol=1e-12, atol=1e-15)


def test_relu_backward_is_zero_at_zero():
    out, cache = C.relu_forward(np.array([[-1.0, 0.0, 2.0]]))
    np.testing.assert_array_equal(C.relu_backward(np.ones((1, 3)), cache), [[0.0, 0.0, 1.0]])


# --- layer tier -----------------------------------------------------------------------------

# name -> (factory, one sample's input shape)
LAYERS = {
    "linear": (lambda: Linear(5, 3, seed=0), (5,)),
    "linear_xavier": (lambda: Linear(5, 3, init="xavier_uniform", seed=1), (5,)),
    "matmul": (lambda: Matmul(5, 3, seed=0), (5,)),
    "relu": (ReLU, (5,)),
    "leaky_relu": (lambda: LeakyReLU(0.2), (5,)),
    "prelu_shared": (PReLU, (5,)),
    "prelu_per_feature": (lambda: PReLU(5, alpha_init=-0.3), (5,)),
    "prelu_per_channel": (lambda: PReLU(2), (2, 3, 3)),
    "elu": (lambda: ELU(0.7), (2, 3)),
    "sigmoid": (Sigmoid, (5,)),
    "tanh": (Tanh, (2, 2, 2)),
    "softmax": (Softmax, (5,)),
    "dropout_eval": (lambda: Dropout(0.5, seed=0).eval(), (5,)),
    "flatten": (Flatten, (2, 3, 2)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
@GRAD_SETTINGS
@given(n=dims(1, 4), data=st.data())
def test_layer_gradients(name, n, data):
    factory, sample_shape = LAYERS[name]
    layer = factory()
    if "prelu" in name:  # make the learned slopes differ per feature
        layer.params["alpha"][...] = np.linspace(-0.5, 0.5, layer.params["alpha"].size)
    x = data.draw(float_arrays((n, *sample_shape), **AWAY))
    report = check_layer_gradients(layer, x)
    assert list(report.tensors) == ["dx", *layer.params]
    assert_report_ok(report)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_contract(name):
    """grads gets params' keys and shapes; inputs are never mutated; output shape agrees."""
    factory, sample_shape = LAYERS[name]
    layer = factory()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, *sample_shape))
    x_before = x.copy()
    params_before = {k: v.copy() for k, v in layer.params.items()}
    out = layer.forward(x)
    assert out.shape == (3, *layer.output_shape(sample_shape))
    dout = rng.standard_normal(out.shape)
    dout_before = dout.copy()
    dx = layer.backward(dout)
    assert dx.shape == x.shape
    assert set(layer.grads) == set(layer.params)
    for k, p in layer.params.items():
        assert layer.grads[k].shape == p.shape, k
        np.testing.assert_array_equal(p, params_before[k])
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(dout, dout_before)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_backward_before_forward_raises(name):
    factory, sample_shape = LAYERS[name]
    with pytest.raises(RuntimeError, match="backward called before forward"):
        factory().backward(np.ones((2, *sample_shape)))


@pytest.mark.parametrize("name", ["linear", "prelu_per_feature", "matmul"])
def test_backward_overwrites_grads(name):
    layer = LAYERS[name][0]()
    x = np.random.default_rng(2).standard_normal((4, 5))
    out = layer.forward(x)
    layer.backward(np.ones_like(out))
    first = {k: g.copy() for k, g in layer.grads.items()}
    layer.backward(np.ones_like(out))  # same dout again: same grads, not doubled
    for k, g in layer.grads.items():
        np.testing.assert_allclose(g, first[k], rtol=1e-15)


def test_linear_shape_error_names_x_and_both_shapes():
    layer = Linear(784, 10, seed=0)
    with pytest.raises(ValueError, match=r"x: expected shape \(N, 784\).*got \(32, 783\)"):
        layer.forward(np.zeros((32, 783)))
    with pytest.raises(ValueError, match=r"x: expected shape \(N, 784\).*got \(32, 28, 28\)"):
        layer.forward(np.zeros((32, 28, 28)))
    with pytest.raises(ValueError, match="x: expected dtype kind.*got uint8"):
        layer.forward(np.zeros((32, 784), dtype=np.uint8))


def test_backward_shape_error_names_dout():
    layer = Linear(4, 3, seed=0)
    layer.forward(np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"dout: expected shape \(5, 3\).*got \(5,\)"):
        layer.backward(np.zeros(5))
    relu = ReLU()
    relu.forward(np.zeros((5, 1)))
    with pytest.raises(ValueError, match=r"dout: expected shape \(5, 1\).*got \(5,\)"):
        relu.backward(np.zeros(5))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: C.affine_forward(np.zeros((2, 3)), np.zeros((4, 5)), np.zeros(5)), "x: .*D=4"),
        (lambda: C.affine_forward(np.zeros((2, 4)), np.zeros((4, 5)), np.zeros(4)), "b: .*M=5"),
        (lambda: C.softmax_forward(np.zeros(3)), r"x: expected shape \(N, C\)"),
        (lambda: PReLU(3).forward(np.zeros((2, 4))), r"x: expected shape \(N, 3, \.\.\.\)"),
        (lambda: C.dropout_forward(np.zeros(3), 1.0), r"p: expected a number in \[0, 1\)"),
        (lambda: C.dropout_forward(np.zeros(3), 0.5, mask=np.ones(4)), "mask: .*"),
        (lambda: Linear(0, 3), "in_features: expected a positive int"),
        (lambda: Linear(3, 2, init="kaiming"), "init: expected one of"),
        (lambda: Linear(3, 2).output_shape((4,)), r"input_shape: expected shape \(3,\)"),
    ],
)
def test_bad_arguments_raise_named_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_linear_parameters():
    layer = Linear(784, 256, seed=0)
    assert layer.params["w"].shape == (784, 256)
    assert layer.params["b"].shape == (256,)
    assert not layer.params["b"].any()
    assert layer.params["w"].std() == pytest.approx(np.sqrt(2 / 784), rel=0.02)  # He normal
    assert layer.num_params() == 784 * 256 + 256
    np.testing.assert_array_equal(layer.params["w"], Linear(784, 256, seed=0).params["w"])
    assert "b" not in Matmul(3, 2).params
    assert repr(Linear(3, 2)) == "Linear(in_features=3, out_features=2, init='he_normal')"


def test_float32_layers_stay_float32():
    x = np.random.default_rng(3).standard_normal((4, 5)).astype(np.float32)
    layer = Linear(5, 3, seed=0, dtype=np.float32)
    out = layer.forward(x)
    assert out.dtype == np.float32
    assert layer.backward(np.ones_like(out)).dtype == np.float32
    assert layer.grads["w"].dtype == np.float32
    for act in (ReLU(), Sigmoid(), Tanh(), LeakyReLU(), ELU(), Softmax(), Dropout(0.5, seed=0)):
        y = act.forward(x)
        assert y.dtype == np.float32, act
        assert act.backward(np.ones_like(y)).dtype == np.float32, act


# --- dropout -------------------------------------------------------------------------------


def test_dropout_train_drops_with_probability_p_and_keeps_the_mean():
    x = np.ones((200, 500))
    layer = Dropout(0.3, seed=0)
    out = layer.forward(x)
    assert np.mean(out == 0) == pytest.approx(0.3, abs=0.01)
    np.testing.assert_allclose(out[out != 0], 1 / 0.7)
    assert out.mean() == pytest.approx(1.0, abs=0.01)
    dx = layer.backward(np.full_like(x, 2.0))
    np.testing.assert_allclose(dx, 2.0 * out)  # the same mask, same scaling


def test_dropout_eval_is_identity_and_seeding_is_reproducible():
    x = np.random.default_rng(4).standard_normal((8, 6))
    layer = Dropout(0.5, seed=7)
    first = layer.forward(x)
    assert not np.array_equal(first, layer.forward(x))  # a new mask each step
    np.testing.assert_array_equal(first, Dropout(0.5, seed=7).forward(x))
    layer.eval()
    np.testing.assert_array_equal(layer.forward(x), x)
    np.testing.assert_array_equal(layer.backward(x), x)
    layer.train()
    assert np.any(layer.forward(x) == 0)
    np.testing.assert_array_equal(Dropout(0.0).forward(x), x)


def test_output_shapes():
    assert Linear(12, 4).output_shape((12,)) == (4,)
    assert Flatten().output_shape((3, 4, 5)) == (60,)
    assert ReLU().output_shape((3, 4, 5)) == (3, 4, 5)
    assert Flatten().forward(np.zeros((2, 3, 4, 5))).shape == (2, 60)


# --- skipping the input gradient (input_grad=False) -----------------------------------------
def test_backward_without_input_grad_skips_dx_and_keeps_the_parameter_grads():
    rng = np.random.default_rng(5)
    x, w, b, dout = (rng.standard_normal(s) for s in [(4, 5), (5, 3), (3,), (4, 3)])
    _, cache = C.affine_forward(x, w, b)
    dx, dw, db = C.affine_backward(dout, cache)
    dx_skipped, dw2, db2 = C.affine_backward(dout, cache, input_grad=False)
    assert dx is not None and dx_skipped is None
    np.testing.assert_array_equal(dw2, dw)
    np.testing.assert_array_equal(db2, db)
    _, cache = C.matmul_forward(x, w)
    dx_skipped, dw3 = C.matmul_backward(dout, cache, input_grad=False)
    assert dx_skipped is None
    np.testing.assert_array_equal(dw3, C.matmul_backward(dout, cache)[1])


@pytest.mark.parametrize("name", ["linear", "matmul"])
def test_dense_layer_backward_without_input_grad(name):
    layer = LAYERS[name][0]()
    x = np.random.default_rng(6).standard_normal((4, 5))
    dout = np.random.default_rng(7).standard_normal((4, 3))
    layer.forward(x)
    assert layer.backward(dout).shape == x.shape  # the default still returns dx
    full = {k: g.copy() for k, g in layer.grads.items()}
    assert layer.backward(dout, input_grad=False) is None
    assert set(layer.grads) == set(full)
    for k, g in layer.grads.items():
        np.testing.assert_array_equal(g, full[k], err_msg=k)


@pytest.mark.parametrize(
    "factory",
    [ReLU, LeakyReLU, ELU, Sigmoid, Tanh, Softmax, Flatten,
     lambda: Linear(5, 3, seed=0, dtype=np.float32), lambda: PReLU(5, dtype=np.float32)],
)  # fmt: skip
def test_float32_stays_float32_through_forward_and_backward(factory):
    layer = factory()
    x = np.random.default_rng(8).standard_normal((4, 5)).astype(np.float32)
    out = layer.forward(x)
    dx = layer.backward(np.ones_like(out))
    assert out.dtype == dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer.grads.values())
