"""Optimisers: hand computations, purity, classes, and trajectories against Keras."""

import math

import numpy as np
import pytest

from course_utils import optim
from course_utils.layers import Linear, ReLU, Sequential
from course_utils.losses import mse
from course_utils.schedules import exponential_decay

RULES = [optim.sgd, optim.momentum, optim.nesterov, optim.rmsprop, optim.adam]


def _w_dw(dtype=np.float64, seed=0, shape=(3, 4)):
    rng = np.random.default_rng(seed)
    return rng.normal(size=shape).astype(dtype), rng.normal(size=shape).astype(dtype)


# --- hand computations ----------------------------------------------------------------
def test_sgd_hand():
    w, dw = np.array([1.0, -2.0]), np.array([0.5, 4.0])
    w_new, state = optim.sgd(w, dw, lr=0.1)
    np.testing.assert_allclose(w_new, [0.95, -2.4], rtol=1e-15)
    assert state == {}


def test_momentum_hand_two_steps():
    w, dw = np.array([1.0]), np.array([2.0])
    w1, s1 = optim.momentum(w, dw, lr=0.1, momentum=0.9)  # v = -0.2
    np.testing.assert_allclose(w1, [0.8])
    np.testing.assert_allclose(s1["velocity"], [-0.2])
    w2, s2 = optim.momentum(w1, np.array([1.0]), s1, lr=0.1, momentum=0.9)  # v = -0.18-0.1
    np.testing.assert_allclose(s2["velocity"], [-0.28])
    np.testing.assert_allclose(w2, [0.52])


def test_nesterov_hand_two_steps():
    w, dw = np.array([1.0]), np.array([2.0])
    w1, s1 = optim.nesterov(w, dw, lr=0.1, momentum=0.9)
    # v = -0.2; w += 0.9 * v - 0.1 * 2 = -0.38
    np.testing.assert_allclose(w1, [0.62])
    np.testing.assert_allclose(s1["velocity"], [-0.2])
    w2, s2 = optim.nesterov(w1, np.array([1.0]), s1, lr=0.1, momentum=0.9)
    # v = -0.18 - 0.1 = -0.28; w += 0.9 * -0.28 - 0.1 = -0.352
    np.testing.assert_allclose(s2["velocity"], [-0.28])
    np.testing.assert_allclose(w2, [0.62 - 0.352])


def test_rmsprop_hand_epsilon_inside_sqrt():
    w, dw = np.array([1.0]), np.array([0.01])
    w1, s1 = optim.rmsprop(w, dw, lr=0.1, rho=0.9, epsilon=1e-4)
    s = 0.1 * 0.01**2  # 1e-5
    np.testing.assert_allclose(s1["velocity"], [s])
    np.testing.assert_allclose(w1, [1.0 - 0.1 * 0.01 / math.sqrt(s + 1e-4)], rtol=1e-14)


def test_adam_hand_two_steps_epsilon_outside_sqrt():
    lr, b1, b2, eps = 0.1, 0.9, 0.99, 1e-3
    w, g1, g2 = np.array([1.0]), np.array([0.02]), np.array([-0.01])
    w1, s1 = optim.adam(w, g1, lr=lr, beta_1=b1, beta_2=b2, epsilon=eps)
    m, v = 0.1 * 0.02, 0.01 * 0.02**2
    alpha = lr * math.sqrt(1 - b2) / (1 - b1)
    np.testing.assert_allclose(w1, [1.0 - alpha * m / (math.sqrt(v) + eps)], rtol=1e-14)
    assert s1["t"] == 1
    w2, s2 = optim.adam(w1, g2, s1, lr=lr, beta_1=b1, beta_2=b2, epsilon=eps)
    m, v = 0.9 * m + 0.1 * -0.01, 0.99 * v + 0.01 * 0.01**2
    alpha = lr * math.sqrt(1 - b2**2) / (1 - b1**2)
    np.testing.assert_allclose(s2["m"], [m], rtol=1e-14)
    np.testing.assert_allclose(s2["v"], [v], rtol=1e-14)
    np.testing.assert_allclose(w2, w1 - alpha * m / (math.sqrt(v) + eps), rtol=1e-14)
    assert s2["t"] == 2


