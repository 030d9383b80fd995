"""Task 5 of 07_tuning: early stopping with patience, min_delta and the best weights kept.

The student's class::

    es = EarlyStopping(patience, min_delta=0.0, restore_best=True)
    stop = es.update(epoch, val_loss, weights)   # after each epoch; True: stop training
    es.best, es.best_epoch, es.best_weights, es.stopped_epoch

``weights`` is the list of the model's parameter arrays, which the training loop keeps
updating IN PLACE. An epoch improves if ``val_loss < best - min_delta`` (strictly; ``best``
starts at +inf, so the first epoch always improves); an improvement records ``best``,
``best_epoch = epoch`` and, with ``restore_best=True``, COPIES of the arrays in
``best_weights`` (None otherwise), and resets the count of epochs without improvement;
``update`` returns True, and sets ``stopped_epoch = epoch``, when that count reaches
``patience`` (``stopped_epoch`` is None until then). The caller restores ``best_weights``.

These are the semantics of ``keras.callbacks.EarlyStopping(mode="min")`` and of
``course_utils.train.EarlyStopping``: Keras' ``min_delta`` test is ``current - min_delta <
best`` after flipping the sign of min_delta for "min", i.e. ``current < best - min_delta``;
it counts ``wait`` the same way and stops when ``wait >= patience``. Differences: epochs are
whatever the caller passes (Keras counts from 0, ``fit`` from 1; the checks pass 1, 2, ...),
there is no model, so instead of ``set_weights`` at the end the caller reads
``best_weights``; there is no ``baseline``, ``start_from_epoch`` nor ``mode="max"``.
``tests/grader/test_tuning_checks.py`` confirms that the checks' expected epochs are
``course_utils.train.EarlyStopping``'s on every curve.

The check drives the student's object with ``course_utils.grading.loops.early_stopping_run``
in the student's kernel (the weights really change in place between calls, so a reference
kept instead of a copy shows), on synthetic validation curves: a plateau, noise, a
monotone decreasing curve (it never stops), patience 0, and min_delta edge cases with
values exact in binary.
"""

from __future__ import annotations

import math

import numpy as np

from course_utils.grading import call_student, check, expect_callable, fail, reference, seal

from ._common import LOOPS, forbid_library


def reference_run(losses, patience: int, min_delta: float) -> dict:
    """What the checks expect: ``stopped_epoch`` (None if it never stops), ``best_epoch``
    and the decisions, epochs counted from 1."""
    best, best_epoch, wait, decisions = math.inf, None, 0, []
    for epoch, loss in enumerate(losses, start=1):
        if loss < best - min_delta:
            best, best_epoch, wait = loss, epoch, 0
            decisions.append(False)
            continue
        wait += 1
        decisions.append(wait >= patience)
        if wait >= patience:
            return {"stopped_epoch": epoch, "best_epoch": best_epoch, "decisions": decisions}
    return {"stopped_epoch": None, "best_epoch": best_epoch, "decisions": decisions}


def _variant(losses, patience, min_delta, *, rule) -> dict:
    """The decisions of a rule that differs in one part (to name that part)."""
    best, last, best_epoch, wait = math.inf, math.inf, None, 0
    for epoch, loss in enumerate(losses, start=1):
        improved = {
            "non_strict": loss <= best - min_delta,
            "plus_delta": loss < best + min_delta,
            "last": loss < last - min_delta,
            "no_delta": loss < best,
        }.get(rule, loss < best - min_delta)
        last = loss
        if improved:
            best, best_epoch = min(best, loss) if rule == "last" else loss, epoch
            if rule != "no_reset":
                wait = 0
            if rule == "no_reset" and wait >= patience:
                return {"stopped_epoch": epoch, "best_epoch": best_epoch}
            continue
        wait += 1
        limit = {"patience_plus_1": patience + 1, "patience_minus_1": patience - 1}.get(
            rule, patience
        )
        if wait >= limit:
            return {"stopped_epoch": epoch, "best_epoch": best_epoch}
    return {"stopped_epoch": None, "best_epoch": best_epoch}


