"""Task 8 of 07_tuning: batch normalisation of (N, D) inputs, forward and backward.

The student's functions (CS231n's contract, ``course_utils.layers.normalization``'s)::

    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)

``bn_param`` holds "mode" ("train" or "eval"), optional "eps" (default 1e-5) and
"momentum" (default 0.9), and the running statistics. Training normalises each feature
with the batch's mean and BIASED variance (ddof=0), ``out = gamma * (x - mu) / sqrt(var +
eps) + beta``, and stores ``running = momentum * running + (1 - momentum) * batch`` for the
mean and the variance in ``bn_param`` (created as zeros / ones the first time);
evaluation uses the running statistics and leaves them alone. Updating the running arrays
in place or storing new ones are both accepted: the check reads the values ``bn_param``
holds after each call (in the student's process), and keeps its own copies of what it
passed.

Momentum convention: ours IS Keras' ``momentum``. ``keras.layers.BatchNormalization(
momentum=m, epsilon=eps)`` updates ``moving = moving * m + batch * (1 - m)`` and its
``moving_variance`` uses the biased batch variance: verified with Keras 3.15.1 /
TensorFlow 2.21.0 (a float64 layer, m = 0.8, one training call on a 6 x 3 batch from
moving_variance = 1: it equals ``m + (1 - m) * x.var(axis=0)`` exactly, and differs from
the same with the ddof=1 variance by 5e-2),
and ``tests/grader/test_regularization_checks.py`` runs Keras (float64) on every case of
these checks and confirms the expected running statistics and outputs (Keras' defaults
differ: momentum 0.99, epsilon 1e-3; the checks pass ours to Keras).

The check drives the forward as a training loop does, carrying the student's own
``bn_param`` from step to step, and shows in this order, per step: the output (relative
1e-7) and the running statistics (relative 1e-9), each wrong one explained when the
formula with one change (ddof=1, eps outside the square root, gamma and beta exchanged,
the momentum convention reversed, the variance of x_hat, ...) reproduces it exactly; after
the first step the backward: the shapes of dgamma and dbeta (D,), then dx, dgamma and dbeta
against the numerical gradient (central differences, h = 1e-5, relative error 1e-6) of the
student's own forward and against ``reference_backward`` (relative 1e-6; the self-test
confirms it is ``course_utils.layers.normalization.batchnorm_backward``): a missing mean or
variance term, the simplified ``dout * gamma / std``, a std without eps are named when they
match exactly;
finally evaluation mode: the running statistics are used (not the batch's) and unchanged.
"""

from __future__ import annotations

import numpy as np

from course_utils.gradcheck import rel_error
from course_utils.grading import (
    GUARD,
    call_student,
    check,
    expect_callable,
    fail,
    is_remote,
    reference,
    seal,
    to_array,
    value_hints,
)

from ._common import call_with_hint, forbid_library

_H = 1e-5
_GRAD_TOL = 1e-6
_OUT_RTOL = 1e-7
_RUN_RTOL = 1e-9
_FWD = "`batchnorm_forward(x, gamma, beta, bn_param)`"


# --- the formulas, and the slips whose results the hints name -----------------------------
def _normalise(x, gamma, beta, mu, var, eps, slip=""):
    if slip == "eps_outside":
        x_hat = (x - mu) / (np.sqrt(var) + eps)
    elif slip == "no_eps":
        x_hat = (x - mu) / np.sqrt(var)
    else:
        x_hat = (x - mu) / np.sqrt(var + eps)
    return beta * x_hat + gamma if slip == "swapped" else gamma * x_hat + beta


def train_output(x, gamma, beta, eps, slip=""):
    axis = 1 if slip == "per_sample" else 0
    mu = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, ddof=1 if slip == "ddof1" else 0, keepdims=True)
    return _normalise(x, gamma, beta, mu, var, eps, slip)


_OUT_SLIPS = {
    "ddof1": "the batch variance is the unbiased one (ddof=1): batch norm (and Keras) use "
             "the biased variance, x.var(axis=0) (ddof=0)",
    "eps_outside": "eps is added outside the square root: (x - mu) / sqrt(var + eps)",
    "no_eps": "eps is missing: (x - mu) / sqrt(var + eps)",
    "swapped": "gamma and beta are exchanged: out = gamma * x_hat + beta",
    "per_sample": "the statistics are per sample (axis=1, layer normalisation): batch norm "
                  "normalises each feature over the batch, axis=0",
}  # fmt: skip


