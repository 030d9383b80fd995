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
"""

from __future__ import annotations

import math

import numpy as np

from course_utils import optim
from course_utils.grading import (
    call_student,
    check,
    expect_callable,
    explain_difference,
    fail,
    name_factor,
    reference,
    seal,
)

from .._optim_reference import adam_first_step_structure, exact_adam, keras_adam
from ._common import LOOPS, forbid_library, kwargs_text

_STEPS = 50
_TOL = 5e-5
_F32_EPS = float(np.finfo(np.float32).eps)

DEFAULTS = {
    "sgd_momentum": {"lr": 0.01, "momentum": 0.9},
    "nesterov": {"lr": 0.01, "momentum": 0.9},
    "rmsprop": {"lr": 0.001, "rho": 0.9, "epsilon": 1e-7},
    "adam": {"lr": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
}
KERAS = {
    "sgd_momentum": "keras.optimizers.SGD(momentum=...)",
    "nesterov": "keras.optimizers.SGD(momentum=..., nesterov=True)",
    "rmsprop": "keras.optimizers.RMSprop",
    "adam": "keras.optimizers.Adam",
}


# --- the reference ----------------------------------------------------------------------
def reference_trajectory(name: str, params, grads, kwargs) -> list:
    """Keras' trajectory of every parameter: ``[[w_i after step t] for each step]``."""
    hyper = {**DEFAULTS[name], **kwargs}
    lr32 = float(np.float32(hyper["lr"]))  # Keras' learning rate is a float32 variable
    if name == "adam":
        per_param = [
            keras_adam([p], [[s[i]] for s in grads], hyper["lr"], hyper["beta_1"],
                       hyper["beta_2"], hyper["epsilon"])
            for i, p in enumerate(params)
        ]  # fmt: skip
        return [[per_param[i][t][0] for i in range(len(params))] for t in range(len(grads))]
    rule = {"sgd_momentum": optim.momentum, "nesterov": optim.nesterov,
            "rmsprop": optim.rmsprop}[name]  # fmt: skip
    rest = {k: v for k, v in hyper.items() if k != "lr"}
    ws = [np.array(p, dtype=np.float64) for p in params]
    states: list = [None] * len(ws)
    out = []
    for step in grads:
        for i, g in enumerate(step):
            ws[i], states[i] = rule(ws[i], np.asarray(g, dtype=np.float64), states[i],
                                    lr=lr32, **rest)  # fmt: skip
        out.append([w.copy() for w in ws])
    return out


def _tolerances(p0: np.ndarray, ref: list, float32: bool) -> np.ndarray:
    """Accepted |w_t - w_ref_t| for t = 1..T (see the module docstring)."""
    prev, path, out = np.asarray(p0, dtype=np.float64), 0.0, []
    scale = float(np.max(np.abs(p0))) if np.size(p0) else 0.0
    for t, now in enumerate(ref, start=1):
        path += float(np.max(np.abs(now - prev))) if np.size(now) else 0.0
        prev = now
        extra = t * 2 * _F32_EPS * (scale + path) if float32 else 0.0
        out.append(_TOL * path + extra + 1e-12)
    return np.array(out)


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
                fail(_not_finite(label, name, t, i))
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


def _not_finite(label, name, t, i) -> str:
    base = f"{label}: after step {t}, parameter {i} holds nan or inf"
    if name == "adam":
        return (
            f"{base}\nHint: a division by zero: the bias correction divides by "
            f"1 - beta_1**t, which is 0 when t = 0: count the steps from 1 (t += 1 BEFORE "
            f"using t), keeping t in the state"
        )
    if name == "rmsprop":
        return (
            f"{base}\nHint: a division by zero where the gradient (so the mean square s) is 0: "
            f"Keras divides by sqrt(s + epsilon)"
        )
    return f"{base}\nHint: the update blows up: check its sign and the factors on the velocity"


