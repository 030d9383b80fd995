"""Task 5 of 05_mnist: ``Adam(params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7)``.

``params`` is a list of arrays that ``step(grads)`` (a list of gradients in the same order)
updates IN PLACE, with Keras' formula::

    t += 1;  lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t)
    m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g**2   (per parameter)
    p -= lr_t * m / (sqrt(v) + eps)

The trajectory over 50 steps is compared with ``keras_reference``: Keras' formula in
float64 with Keras' float32 learning rate. ``tests/grader/test_mnist_checks.py`` confirms
that it IS ``keras.optimizers.Adam`` applying the same gradients to float64 variables
(running Keras here, 50 eager steps per trajectory, would make a check take seconds).
Tolerance: Keras keeps the learning rate as a float32 variable and computes the beta
powers and the step size lr_t in float32, so even on float64 variables its trajectory
departs from exact float64 arithmetic by up to about 1.4e-5 of the distance a parameter
can move (lr per step; measured at 50 steps); ``keras_reference`` reproduces that
rounding to 2e-6. The check accepts |p - p_ref| <= 5e-5 lr t after step t: a student
computing exactly in float64 (or with float32 constants) passes, any slip of the formula
(a missing bias correction, swapped betas, eps inside the square root when gradients are
as small as eps) is far outside.
"""

from __future__ import annotations

import math

import numpy as np

from course_utils.grading import (
    call_student,
    check,
    describe_value,
    expect_callable,
    explain_difference,
    fail,
    reference,
    seal,
)

from .._optim_reference import adam_first_step_structure as _first_step_structure
from .._optim_reference import adam_variant
from .._optim_reference import exact_adam as _exact
from .._optim_reference import keras_adam as keras_reference
from .._optim_reference import keras_trajectory as _keras_trajectory
from ._common import DOUBLES, forbid_library

_STEPS = 50
_TOL = 5e-5


def keras_trajectory(p0, grads, lr, beta1, beta2, eps) -> list:
    """``keras.optimizers.Adam`` on float64 variables (for the self-tests)."""
    return _keras_trajectory(
        "Adam", p0, grads, learning_rate=lr, beta_1=beta1, beta_2=beta2, epsilon=eps
    )


def _run(Adam, p0, grads, kwargs, label):
    got = call_student(
        reference(DOUBLES, "optimizer_trajectory"), Adam, p0, grads, kwargs, label=label
    )
    return got


def _hyper(kwargs) -> tuple[float, float, float, float]:
    return (
        kwargs.get("lr", 1e-3),
        kwargs.get("beta1", 0.9),
        kwargs.get("beta2", 0.999),
        kwargs.get("eps", 1e-7),
    )


def _factors(lr, beta1, beta2) -> dict:
    return {
        "lr": lr,
        "1 - beta1": 1 - beta1,
        "sqrt(1 - beta2)": math.sqrt(1 - beta2),
        "(1 - beta1) / sqrt(1 - beta2)": (1 - beta1) / math.sqrt(1 - beta2),
        "1 / (1 - beta1)": 1 / (1 - beta1),
    }


def _compare(Adam, p0, grads, kwargs, case) -> None:
    lr, beta1, beta2, eps = _hyper(kwargs)
    shown = ", ".join(f"{k}={v:g}" for k, v in kwargs.items())
    label = f"`Adam(params{', ' + shown if shown else ''})` {case}"
    got = _run(Adam, p0, grads, kwargs, label)
    if not isinstance(got, list) or len(got) != len(grads):
        fail(f"{label}: stepping the optimiser gave {describe_value(got)}")
    expected = keras_reference(p0, grads, lr, beta1, beta2, eps)
    for t, (now, want) in enumerate(zip(got, expected, strict=True), start=1):
        for i, (a, b) in enumerate(zip(now, want, strict=True)):
            a = np.asarray(a, dtype=np.float64)
            if a.shape != b.shape:
                fail(f"{label}: parameter {i} changed shape to {a.shape} (was {b.shape})")
            if np.max(np.abs(a - b)) <= _TOL * lr * t + 1e-12:
                continue
            fail(_diagnose(Adam, p0, grads, kwargs, got, expected, t, i, label))