def running_trajectory(xs, momentum, eps, slip="") -> list[tuple[np.ndarray, np.ndarray]]:
    """(running_mean, running_var) after each training step, Keras' rule or one slip."""
    d = xs[0].shape[1]
    rm, rv = np.zeros(d), np.zeros(d) if slip == "var_zero_init" else np.ones(d)
    out = []
    for x in xs:
        mu, var = x.mean(axis=0), x.var(axis=0, ddof=1 if slip == "ddof1" else 0)
        if slip == "x_hat":
            var = var / (var + eps)
        if slip == "std":
            var = np.sqrt(var)
        if slip == "not_carried":
            rm, rv = np.zeros(d), np.ones(d)
        if slip == "first_batch" and not out:
            rm, rv = mu, var
        a, b = (1 - momentum, momentum) if slip == "reversed" else (momentum, 1 - momentum)
        rm, rv = a * rm + b * mu, a * rv + b * var
        out.append((rm, rv))
    return out


_RUN_SLIPS = {
    "reversed": "the momentum convention is reversed: running = momentum * running + (1 - "
                "momentum) * batch (Keras' momentum is the weight of the OLD value)",
    "ddof1": "the running variance uses the unbiased (ddof=1) batch variance: Keras' "
             "moving_variance uses the biased one, x.var(axis=0)",
    "x_hat": "the running variance is the variance of x_hat (about 1): use the batch "
             "variance of x",
    "std": "the running 'variance' tracks the standard deviation: store the variance",
    "var_zero_init": "running_var starts at zeros: it is created as ones (running_mean as "
                     "zeros) the first time",
    "first_batch": "the running statistics start at the first batch's mean and variance: they "
                   "are created as zeros (mean) and ones (variance) the first time",
    "not_carried": "the running statistics restart from zeros / ones at every step: read "
                   "them from bn_param (create them only when they are missing)",
}  # fmt: skip


def reference_backward(x, gamma, eps, dout, slip=""):
    mu, var = x.mean(axis=0), x.var(axis=0)
    inv = 1 / np.sqrt(var + eps)
    x_hat = (x - mu) * inv
    dx_hat = dout * gamma
    if slip == "simplified":
        return dx_hat * inv
    if slip == "no_eps":
        inv = 1 / np.sqrt(var)
    mean_term = 0 if slip == "no_mean" else dx_hat.mean(axis=0)
    var_term = 0 if slip == "no_var" else x_hat * (dx_hat * x_hat).mean(axis=0)
    return inv * (dx_hat - mean_term - var_term)


_DX_SLIPS = {
    "simplified": "dx = dout * gamma / sqrt(var + eps) treats the batch mean and variance as "
                  "constants: in training they depend on every x of the batch, which adds "
                  "-mean(dx_hat) and -x_hat * mean(dx_hat * x_hat)",
    "no_var": "the term through the variance, -x_hat * mean(dx_hat * x_hat), is missing",
    "no_mean": "the term through the mean, -mean(dx_hat), is missing",
    "no_eps": "the 1 / std of your backward lacks eps: use 1 / sqrt(var + eps), as the forward",
}  # fmt: skip


# --- calling the student's forward -------------------------------------------------------
def _copy(bn_param: dict) -> dict:
    return {k: np.array(v, copy=True) if isinstance(v, np.ndarray) else v
            for k, v in bn_param.items()}  # fmt: skip


def _forward(fwd, x, gamma, beta, bn_param, label):
    """(out, cache) of one call, and the values ``bn_param`` holds after it."""
    hint = ("bn_param is a dict with 'mode' and optionally 'eps', 'momentum', 'running_mean' "
            "and 'running_var' (use bn_param.get(key, default))")  # fmt: skip
    sent = _copy(bn_param)
    result = call_with_hint(fwd, x, gamma, beta, sent, label=label, hint=hint)
    if is_remote(fwd):
        # The dict the student's code changed lives in the kernel and the grader got a copy:
        # call again through ``doubles.CallRecorder``, which keeps each argument as
        # ``np.array(arg)``; for a dict that is a 0-d object array holding the SAME dict,
        # which stays in the kernel (a reference), and ``[()]`` reads back its values.
        holder = reference("course_utils.layers", "ReLU")()
        recorder = reference("course_utils.grading.doubles", "CallRecorder")(holder, "forward",
                                                                             fwd)  # fmt: skip
        call_student(recorder, x, gamma, beta, _copy(bn_param), label=label, hint=hint)
        sent = recorder.records[-1][3][()]
    if not (isinstance(result, tuple | list) and len(result) == 2):
        fail(f"{label} returned {type(result).__name__}, expected the pair (out, cache)\n"
             f"Hint: return out, cache (cache: what batchnorm_backward needs)")  # fmt: skip
    out = to_array(result[0], "out", expected_ndim=2)
    if out.shape != x.shape:
        fail(f"{label}: out has shape {out.shape}, expected x's {x.shape}\nHint: the "
             f"statistics are per feature, shape (D,), broadcast over the N rows")  # fmt: skip
    return out, result[1], dict(sent)