# --- explaining a difference ------------------------------------------------------------
def _diagnose(rule, name, params, grads, kwargs, got, expected, t, i) -> str:
    hyper = {**DEFAULTS[name], **kwargs}
    p0 = np.asarray(params[i], dtype=np.float64)
    if len(params) > 1:
        alone = _alone(rule, name, params, grads, kwargs, i)
        if alone:
            return alone
    before = p0 if t == 1 else got[t - 2][i].astype(np.float64)
    before_exp = p0 if t == 1 else expected[t - 2][i]
    step_got = got[t - 1][i].astype(np.float64) - before
    step_exp = expected[t - 1][i] - before_exp
    if name == "adam":
        no_bc = exact_adam([p0], [[s[i]] for s in grads], hyper["lr"], hyper["beta_1"],
                           hyper["beta_2"], hyper["epsilon"], bias_correction=False)  # fmt: skip
        if np.allclose(got[-1][i], no_bc[-1][0], rtol=1e-6, atol=1e-12):
            return (
                "your trajectory is Adam WITHOUT bias correction: use lr_t = lr * "
                "sqrt(1 - beta_2**t) / (1 - beta_1**t), with t the number of steps so far"
            )
    if t == 1:
        return _first_step(name, hyper, step_got, step_exp, np.asarray(grads[0][i], float))
    later = {"sgd_momentum": _carried_velocity, "nesterov": _carried_velocity,
             "rmsprop": _carried_mean_square, "adam": _carried_adam}[name]  # fmt: skip
    return later(rule, name, hyper, params, grads, kwargs, got, t, i) or (
        "the first step is right, so the update formula is, but what the state carries from "
        "call to call is not: return every quantity the rule remembers (velocity, moments, "
        "step count) in the state, and start from the state you are given"
    )


def _alone(rule, name, params, grads, kwargs, i) -> str:
    """Parameter ``i`` stepped alone: if that is right, the parameters share state."""
    one = [params[i]]
    steps = [[s[i]] for s in grads]
    run = call_student(reference(LOOPS, "rule_trajectory"), rule, one, steps, kwargs)
    if run["problem"] or len(run["ws"]) != len(steps):
        return ""
    ref = reference_trajectory(name, one, steps, kwargs)
    tols = _tolerances(np.asarray(one[0]), [r[0] for r in ref], one[0].dtype == np.float32)
    if all(
        float(np.max(np.abs(w[0] - r[0]))) <= tol
        for w, r, tol in zip(run["ws"], ref, tols, strict=True)
    ):
        return (
            f"stepped ALONE, parameter {i} follows Keras, but stepped in turn with another "
            f"parameter (each with its own state) it does not: one parameter's update "
            f"depends on the other's. Keep everything the rule remembers in the state it "
            f"returns: no global variables, no mutable default argument (state={{}}), "
            f"no attribute on the function"
        )
    return ""


def _factors(name: str, hyper: dict) -> dict:
    if name in ("sgd_momentum", "nesterov"):
        m = hyper["momentum"]
        return {"momentum": m, "1 - momentum": 1 - m, "1 + momentum": 1 + m,
                "1 / (1 + momentum)": 1 / (1 + m), "lr": hyper["lr"]}  # fmt: skip
    if name == "rmsprop":
        rho = hyper["rho"]
        return {"lr": hyper["lr"], "sqrt(1 - rho)": math.sqrt(1 - rho), "1 - rho": 1 - rho,
                "sqrt((1 - rho) / rho)": math.sqrt((1 - rho) / rho)}  # fmt: skip
    b1, b2 = hyper["beta_1"], hyper["beta_2"]
    return {"lr": hyper["lr"], "1 - beta_1": 1 - b1, "sqrt(1 - beta_2)": math.sqrt(1 - b2),
            "(1 - beta_1) / sqrt(1 - beta_2)": (1 - b1) / math.sqrt(1 - b2)}  # fmt: skip


