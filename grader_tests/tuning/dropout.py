"""Task 7 of 07_tuning: inverted dropout, forward and backward.

The student's functions::

    out, cache = dropout_forward(x, p, training, rng)
    dx = dropout_backward(dout, cache)

``p`` is the DROP probability (Keras' ``rate``, PyTorch's ``p``; CS231n's ``p`` is the KEEP
probability). In training ``mask = (rng.random(x.shape) >= p) / (1 - p)`` and ``out = x *
mask``: a unit survives with probability 1 - p and is scaled by 1 / (1 - p), so E[out] = x
and evaluation needs no rescaling; ``dx = dout * mask`` with the SAME mask. With
``training=False`` the layer is the identity (``out`` equal to ``x``, a copy or ``x``
itself) and so is its backward. This is ``course_utils.layers.core.dropout_forward`` /
``dropout_backward``.

The checks use inputs with no zero entry (|x| in [0.5, 2]), so ``out == 0`` exactly where a
unit was dropped, and show, in this order:

- evaluation: ``out == x`` and ``dx == dout`` (first, so that scaling at evaluation time,
  the original non-inverted dropout, is named as such);
- training: every entry of ``out`` is 0 or ``x / (1 - p)`` (relative 1e-10); the mask is
  not shared along a row or a column;
- the expected value is preserved: ``mean(out / x)`` is 1 within 5 standard deviations of
  the mean of N·D independent masks, ``5 * sqrt(p / ((1 - p) * N * D))`` (0.019 for the
  visible 30 000 units at p = 0.3); a mismatch reports the fraction dropped;
- the mask is exactly ``rng.random(x.shape) >= p`` from a generator in the same state as
  the one passed in. A strict ``>`` differs only where a draw equals p exactly (probability
  about 2^-53 per unit) and is accepted. A mask that changes between two calls with
  generators in the same state does not come from ``rng`` (``np.random``'s global state,
  an unseeded ``default_rng()``); one that stays the same with another seed ignores it;
- backward: ``dx == dout * mask`` with the forward's mask; ``p = 0`` is the identity.

Hints name a cause only when it is confirmed: the mask recomputed from the same generator
state with that one change (the keep probability ``u < p`` and scale ``1/p`` of CS231n,
``u < 1 - p``, a second draw) reproduces the student's exactly.
"""

from __future__ import annotations

import numpy as np

from course_utils.grading import check, expect_callable, fail, seal, to_array, value_hints

from ._common import call_with_hint, forbid_library

_SIGMAS = 5.0
_RTOL = 1e-10


def _inputs(rng, shape) -> np.ndarray:
    """Values with |x| in [0.5, 2] and random signs: never 0, so out == 0 marks a drop."""
    return rng.uniform(0.5, 2.0, shape) * np.where(rng.random(shape) < 0.5, -1.0, 1.0)


def _label(p, training, shape) -> str:
    return f"`dropout_forward(x, p={p:g}, training={training}, rng)` on x of shape {shape}"


def _forward(fwd, x, p, training, seed, label):
    result = call_with_hint(
        fwd, x, p, training, np.random.default_rng(seed), label=label,
        hint="dropout_forward(x, p, training, rng) returns the pair (out, cache)",
    )  # fmt: skip
    if not (isinstance(result, tuple | list) and len(result) == 2):
        kind = type(result).__name__
        fail(f"{label} returned {kind}, expected the pair (out, cache)\nHint: return out, "
             f"cache, where cache holds what dropout_backward needs (the mask)")  # fmt: skip
    out = to_array(result[0], "out", expected_ndim=x.ndim)
    if out.shape != x.shape:
        fail(f"{label}: out has shape {out.shape}, expected x's shape {x.shape}\nHint: "
             f"draw one number per entry, rng.random(x.shape), multiply elementwise")  # fmt: skip
    return out, result[1]


def _backward(bwd, dout, cache, label):
    dx = call_with_hint(bwd, dout, cache, label=f"`dropout_backward(dout, cache)` after {label}",
                        hint="dropout_backward returns dx shaped like dout")  # fmt: skip
    dx = to_array(dx, "dx", expected_ndim=dout.ndim)
    if dx.shape != dout.shape:
        fail(f"{label}: dx has shape {dx.shape}, expected dout's shape {dout.shape}\nHint: "
             f"dx = dout * mask, elementwise")  # fmt: skip
    return dx


