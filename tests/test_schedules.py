"""LR schedules: hand values, validation, agreement with keras.optimizers.schedules."""

import math

import numpy as np
import pytest

from course_utils import schedules as S

# Steps that hit boundaries exactly, fall between them, and run past the decay horizon.
STEPS = [0, 1, 2, 5, 9, 10, 11, 19, 20, 21, 37, 50, 99, 100, 101, 150, 199, 200, 333, 1000]


@pytest.fixture(scope="module")
def ks():
    keras = pytest.importorskip("keras")
    return keras.optimizers.schedules


def _agree(ours, theirs, steps=STEPS, rtol=2e-6, atol=1e-9):
    got = np.array([ours(s) for s in steps])
    want = np.array([float(theirs(s)) for s in steps])
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f"{ours!r}")


# --- hand values ----------------------------------------------------------------------
def test_constant():
    sched = S.constant(0.3)
    assert [sched(s) for s in (0, 1, 10**6)] == [0.3, 0.3, 0.3]


def test_step_decay_hand_values():
    sched = S.step_decay(0.8, step_size=10, factor=0.5)
    assert [sched(s) for s in (0, 9, 10, 19, 20, 35)] == [0.8, 0.8, 0.4, 0.4, 0.2, 0.1]


def test_exponential_decay_hand_values():
    sched = S.exponential_decay(0.1, decay_steps=100, decay_rate=0.5)
    assert sched(0) == pytest.approx(0.1)
    assert sched(50) == pytest.approx(0.1 * 0.5**0.5)
    assert sched(200) == pytest.approx(0.025)
    stair = S.exponential_decay(0.1, decay_steps=100, decay_rate=0.5, staircase=True)
    assert stair(99) == pytest.approx(0.1) and stair(100) == pytest.approx(0.05)


def test_polynomial_decay_hand_values():
    sched = S.polynomial_decay(1.0, decay_steps=10, end_lr=0.0, power=2.0)
    assert sched(5) == pytest.approx(0.25)
    assert sched(10) == pytest.approx(0.0) and sched(50) == pytest.approx(0.0)


def test_cosine_decay_hand_values():
    sched = S.cosine_decay(1.0, decay_steps=100, alpha=0.1)
    assert sched(0) == pytest.approx(1.0)
    assert sched(50) == pytest.approx(0.1 + 0.9 * 0.5)
    assert sched(100) == pytest.approx(0.1) and sched(500) == pytest.approx(0.1)


def test_piecewise_constant_is_right_inclusive():
    sched = S.piecewise_constant([10, 20], [1.0, 0.5, 0.1])
    assert [sched(s) for s in (0, 10, 11, 20, 21)] == [1.0, 1.0, 0.5, 0.5, 0.1]


def test_schedules_return_python_floats_and_have_a_repr():
    sched = S.exponential_decay(0.1, 10, 0.9)
    assert type(sched(np.int64(3))) is float
    assert "exponential_decay(lr0=0.1" in repr(sched)
    assert sched.get_config()["decay_rate"] == 0.9


# --- agreement with Keras -------------------------------------------------------------
@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_decay_matches_keras(ks, staircase):
    _agree(
        S.exponential_decay(0.1, 20, 0.7, staircase=staircase),
        ks.ExponentialDecay(0.1, 20, 0.7, staircase=staircase),
    )


def test_step_decay_matches_keras_staircase(ks):
    _agree(S.step_decay(0.05, 10, 0.3), ks.ExponentialDecay(0.05, 10, 0.3, staircase=True))


@pytest.mark.parametrize("staircase", [False, True])
def test_inverse_time_decay_matches_keras(ks, staircase):
    _agree(
        S.inverse_time_decay(0.2, 10, 0.5, staircase=staircase),
        ks.InverseTimeDecay(0.2, 10, 0.5, staircase=staircase),
    )


@pytest.mark.parametrize(
    ("power", "cycle", "end_lr"), [(1.0, False, 1e-4), (0.5, False, 0.01), (2.0, True, 0.0)]
)
def test_polynomial_decay_matches_keras(ks, power, cycle, end_lr):
    _agree(
        S.polynomial_decay(0.1, 100, end_lr=end_lr, power=power, cycle=cycle),
        ks.PolynomialDecay(0.1, 100, end_learning_rate=end_lr, power=power, cycle=cycle),
    )


def test_polynomial_decay_default_end_lr_matches_keras(ks):
    _agree(S.polynomial_decay(0.1, 100), ks.PolynomialDecay(0.1, 100))


def test_piecewise_constant_matches_keras(ks):
    _agree(
        S.piecewise_constant([10, 20, 100], [0.1, 0.05, 0.01, 0.001]),
        ks.PiecewiseConstantDecay([10, 20, 100], [0.1, 0.05, 0.01, 0.001]),
    )


@pytest.mark.parametrize("alpha", [0.0, 0.2])
def test_cosine_decay_matches_keras(ks, alpha):
    _agree(S.cosine_decay(0.1, 150, alpha=alpha), ks.CosineDecay(0.1, 150, alpha=alpha))


def test_cosine_decay_with_warmup_matches_keras(ks):
    _agree(
        S.cosine_decay(0.0, 150, alpha=0.1, warmup_target=0.1, warmup_steps=20),
        ks.CosineDecay(0.0, 150, alpha=0.1, warmup_target=0.1, warmup_steps=20),
    )


def test_keras_float_steps_agree_too(ks):
    steps = [0.5, 12.25, 99.9]
    _agree(S.exponential_decay(0.1, 20, 0.7), ks.ExponentialDecay(0.1, 20, 0.7), steps)
    _agree(S.cosine_decay(0.1, 150), ks.CosineDecay(0.1, 150), steps)


# --- validation -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("factory", "kwargs", "name"),
    [
        (S.constant, {"lr": 0.0}, "lr"),
        (S.constant, {"lr": -1}, "lr"),
        (S.step_decay, {"lr0": 0.1, "step_size": 0}, "step_size"),
        (S.step_decay, {"lr0": 0.1, "step_size": 5, "factor": 2.0}, "factor"),
        (S.exponential_decay, {"lr0": 0.1, "decay_steps": 0, "decay_rate": 0.5}, "decay_steps"),
        (S.exponential_decay, {"lr0": 0.1, "decay_steps": 5, "decay_rate": -1}, "decay_rate"),
        (S.exponential_decay, {"lr0": "a", "decay_steps": 5, "decay_rate": 0.5}, "lr0"),
        (S.inverse_time_decay, {"lr0": 0.1, "decay_steps": -2, "decay_rate": 0.5}, "decay_steps"),
        (S.polynomial_decay, {"lr0": 0.1, "decay_steps": 10, "end_lr": -1}, "end_lr"),
        (S.polynomial_decay, {"lr0": 0.1, "decay_steps": 10, "power": 0}, "power"),
        (S.cosine_decay, {"lr0": 0.1, "decay_steps": 10, "alpha": 1.5}, "alpha"),
        (S.cosine_decay, {"lr0": math.nan, "decay_steps": 10}, "lr0"),
        (S.piecewise_constant, {"boundaries": [], "values": [0.1]}, "boundaries"),
        (S.piecewise_constant, {"boundaries": [5, 5], "values": [1, 2, 3]}, "boundaries"),
        (S.piecewise_constant, {"boundaries": [5], "values": [1, 2, 3]}, "values"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(factory, kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name}:"):
        factory(**kwargs)


@pytest.mark.parametrize("step", [-1, math.inf, math.nan, "3", None, True])
def test_bad_step_raises(step):
    with pytest.raises(ValueError, match=r"^step:"):
        S.constant(0.1)(step)