def _first_step(name, hyper, step, expected, g) -> str:
    lr = hyper["lr"]
    first = f"already the FIRST step is wrong (size {np.abs(expected).max():.3g} expected): "
    if np.allclose(step, -expected, rtol=1e-4, atol=1e-15):
        return first + (
            "it goes uphill, exactly against Keras' step: the sign of the update is flipped "
            "(velocity = momentum * velocity - lr * dw, then w + velocity; or w - lr * ...)"
        )
    if name == "nesterov" and np.allclose(step, -lr * g, rtol=1e-4, atol=1e-15):
        m = hyper["momentum"]
        return first + (
            f"it is -lr * dw, plain momentum's first step; Nesterov's is -(1 + momentum) lr dw "
            f"= {-(1 + m):g} lr dw: the update adds the look-ahead momentum * v_new to the "
            f"step (w + momentum * v_new - lr * dw), not just v"
        )
    if name in ("rmsprop", "adam"):
        if np.allclose(step, -lr * g, rtol=1e-4, atol=1e-15):
            return first + "it is -lr * dw: plain SGD, the running averages are not used"
        hint = _eps_pattern(name, step, expected, g)
        if not hint and name == "rmsprop":
            hint = _rmsprop_first_step(step, g, hyper)
        if not hint and name == "adam":
            hint = adam_first_step_structure(step, g, lr, hyper["epsilon"])
        if hint:
            return first + hint
    hint = _constant_factor(step, expected, _factors(name, hyper))
    if hint:
        return first + hint
    sentences = explain_difference(step, expected, factors=_factors(name, hyper))
    if sentences:
        return first + sentences[0]
    return (
        first
        + {
            "sgd_momentum": "with v = 0 at the start, it must be v = -lr * dw, w + v",
            "nesterov": "with v = 0 at the start, it must be -(1 + momentum) lr dw",
            "rmsprop": "with s = 0 at the start, it must be -lr dw / sqrt((1 - rho) dw² + eps)",
            "adam": "at t = 1 it must be about -lr sign(dw)",
        }[name]
    )


