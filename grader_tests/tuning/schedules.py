"""Task 4 of 07_tuning: learning-rate schedules, each a factory of ``schedule(step) -> lr``.

The student's functions (arguments in this order; Keras' names where Keras has them)::

    step_decay(initial, decay_steps, factor=0.5)
        initial * factor ** floor(step / decay_steps)
    exponential_decay(initial, decay_steps, decay_rate, staircase=False)
        initial * decay_rate ** (step / decay_steps)   (floor of the exponent if staircase)
    polynomial_decay(initial, end, decay_steps, power, cycle=False)
        (initial - end) * (1 - min(step, decay_steps) / decay_steps) ** power + end;
        cycle=True: the horizon is decay_steps * ceil(step / decay_steps) (decay_steps at 0)
    cosine_decay(initial, decay_steps, alpha=0.0)
        initial * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps))
                   + alpha)

Each returns a function of the step number (an int >= 0, counted from 0 as Keras'
optimizers count) that returns the learning rate as a number. The references are
``keras.optimizers.schedules`` ExponentialDecay (with staircase), PolynomialDecay (with
cycle), CosineDecay (with alpha); ``step_decay`` is ExponentialDecay(staircase=True) with
``decay_rate=factor`` (the course's ``course_utils.schedules.step_decay``): the rate drops
AT step k * decay_steps. Keras' PiecewiseConstantDecay keeps ``values[k]`` while
``step <= boundaries[k]``, so it equals step_decay on integer steps with the boundaries
k * decay_steps - 1 (the self-tests check that). The values are compared with
``course_utils.schedules`` (float64) to 1e-5 relative plus 1e-7 × initial: Keras computes
in float32 (relative error below 1e-6, and an absolute float32 rounding of the initial rate
where ``1 + cos`` cancels near the end of a cosine decay; within a quarter of the tolerance,
confirmed by ``tests/grader/test_tuning_checks.py``), every slip of a
formula (an off-by-one in the staircase, floor vs round, a missing clamp or alpha, a cycle
that does not grow) is off by far more at some step of the ones tested: 0, within, exactly
at decay_steps, beyond it, and at and around multiples of decay_steps.
"""

from __future__ import annotations

import math

import numpy as np

from course_utils import schedules as ref
from course_utils.grading import call_student, check, describe_value, expect_callable, fail, seal

from ._common import forbid_library

_RTOL = 1e-5
_ATOL = 1e-12

SIGNATURES = {
    "step_decay": "step_decay(initial, decay_steps, factor=0.5)",
    "exponential_decay": "exponential_decay(initial, decay_steps, decay_rate, staircase=False)",
    "polynomial_decay": "polynomial_decay(initial, end, decay_steps, power, cycle=False)",
    "cosine_decay": "cosine_decay(initial, decay_steps, alpha=0.0)",
}


def tolerance(value: float, initial: float) -> float:
    """Accepted |yours - Keras'|: 1e-5 relative, plus 1e-7 of the initial rate (Keras'
    float32 cancellation in 1 + cos near the end of a cosine decay)."""
    return _RTOL * abs(value) + 1e-7 * abs(initial) + _ATOL


def reference_schedule(name: str, args: tuple, kwargs: dict):
    """The course's schedule for the student's arguments."""
    if name == "step_decay":
        return ref.step_decay(args[0], args[1], kwargs.get("factor", 0.5))
    if name == "exponential_decay":
        return ref.exponential_decay(*args, staircase=kwargs.get("staircase", False))
    if name == "polynomial_decay":
        initial, end, decay_steps, power = args
        return ref.polynomial_decay(initial, decay_steps, end_lr=end, power=power,
                                    cycle=kwargs.get("cycle", False))  # fmt: skip
    return ref.cosine_decay(args[0], args[1], alpha=kwargs.get("alpha", 0.0))


def keras_schedule(name: str, args: tuple, kwargs: dict):
    """The Keras schedule for the student's arguments (for the self-tests)."""
    from course_utils.environment import import_tensorflow

    import_tensorflow()
    import keras

    s = keras.optimizers.schedules
    if name == "step_decay":
        return s.ExponentialDecay(args[0], args[1], kwargs.get("factor", 0.5), staircase=True)
    if name == "exponential_decay":
        return s.ExponentialDecay(*args, staircase=kwargs.get("staircase", False))
    if name == "polynomial_decay":
        initial, end, decay_steps, power = args
        return s.PolynomialDecay(initial, decay_steps, end_learning_rate=end, power=power,
                                 cycle=kwargs.get("cycle", False))  # fmt: skip
    return s.CosineDecay(args[0], args[1], alpha=kwargs.get("alpha", 0.0))