@pytest.mark.parametrize("rule", RULES)
def test_weight_decay_is_coupled_l2(rule):
    w, dw = _w_dw()
    got, _ = rule(w, dw, lr=0.01, weight_decay=0.3)
    want, _ = rule(w, dw + 0.3 * w, lr=0.01)
    np.testing.assert_allclose(got, want, rtol=1e-14)


def test_keras_default_hyper_parameters():
    import inspect

    def defaults(f):
        return {k: p.default for k, p in inspect.signature(f).parameters.items()}

    assert defaults(optim.adam) | {"epsilon": 1e-7, "beta_1": 0.9, "beta_2": 0.999} == defaults(
        optim.adam
    )
    assert defaults(optim.adam)["lr"] == 1e-3
    assert defaults(optim.rmsprop)["epsilon"] == 1e-7 and defaults(optim.rmsprop)["rho"] == 0.9


# --- purity ---------------------------------------------------------------------------
@pytest.mark.parametrize("rule", RULES)
def test_rules_do_not_mutate_their_arguments(rule):
    w, dw = _w_dw()
    _, state = rule(w, dw, lr=0.1)  # a state with arrays in it
    w0, dw0 = w.copy(), dw.copy()
    state0 = {k: np.copy(v) for k, v in state.items()}
    w_new, new_state = rule(w, dw, state, lr=0.1, weight_decay=0.1)
    np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(dw, dw0)
    assert state.keys() == state0.keys()
    for key in state:
        np.testing.assert_array_equal(state[key], state0[key])
        if isinstance(state[key], np.ndarray):
            assert new_state[key] is not state[key]
    assert w_new is not w and not np.shares_memory(w_new, w)


@pytest.mark.parametrize("rule", RULES)
def test_rules_keep_float32(rule):
    w, dw = _w_dw(np.float32)
    _, state = rule(w, dw, lr=0.1)
    w_new, state = rule(w, dw, state, lr=np.float64(0.1), weight_decay=0.01)
    assert w_new.dtype == np.float32
    assert all(v.dtype == np.float32 for v in state.values() if isinstance(v, np.ndarray))
    w_new, _ = rule(w, dw.astype(np.float64), lr=0.1)  # a float64 gradient does not upcast w
    assert w_new.dtype == np.float32


# --- differential tests against Keras on a quadratic ----------------------------------
def _quadratic(seed=0, n=6):
    """Gradient of 0.5 (w - c)^T A (w - c) + 0.1 sum(sin(w)), an ill-conditioned bowl."""
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n, n))
    a = q @ q.T / n + np.diag(np.linspace(0.01, 3.0, n))
    c = rng.normal(size=n)
    return lambda w: a @ (w - c) + 0.1 * np.cos(w), rng.normal(size=n)


def _keras_trajectory(keras_opt, grad, w0, steps):
    import keras

    var = keras.Variable(w0.copy(), dtype="float64")
    out = []
    for _ in range(steps):
        g = grad(np.asarray(var.numpy()))
        keras_opt.apply_gradients([(keras.ops.convert_to_tensor(g, dtype="float64"), var)])
        out.append(np.array(var.numpy()))
    return np.array(out)


def _our_trajectory(rule, grad, w0, steps, **kw):
    w, state, out = w0.copy(), None, []
    for _ in range(steps):
        w, state = rule(w, grad(w), state, **kw)
        out.append(w)
    return np.array(out)