def _constant(a: np.ndarray, b: np.ndarray) -> float | None:
    """The constant c with a == c * b everywhere (b has no zeros), else None."""
    if a.size == 0:
        return None
    r = a / b
    c = float(np.mean(r))
    return c if np.allclose(r, c, rtol=1e-9, atol=0) else None


def _is(c, value) -> bool:
    return c is not None and abs(c - value) <= 1e-9 * abs(value)


def _eval_case(fwd, bwd, x, p, seed) -> None:
    label = _label(p, False, x.shape)
    out, cache = _forward(fwd, x, p, False, seed, label)
    if not np.allclose(out, x, rtol=_RTOL, atol=0):
        c = _constant(out, x)
        if np.any(out == 0) and not np.all(out == 0):
            hint = (f"{int(np.sum(out == 0))} of {out.size} outputs are 0: dropout is active "
                    f"in evaluation mode; with training=False return x unchanged")  # fmt: skip
        elif _is(c, 1 - p):
            hint = (
                "out = (1 - p) * x: that is the evaluation rule of the original, NON-inverted "
                "dropout. In inverted dropout the survivors are scaled by 1 / (1 - p) in "
                "training, so that evaluation is the identity: return x"
            )
        elif _is(c, 1 / (1 - p)):
            hint = ("out = x / (1 - p): the 1 / (1 - p) scaling belongs to training only; "
                    "evaluation is the identity")  # fmt: skip
        else:
            hint = "; ".join(value_hints(out, x)) or "with training=False, out is x"
        fail(f"{label}: out differs from x (evaluation is the identity)\nHint: {hint}")
    dout = np.random.default_rng(seed + 1).standard_normal(x.shape)
    dx = _backward(bwd, dout, cache, label)
    if not np.allclose(dx, dout, rtol=_RTOL, atol=0):
        hint = "; ".join(value_hints(dx, dout)) or "nothing was dropped, so dx = dout"
        fail(f"{label}: dropout_backward is not the identity after an evaluation-mode forward"
             f"\nHint: {hint}")  # fmt: skip


def _scaling_hint(c, p, kept, u) -> str:
    if c is None:
        return ("the surviving entries are not all the same multiple of x: scale every kept "
                "entry by 1 / (1 - p), out = x * mask with mask = (u >= p) / (1 - p)")  # fmt: skip
    if _is(c, 1.0):
        return ("the survivors equal x: they are not scaled by 1 / (1 - p). Inverted dropout "
                "divides by the keep probability 1 - p in training so that E[out] = x and "
                "evaluation is the identity")  # fmt: skip
    if _is(c, 1 / p) and np.array_equal(kept, u < p):
        return ("your mask is (rng.random(x.shape) < p) / p: CS231n's convention, where p is "
                "the KEEP probability. Here p is the DROP probability (Keras' rate): keep "
                "where rng.random(x.shape) >= p and scale by 1 / (1 - p)")  # fmt: skip
    if _is(c, 1 / p):
        return ("the survivors are x / p: p is the DROP probability, a unit is kept with "
                "probability 1 - p, so divide by 1 - p")  # fmt: skip
    if _is(c, p):
        return "the survivors are p * x: divide by the keep probability 1 - p instead"
    if _is(c, 1 - p):
        return ("the survivors are (1 - p) * x, the rule of NON-inverted dropout at evaluation "
                "time: inverted dropout divides by 1 - p during training")  # fmt: skip
    if _is(c, 1 / (1 - p) ** 2):
        return "the survivors are x / (1 - p)²: the scaling 1 / (1 - p) is applied twice"
    return f"the survivors are {c:.6g} * x: each must be x / (1 - p) = {1 / (1 - p):.6g} * x"


