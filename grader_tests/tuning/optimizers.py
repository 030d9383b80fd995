"""Task 3 of 07_tuning: four optimisers written as update rules ``(w, dw, state) -> (w, state)``.

The student's functions, with Keras' names and defaults for the hyper-parameters
(keyword arguments)::

    sgd_momentum(w, dw, state=None, *, lr=0.01, momentum=0.9)
    nesterov(w, dw, state=None, *, lr=0.01, momentum=0.9)
    rmsprop(w, dw, state=None, *, lr=0.001, rho=0.9, epsilon=1e-7)
    adam(w, dw, state=None, *, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)

(Keras' ``SGD`` defaults to ``momentum=0.0``, plain SGD; a momentum rule defaults to 0.9,
as ``course_utils.optim.momentum`` does.) ``state`` is ``None`` on the first call for a
parameter; afterwards the caller passes back exactly what the previous call returned for
that parameter and never reuses an older one, so the state may be any object (a dict, a
tuple, an array) and may be updated in place. ``w`` and ``dw`` must not be modified; the
returned ``w_new`` has ``w``'s shape and dtype (float32 in, float32 out, as Keras keeps
a variable's dtype). Formulas (Keras')::

    sgd_momentum: v = momentum * v - lr * dw;  w_new = w + v
    nesterov:     v = momentum * v - lr * dw;  w_new = w + momentum * v - lr * dw
    rmsprop:      s = rho * s + (1 - rho) * dw**2;  w_new = w - lr * dw / sqrt(s + epsilon)
    adam:         t += 1;  m = beta_1 m + (1 - beta_1) dw;  v = beta_2 v + (1 - beta_2) dw**2
                  w_new = w - lr sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v) + epsilon)

The check runs each rule for 50 steps in the student's kernel
(``course_utils.grading.loops.rule_trajectory``: one round trip) and compares every step
with Keras: ``keras.optimizers.SGD(momentum=...)``, ``SGD(momentum, nesterov=True)``,
``RMSprop`` and ``Adam``. The references are ``course_utils.optim`` (momentum, nesterov,
rmsprop) run with Keras' float32 learning rate, and ``grader_tests._optim_reference.keras_adam``
(Adam's float32 step size); ``tests/grader/test_tuning_checks.py`` confirms that they ARE
Keras on float64 variables. Tolerance: |w_t - w_ref_t| <= 5e-5 × (the distance the
reference has moved the parameter by step t, summed over steps) + 1e-12; float32 weights
get one float32 rounding of the largest |w| per step on top. Keras' float32 learning rate
(relative 3e-8) and Adam's float32 beta powers (up to 1.4e-5 of a step) are far inside, so
a student computing exactly in float64, or in float32 on float32 weights, passes; a slip in
a formula (a factor, a missing bias correction, eps in the wrong place, a momentum applied
twice, a counter that runs wrong) is far outside.

A hint names such a slip only when the slip is confirmed: Keras' rule with that one thing
changed reproduces the student's trajectory at every one of the 50 steps (see
"explaining a difference" below). A step that merely looks like a slip (the first step,
where the bias correction or a zero state hides much) gives a hint that describes what
is seen and points to Keras' update equations.
"""

from __future__ import annotations

import numpy as np

from course_utils.grading import call_student, check, expect_callable, fail, reference, seal

from ._common import LOOPS, forbid_library, kwargs_text
from ._optimizer_hints import FORMULAS, _alone, _diagnose
from ._optimizer_reference import _STEPS, DEFAULTS, KERAS, _tolerances, reference_trajectory


# --- running the student's rule ---------------------------------------------------------
def _label(name: str, kwargs: dict, case: str) -> str:
    shown = kwargs_text(kwargs)
    return f"`{name}(w, dw, state{', ' + shown if shown else ''})` {case}"


def _trajectory(rule, name, params, grads, kwargs, label) -> list:
    run = call_student(reference(LOOPS, "rule_trajectory"), rule, params, grads, kwargs,
                       label=label)  # fmt: skip
    if run["problem"]:
        problem = run["problem"]
        hint = (
            "the rule is called as `w_new, state = rule(w, dw, state, **hyper)`, with state "
            "None the first time and afterwards what your rule returned; return a NEW w_new "
            "of w's shape (w and dw belong to the caller)"
        )
        if len(params) > 1:
            alone = [_alone(rule, name, params, grads, kwargs, i) for i in range(len(params))]
            if all(alone):
                hint = alone[0]
        fail(f"{label}: at {problem}\nHint: {hint}")
    return run["ws"]