def _constant_factor(step, expected, factors) -> str:
    """``step`` = c × ``expected`` on the entries where eps plays no part (the larger half)."""
    ok = np.abs(expected) > 0
    if ok.sum() < 2:
        return ""
    order = np.argsort(-np.abs(expected[ok]))
    top = order[: max(2, len(order) // 2)]
    ratio = step[ok][top] / expected[ok][top]
    c = float(np.median(ratio))
    if not np.allclose(ratio, c, rtol=1e-3) or abs(c - 1) < 1e-3:
        return ""
    for label, value in factors.items():
        if abs(c - value) <= 1e-3 * abs(value):
            return f"it is {label} = {c:.4g} × Keras' step, on every entry"
        if value and abs(c - 1 / value) <= 1e-3 / abs(value):
            return f"it is 1 / ({label}) = {c:.4g} × Keras' step, on every entry"
    return f"it is {c:.4g} × Keras' step, on every entry: a constant factor too many or missing"


def _eps_pattern(name, step, expected, g) -> str:
    """Right where |dw| is large, off more the smaller |dw|: that is where epsilon acts."""
    ok = (np.abs(g) > 0) & (np.abs(expected) > 0)
    if ok.sum() < 3:
        return ""
    size = np.abs(g[ok])
    rel = np.abs(step[ok]) / np.abs(expected[ok]) - 1.0
    large = np.zeros(size.shape, dtype=bool)
    large[np.argsort(-size)[: max(2, size.size // 3)]] = True
    if np.max(np.abs(rel[large])) > 1e-3 or np.max(np.abs(rel)) < 1e-6:
        return ""
    if np.std(np.abs(rel)) == 0:
        return ""
    rank_rel = np.argsort(np.argsort(np.abs(rel)))
    rank_small = np.argsort(np.argsort(-size))
    if float(np.corrcoef(rank_rel, rank_small)[0, 1]) < 0.7:
        return ""
    bigger = float(np.median(rel[~large])) > 0
    where = ("Keras' RMSprop puts epsilon INSIDE the square root, sqrt(s + epsilon)"
             + (" (you add it outside, sqrt(s) + epsilon, which is much smaller)" if bigger
                else "") + "; Adam, unlike RMSprop, adds it to sqrt(v)")  # fmt: skip
    if name == "adam":
        where = (
            "Keras adds eps to sqrt(v) itself: w - lr_t * m / (sqrt(v) + eps), not "
            "sqrt(v + eps), and not to the bias-corrected sqrt(v_hat)"
        )
    return (
        "it agrees with Keras where |dw| is large and is off more, the smaller |dw|: that "
        f"is where eps acts. {where}"
    )


def _rmsprop_first_step(step, g, hyper) -> str:
    """RMSprop's first step is -lr g / sqrt((1 - rho) g² + eps): the size of each entry
    against the size of its gradient tells where a formula went wrong."""
    lr, rho, eps = hyper["lr"], hyper["rho"], hyper["epsilon"]
    if not np.all((np.sign(step) == -np.sign(g)) | (g == 0)):
        return "some entries do not go against their gradient's sign"
    big = np.abs(g) > 30 * math.sqrt(eps / (1 - rho))  # eps does not matter there
    if big.sum() >= 2:
        size = np.abs(step[big]) / lr
        slope = float(np.polyfit(np.log(np.abs(g[big])), np.log(size), 1)[0])
        if abs(slope) > 0.05:
            return (
                f"for large gradients the size of your step grows like |dw|^{slope:.2f}, "
                f"where Keras' does not depend on |dw| (dw / sqrt((1 - rho) dw²)): the update "
                f"divides dw by the square ROOT of the running mean of dw**2"
            )
    return ""


def _probe_zero_gradient(rule, hyper):
    """(first step, second step): one call with dw = g from state None at w = 0, then one
    with dw = 0 and the returned state."""
    g = np.linspace(-1.0, 1.0, 6).reshape(2, 3) + 0.05
    w0 = np.zeros_like(g)
    kwargs = dict(hyper)
    w1, state = call_student(rule, w0, g, None, **kwargs)
    w2, _ = call_student(rule, np.asarray(w1, dtype=np.float64), np.zeros_like(g), state, **kwargs)
    return np.asarray(w1, float) - w0, np.asarray(w2, float) - np.asarray(w1, float)


def _carried_velocity(rule, name, hyper, params, grads, kwargs, got, t, i) -> str:
    m = hyper["momentum"]
    try:
        s1, s2 = _probe_zero_gradient(rule, hyper)
    except AssertionError:
        return ""
    want = m if name == "sgd_momentum" else m * m / (1 + m)
    denom = float(np.dot(s1.ravel(), s1.ravel()))
    if denom == 0:
        return ""
    r = float(np.dot(s2.ravel(), s1.ravel())) / denom
    if not np.allclose(s2, r * s1, rtol=1e-6, atol=1e-15):
        return ""
    if abs(r - want) <= 1e-6 * max(abs(want), 1e-12):
        return ""
    what = "momentum" if name == "sgd_momentum" else "momentum² / (1 + momentum)"
    if abs(r) < 1e-12:
        return (
            "the first step is right, but with a zero gradient your next step is 0: the "
            "velocity is not carried from call to call. Return the new velocity in the state "
            "and start from the velocity in the state you are given (zeros when it is None)"
        )
    label = name_factor(r, {"momentum": m, "momentum²": m * m, "1 - momentum": 1 - m,
                            "momentum³": m**3})[0]  # fmt: skip
    return (
        f"the first step is right, but with a zero gradient your next step is "
        f"{label or format(r, '.4g')} × the previous one, where Keras' is {what} "
        f"= {want:.4g} × it: what the velocity carries over is wrong (v = momentum * v "
        f"- lr * dw, with momentum applied once per step, to the velocity in the state; the "
        f"state is the velocity v itself, not the step you applied to w)"
    )


def _carried_mean_square(rule, name, hyper, params, grads, kwargs, got, t, i) -> str:
    """Infer the mean square s the student divided by at step t from the step itself."""
    lr, rho, eps = hyper["lr"], hyper["rho"], hyper["epsilon"]
    g = np.asarray(grads[t - 1][i], dtype=np.float64)
    before = np.asarray(params[i], float) if t == 1 else got[t - 2][i].astype(float)
    step = got[t - 1][i].astype(float) - before
    ok = np.abs(step) > 0
    if not ok.any():
        return ""
    s_got = (lr * g[ok] / step[ok]) ** 2 - eps
    fresh = (1 - rho) * g[ok] ** 2
    if np.allclose(s_got, fresh, rtol=1e-3, atol=1e-12):
        return (
            f"the first step is right, but at step {t} you divide by the mean square of "
            f"THIS gradient alone, (1 - rho) dw²: s is not carried from call to call. "
            f"Return the new s in the state and start from the s in the state you are given"
        )
    return ""


def _carried_adam(rule, name, hyper, params, grads, kwargs, got, t, i) -> str:
    return _adam_counter(hyper, params, got, grads, i) or _adam_moments(rule, hyper)


def _adam_moments(rule, hyper) -> str:
    """A second step with a zero gradient: m and v only decay, so its size against the
    first step's shows what the state carries."""
    try:
        s1, s2 = _probe_zero_gradient(rule, hyper)
    except AssertionError:
        return ""
    g = np.linspace(-1.0, 1.0, 6).reshape(2, 3) + 0.05
    ref = keras_adam([np.zeros_like(g)], [[g], [np.zeros_like(g)]], hyper["lr"],
                     hyper["beta_1"], hyper["beta_2"], hyper["epsilon"])  # fmt: skip
    k1, k2 = ref[0][0], ref[1][0] - ref[0][0]
    if not np.allclose(s1, k1, rtol=1e-4) or np.allclose(s2, k2, rtol=1e-4, atol=1e-15):
        return ""
    r, r_keras = float(np.median(s2 / s1)), float(np.median(k2 / k1))
    return (
        f"the first step is right, but with a zero gradient at the second step (m and v only "
        f"decay) your step is {r:.4g} × the first, Keras' {r_keras:.4g} ×: what m and v carry "
        f"from call to call is wrong. Keep the raw moments in the state, m = beta_1 m + "
        f"(1 - beta_1) dw and v = beta_2 v + (1 - beta_2) dw**2 (not the bias-corrected m_hat, "
        f"v_hat, which are recomputed from them at every step)"
    )


def _adam_counter(hyper, params, got, grads, i) -> str:
    """Infer the step counter from the step size: with m and v computed exactly, the step
    is -lr_t m / (sqrt(v) + eps) and lr_t tells which t the bias correction used."""
    lr, b1, b2, eps = hyper["lr"], hyper["beta_1"], hyper["beta_2"], hyper["epsilon"]
    p0 = np.asarray(params[i], dtype=np.float64)
    m = v = np.zeros_like(p0)
    used = []
    for s in range(1, min(len(got), 6) + 1):
        g = np.asarray(grads[s - 1][i], dtype=np.float64)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        before = p0 if s == 1 else got[s - 2][i].astype(float)
        step = got[s - 1][i].astype(float) - before
        direction = m / (np.sqrt(v) + eps)
        d = direction.ravel()
        alpha = -float(np.dot(step.ravel(), d) / np.dot(d, d))
        if not np.allclose(step, -alpha * direction, rtol=1e-4, atol=1e-15):
            return ""
        lr_t = [lr * math.sqrt(1 - b2**k) / (1 - b1**k) for k in range(1, 400)]
        k = int(np.argmin([abs(a - alpha) for a in lr_t])) + 1
        if abs(lr_t[k - 1] - alpha) > 1e-4 * alpha:
            return ""
        used.append(k)
    if len(used) < 2 or used == list(range(1, len(used) + 1)):
        return ""
    shown = ", ".join(str(k) for k in used)
    return (
        f"m and v are right, but the step size is not: at steps 1..{len(used)} your bias "
        f"correction uses t = {shown}: the step counter runs wrong. t counts the calls for "
        f"this parameter: 1 at the first, one more at each, kept in the state"
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