def _reproduces(rule, p0, grads, got, i, lr) -> bool:
    """Does the variant ``rule(w, g, state, t)`` give parameter ``i``'s whole trajectory
    (within twice the check's tolerance at every step)?"""
    w, state = np.array(p0[i], dtype=np.float64), None
    with np.errstate(all="ignore"):
        for t, (step, now) in enumerate(zip(grads, got, strict=True), start=1):
            w, state = rule(w, np.asarray(step[i], dtype=np.float64), state, t)
            if not np.max(np.abs(np.asarray(now[i], dtype=np.float64) - w)) <= 2 * _TOL * lr * t:
                return False
    return True


def _eps_confirmed(p0, grads, got, i, kwargs) -> bool:
    """A first step off only where |g| is small suggests eps in the wrong place; it is, if
    Keras' Adam with eps moved there gives the whole trajectory."""
    lr, beta1, beta2, eps = _hyper(kwargs)
    hyper = {"lr": lr, "beta_1": beta1, "beta_2": beta2, "epsilon": eps}
    return any(
        _reproduces(adam_variant(hyper, eps=where), p0, grads, got, i, lr)
        for where in ("sqrt(v + eps)", "sqrt(v_hat)")
    )


def _distances(got, expected, i) -> str:
    shown = [t for t in (1, 2, 3, 5, 10, 20, 50) if t <= len(got)]
    return ", ".join(
        f"{float(np.max(np.abs(np.asarray(got[t - 1][i]) - expected[t - 1][i]))):.2g} after "
        f"step {t}"
        for t in shown
    )


def _diagnose(Adam, p0, grads, kwargs, got, expected, t, i, label) -> str:
    lr, beta1, beta2, eps = _hyper(kwargs)
    start = np.asarray(p0[i], dtype=np.float64)
    before = start if t == 1 else np.asarray(got[t - 2][i], dtype=np.float64)
    before_exp = start if t == 1 else expected[t - 2][i]
    step_got = np.asarray(got[t - 1][i], dtype=np.float64) - before
    step_exp = expected[t - 1][i] - before_exp
    diff = float(np.max(np.abs(np.asarray(got[t - 1][i]) - expected[t - 1][i])))
    msg = (
        f"{label}: after step {t} parameter {i} differs from keras.optimizers.Adam by up to "
        f"{diff:.3g} (accepted: {_TOL:g} * lr * t = {_TOL * lr * t:.3g})"
    )
    if all(np.array_equal(np.asarray(p), np.asarray(s)) for p, s in zip(got[-1], p0, strict=True)):
        return (
            f"{msg}\nHint: the arrays handed to Adam never changed: update them IN PLACE "
            f"(`p -= ...` or `p[...] = ...`); `self.params[i] = p - ...` makes new arrays, and "
            f"the layers keep reading the old ones"
        )
    no_bc = _exact(p0, grads, lr, beta1, beta2, eps, bias_correction=False)
    if all(
        np.allclose(np.asarray(a), b, rtol=1e-6, atol=1e-12)
        for a, b in zip(got[-1], no_bc[-1], strict=True)
    ):
        return (
            f"{msg}\nHint: your trajectory is Adam WITHOUT bias correction: use lr_t = lr * "
            f"sqrt(1 - beta2**t) / (1 - beta1**t), with t the number of steps so far"
        )
    if len(p0) > 1:
        alone = _run(Adam, [p0[i]], [[g[i]] for g in grads], kwargs, label)
        alone_exp = keras_reference([p0[i]], [[g[i]] for g in grads], *_hyper(kwargs))
        if np.max(np.abs(np.asarray(alone[t - 1][0]) - alone_exp[t - 1][0])) <= _TOL * lr * t:
            return (
                f"{msg}\nHint: with parameter {i} ALONE your optimiser is right: one "
                f"parameter's update depends on the others. Keep one m and one v PER "
                f"parameter (lists of zeros_like(p)), and count t once per step(), not once "
                f"per parameter"
            )
    if t == 1 and np.allclose(step_got, -step_exp, rtol=1e-4, atol=1e-15):
        return f"{msg}\nHint: the step goes uphill: subtract it (p -= ...), do not add it"
    if t == 1:
        sentences = explain_difference(step_got, step_exp, factors=_factors(lr, beta1, beta2))
        hint = " ".join(sentences)
        g = np.asarray(grads[0][i], dtype=np.float64)
        if not hint and np.allclose(step_got, -lr * g, rtol=1e-4, atol=1e-15):
            hint = "the first step is -lr * g: plain SGD, the moments are not used"
        structure = _first_step_structure(step_got, g, lr, eps)
        if "where eps acts" in structure and not _eps_confirmed(p0, grads, got, i, kwargs):
            structure = (
                f"only the small entries of the first step are off, but Adam with eps moved "
                f"does not give your later steps: your distance from Keras' trajectory is "
                f"{_distances(got, expected, i)}. Compare step() line by line with m = beta1 "
                f"m + (1 - beta1) g, v = beta2 v + (1 - beta2) g², p -= lr sqrt(1 - "
                f"beta2**t) / (1 - beta1**t) m / (sqrt(v) + eps)"
            )
        if structure and "plain SGD" not in hint:
            hint = f"{hint}; {structure}" if hint else structure
        return f"{msg} already in the FIRST step (size {np.abs(step_exp).max():.3g} expected)." + (
            f"\nHint: {hint}" if hint else
            "\nHint: at t = 1, m = (1 - beta1) g, v = (1 - beta2) g², so the step is "
            "-lr g / (|g| + eps / sqrt(1 - beta2)) ≈ -lr sign(g)"
        )  # fmt: skip
    return (
        f"{msg}; the first step is right, so the update rule is, but what is carried from "
        f"step to step is not: m and v (which beta goes with which moment, g vs g**2), or t "
        f"(one increment per step, used in both bias corrections)"
    )