def _compare(rule, name, params, grads, kwargs, case) -> None:
    label = _label(name, kwargs, case)
    got = _trajectory(rule, name, params, grads, kwargs, label)
    expected = reference_trajectory(name, params, grads, kwargs)
    for i, p0 in enumerate(params):
        p0 = np.asarray(p0)
        float32 = p0.dtype == np.float32
        tols = _tolerances(p0, [step[i] for step in expected], float32)
        for t, (now, want) in enumerate(zip(got, expected, strict=True), start=1):
            a = now[i]
            if a.dtype != p0.dtype:
                fail(_dtype_message(label, name, p0.dtype, a.dtype, t, i))
            if not np.all(np.isfinite(a)):
                fail(_not_finite(label, name, t, i, a, grads))
            diff = float(np.max(np.abs(a.astype(np.float64) - want[i]))) if a.size else 0.0
            if diff <= tols[t - 1]:
                continue
            msg = (
                f"{label}: after step {t}, parameter {i} differs from {KERAS[name]} by up to "
                f"{diff:.3g} (accepted: {tols[t - 1]:.3g})"
            )
            hint = _defaults(rule, name, params, grads) if not kwargs else ""
            hint = hint or _diagnose(rule, name, params, grads, kwargs, got, expected, t, i)
            fail(f"{msg}\nHint: {hint}")


def _defaults(rule, name, params, grads) -> str:
    """With Keras' defaults passed explicitly, is the rule right? Then its defaults are not."""
    given = DEFAULTS[name]
    run = call_student(reference(LOOPS, "rule_trajectory"), rule, params, grads, given)
    if run["problem"] or len(run["ws"]) != len(grads):
        return ""
    expected = reference_trajectory(name, params, grads, given)
    for i, p0 in enumerate(params):
        tols = _tolerances(np.asarray(p0), [s[i] for s in expected], p0.dtype == np.float32)
        for now, want, tol in zip(run["ws"], expected, tols, strict=True):
            if float(np.max(np.abs(now[i] - want[i]))) > tol:
                return ""
    return (
        f"called with {kwargs_text(given)} your rule follows Keras, so the formula is right "
        f"but a default is not: give the keyword arguments Keras' defaults, "
        f"{kwargs_text(given)}"
    )


def _dtype_message(label, name, want, got, t, i) -> str:
    return (
        f"{label}: after step {t}, parameter {i} came back as {got}, but w was {want}\nHint: "
        f"keep w's dtype, as Keras keeps a variable's: float32 weights stay float32. A state "
        f"made with np.zeros(w.shape) (float64) or a float64 constant array mixed into the "
        f"update upcasts float32 weights, np.float32(...) downcasts float64 ones: make the "
        f"state with np.zeros_like(w)"
    )


def _not_finite(label, name, t, i, a, grads) -> str:
    """A hint names a division by zero's cause only where the cause predicts exactly the
    entries that are not finite."""
    base = f"{label}: after step {t}, parameter {i} holds nan or inf"
    bad = ~np.isfinite(np.asarray(a, dtype=np.float64))
    if name == "adam" and t == 1 and np.all(bad):
        return (
            f"{base}\nHint: a division by zero: the bias correction divides by "
            f"1 - beta_1**t, which is 0 when t = 0: count the steps from 1 (t += 1 BEFORE "
            f"using t), keeping t in the state"
        )
    if name == "rmsprop":
        never = np.all([np.asarray(s[i]) == 0 for s in grads[:t]], axis=0)
        if np.any(bad) and np.array_equal(bad, never):
            return (
                f"{base}\nHint: a division by zero where the gradient (so the mean square s) "
                f"has been 0 at every step so far, and only there: Keras divides by "
                f"sqrt(s + epsilon)"
            )
    if name in ("sgd_momentum", "nesterov"):
        return f"{base}\nHint: the update blows up: check its sign and the factors on the velocity"
    return (
        f"{base}\nHint: a division by zero or an overflow at step {t}, on {int(bad.sum())} of "
        f"{bad.size} entries: compare your rule line by line with Keras' update equations: "
        f"{FORMULAS[name]}"
    )


# --- the cases --------------------------------------------------------------------------
def _gradients(rng, shape, steps=_STEPS, low=-7.0, high=0.0) -> list:
    """Gradients whose entries span sizes from 10**low to 10**high, both signs."""
    return [
        np.sign(rng.standard_normal(shape)) * 10 ** rng.uniform(low, high, shape)
        for _ in range(steps)
    ]


def _preamble(rule, name) -> None:
    expect_callable(rule, name)
    forbid_library(rule, name, "keep the state yourself and compute the update with NumPy")