def _named(got, candidates: dict, rtol: float) -> str:
    for text, value in candidates.items():
        if np.shape(value) == np.shape(got) and np.allclose(got, value, rtol=rtol, atol=1e-12):
            return text
    return ""


def _check_out(out, x, gamma, beta, eps, eps_given, label, t) -> None:
    want = train_output(x, gamma, beta, eps)
    if np.allclose(out, want, rtol=_OUT_RTOL, atol=1e-9):
        return
    cands = {text: train_output(x, gamma, beta, eps, slip) for slip, text in _OUT_SLIPS.items()}
    source = "bn_param gives" if eps_given else "bn_param has no 'eps': the default is"
    for other in (1e-3, 1e-5, 1e-8, 1e-7):
        if other != eps:
            text = f"you used eps = {other:g}; {source} eps = {eps:g}"
            cands[text] = train_output(x, gamma, beta, other)
    hint = _named(out, cands, 1e-9) or "; ".join(value_hints(out, want)) or (
        "out = gamma * (x - mu) / sqrt(var + eps) + beta with the batch's mean and variance")
    fail(f"{label}: out (training step {t}) is not gamma * x_hat + beta with the batch "
         f"statistics\nHint: {hint}")  # fmt: skip


def _check_running(after, xs, momentum, eps, m_given, label, t) -> tuple:
    got = []
    for key in ("running_mean", "running_var"):
        value = after.get(key)
        if value is None:
            fail(f"{label}: bn_param has no {key!r} after training step {t}\nHint: store the "
                 f"updated running statistics in bn_param (bn_param[{key!r}] = ...); create "
                 f"them as zeros / ones the first time")  # fmt: skip
        value = to_array(value, f"bn_param[{key!r}]")
        if value.shape != (xs[0].shape[1],):
            fail(f"{label}: bn_param[{key!r}] has shape {value.shape}, expected "
                 f"({xs[0].shape[1]},)\nHint: one statistic per feature, axis=0")  # fmt: skip
        got.append(value)
    want = running_trajectory(xs[:t], momentum, eps)[-1]
    for key, g, w in zip(("running_mean", "running_var"), got, want, strict=True):
        if np.allclose(g, w, rtol=_RUN_RTOL, atol=1e-12):
            continue
        cands = {text: running_trajectory(xs[:t], momentum, eps, slip)[-1]
                 for slip, text in _RUN_SLIPS.items()}  # fmt: skip
        source = "bn_param gives" if m_given else "bn_param has no 'momentum': the default is"
        for m in (0.99, 0.9, 0.1):
            if m != momentum:
                text = f"you used momentum = {m:g}; {source} momentum = {momentum:g}"
                cands[text] = running_trajectory(xs[:t], m, eps)[-1]
        hint = next((text for text, pair in cands.items() if _same_pair(got, pair)), "")
        hint = hint or "; ".join(value_hints(g, w)) or (
            "running = momentum * running + (1 - momentum) * batch")
        fail(f"{label}: bn_param[{key!r}] after training step {t} is not what Keras' "
             f"BatchNormalization(momentum={momentum:g}, epsilon={eps:g}) holds (running = "
             f"momentum * running + (1 - momentum) * batch, biased variance)"
             f"\nHint: {hint}")  # fmt: skip
    return tuple(got)


def _same_pair(got, pair) -> bool:
    return all(np.allclose(a, b, rtol=1e-9, atol=1e-12) for a, b in zip(got, pair, strict=True))


# --- backward ------------------------------------------------------------------------------
def _outs(fwd, calls) -> list:
    """``fwd(*args)[0]`` for each argument list: one request to a student's kernel."""
    if is_remote(fwd):
        return fwd.map(calls, select=0)
    try:
        return [fwd(*c)[0] for c in calls]
    finally:
        GUARD.restore()