def steps_for(decay_steps: int, cycle: bool = False) -> list[int]:
    """0, within, exactly at, just around and well past decay_steps and its multiples."""
    d = decay_steps
    steps = {0, 1, d // 3, d // 2, d - 1, d, d + 1, 2 * d - 1, 2 * d, 2 * d + 1, 3 * d, 5 * d + 3,
             10 * d}  # fmt: skip
    if cycle:
        steps |= {3 * d - 1, 3 * d + 1, 4 * d, 4 * d + d // 2}
    return sorted(s for s in steps if s >= 0)


# --- comparing --------------------------------------------------------------------------
def _value(v, label: str) -> float:
    try:
        arr = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.size != 1:
        fail(f"{label} returned {describe_value(v)}; expected a number (the learning rate)")
    return float(arr.reshape(()))


def _call_text(name, args, kwargs) -> str:
    shown = [f"{a:g}" for a in args] + [
        f"{k}={v!r}" if isinstance(v, bool) else f"{k}={v:g}" for k, v in kwargs.items()
    ]
    return f"{name}({', '.join(shown)})"


def _compare(factory, name, args, kwargs, case) -> None:
    call = _call_text(name, args, kwargs)
    label = f"`{call}`" + (f" {case}" if case else "")
    schedule = call_student(factory, *args, label=label, **kwargs)
    if not callable(schedule):
        fail(
            f"{label} returned {describe_value(schedule)}, not a function of the step\nHint: "
            f"{name} builds the schedule: return a function `schedule(step) -> lr` (define "
            f"it inside {name}, or return a lambda), which the optimiser calls at every step"
        )
    decay_steps = args[2] if name == "polynomial_decay" else args[1]
    steps = steps_for(decay_steps, cycle=bool(kwargs.get("cycle")))
    expected = reference_schedule(name, args, kwargs)
    got = {}
    for s in steps:
        got[s] = _value(call_student(schedule, s, label=f"`{call}({s})`"), f"`{call}({s})`")
    want = {s: expected(s) for s in steps}
    bad = [s for s in steps if not abs(got[s] - want[s]) <= tolerance(want[s], args[0])]
    if not bad:
        return
    rows = "\n  ".join(f"step {s:>4}: yours {got[s]:.6g}, Keras' {want[s]:.6g}" for s in bad[:4])
    hint = _diagnose(name, args, kwargs, got, want, decay_steps, schedule, call)
    fail(
        f"{label}: the learning rate differs from keras.optimizers.schedules at "
        f"{len(bad)} of {len(steps)} steps:\n  {rows}\nHint: {hint}"
    )


# --- explaining a difference ------------------------------------------------------------
def _diagnose(name, args, kwargs, got, want, d, schedule, call) -> str:
    initial = args[0]
    if not math.isclose(got[0], want[0], rel_tol=_RTOL, abs_tol=_ATOL):
        extra = ""
        if name == "exponential_decay" and math.isclose(got[0], initial / d, rel_tol=1e-6):
            extra = (
                " (yours is initial / decay_steps: ** binds tighter than /, so decay_rate ** "
                "step / decay_steps is (decay_rate ** step) / decay_steps; write decay_rate "
                "** (step / decay_steps))"
            )
        if name == "polynomial_decay" and math.isclose(got[0], args[1], rel_tol=1e-6):
            extra = " (yours starts at `end`: are initial and end swapped?)"
        if name == "cosine_decay" and math.isclose(got[0], initial * (1 + kwargs.get("alpha", 0)),
                                                   rel_tol=1e-6):  # fmt: skip
            extra = (
                " (yours is initial * (1 + alpha): alpha is added without the (1 - alpha) "
                "that scales the cosine)"
            )
        return f"at step 0 the rate must be initial = {initial:g}, yours is {got[0]:.6g}{extra}"
    return {
        "step_decay": _staircase,
        "exponential_decay": _exponential,
        "polynomial_decay": _polynomial,
        "cosine_decay": _cosine,
    }[name](args, kwargs, got, want, d, schedule, call)


def _staircase(args, kwargs, got, want, d, schedule, call) -> str:
    """Which exponent of the factor the student's rate follows on steps 0 .. 3 d + 1."""
    initial, rate = args[0], (args[2] if len(args) > 2 else kwargs.get("factor", 0.5))
    last = 3 * d + 1
    values = [_value(call_student(schedule, s), f"`{call}({s})`") for s in range(last + 1)]
    drops = [s for s in range(1, last + 1)
             if not math.isclose(values[s], values[s - 1], rel_tol=1e-9)]  # fmt: skip
    keras = [d, 2 * d, 3 * d]
    if drops == keras:
        return (
            "your rate drops at the right steps but to the wrong values: after k drops it is "
            "initial * factor ** k"
        )
    exps = [math.log(v / initial) / math.log(rate) if v > 0 else math.nan for v in values]
    candidates = {
        "changes at every step: a staircase keeps the rate for decay_steps steps, with the "
        "exponent floor(step / decay_steps), not step / decay_steps": lambda s: s / d,
        "drops one step late: the drop happens AT step k * decay_steps (floor(step / "
        "decay_steps)), not after it (step > boundary, or floor((step - 1) / ...))":
            lambda s: max(0, (s - 1) // d),
        "drops one step early: the drop happens AT step k * decay_steps, not before it":
            lambda s: (s + 1) // d,
        "drops at the first step of each period: ceil(step / decay_steps) where floor is "
        "meant": lambda s: math.ceil(s / d),
        "drops halfway through each period: round(step / decay_steps) where floor is meant":
            lambda s: round(s / d),
        "drops halfway through each period: floor(step / decay_steps + 0.5) where floor is "
        "meant": lambda s: math.floor(s / d + 0.5),
    }  # fmt: skip
    shown = ", ".join(str(s) for s in drops[:4]) or "none"
    for why, exponent in candidates.items():
        if all(math.isclose(e, exponent(s), abs_tol=1e-6) for s, e in enumerate(exps)):
            return (
                f"your rate {why} (yours drops at steps {shown}; Keras' at "
                f"{', '.join(map(str, keras))}, decay_steps = {d})"
            )
    return (
        f"your rate drops at steps {shown}; Keras' at {', '.join(map(str, keras))} "
        f"(decay_steps = {d}): the staircase exponent is floor(step / decay_steps)"
    )


def _exponential(args, kwargs, got, want, d, schedule, call) -> str:
    initial, _, rate = args
    if kwargs.get("staircase"):
        return _staircase(args, kwargs, got, want, d, schedule, call)
    steps = [s for s in got if 0 < s and got[s] > 0]
    exps = np.array([math.log(got[s] / initial) / math.log(rate) for s in steps])
    p = np.array([s / d for s in steps])
    if np.allclose(exps, np.floor(p), atol=1e-6):
        return (
            "your rate only changes at multiples of decay_steps: that is staircase=True; "
            "with staircase=False the exponent is step / decay_steps itself"
        )
    c = float(np.dot(exps, p) / np.dot(p, p))
    if np.allclose(exps, c * p, rtol=1e-6, atol=1e-9):
        if math.isclose(c, d, rel_tol=1e-6):
            what = "decay_steps times too large: step where step / decay_steps is meant"
        elif math.isclose(c, -rate / math.log(rate), rel_tol=1e-6):
            what = (
                "that is initial * exp(-decay_rate * step / decay_steps): decay_rate is the "
                "factor per decay_steps steps, initial * decay_rate ** (step / decay_steps)"
            )
        else:
            what = "a factor in the exponent"
        return f"your exponent of decay_rate is {c:.6g} × step / decay_steps: {what}"
    return "the rate must be initial * decay_rate ** (step / decay_steps)"


def _polynomial(args, kwargs, got, want, d, schedule, call) -> str:
    initial, end, _, power = args
    cycle = bool(kwargs.get("cycle"))
    beyond = [s for s in got if s > d]
    if not cycle:
        off = [s for s in beyond if not math.isclose(got[s], end, rel_tol=_RTOL, abs_tol=_ATOL)]
        if off:
            return (
                f"past decay_steps = {d} the rate must stay at end = {end:g} (yours at step "
                f"{off[0]} is {got[off[0]]:.6g}): clamp the step, min(step, decay_steps)"
            )
        within = [s for s in got if 0 < s < d]
        q = np.array([1 - s / d for s in within])
        f = np.array([(got[s] - end) / (initial - end) for s in within])
        if np.all(f > 0):
            powers = np.log(f) / np.log(q)
            if np.allclose(powers, powers[0], rtol=1e-4):
                return (
                    f"your rate decays like (1 - step / decay_steps) ** {powers[0]:.4g}, where "
                    f"power = {power:g} is asked: raise the fraction to `power`, then scale by "
                    f"(initial - end) and add end"
                )
        return "the rate must be (initial - end) * (1 - step / decay_steps) ** power + end"
    horizons = []
    for s in sorted(beyond):
        if s % d == 0:
            continue
        f = (got[s] - end) / (initial - end)
        if not 0 <= f < 1:
            horizons.append((s, None))
            continue
        horizons.append((s, s / (1 - f ** (1 / power))))
    if horizons:
        s, h = horizons[0]
        keras_h = d * math.ceil(s / d)
        if h is None or not math.isclose(h, keras_h, rel_tol=1e-4):
            yours = "no horizon of this formula" if h is None else f"a horizon of {h:.6g}"
            restart = ""
            if math.isclose(got[s], _restarted(initial, end, d, power, s), rel_tol=1e-6):
                restart = (
                    " (yours starts again from `initial` at every multiple, as if step were "
                    "step % decay_steps)"
                )
            return (
                f"with cycle=True, at step {s} yours has {yours}, Keras' horizon is "
                f"decay_steps * ceil(step / decay_steps) = {keras_h}{restart}: the horizon "
                f"GROWS to the next multiple of decay_steps, so the rate jumps back up only "
                f"partway, and decays over the whole longer horizon"
            )
    at = [s for s in beyond if s % d == 0]
    if at:
        s = at[0]
        return (
            f"with cycle=True, at step {s} (a multiple of decay_steps) Keras' horizon is {s} "
            f"itself, so the rate is end = {end:g}; yours is {got[s]:.6g}: the horizon is "
            f"decay_steps * ceil(step / decay_steps), and decay_steps only at step 0"
        )
    return "with cycle=True the horizon is decay_steps * ceil(step / decay_steps)"


def _restarted(initial, end, d, power, s) -> float:
    """The rate of a cycle that restarts from ``initial``: step % decay_steps."""
    return (initial - end) * (1 - (s % d) / d) ** power + end


def _cosine(args, kwargs, got, want, d, schedule, call) -> str:
    initial = args[0]
    alpha = kwargs.get("alpha", 0.0)
    within = [s for s in got if s < d]
    beyond = sorted(s for s in got if s >= d)
    floor = initial * alpha

    def close(a, b):
        return math.isclose(a, b, rel_tol=_RTOL, abs_tol=_ATOL)

    def cosine(s):
        return 0.5 * (1 + math.cos(math.pi * min(s, d) / d))

    if all(close(got[s], 0.0) for s in beyond) and all(
        close(got[s], initial * cosine(s)) for s in within
    ):
        return (
            f"from step decay_steps = {d} on, the rate must stay at initial * alpha = "
            f"{floor:.6g}; yours is 0: alpha is ignored (initial * ((1 - alpha) * cosine + "
            f"alpha))"
        )
    if all(close(got[s], alpha) for s in beyond):
        return (
            f"yours ends at alpha = {alpha:g} itself; Keras' at initial * alpha = "
            f"{floor:.6g}: alpha is a FRACTION of initial"
        )
    if all(close(got[s], want[s]) for s in within):
        s = next(s for s in beyond if not close(got[s], want[s]))
        return (
            f"from step decay_steps = {d} on, the rate must stay at initial * alpha = "
            f"{floor:.6g} (yours at step {s} is {got[s]:.6g}): clamp the step, "
            f"min(step, decay_steps), or the cosine rises again"
        )
    if d // 2 in got and close(got[d // 2], floor) and not close(want[d // 2], floor):
        return (
            f"your rate is already at its floor initial * alpha at step {d // 2}, half of "
            f"decay_steps: a full cosine period, cos(2 pi step / decay_steps); CosineDecay "
            f"goes down over half a cosine period, cos(pi * step / decay_steps)"
        )
    return (
        "within decay_steps the rate must be initial * ((1 - alpha) * 0.5 * (1 + cos(pi * "
        "step / decay_steps)) + alpha): half a cosine period over decay_steps"
    )


# --- the cases --------------------------------------------------------------------------
def cases(name: str, hidden: bool) -> list[tuple[tuple, dict, str]]:
    """(args, kwargs, description) of the visible or hidden cases of ``name``."""
    if not hidden:
        table = {
            "step_decay": [((0.1, 10), {"factor": 0.5}, ""), ((0.05, 7), {}, "(default factor)")],
            "exponential_decay": [((0.1, 10, 0.5), {}, ""),
                                  ((0.1, 10, 0.5), {"staircase": True}, "")],
            "polynomial_decay": [((0.1, 0.001, 10, 2.0), {}, ""),
                                 ((0.1, 0.001, 10, 2.0), {"cycle": True}, "")],
            "cosine_decay": [((0.2, 12), {"alpha": 0.1}, ""), ((0.2, 12), {}, "(default alpha)")],
        }  # fmt: skip
        return table[name]
    rng = np.random.default_rng({"step_decay": 4101, "exponential_decay": 4102,
                                 "polynomial_decay": 4103, "cosine_decay": 4104}[name])  # fmt: skip
    initial = float(10 ** rng.uniform(-3, 0))
    d = int(rng.integers(5, 40))
    if name == "step_decay":
        return [((initial, d), {"factor": float(rng.uniform(0.1, 0.9))}, "")]
    if name == "exponential_decay":
        rate = float(rng.uniform(0.1, 0.95))
        return [((initial, d, rate), {}, ""), ((initial, d, rate), {"staircase": True}, "")]
    if name == "polynomial_decay":
        end, power = initial * float(rng.uniform(0.0, 0.3)), float(rng.uniform(0.5, 3.0))
        return [((initial, end, d, power), {}, ""), ((initial, end, d, power), {"cycle": True}, ""),
                ((initial, 0.0, d, 1.0), {"cycle": True}, "(linear, to 0)")]  # fmt: skip
    return [((initial, d), {"alpha": float(rng.uniform(0.05, 0.5))}, "")]


def _run(factory, name: str, hidden: bool) -> None:
    expect_callable(factory, name)
    forbid_library(factory, name, "compute the rate with math/NumPy from the step")
    for args, kwargs, case in cases(name, hidden):
        _compare(factory, name, args, kwargs, case)


@check
def check_step_decay(step_decay) -> None:
    """Visible: equal to Keras ExponentialDecay(staircase=True) at steps 0 .. 10 decay_steps."""
    _run(step_decay, "step_decay", hidden=False)


@check
def check_step_decay_hidden(step_decay) -> None:
    """Hidden: random initial, decay_steps, factor."""
    _run(step_decay, "step_decay", hidden=True)


@check
def check_exponential_decay(exponential_decay) -> None:
    """Visible: equal to Keras ExponentialDecay, continuous and staircase."""
    _run(exponential_decay, "exponential_decay", hidden=False)


@check
def check_exponential_decay_hidden(exponential_decay) -> None:
    """Hidden: random initial, decay_steps, decay_rate."""
    _run(exponential_decay, "exponential_decay", hidden=True)


@check
def check_polynomial_decay(polynomial_decay) -> None:
    """Visible: equal to Keras PolynomialDecay, with and without cycle, past decay_steps."""
    _run(polynomial_decay, "polynomial_decay", hidden=False)


@check
def check_polynomial_decay_hidden(polynomial_decay) -> None:
    """Hidden: random initial, end, decay_steps, power; cycle; linear decay to 0."""
    _run(polynomial_decay, "polynomial_decay", hidden=True)


@check
def check_cosine_decay(cosine_decay) -> None:
    """Visible: equal to Keras CosineDecay with alpha and the default alpha = 0."""
    _run(cosine_decay, "cosine_decay", hidden=False)


@check
def check_cosine_decay_hidden(cosine_decay) -> None:
    """Hidden: random initial, decay_steps, alpha."""
    _run(cosine_decay, "cosine_decay", hidden=True)


seal(__name__)
