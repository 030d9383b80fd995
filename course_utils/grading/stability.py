"""Numerical-stability probe: extreme inputs must give finite, correct results.

``check_stable(fn, inputs, expected_fn)`` calls the student's ``fn`` on inputs such as
logits of ±1000 (where ``exp`` overflows to inf and underflows to 0) and compares with a
stable reference. A non-finite result fails with the overflow / underflow explanation
and the classic fixes (subtract the max before ``exp``; log-sum-exp for log-softmax and
cross-entropy; ``log(sigmoid)`` via ``-softplus(-x)``).

The rule for probes of log-domain results (log-softmax, cross-entropy, log-sigmoid): every
probe has a CONFIDENTLY WRONG row, whose true class lies far enough below the row's
maximum that its probability underflows to exactly 0 (``confidently_wrong_rows``). Only
such a row separates "subtract the max, then log(softmax)" (log(0) = -inf) from a
log-sum-exp (a finite loss of about the gap, e.g. 1400). ``EXTREME_LOGITS`` with
``EXTREME_TARGETS`` satisfies it; ``underflow_explanation`` words the failure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._core import GUARD, NP, call_student, describe_value, fail, quiet
from .compare import assert_close, to_array

__all__ = [
    "EXTREME_LOGITS",
    "EXTREME_TARGETS",
    "UNDERFLOW_GAP",
    "check_stable",
    "confidently_wrong_rows",
    "underflow_explanation",
]

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
#: Classes for EXTREME_LOGITS: rows 0 and 3 confidently wrong (2000 and 1600 below the
#: max: losses 2000 and 1600), row 1 tied, row 2 nearly tied.
EXTREME_TARGETS = np.array([2, 0, 2, 1])
#: How far below the row max a logit must be for exp to underflow to 0 (exp(-746) = 0 in
#: float64, exp(-104) = 0 in float32).
UNDERFLOW_GAP = {np.dtype(np.float64): 746.0, np.dtype(np.float32): 104.0}


def confidently_wrong_rows(logits: Any, targets: Any = None, *, sigmoid: bool = False) -> list[int]:
    """Rows (flat entries for ``sigmoid``) whose true-class probability underflows to 0.

    Args:
        logits: (N, C) softmax logits, or any-shape sigmoid logits with ``sigmoid=True``.
        targets: (N,) int classes or (N, C) one-hot rows (softmax); 0/1 labels shaped like
            ``logits`` (sigmoid). None: every entry counts as a possible class (for
            per-entry outputs such as log-softmax).
        sigmoid: binary (sigmoid) rather than softmax probabilities.
    """
    z = NP.array(logits, dtype=NP.float64)
    gap = UNDERFLOW_GAP.get(np.asarray(logits).dtype, UNDERFLOW_GAP[np.dtype(np.float64)])
    if sigmoid:
        t = NP.array(targets, dtype=NP.float64).reshape(-1)
        # -log(sigmoid(z)) for t = 1, -log(1 - sigmoid(z)) = -log(sigmoid(-z)) for t = 0
        margin = NP.where(t > 0.5, -z.reshape(-1), z.reshape(-1))
        return [int(i) for i in NP.nonzero(margin >= gap)[0]]
    below = z.max(axis=1, keepdims=True) - z
    if targets is None:
        return [int(i) for i in NP.nonzero((below >= gap).any(axis=1))[0]]
    t = NP.array(targets)
    classes = t.argmax(axis=1) if t.ndim == 2 else t.astype(int)
    picked = below[np.arange(len(classes)), classes]
    return [int(i) for i in NP.nonzero(picked >= gap)[0]]


def underflow_explanation(rows: list[int], logits: Any, targets: Any) -> str:
    """Why a log-domain result is inf on a confidently wrong row, and the fix."""
    z = NP.array(logits, dtype=NP.float64)
    i = rows[0]
    t = NP.array(targets)
    c = int(t[i].argmax()) if t.ndim == 2 else int(t[i])
    gap = float(z[i].max() - z[i, c])
    return (
        f"row {i} is confidently wrong: its true class has a logit {gap:g} below the row "
        f"maximum, so its softmax probability exp(-{gap:g}) underflows to 0 and log(0) = "
        f"-inf, although that row's loss is a finite ≈ {gap:g}. Subtracting the max prevents "
        f"the overflow but not this underflow: compute the log-probability directly, "
        f"log p = (z - max) - log(sum(exp(z - max))) (log-sum-exp), never log(softmax(z))"
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
