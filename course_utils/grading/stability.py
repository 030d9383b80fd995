"""Numerical-stability probe: extreme inputs must give finite, correct results.

``check_stable(fn, inputs, expected_fn)`` calls the student's ``fn`` on inputs such as
logits of ±1000 (where ``exp`` overflows to inf and underflows to 0) and compares with a
stable reference. A non-finite result fails with the overflow / underflow explanation
and the classic fixes (subtract the max before ``exp``; log-sum-exp for log-softmax and
cross-entropy; ``log(sigmoid)`` via ``-softplus(-x)``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._core import GUARD, NP, call_student, describe_value, fail, quiet
from .compare import assert_close, to_array

__all__ = ["EXTREME_LOGITS", "check_stable"]

#: Default probe: rows where a naive softmax / log-softmax / cross-entropy overflows or
#: underflows (float64: exp(710) = inf, exp(-746) = 0).
EXTREME_LOGITS = np.array(
    [
        [1000.0, 0.0, -1000.0],
        [1000.0, 1000.0, 1000.0],
        [-1000.0, -1000.0, -999.0],
        [800.0, -800.0, 0.5],
    ]
)

_STABILITY_HINT = (
    "exp overflows for inputs above ~709 (inf, then inf/inf = NaN) and underflows to 0 "
    "below ~-745 (then log(0) = -inf, 0/0 = NaN). Fix: subtract the row max before exp "
    "(softmax(x) = softmax(x - max(x))), compute log-softmax as (x - max) - log(sum(exp(x - "
    "max))) instead of log(softmax(x)), and log(sigmoid(x)) as -log1p(exp(-|x|)) - max(-x, 0)"
)


def _as_args(item: Any) -> tuple:
    return tuple(item) if isinstance(item, tuple) else (item,)


def _copy(a: Any) -> Any:
    return NP.array(a, copy=True) if isinstance(a, np.ndarray) else a


def check_stable(
    fn: Callable[..., Any],
    inputs: Sequence[Any] | Any = None,
    expected_fn: Callable[..., Any] | None = None,
    name: str | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    hint: str | None = None,
) -> None:
    """Fail unless ``fn`` gives finite, correct results on extreme inputs.

    Args:
        fn: the student's function.
        inputs: one input or a list of them; a tuple is spread as positional arguments
            (e.g. ``(logits, labels)``). Default: ``[EXTREME_LOGITS]``. A single ndarray is
            treated as one input.
        expected_fn: stable reference with the same signature (e.g. ``tf.nn.softmax`` or
            ``course_utils.functional.softmax``); None only checks finiteness.
        name: how to call ``fn`` in messages (default: its ``__name__``).
        rtol: relative tolerance of the comparison with ``expected_fn``.
        atol: absolute tolerance.
        hint: replaces the default overflow/underflow explanation.
    """
    name = name or getattr(fn, "__name__", "your function")
    if inputs is None:
        inputs = [EXTREME_LOGITS]
    elif isinstance(inputs, np.ndarray) or not isinstance(inputs, list | tuple):
        inputs = [inputs]
    explanation = hint or _STABILITY_HINT
    for item in inputs:
        args = _as_args(item)
        shown = ", ".join(describe_value(a) for a in args)
        got = call_student(fn, *[_copy(a) for a in args], label=f"`{name}`")
        arr = to_array(got, f"{name}(...)")
        if arr.dtype.kind in "fc" and not bool(NP.isfinite(arr).all()):
            flat = NP.nonzero(~NP.isfinite(arr).reshape(-1))[0]
            where = tuple(int(i) for i in NP.unravel_index(int(flat[0]), arr.shape))
            value = arr.reshape(-1)[flat[0]]
            kind = "NaN" if NP.isnan(value) else ("inf" if value > 0 else "-inf")
            big = max(
                (
                    float(NP.abs(NP.array(a, dtype=NP.float64)).max())
                    for a in args
                    if _is_numeric(a)
                ),
                default=0.0,
            )
            fail(
                f"`{name}` is not numerically stable: it returned {kind} at index {where} "
                f"({len(flat)} non-finite entries) for inputs with |values| up to {big:g} "
                f"({shown}).\nHint: {explanation}"
            )
        if expected_fn is not None:
            with quiet():
                expected = expected_fn(*[_copy(a) for a in args])
            GUARD.restore()
            assert_close(
                arr,
                expected,
                f"{name}(...) on extreme inputs",
                rtol=rtol,
                atol=atol,
                hint=explanation,
            )


def _is_numeric(a: Any) -> bool:
    try:
        return NP.array(a).dtype.kind in "biufc" and NP.array(a).size > 0
    except (TypeError, ValueError):
        return False