_NAMED = {
    "patience_plus_1": "you stop after patience + 1 epochs without improvement: stop when "
    "the count of epochs without improvement REACHES patience (wait >= patience)",
    "patience_minus_1": "you stop one epoch too early, after patience - 1 epochs without "
    "improvement: the count is 0 after an improving epoch (do not count that epoch), grows "
    "by 1 at each epoch without improvement, and stops training when it reaches patience",
    "non_strict": "a val_loss lower than the best by exactly min_delta (with min_delta = 0: "
    "equal to the best) counts as an improvement in yours: it must be lower by MORE than "
    "min_delta, val_loss < best - min_delta (strict)",
    "plus_delta": "min_delta has the wrong sign: val_loss < best + min_delta lets a loss that "
    "got worse by less than min_delta count as an improvement; it must be val_loss < best - "
    "min_delta",
    "last": "you compare with the PREVIOUS epoch's val_loss; improvement is measured against "
    "the BEST so far (val_loss < best - min_delta)",
    "no_delta": "min_delta is ignored: an improvement must be more than min_delta, val_loss "
    "< best - min_delta",
    "no_reset": "the count of epochs without improvement is not reset to 0 when an epoch improves",
}


def _curves(rng) -> list[tuple[str, list[float], int, float]]:
    """(description, val_loss per epoch, patience, min_delta)."""
    plateau = [1.0, 0.8, 0.6, 0.5] + [0.5] * 8
    k = np.arange(1, 31)
    noisy = [float(v) for v in np.round(0.2 + 1 / k + 0.06 * np.abs(rng.standard_normal(30)), 6)]
    monotone = [2.0 - 0.05 * k for k in range(30)]
    exact = [2.0, 1.75, 1.5, 1.25, 1.0, 0.875, 0.75, 0.6875, 0.625, 0.625, 0.625]
    worse = [1.0, 1.0625, 1.125, 1.1875, 1.25, 1.3125, 1.375]
    return [
        ("a plateau (equal values do not improve)", plateau, 2, 0.0),
        ("a noisy decreasing curve", noisy, 4, 0.0),
        ("a monotone decreasing curve (it never stops)", monotone, 3, 0.0),
        ("decreases of exactly, and of more than, min_delta = 0.25 (values exact in binary)",
         exact, 3, 0.25),
        ("a curve that gets worse by less than min_delta = 0.1 each epoch", worse, 5, 0.1),
        ("patience 0 (stop at the first epoch without improvement)", plateau, 0, 0.0),
    ]  # fmt: skip


def _weights(rng, n: int) -> tuple[list, list]:
    shapes = [(3, 2), (2,)]
    w0 = [rng.standard_normal(s) for s in shapes]
    deltas = [[rng.standard_normal(s) * 0.1 for s in shapes] for _ in range(n)]
    return w0, deltas


def _run_curve(EarlyStopping, desc, losses, patience, min_delta, rng, restore_best=True):
    kwargs = {"min_delta": min_delta} if min_delta else {}
    if not restore_best:
        kwargs["restore_best"] = False
    shown = ", ".join([str(patience)] + [f"{k}={v!r}" for k, v in kwargs.items()])
    label = f"`EarlyStopping({shown})` on {desc}"
    es = call_student(EarlyStopping, patience, label=label, **kwargs)
    w0, deltas = _weights(rng, len(losses))
    run = call_student(reference(LOOPS, "early_stopping_run"), es, losses, w0, deltas,
                       label=label)  # fmt: skip
    if run["problem"]:
        fail(f"{label}: {run['problem']}\nHint: update(epoch, val_loss, weights) returns "
             f"True to stop, False to go on")  # fmt: skip
    want = reference_run(losses, patience, min_delta)
    curve = ", ".join(f"{v:g}" for v in losses[:14]) + (", ..." if len(losses) > 14 else "")
    got_stop = len(run["decisions"]) if run["decisions"] and run["decisions"][-1] else None
    if got_stop == 1:
        fail(
            f"{label}: update() returned True (stop) at epoch 1, which always improves on "
            f"best = inf\nHint: update() returns True to STOP training and False to go on"
        )
    if got_stop != want["stopped_epoch"] or run["best_epoch"] != want["best_epoch"]:
        yours = f"stops after epoch {got_stop}" if got_stop else "never stops"
        keras = (f"stops after epoch {want['stopped_epoch']}" if want["stopped_epoch"]
                 else "never stops")  # fmt: skip
        fail(
            f"{label} (val_loss {curve}): Keras' EarlyStopping {keras} with best_epoch "
            f"{want['best_epoch']}; yours {yours} with best_epoch {run['best_epoch']!r}\n"
            f"Hint: {_explain(losses, patience, min_delta, got_stop, run['best_epoch'])}"
        )
    if run["stopped_epoch"] != want["stopped_epoch"]:
        fail(
            f"{label}: update() returned {'True' if got_stop else 'False every time'}, but "
            f"stopped_epoch is {run['stopped_epoch']!r}\nHint: set stopped_epoch = epoch when "
            f"update() decides to stop; it stays None until then"
        )
    _check_weights(label, run, want, restore_best)