def _numerical(fwd, x, gamma, beta, base, dout, label) -> list[np.ndarray]:
    grads = []
    for which, arr in enumerate((x, gamma, beta)):
        calls = []
        for i in range(arr.size):
            for s in (_H, -_H):
                args = [x.copy(), gamma.copy(), beta.copy()]
                args[which].reshape(-1)[i] += s
                calls.append((*args, _copy(base)))
        try:
            outs = [float(np.sum(np.asarray(o, dtype=np.float64) * dout))
                    for o in _outs(fwd, calls)]  # fmt: skip
        except Exception as exc:  # student code, called with slightly moved inputs
            fail(f"{label}: batchnorm_forward raised {type(exc).__name__} ({exc}) on inputs "
                 f"moved by {_H:g} for the numerical gradient\nHint: the forward must work "
                 f"for any float input of this shape")  # fmt: skip
        grads.append(((np.array(outs[0::2]) - np.array(outs[1::2])) / (2 * _H)).reshape(arr.shape))
    return grads


def _check_backward(fwd, bwd, x, gamma, beta, base, cache, eps, dout, label) -> None:
    n, d = x.shape
    blabel = f"`batchnorm_backward(dout, cache)` after {label}"
    grads = call_with_hint(bwd, dout, cache, label=blabel,
                           hint="batchnorm_backward returns (dx, dgamma, dbeta)")  # fmt: skip
    if not (isinstance(grads, tuple | list) and len(grads) == 3):
        fail(f"{blabel} returned {type(grads).__name__}, expected (dx, dgamma, dbeta)\nHint: "
             f"return dx, dgamma, dbeta")  # fmt: skip
    names = ("dx", "dgamma", "dbeta")
    got = [to_array(g, name) for g, name in zip(grads, names, strict=True)]
    x_hat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps)
    for g, name, shape in zip(got, names, ((n, d), (d,), (d,)), strict=True):
        if g.shape == shape:
            continue
        hint = "gamma and beta are per feature: sum their gradients over the batch, axis=0"
        if g.shape == (n,) and any(np.allclose(g, v.sum(axis=1)) for v in (dout, dout * x_hat)):
            hint = "you summed over axis 1 (the features): " + hint
        fail(f"{blabel}: {name} has shape {g.shape}, expected {shape}\nHint: {hint}")
    numerical = _numerical(fwd, x, gamma, beta, base, dout, blabel)
    want = [reference_backward(x, gamma, eps, dout), (dout * x_hat).sum(axis=0), dout.sum(axis=0)]
    for g, num, w, name in zip(got, numerical, want, names, strict=True):
        err = rel_error(g, num)
        if err <= _GRAD_TOL and np.allclose(g, w, rtol=1e-6, atol=1e-9):
            continue
        if name == "dx":
            cands = {text: reference_backward(x, gamma, eps, dout, s) for s, text in
                     _DX_SLIPS.items()}  # fmt: skip
        else:
            cands = {"dgamma and dbeta are exchanged: dgamma = sum(dout * x_hat, axis=0), dbeta "
                     "= sum(dout, axis=0)": want[2] if name == "dgamma" else want[1]}  # fmt: skip
        hint = _named(g, cands, 1e-7) or "; ".join(value_hints(g, w)) or (
            "with dx_hat = dout * gamma: dx = (dx_hat - mean(dx_hat, axis=0) - x_hat * "
            "mean(dx_hat * x_hat, axis=0)) / sqrt(var + eps), dgamma = sum(dout * x_hat, "
            "axis=0), dbeta = sum(dout, axis=0)")
        fail(f"{blabel}: {name} is wrong: relative error {err:.2e} to the numerical gradient "
             f"of your forward (accepted {_GRAD_TOL:g})\nHint: {hint}")  # fmt: skip


# --- evaluation mode ---------------------------------------------------------------------------
def _check_eval(fwd, x, gamma, beta, state, eps, running, label) -> None:
    out, _, after = _forward(fwd, x, gamma, beta, {**state, "mode": "eval"}, label)
    rm, rv = running
    want = _normalise(x, gamma, beta, rm, rv, eps)
    if not np.allclose(out, want, rtol=_OUT_RTOL, atol=1e-9):
        cands = {"evaluation mode uses the batch's mean and variance: use bn_param's "
                 "running_mean and running_var": train_output(x, gamma, beta, eps),
                 "eps is added outside the square root": _normalise(
                     x, gamma, beta, rm, rv, eps, "eps_outside")}  # fmt: skip
        hint = _named(out, cands, 1e-9) or "; ".join(value_hints(out, want)) or (
            "out = gamma * (x - running_mean) / sqrt(running_var + eps) + beta")
        fail(f"{label}: out is not normalised with the running statistics\nHint: {hint}")
    for key, old in zip(("running_mean", "running_var"), running, strict=True):
        now = after.get(key)
        if now is None or np.shape(now) != old.shape or not np.allclose(now, old, rtol=1e-12):
            fail(f"{label}: bn_param[{key!r}] changed in evaluation mode\nHint: only training "
                 f"updates the running statistics; evaluation only reads them")  # fmt: skip


