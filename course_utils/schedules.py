"""Learning-rate schedules: callables ``schedule(step) -> lr``.

Each factory returns a :class:`Schedule`, a small callable object with a readable
``repr``. The formulas and arguments follow ``keras.optimizers.schedules`` exactly
(``ExponentialDecay``, ``InverseTimeDecay``, ``PolynomialDecay``,
``PiecewiseConstantDecay``, ``CosineDecay``), so a notebook can compare the two side by
side; the values agree with Keras to float32 precision (Keras computes in float32, these
in float64).

``step`` is whatever the caller counts: the optimiser passes its iteration count
(0 for the first update, as Keras does); ``train.fit(schedule=...)`` passes the epoch
index (0 for the first epoch).

Example:
    >>> sched = exponential_decay(0.1, decay_steps=100, decay_rate=0.5)
    >>> sched(0), sched(100), sched(200)
    (0.1, 0.05, 0.025)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

__all__ = [
    "Schedule",
    "constant",
    "step_decay",
    "piecewise_constant",
    "exponential_decay",
    "inverse_time_decay",
    "polynomial_decay",
    "cosine_decay",
]


class Schedule:
    """A learning-rate schedule: ``schedule(step) -> lr`` (a Python float).

    Args:
        fn: the formula, called with a validated float ``step >= 0``.
        name: the factory name, shown in ``repr``.
        **config: the arguments the schedule was built with (``get_config``).
    """

    def __init__(self, fn: Callable[[float], float], name: str, **config):
        self._fn = fn
        self.name = name
        self.config = config

    def __call__(self, step) -> float:
        return float(self._fn(_check_step(step)))

    def get_config(self) -> dict:
        return dict(self.config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{self.name}({args})"


# --- validation -------------------------------------------------------------------------
def _check_step(step) -> float:
    if isinstance(step, bool) or not isinstance(step, numbers.Real):
        raise ValueError(f"step: expected a number >= 0, got {step!r}")
    s = float(step)
    if not s >= 0 or math.isinf(s):
        raise ValueError(f"step: expected a finite number >= 0, got {step!r}")
    return s


def _check_lr(value, name: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    v = float(value)
    ok = (v >= 0 if allow_zero else v > 0) and math.isfinite(v)
    if not ok:
        want = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}: expected a finite number {want}, got {value!r}")
    return v


def _check_steps(value, name: str) -> float:
    """Keras allows float decay steps; they must be > 0."""
    return _check_lr(value, name)


# --- schedules --------------------------------------------------------------------------
def constant(lr: float) -> Schedule:
    """``lr(step) = lr``.

    Args:
        lr: the learning rate, > 0.
    """
    lr = _check_lr(lr, "lr")
    return Schedule(lambda step: lr, "constant", lr=lr)


def step_decay(lr0: float, step_size: int, factor: float = 0.5) -> Schedule:
    """``lr(step) = lr0 * factor ** floor(step / step_size)``: divide every ``step_size`` steps.

    The same as ``exponential_decay(lr0, step_size, factor, staircase=True)`` (Keras:
    ``ExponentialDecay(..., staircase=True)``); for arbitrary boundaries use
    :func:`piecewise_constant`.

    Args:
        lr0: initial learning rate, > 0.
        step_size: number of steps between two drops, > 0.
        factor: multiplier applied at each drop, in (0, 1].
    """
    lr0 = _check_lr(lr0, "lr0")
    step_size = _check_steps(step_size, "step_size")
    factor = _check_lr(factor, "factor")
    if factor > 1:
        raise ValueError(f"factor: expected a number in (0, 1], got {factor!r}")
    return Schedule(
        lambda step: lr0 * factor ** math.floor(step / step_size),
        "step_decay",
        lr0=lr0,
        step_size=step_size,
        factor=factor,
    )


def piecewise_constant(boundaries: Sequence[float], values: Sequence[float]) -> Schedule:
    """Piecewise constant, as Keras ``PiecewiseConstantDecay(boundaries, values)``.

    ``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after the last boundary.

    Args:
        boundaries: strictly increasing step numbers, length K >= 1.
        values: learning rates, length K + 1, each >= 0.
    """
    try:
        bounds = [float(b) for b in boundaries]
        vals = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(
            f"boundaries/values: expected sequences of numbers, got {boundaries!r}, {values!r}"
        ) from None
    if not bounds:
        raise ValueError("boundaries: expected at least one boundary, got []")
    if len(vals) != len(bounds) + 1:
        raise ValueError(
            f"values: expected len(boundaries) + 1 = {len(bounds) + 1} values, got {len(vals)}"
        )
    if any(b1 <= b0 for b0, b1 in zip(bounds, bounds[1:], strict=False)):
        raise ValueError(f"boundaries: expected strictly increasing numbers, got {bounds}")
    for v in vals:
        _check_lr(v, "values", allow_zero=True)

    def fn(step: float) -> float:
        for b, v in zip(bounds, vals, strict=False):
            if step <= b:
                return v
        return vals[-1]

    return Schedule(fn, "piecewise_constant", boundaries=bounds, values=vals)


def exponential_decay(
    lr0: float, decay_steps: float, decay_rate: float, staircase: bool = False
) -> Schedule:
    """``lr(step) = lr0 * decay_rate ** (step / decay_steps)``, as Keras ``ExponentialDecay``.

    Args:
        lr0: initial learning rate (Keras ``initial_learning_rate``), > 0.
        decay_steps: > 0; the rate is multiplied by ``decay_rate`` every ``decay_steps``.
        decay_rate: > 0 (< 1 decays).
        staircase: if True, use ``floor(step / decay_steps)``: a step function.
    """
    lr0 = _check_lr(lr0, "lr0")
    decay_steps = _check_steps(decay_steps, "decay_steps")
    decay_rate = _check_lr(decay_rate, "decay_rate")
    staircase = bool(staircase)

    def fn(step: float) -> float:
        p = step / decay_steps
        if staircase:
            p = math.floor(p)
        return lr0 * decay_rate**p

    return Schedule(
        fn,
        "exponential_decay",
        lr0=lr0,
        decay_steps=decay_steps,
        decay_rate=decay_rate,
        staircase=staircase,
    )


def inverse_time_decay(
    lr0: float, decay_steps: float, decay_rate: float, staircase: bool = False
) -> Schedule:
    """``lr(step) = lr0 / (1 + decay_rate * step / decay_steps)``, as Keras ``InverseTimeDecay``.

    Args:
        lr0: initial learning rate, > 0.
        decay_steps: > 0.
        decay_rate: >= 0.
        staircase: if True, use ``floor(step / decay_steps)``.
    """
    lr0 = _check_lr(lr0, "lr0")
    decay_steps = _check_steps(decay_steps, "decay_steps")
    decay_rate = _check_lr(decay_rate, "decay_rate", allow_zero=True)
    staircase = bool(staircase)

    def fn(step: float) -> float:
        p = step / decay_steps
        if staircase:
            p = math.floor(p)
        return lr0 / (1.0 + decay_rate * p)

    return Schedule(
        fn,
        "inverse_time_decay",
        lr0=lr0,
        decay_steps=decay_steps,
        decay_rate=decay_rate,
        staircase=staircase,
    )


def polynomial_decay(
    lr0: float,
    decay_steps: float,
    end_lr: float = 1e-4,
    power: float = 1.0,
    cycle: bool = False,
) -> Schedule:
    """Polynomial decay from ``lr0`` to ``end_lr``, as Keras ``PolynomialDecay``.

    ``lr(step) = (lr0 - end_lr) * (1 - min(step, decay_steps) / decay_steps) ** power + end_lr``.
    With ``cycle=True`` the horizon is instead the first multiple of ``decay_steps`` that is
    >= ``step`` (``decay_steps`` itself at step 0), so the rate jumps back up.

    Args:
        lr0: initial learning rate, > 0.
        decay_steps: > 0.
        end_lr: final learning rate (Keras ``end_learning_rate``), >= 0.
        power: > 0; 1.0 is linear decay.
        cycle: restart after ``decay_steps``.
    """
    lr0 = _check_lr(lr0, "lr0")
    decay_steps = _check_steps(decay_steps, "decay_steps")
    end_lr = _check_lr(end_lr, "end_lr", allow_zero=True)
    power = _check_lr(power, "power")
    cycle = bool(cycle)

    def fn(step: float) -> float:
        horizon = decay_steps
        if cycle:
            horizon = decay_steps * (1.0 if step == 0 else math.ceil(step / decay_steps))
        else:
            step = min(step, decay_steps)
        return (lr0 - end_lr) * (1.0 - step / horizon) ** power + end_lr

    return Schedule(
        fn,
        "polynomial_decay",
        lr0=lr0,
        decay_steps=decay_steps,
        end_lr=end_lr,
        power=power,
        cycle=cycle,
    )


def cosine_decay(
    lr0: float,
    decay_steps: float,
    alpha: float = 0.0,
    warmup_target: float | None = None,
    warmup_steps: float = 0,
) -> Schedule:
    """Cosine decay (optionally after a linear warm-up), as Keras ``CosineDecay``.

    Without warm-up: ``lr(step) = lr0 * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps))
    + alpha)`` with ``s = min(step, decay_steps)``. With ``warmup_target``, the rate first
    rises linearly from ``lr0`` to ``warmup_target`` over ``warmup_steps``, then decays
    from ``warmup_target`` over ``decay_steps``.

    Args:
        lr0: initial learning rate, >= 0 (0 only makes sense with a warm-up).
        decay_steps: > 0.
        alpha: final rate as a fraction of the peak, in [0, 1].
        warmup_target: peak rate after the warm-up, or None for no warm-up.
        warmup_steps: length of the warm-up, >= 0.
    """
    lr0 = _check_lr(lr0, "lr0", allow_zero=True)
    decay_steps = _check_steps(decay_steps, "decay_steps")
    alpha = _check_lr(alpha, "alpha", allow_zero=True)
    if alpha > 1:
        raise ValueError(f"alpha: expected a number in [0, 1], got {alpha!r}")
    if warmup_target is not None:
        warmup_target = _check_lr(warmup_target, "warmup_target")
    warmup_steps = _check_lr(warmup_steps, "warmup_steps", allow_zero=True)

    def decay(step: float, peak: float) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / decay_steps))
        return peak * ((1.0 - alpha) * cosine + alpha)

    def fn(step: float) -> float:
        if warmup_target is None:
            return decay(min(step, decay_steps), lr0)
        step = min(step, decay_steps + warmup_steps)
        if step < warmup_steps:
            return (warmup_target - lr0) * (step / warmup_steps) + lr0
        return decay(step - warmup_steps, warmup_target)

    return Schedule(
        fn,
        "cosine_decay",
        lr0=lr0,
        decay_steps=decay_steps,
        alpha=alpha,
        warmup_target=warmup_target,
        warmup_steps=warmup_steps,
    )