# Learning rates, momenta and betas are exact in float32: Keras keeps learning_rate in a
# float32 variable and casts momentum / beta_1 / beta_2 through float32 (ops.cast of a
# Python float), so 0.1 or 0.9 would differ from ours by float32 rounding (1e-8 relative)
# and force a tolerance loose enough to hide a misplaced epsilon.
B2 = 1 - 2**-10  # 0.9990234375, close to Keras' 0.999 and exact in float32
KERAS_CASES = [
    # (our rule, our kwargs, keras class name, keras kwargs, gradient scale)
    (optim.sgd, {"lr": 0.125}, "SGD", {"learning_rate": 0.125}, 1.0),
    (optim.momentum, {"lr": 0.0625, "momentum": 0.875}, "SGD",
     {"learning_rate": 0.0625, "momentum": 0.875}, 1.0),
    (optim.nesterov, {"lr": 0.0625, "momentum": 0.75}, "SGD",
     {"learning_rate": 0.0625, "momentum": 0.75, "nesterov": True}, 1.0),
    (optim.rmsprop, {"lr": 0.015625}, "RMSprop", {"learning_rate": 0.015625}, 1.0),
    # tiny gradients and a big epsilon: where epsilon sits changes the answer
    (optim.rmsprop, {"lr": 0.015625, "rho": 0.8, "epsilon": 1e-4}, "RMSprop",
     {"learning_rate": 0.015625, "rho": 0.8, "epsilon": 1e-4}, 1e-3),
    (optim.adam, {"lr": 0.0625, "beta_1": 0.875, "beta_2": B2}, "Adam",
     {"learning_rate": 0.0625, "beta_1": 0.875, "beta_2": B2}, 1.0),
    (optim.adam, {"lr": 0.0625, "beta_1": 0.75, "beta_2": 0.875, "epsilon": 1e-3}, "Adam",
     {"learning_rate": 0.0625, "beta_1": 0.75, "beta_2": 0.875, "epsilon": 1e-3}, 1e-3),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "kw", "kname", "kkw", "scale"), KERAS_CASES)
def test_rule_trajectory_matches_keras(rule, kw, kname, kkw, scale):
    keras = pytest.importorskip("keras")
    grad0, w0 = _quadratic()

    def grad(w):
        return scale * grad0(w)

    ours = _our_trajectory(rule, grad, w0, 20, **kw)
    theirs = _keras_trajectory(getattr(keras.optimizers, kname)(**kkw), grad, w0, 20)
    assert np.abs(ours - w0).max() > 1e-3  # the problem actually moves
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


# --- the classes ----------------------------------------------------------------------
def _model(dtype=np.float64, seed=0):
    return Sequential(
        Linear(4, 5, seed=seed, dtype=dtype), ReLU(), Linear(5, 2, seed=seed + 1, dtype=dtype)
    )


def _data(dtype=np.float64, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(16, 4)).astype(dtype), rng.normal(size=(16, 2)).astype(dtype)


def _train_ours(opt_cls, steps=20, dtype=np.float64, **kw):
    model = _model(dtype)
    x, y = _data(dtype)
    opt = opt_cls(model, **kw)
    for _ in range(steps):
        opt.zero_grad()
        _, dout = mse(model.forward(x), y)
        model.backward(dout)
        opt.step()
    return model, opt


def _train_keras(keras_opt, steps=20, l2=0.0):
    """The same network and loss with tf.Variables, float64, gradients by GradientTape."""
    import tensorflow as tf

    model = _model()
    x, y = (tf.constant(a) for a in _data())
    names = list(model.params)
    vars_ = [tf.Variable(model.params[k].copy()) for k in names]
    for _ in range(steps):
        with tf.GradientTape() as tape:
            w1, b1, w2, b2 = vars_
            out = tf.nn.relu(x @ w1 + b1) @ w2 + b2
            loss = tf.reduce_mean(tf.square(out - y))
            loss += l2 / 2 * (tf.reduce_sum(w1**2) + tf.reduce_sum(w2**2))
        keras_opt.apply_gradients(zip(tape.gradient(loss, vars_), vars_, strict=True))
    return {k: v.numpy() for k, v in zip(names, vars_, strict=True)}


CLASS_CASES = [
    (optim.SGD, {"lr": 0.125}, "SGD", {"learning_rate": 0.125}),
    (optim.Momentum, {"lr": 0.0625, "momentum": 0.875}, "SGD",
     {"learning_rate": 0.0625, "momentum": 0.875}),
    (optim.Nesterov, {"lr": 0.0625, "momentum": 0.625}, "SGD",
     {"learning_rate": 0.0625, "momentum": 0.625, "nesterov": True}),
    (optim.RMSProp, {"lr": 2**-10}, "RMSprop", {"learning_rate": 2**-10}),
    (optim.Adam, {"lr": 0.015625, "beta_1": 0.875, "beta_2": B2}, "Adam",
     {"learning_rate": 0.015625, "beta_1": 0.875, "beta_2": B2}),
]  # fmt: skip