# --- a case: training steps, backward after the first, then evaluation ---------------------------
def case_data(rng, n, d, given: dict, steps: int) -> dict:
    """Every input of one case: gamma, beta, the training batches, dout, the evaluation batch."""
    scale = 10 ** rng.uniform(-1.2, 0.3, d)
    offset = rng.uniform(-2, 2, d)
    return {
        "given": dict(given),
        "xs": [rng.standard_normal((n, d)) * scale + offset for _ in range(steps)],
        "gamma": rng.uniform(0.5, 2.0, d) * rng.choice([-1, 1], d),
        "beta": rng.standard_normal(d),
        "dout": rng.standard_normal((n, d)),
        "x_eval": rng.standard_normal((n, d)) * scale * 2 + offset + 1,
    }


def _run_case(fwd, bwd, data: dict) -> None:
    given, xs, gamma, beta = data["given"], data["xs"], data["gamma"], data["beta"]
    eps, momentum = given.get("eps", 1e-5), given.get("momentum", 0.9)
    shown = ", ".join(f"{k!r}: {v:g}" for k, v in given.items())
    state = {"mode": "train", **given}
    running = None
    for t, x in enumerate(xs, start=1):
        label = (f"{_FWD} with bn_param {{'mode': 'train'{', ' + shown if shown else ''}}} and "
                 f"x of shape {x.shape}, training step {t}")  # fmt: skip
        out, cache, after = _forward(fwd, x, gamma, beta, state, label)
        _check_out(out, x, gamma, beta, eps, "eps" in given, label, t)
        running = _check_running(after, xs, momentum, eps, "momentum" in given, label, t)
        if t == 1:
            base = {"mode": "train", **given}
            _check_backward(fwd, bwd, x, gamma, beta, base, cache, eps, data["dout"], label)
        state = after
    label = f"{_FWD} with bn_param['mode'] = 'eval' after {len(xs)} training steps"
    _check_eval(fwd, data["x_eval"], gamma, beta, state, eps, running, label)


def _preamble(fwd, bwd) -> None:
    expect_callable(fwd, "batchnorm_forward")
    expect_callable(bwd, "batchnorm_backward")
    for fn, name in ((fwd, "batchnorm_forward"), (bwd, "batchnorm_backward")):
        forbid_library(fn, name, "compute the batch statistics, x_hat and the gradients yourself")


VISIBLE = [(10, 4, {}, 3), (7, 5, {"eps": 0.05, "momentum": 0.7}, 4)]


def visible_cases() -> list[dict]:
    rng = np.random.default_rng(81)
    return [case_data(rng, *case) for case in VISIBLE]


def hidden_cases() -> list[dict]:
    rng = np.random.default_rng(8107)  # hidden values, the same at every regrade
    out = []
    for _ in range(2):
        n, d = int(rng.integers(5, 16)), int(rng.integers(2, 8))
        given = {"eps": float(np.round(10 ** rng.uniform(-5, -1.3), 8)),
                 "momentum": float(np.round(rng.uniform(0.5, 0.98), 3))}  # fmt: skip
        out.append(case_data(rng, n + (n == d), d, given, int(rng.integers(3, 6))))
    return out


@check
def check_batchnorm(batchnorm_forward, batchnorm_backward) -> None:
    """Visible: defaults (eps 1e-5, momentum 0.9), then eps 0.05 and momentum 0.7."""
    _preamble(batchnorm_forward, batchnorm_backward)
    for data in visible_cases():
        _run_case(batchnorm_forward, batchnorm_backward, data)


@check
def check_batchnorm_hidden(batchnorm_forward, batchnorm_backward) -> None:
    """Hidden: random shapes, eps, momentum and numbers of steps."""
    _preamble(batchnorm_forward, batchnorm_backward)
    for data in hidden_cases():
        _run_case(batchnorm_forward, batchnorm_backward, data)


seal(__name__)