def _visible(rule, name: str) -> None:
    _preamble(rule, name)
    rng = np.random.default_rng(7)
    hyper = {
        "sgd_momentum": {"lr": 0.05, "momentum": 0.8},
        "nesterov": {"lr": 0.05, "momentum": 0.8},
        "rmsprop": {"lr": 0.01, "rho": 0.8, "epsilon": 1e-6},
        "adam": {"lr": 0.01, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6},
    }[name]
    p0 = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) for _ in range(_STEPS)]
    _compare(rule, name, [p0], [[g] for g in grads], hyper, "(w of shape (3, 4))")
    p0 = rng.standard_normal(5)
    grads = _gradients(rng, 5)
    _compare(rule, name, [p0], [[g] for g in grads], {},
             "(defaults; gradient entries from 1e-7 to 1 in size)")  # fmt: skip
    p0 = rng.standard_normal((2, 3)).astype(np.float32)
    grads = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(_STEPS)]
    _compare(rule, name, [p0], [[g] for g in grads], hyper, "(float32 w and dw)")
    ps = [rng.standard_normal((2, 2)) for _ in range(2)]
    grads = [[rng.standard_normal((2, 2)) for _ in range(2)] for _ in range(_STEPS)]
    case = "(two parameters of shape (2, 2), stepped in turn, each with its own state)"
    _compare(rule, name, ps, grads, hyper, case)


def _hidden(rule, name: str, seed: int) -> None:
    _preamble(rule, name)
    rng = np.random.default_rng(seed)  # hidden values, the same at every regrade
    lr = float(10 ** rng.uniform(-3, -1))
    hyper = {
        "sgd_momentum": {"lr": lr, "momentum": float(rng.uniform(0.5, 0.99))},
        "nesterov": {"lr": lr, "momentum": float(rng.uniform(0.5, 0.99))},
        "rmsprop": {"lr": lr, "rho": float(rng.uniform(0.5, 0.99)),
                    "epsilon": float(10 ** rng.uniform(-8, -5))},
        "adam": {"lr": lr, "beta_1": float(rng.uniform(0.5, 0.95)),
                 "beta_2": float(rng.uniform(0.9, 0.9999)),
                 "epsilon": float(10 ** rng.uniform(-8, -5))},
    }[name]  # fmt: skip
    shapes = [(int(rng.integers(1, 6)), int(rng.integers(1, 6))), (int(rng.integers(1, 7)),)]
    ps = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) * 3 for s in shapes] for _ in range(_STEPS)]
    _compare(rule, name, ps, grads, hyper, f"(random shapes {shapes}, stepped in turn)")
    p0 = rng.standard_normal(6)
    grads = _gradients(rng, 6, low=-8, high=1)
    _compare(rule, name, [p0], [[g] for g in grads], hyper,
             "(gradient entries from 1e-8 to 10 in size)")  # fmt: skip
    p0 = rng.standard_normal(4)
    grads = [np.zeros(4) if s % 3 else rng.standard_normal(4) for s in range(_STEPS)]
    _compare(rule, name, [p0], [[g] for g in grads], hyper,
             "(a gradient that is 0 at two steps out of three)")  # fmt: skip
    p0 = rng.standard_normal((3, 3)).astype(np.float32)
    grads = [rng.standard_normal((3, 3)).astype(np.float32) for _ in range(_STEPS)]
    _compare(rule, name, [p0], [[g] for g in grads], hyper, "(float32 w and dw)")


@check
def check_sgd_momentum(sgd_momentum) -> None:
    """Visible: 50 steps equal to keras SGD(momentum=...): given hyper-parameters, the
    defaults, float32 weights, two parameters stepped in turn."""
    _visible(sgd_momentum, "sgd_momentum")


@check
def check_sgd_momentum_hidden(sgd_momentum) -> None:
    """Hidden: random hyper-parameters and shapes, gradients of every size, zero gradients."""
    _hidden(sgd_momentum, "sgd_momentum", 3101)


@check
def check_nesterov(nesterov) -> None:
    """Visible: 50 steps equal to keras SGD(momentum=..., nesterov=True)."""
    _visible(nesterov, "nesterov")


@check
def check_nesterov_hidden(nesterov) -> None:
    """Hidden: random hyper-parameters and shapes, gradients of every size, zero gradients."""
    _hidden(nesterov, "nesterov", 3102)


@check
def check_rmsprop(rmsprop) -> None:
    """Visible: 50 steps equal to keras RMSprop (epsilon inside the square root)."""
    _visible(rmsprop, "rmsprop")


@check
def check_rmsprop_hidden(rmsprop) -> None:
    """Hidden: random hyper-parameters and shapes, gradients of every size, zero gradients."""
    _hidden(rmsprop, "rmsprop", 3103)


@check
def check_adam(adam) -> None:
    """Visible: 50 steps equal to keras Adam (float32 step size, epsilon outside)."""
    _visible(adam, "adam")


@check
def check_adam_hidden(adam) -> None:
    """Hidden: random hyper-parameters and shapes, gradients of every size, zero gradients."""
    _hidden(adam, "adam", 3104)


seal(__name__)