@pytest.mark.parametrize(("cls", "kw", "kname", "kkw"), CLASS_CASES)
def test_optimizer_class_on_a_model_matches_keras(cls, kw, kname, kkw):
    keras = pytest.importorskip("keras")
    model, opt = _train_ours(cls, **kw)
    theirs = _train_keras(getattr(keras.optimizers, kname)(**kkw))
    for key, value in model.params.items():
        assert not np.allclose(value, _model().params[key]), f"{key} did not move"
        np.testing.assert_allclose(value, theirs[key], rtol=1e-9, atol=1e-12, err_msg=key)
    assert opt.iterations == 20


def test_adam_with_schedule_matches_keras_schedule():
    keras = pytest.importorskip("keras")
    sched = exponential_decay(0.0625, decay_steps=3, decay_rate=0.5, staircase=True)
    model, opt = _train_ours(optim.Adam, schedule=sched, beta_1=0.875, beta_2=B2)
    kschedule = keras.optimizers.schedules.ExponentialDecay(0.0625, 3, 0.5, True)
    kopt = keras.optimizers.Adam(kschedule, beta_1=0.875, beta_2=B2)
    theirs = _train_keras(kopt)
    for key, value in model.params.items():
        np.testing.assert_allclose(value, theirs[key], rtol=1e-9, atol=1e-12, err_msg=key)
    assert opt.lr == pytest.approx(sched(20))


def test_weight_decay_equals_keras_l2_penalty_on_weights_only():
    keras = pytest.importorskip("keras")
    model, _ = _train_ours(optim.Momentum, lr=0.0625, momentum=0.875, weight_decay=0.25)
    theirs = _train_keras(keras.optimizers.SGD(0.0625, momentum=0.875), l2=0.25)
    for key, value in model.params.items():
        np.testing.assert_allclose(value, theirs[key], rtol=1e-9, atol=1e-12, err_msg=key)


def test_step_updates_in_place_and_keeps_dtype():
    model, opt = _train_ours(optim.Adam, steps=0, dtype=np.float32)
    arrays = {k: v for k, v in model.params.items()}
    before = {k: v.copy() for k, v in arrays.items()}
    x, y = _data(np.float32)
    _, dout = mse(model.forward(x), y)
    model.backward(dout)
    opt.step()
    for key, value in model.params.items():
        assert value is arrays[key]  # the same array object, updated in place
        assert value.dtype == np.float32
        assert not np.array_equal(value, before[key])
    assert set(opt.state) == set(arrays)
    assert opt.state["0.linear.w"]["t"] == 1


def test_class_matches_pure_rule_loop():
    model, _ = _train_ours(optim.RMSProp, steps=5, lr=0.01, rho=0.8)
    ref = _model()
    x, y = _data()
    states = {}
    for _ in range(5):
        _, dout = mse(ref.forward(x), y)
        ref.backward(dout)
        grads = ref.grads
        for key, w in ref.params.items():
            w[...], states[key] = optim.rmsprop(w, grads[key], states.get(key), lr=0.01, rho=0.8)
    for key, value in model.params.items():
        np.testing.assert_allclose(value, ref.params[key], rtol=1e-14)


CLASS_RULES = [
    (optim.SGD, optim.sgd, {}),
    (optim.Momentum, optim.momentum, {"momentum": 0.8}),
    (optim.Nesterov, optim.nesterov, {"momentum": 0.7}),
    (optim.RMSProp, optim.rmsprop, {"rho": 0.8, "epsilon": 1e-4}),
    (optim.Adam, optim.adam, {"beta_1": 0.8, "beta_2": 0.95, "epsilon": 1e-3}),
]