def _mask_hint(fwd, x, p, seed, kept, label) -> str:
    n = x.size
    again = _forward(fwd, x, p, True, seed, label)[0] != 0
    if not np.array_equal(again, kept):
        return ("two calls with generators in the SAME state gave different masks: the mask "
                "does not come from the rng argument (np.random.rand / np.random.random use "
                "NumPy's global generator, np.random.default_rng() a fresh one); draw it with "
                "rng.random(x.shape)")  # fmt: skip
    other = _forward(fwd, x, p, True, seed + 1000, label)[0] != 0
    if np.array_equal(other, kept):
        return ("a generator with another seed gave the same mask: your function ignores its "
                "rng argument (a fixed seed inside?); draw the mask with "
                "rng.random(x.shape)")  # fmt: skip
    gen = np.random.default_rng(seed)
    u = gen.random(x.shape)
    if np.array_equal(kept, u < p):
        return ("your mask is exactly the complement of rng.random(x.shape) >= p: you keep a "
                "unit where u < p, i.e. with probability p; p is the DROP probability")  # fmt: skip
    if np.array_equal(kept, u < 1 - p):
        return ("your mask is rng.random(x.shape) < 1 - p (what rng.binomial(1, 1 - p) draws "
                "too): the same probability, but the task fixes the mask as "
                "rng.random(x.shape) >= p (the draws of course_utils and the checks)")  # fmt: skip
    if np.array_equal(kept, gen.random(x.shape) >= p):
        return ("your mask is that of the SECOND rng.random(x.shape) draw: draw the mask once, "
                "as the first use of the generator")  # fmt: skip
    differ = int(np.sum(kept != (u >= p)))
    return (f"{differ} of {n} units differ from the mask rng.random(x.shape) >= p drawn from a "
            f"generator in the same state: the task fixes how the mask is drawn (one "
            f"rng.random(x.shape) call; rng.binomial or other draws give other masks)")  # fmt: skip


def _train_case(fwd, bwd, x, p, seed) -> None:
    label = _label(p, True, x.shape)
    out, cache = _forward(fwd, x, p, True, seed, label)
    u = np.random.default_rng(seed).random(x.shape)
    kept = out != 0
    if not kept.any():
        fail(f"{label}: every entry of out is 0\nHint: a unit is KEPT where "
             f"rng.random(x.shape) >= p, with probability 1 - p = {1 - p:g}")  # fmt: skip
    c = _constant(out[kept], x[kept])
    if not _is(c, 1 / (1 - p)):
        fail(f"{label}: each entry of out must be 0 (dropped) or x / (1 - p) (kept), but "
             f"{'the survivors are not' if c is None else f'the survivors are {c:.6g} × x, not'}"
             f" x / (1 - p) = {1 / (1 - p):.6g} × x"
             f"\nHint: {_scaling_hint(c, p, kept, u)}")  # fmt: skip
    rows, cols = x.shape[0], x.shape[-1]
    if rows > 1 and np.all(kept == kept[:, :1]):
        fail(f"{label}: each row of x is kept or dropped as a whole (the mask is the same in "
             f"every column)\nHint: draw one number per entry, rng.random(x.shape), not one "
             f"per row")  # fmt: skip
    if cols > 1 and np.all(kept == kept[:1, :]):
        fail(f"{label}: each column of x is kept or dropped as a whole (the mask is the same "
             f"in every row)\nHint: draw one number per entry, rng.random(x.shape), not one "
             f"per column")  # fmt: skip
    n = x.size
    mean, allowed = float(np.mean(out / x)), _SIGMAS * np.sqrt(p / ((1 - p) * n))
    if abs(mean - 1) > allowed:
        dropped = 1 - float(np.mean(kept))
        swapped = abs(dropped - (1 - p)) <= _SIGMAS * np.sqrt(p * (1 - p) / n)
        hint = ("you drop about 1 - p of the units: keep and drop are mixed up; "
                "rng.random(x.shape) >= p KEEPS a unit with probability 1 - p" if swapped
                else f"each unit must be dropped with probability p = {p:g}")  # fmt: skip
        fail(f"{label}: the expected value is not preserved: mean(out / x) = {mean:.4f}, "
             f"expected 1 ± {allowed:.4f} (5 standard deviations for {n} units); you drop "
             f"{dropped:.1%} of the units, p = {p:g}\nHint: {hint}")  # fmt: skip
    if not np.array_equal(kept, u >= p):
        fail(f"{label}: your mask is not the mask (rng.random(x.shape) >= p) / (1 - p) of the "
             f"generator you were given"
             f"\nHint: {_mask_hint(fwd, x, p, seed, kept, label)}")  # fmt: skip
    dout = np.random.default_rng(seed + 1).standard_normal(x.shape)
    dx = _backward(bwd, dout, cache, label)
    want = dout * (u >= p) / (1 - p)
    if np.allclose(dx, want, rtol=_RTOL, atol=1e-300):
        return
    zeros = dx == 0
    if np.allclose(dx, dout * (u >= p), rtol=_RTOL, atol=0):
        hint = ("dx = dout * (the 0/1 mask): the survivors' gradient is not divided by 1 - p; "
                "out = x * mask, so dx = dout * mask with the SAME scaled mask")  # fmt: skip
    elif np.allclose(dx, dout, rtol=_RTOL, atol=0):
        hint = "dx = dout: the dropped units must get zero gradient, dx = dout * mask"
    elif np.allclose(dx, dout * out, rtol=_RTOL, atol=0):
        hint = "dx = dout * out: multiply by the mask, not by the forward's output"
    elif not np.array_equal(zeros, ~(u >= p)):
        hint = ("dx is zero on other units than those the forward dropped: keep the forward's "
                "mask in the cache and reuse it; do not draw a new one in backward")  # fmt: skip
    else:
        hint = "; ".join(value_hints(dx, want, factors={"p": p})) or "dx = dout * mask"
    fail(f"{label}: dropout_backward's dx is not dout * mask (the forward's mask)\nHint: {hint}")


