"""Drivers that run a student's update rule or early-stopping object as a training loop
does, in the student's kernel (``grading.reference``), and report back copies.

They live in ``course_utils`` because at grading time the student's code runs in its own
sandboxed kernel: a loop that keeps arrays and changes them in place between two calls (as
an optimiser changes a model's weights) must run there to see what the student's object
kept a reference to. One call runs a whole trajectory, so a 50-step check is one round trip
over the grading link. They are no task's answer.
"""

from __future__ import annotations

import numpy as np

__all__ = ["early_stopping_run", "rule_trajectory"]


def _raised(exc: BaseException) -> str:
    if isinstance(exc, NotImplementedError):
        return "raised NotImplementedError (replace the `raise NotImplementedError` line)"
    return f"raised {type(exc).__name__}: {str(exc)[:300]}"


def rule_trajectory(rule, params, grads, kwargs) -> dict:
    """Step each parameter of ``params`` with ``w, state = rule(w, dw, state, **kwargs)``,
    in turn, for each list ``dw`` of ``grads``; each parameter has its own state (None on
    its first call, then what the rule returned for it).

    Returns ``{"ws": [[w after step t, for each parameter] for each step], "problem":
    None or "step t, parameter i: what went wrong"}``; the run ends at the first problem (an
    exception, an argument changed in place, a result that is not ``(w_new, state)``).
    """
    ws = [np.array(p, copy=True) for p in params]
    states: list = [None] * len(ws)
    out: list = []
    for t, step in enumerate(grads, start=1):
        row = []
        for i, g in enumerate(step):
            where = f"step {t}, parameter {i}"
            w, dw = ws[i].copy(), np.array(g, copy=True)
            try:
                result = rule(w, dw, states[i], **kwargs)
            except Exception as exc:  # reported to the check, which explains it
                return {"ws": out, "problem": f"{where}: {_raised(exc)}"}
            for name, now, was in (("w", w, ws[i]), ("dw", dw, g)):
                if not np.array_equal(now, was, equal_nan=True):
                    problem = (
                        f"{where}: modified its argument `{name}` in place (work on a copy: "
                        f"`{name} = {name} - ...`, not `-=`)"
                    )
                    return {"ws": out, "problem": problem}
            if not isinstance(result, tuple | list) or len(result) != 2:
                kind = type(result).__name__
                size = f" of length {len(result)}" if isinstance(result, tuple | list) else ""
                return {"ws": out, "problem": f"{where}: returned {kind}{size}, expected the "
                        f"pair (w_new, state)"}  # fmt: skip
            w_new, states[i] = result
            try:
                w_new = np.array(w_new, copy=True)
            except Exception as exc:
                return {"ws": out, "problem": f"{where}: w_new is not an array ({exc})"}
            if w_new.shape != ws[i].shape:
                return {"ws": out, "problem": f"{where}: w_new has shape {w_new.shape}, w had "
                        f"{ws[i].shape}"}  # fmt: skip
            ws[i] = w_new
            row.append(w_new.copy())
        out.append(row)
    return {"ws": out, "problem": None}


def _copies(weights):
    if weights is None:
        return None
    if isinstance(weights, dict):
        return {k: np.array(v, copy=True) for k, v in weights.items()}
    if isinstance(weights, list | tuple):
        return [np.array(v, copy=True) for v in weights]
    return np.array(weights, copy=True)


def early_stopping_run(early_stopping, losses, weights, deltas) -> dict:
    """Drive ``early_stopping.update(epoch, val_loss, weights)`` as a training loop does.

    ``weights`` (a list of arrays) is updated IN PLACE before each epoch's call, by that
    epoch's ``deltas`` (as an optimiser updates a model's arrays); epochs are numbered from
    1; the loop ends after the first call that returns a true value.

    After the last call the arrays change once more in place (negated), as the next
    epoch's update would change them.

    Returns copies: ``decisions`` (the value of each call, as bools), ``returned`` (the
    type names of what the calls returned), ``weights`` (each epoch's weights, as passed),
    ``after`` (the arrays after that last change),
    and the object's ``best_weights``, ``best_epoch`` and ``stopped_epoch`` afterwards
    (``"<missing>"`` for a missing attribute), or ``problem`` (an exception).
    """
    arrays = [np.array(w, dtype=np.float64, copy=True) for w in weights]
    decisions, returned, seen = [], [], []
    for epoch, (loss, delta) in enumerate(zip(losses, deltas, strict=True), start=1):
        for w, d in zip(arrays, delta, strict=True):
            w += d
        seen.append([w.copy() for w in arrays])
        try:
            stop = early_stopping.update(epoch, float(loss), arrays)
        except Exception as exc:  # reported to the check, which explains it
            return {"problem": f"update(epoch={epoch}, ...) {_raised(exc)}"}
        decisions.append(bool(stop))
        returned.append(type(stop).__name__)
        if stop:
            break
    for w in arrays:  # training goes on changing the arrays (the next epoch, a restore...)
        w *= -1.0
    missing = "<missing>"
    best = getattr(early_stopping, "best_weights", missing)
    return {
        "problem": None,
        "decisions": decisions,
        "returned": returned,
        "weights": seen,
        "after": [w.copy() for w in arrays],
        "best_weights": missing if best is missing else _copies(best),
        "best_epoch": _plain(getattr(early_stopping, "best_epoch", missing)),
        "stopped_epoch": _plain(getattr(early_stopping, "stopped_epoch", missing)),
    }


def _plain(value):
    """Numbers as Python ints/floats (a NumPy integer too), anything else by its repr."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    return repr(value)[:60]