def _explain(losses, patience, min_delta, got_stop, got_best) -> str:
    """The rule, differing from Keras' in one part, that does what the student's object did
    on this curve (all of them, when several fit)."""
    fits = []
    for rule, text in _NAMED.items():
        if rule == "patience_minus_1" and patience == 0:
            continue
        alt = _variant(losses, patience, min_delta, rule=rule)
        if alt["stopped_epoch"] == got_stop and alt["best_epoch"] == got_best:
            fits.append(text)
    if len(fits) == 1:
        return fits[0]
    if fits:
        return f"{len(fits)} slips each explain what yours did on this curve: " + "; or ".join(
            f"({i}) {text}" for i, text in enumerate(fits, start=1)
        )
    return (
        "an epoch improves if val_loss < best - min_delta (best: the lowest val_loss so far); "
        "it then sets best, best_epoch and resets the count of epochs without improvement; "
        "otherwise the count grows by 1, and update() returns True when it reaches patience"
    )


def _same(a, b) -> bool:
    return len(a) == len(b) and all(
        np.shape(x) == np.shape(y) and np.array_equal(x, y) for x, y in zip(a, b, strict=True)
    )


def _check_weights(label, run, want, restore_best) -> None:
    best = run["best_weights"]
    if not restore_best:
        if best is not None:
            fail(f"{label}: best_weights is {type(best).__name__}, expected None with "
                 f"restore_best=False\nHint: keep copies of the weights only when "
                 f"restore_best is True")  # fmt: skip
        return
    if best == "<missing>" or best is None:
        fail(f"{label}: best_weights is {best!r} after training\nHint: on each improvement "
             f"keep copies of the weights, best_weights = [w.copy() for w in weights]")  # fmt: skip
    if isinstance(best, dict):
        best = list(best.values())
    if not isinstance(best, list):
        best = [best]
    seen = run["weights"]
    at_best = seen[want["best_epoch"] - 1]
    if _same(best, at_best):
        return
    epoch = next((e for e, w in enumerate(seen, start=1) if _same(best, w)), None)
    if _same(best, run["after"]):
        hint = (
            "your best_weights change when training changes the model's arrays after the "
            "last epoch: you kept a reference to the arrays that training goes on updating "
            "in place (best_weights = weights; list(weights) copies the list but not the "
            "arrays); keep copies: [w.copy() for w in weights]"
        )
    elif epoch is not None:
        hint = (
            f"your best_weights are the weights of epoch {epoch}, not of the best epoch "
            f"({want['best_epoch']}): store them when an epoch improves, and only then"
        )
    else:
        hint = "best_weights must hold copies of the arrays passed at the best epoch"
    fail(f"{label}: best_weights are not the weights passed at best_epoch "
         f"{want['best_epoch']}\nHint: {hint}")  # fmt: skip


def _preamble(EarlyStopping) -> None:
    expect_callable(EarlyStopping, "EarlyStopping", kind="class")
    forbid_library(EarlyStopping, "EarlyStopping", "keep best, the wait count and the copies "
                   "yourself")  # fmt: skip


@check
def check_early_stopping(EarlyStopping) -> None:
    """Visible: a plateau, noise, a monotone curve, min_delta edges, patience 0, copies."""
    _preamble(EarlyStopping)
    rng = np.random.default_rng(11)
    for desc, losses, patience, min_delta in _curves(rng):
        _run_curve(EarlyStopping, desc, losses, patience, min_delta, rng)
    desc, losses, patience, min_delta = _curves(rng)[0]
    _run_curve(EarlyStopping, desc, losses, patience, min_delta, rng, restore_best=False)


def hidden_curves(rng) -> list[tuple[str, list[float], int, float]]:
    """Random noisy curves with random patience and min_delta."""
    out = []
    for _ in range(4):
        n = int(rng.integers(15, 40))
        base = 0.2 + 1.0 / np.sqrt(np.arange(1, n + 1)) + 0.02 * np.arange(n) / n
        noise = 0.05 * np.abs(rng.standard_normal(n))
        losses = [float(v) for v in np.round(base + noise, 5)]
        patience = int(rng.integers(1, 6))
        min_delta = float(np.round(rng.choice([0.0, 10 ** rng.uniform(-3, -1.5)]), 6))
        out.append((f"a random noisy curve of {n} epochs", losses, patience, min_delta))
    return out


@check
def check_early_stopping_hidden(EarlyStopping) -> None:
    """Hidden: random noisy curves, patience and min_delta."""
    _preamble(EarlyStopping)
    rng = np.random.default_rng(5107)  # hidden values, the same at every regrade
    for desc, losses, patience, min_delta in hidden_curves(rng):
        _run_curve(EarlyStopping, desc, losses, patience, min_delta, rng)


seal(__name__)