def _case_data(rng, shapes, scale=1.0):
    p0 = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) * scale for s in shapes] for _ in range(_STEPS)]
    return p0, grads


def _preamble(Adam) -> None:
    expect_callable(Adam, "Adam", kind="class")
    forbid_library(Adam, "Adam", "keep m, v and t yourself; update with NumPy in place")


def visible(Adam) -> None:
    _preamble(Adam)
    rng = np.random.default_rng(6)
    p0, grads = _case_data(rng, [(2, 3), (2, 3)])
    _compare(Adam, p0, grads, {"lr": 0.01}, "(two parameters of shape (2, 3))")
    p0, grads = _case_data(rng, [(3, 4), (4,)])
    _compare(Adam, p0, grads, {}, "(defaults; W of shape (3, 4), b of shape (4,))")
    _compare(Adam, p0, grads, {"lr": 0.01}, "(W of shape (3, 4), b of shape (4,))")


@check
def check_adam(Adam) -> None:
    """Visible: 50 steps on two parameters, defaults and lr=0.01: equal to keras Adam."""
    visible(Adam)


@check
def check_adam_hidden(Adam) -> None:
    """Hidden: random hyper-parameters and shapes, three parameters of one shape, gradients
    of very different sizes (eps matters), a gradient that is always 0."""
    _preamble(Adam)
    rng = np.random.default_rng(2905)  # hidden values, the same at every regrade
    kwargs = {
        "lr": float(10 ** rng.uniform(-3, -1)),
        "beta1": float(rng.uniform(0.5, 0.95)),
        "beta2": float(rng.uniform(0.9, 0.9999)),
        "eps": float(10 ** rng.uniform(-8, -5)),
    }
    p0, grads = _case_data(rng, [(2, 3), (2, 3), (2, 3)])
    _compare(Adam, p0, grads, {"lr": 0.05, "beta1": 0.8, "beta2": 0.99},
             "(three parameters of the same shape)")  # fmt: skip
    shapes = [(int(rng.integers(1, 6)), int(rng.integers(1, 6))), (int(rng.integers(1, 6)),)]
    p0, grads = _case_data(rng, shapes)
    _compare(Adam, p0, grads, kwargs, f"(random shapes {shapes})")
    p0, grads = _case_data(rng, [(5,)], scale=1e-6)
    _compare(Adam, p0, grads, {"lr": 0.01, "eps": 1e-6}, "(gradients of size 1e-6, eps=1e-6)")
    p0, grads = _case_data(rng, [(4,), (3,)])
    for step in grads:
        step[1] = np.zeros(3)
    _compare(Adam, p0, grads, {"lr": 0.02}, "(the second gradient always 0)")


seal(__name__)