def _zero_p_case(fwd, bwd, x, seed) -> None:
    label = _label(0.0, True, x.shape)
    out, cache = _forward(fwd, x, 0.0, True, seed, label)
    if not np.allclose(out, x, rtol=_RTOL, atol=0):
        hint = "; ".join(value_hints(out, x)) or "with p = 0 nothing is dropped: out = x"
        fail(f"{label}: with p = 0 out must equal x\nHint: {hint}")
    dout = np.random.default_rng(seed + 1).standard_normal(x.shape)
    if not np.allclose(_backward(bwd, dout, cache, label), dout, rtol=_RTOL, atol=0):
        fail(f"{label}: with p = 0 dx must equal dout\nHint: the mask is all ones (1 / (1 - 0))")


def _preamble(fwd, bwd) -> None:
    expect_callable(fwd, "dropout_forward")
    expect_callable(bwd, "dropout_backward")
    for fn, name in ((fwd, "dropout_forward"), (bwd, "dropout_backward")):
        forbid_library(fn, name, "draw the mask with rng.random and apply it yourself")


def _run(fwd, bwd, cases) -> None:
    _preamble(fwd, bwd)
    for kind, x, p, seed in cases:
        if kind == "eval":
            _eval_case(fwd, bwd, x, p, seed)
        elif p == 0:
            _zero_p_case(fwd, bwd, x, seed)
        else:
            _train_case(fwd, bwd, x, p, seed)


@check
def check_dropout(dropout_forward, dropout_backward) -> None:
    """Visible: evaluation, p = 0.3 and 0.75 in training, p = 0."""
    rng = np.random.default_rng(17)
    x = _inputs(rng, (200, 150))
    _run(dropout_forward, dropout_backward, [
        ("eval", x, 0.3, 3), ("train", x, 0.3, 4), ("train", _inputs(rng, (64, 40)), 0.75, 5),
        ("train", x[:20], 0.0, 6),
    ])  # fmt: skip


def hidden_cases(rng) -> list:
    cases = []
    for kind in ("eval", "train", "train"):
        shape = (int(rng.integers(40, 240)), int(rng.integers(30, 160)))
        p = float(np.round(rng.choice([rng.uniform(0.1, 0.35), rng.uniform(0.6, 0.85)]), 3))
        cases.append((kind, _inputs(rng, shape), p, int(rng.integers(1, 10**6))))
    return cases


@check
def check_dropout_hidden(dropout_forward, dropout_backward) -> None:
    """Hidden: random shapes, drop probabilities and generator seeds."""
    _run(dropout_forward, dropout_backward, hidden_cases(np.random.default_rng(7107)))


seal(__name__)