@pytest.mark.parametrize(("cls", "rule", "hyper"), CLASS_RULES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_class_is_bit_for_bit_its_pure_rule(cls, rule, hyper, dtype):
    """The in-place step of a class equals w[...], state = rule(w, dw, state) exactly."""
    model, opt = _train_ours(cls, steps=6, dtype=dtype, lr=0.05, weight_decay=0.1, **hyper)
    ref = _model(dtype)
    x, y = _data(dtype)
    states = {}
    for _ in range(6):
        _, dout = mse(ref.forward(x), y)
        ref.backward(dout)
        grads = ref.grads
        for key, w in ref.params.items():
            decay = 0.1 if w.ndim >= 2 else 0.0
            w[...], states[key] = rule(
                w, grads[key], states.get(key), lr=0.05, weight_decay=decay, **hyper
            )
    for key, value in model.params.items():
        assert value.dtype == dtype
        np.testing.assert_array_equal(value, ref.params[key], err_msg=key)
        assert opt.state[key].keys() == states[key].keys()
        for name, s in states[key].items():
            np.testing.assert_array_equal(opt.state[key][name], s, err_msg=f"{key} {name}")


def test_step_makes_no_parameter_sized_temporaries():
    """After the first step (which allocates the state), a step allocates no big arrays."""
    import tracemalloc

    model = Sequential(Linear(300, 200, seed=0, dtype=np.float32))
    x = np.ones((2, 300), np.float32)
    _, dout = mse(model.forward(x), np.zeros((2, 200), np.float32))
    model.backward(dout)
    opt = optim.Adam(model)
    opt.step()
    tracemalloc.start()
    try:
        opt.step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < model.params["0.linear.w"].nbytes / 4, peak


def test_lr_property_and_setter():
    model = _model()
    opt = optim.SGD(model, lr=0.3)
    assert opt.lr == 0.3
    opt.lr = 0.1
    assert opt.lr == 0.1
    sched = exponential_decay(1.0, 1, 0.5)
    opt = optim.Momentum(model, schedule=sched)
    assert opt.lr == 1.0
    opt.iterations = 3
    assert opt.lr == 0.125
    with pytest.raises(ValueError, match=r"^lr:"):
        opt.lr = 0.1


def test_zero_grad_forwards_to_the_model():
    model, opt = _train_ours(optim.SGD, steps=1)
    assert any(np.any(g != 0) for g in model.grads.values())
    opt.zero_grad()
    assert all(np.all(g == 0) for g in model.grads.values())


def test_step_without_gradients_says_so():
    model = Sequential(Linear(2, 2, seed=0))
    model.layers[0].grads.clear()
    with pytest.raises(ValueError, match="no gradient for parameter '0.linear.w'"):
        optim.SGD(model).step()


# --- validation -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cls", "kwargs", "name"),
    [
        (optim.SGD, {"lr": 0}, "lr"),
        (optim.SGD, {"lr": -0.1}, "lr"),
        (optim.SGD, {"lr": "0.1"}, "lr"),
        (optim.SGD, {"weight_decay": -1}, "weight_decay"),
        (optim.Momentum, {"momentum": 1.0}, "momentum"),
        (optim.Nesterov, {"momentum": -0.1}, "momentum"),
        (optim.RMSProp, {"rho": 1.5}, "rho"),
        (optim.RMSProp, {"epsilon": 0}, "epsilon"),
        (optim.Adam, {"beta_1": 1.0}, "beta_1"),
        (optim.Adam, {"beta_2": float("nan")}, "beta_2"),
        (optim.Adam, {"epsilon": -1e-8}, "epsilon"),
        (optim.Adam, {"schedule": 0.1}, "schedule"),
    ],
)
def test_bad_hyper_parameters_raise_naming_the_argument(cls, kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name}:"):
        cls(_model(), **kwargs)


def test_bad_model_raises():
    with pytest.raises(ValueError, match=r"^model:"):
        optim.Adam([np.zeros(3)])


@pytest.mark.parametrize("rule", RULES)
def test_rules_validate_gradient_shape(rule):
    with pytest.raises(ValueError, match=r"^dw: expected shape \(3, 4\)"):
        rule(np.zeros((3, 4)), np.zeros((4, 3)), lr=0.1)
    with pytest.raises(ValueError, match=r"^lr:"):
        rule(np.zeros(3), np.zeros(3), lr=-1.0)


def test_adam_rejects_a_state_of_the_wrong_shape():
    _, state = optim.adam(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match=r"state\['m'\]"):
        optim.adam(np.zeros(4), np.ones(4), state)
