"""Task 2 of 07_tuning: ``signal_stats(weights, x, activation, dout) -> (act_std, grad_std)``.

A bias-free MLP: ``h_0 = x`` (N, D0); for l = 1..L, ``z_l = h_{l-1} @ W_l`` and ``h_l =
f(z_l)`` with f = ``activation`` ("relu" or "tanh") on EVERY layer, the last included.
Backward from ``dL/dh_L = dout``: ``dz_l = dh_l * f'(z_l)``, ``dW_l = h_{l-1}.T @ dz_l``,
``dh_{l-1} = dz_l @ W_l.T``. Returns two sequences of L numbers in layer order 1..L:
``act_std[l-1] = np.std(h_l)`` and ``grad_std[l-1] = np.std(dW_l)`` (the std of the whole
array). Lists of Python floats are asked for; any sequence of L numbers is accepted (NumPy
scalars, 0-d arrays, a 1-d array). ReLU's derivative at exactly 0 may be 0 or 1: the checks'
inputs are continuous random values, so no z is exactly 0 (except with all-zero weights,
where every gradient is 0 either way).

The cases: small nets with other widths per layer, both activations, random ``dout``;
10-layer nets of width 32 with He (ReLU), Xavier (tanh), N(0, 0.01) and zero weights, as
in the notebook's experiment; one layer. Values are compared per layer, relatively (rtol
1e-5: float32 arithmetic passes). A wrong list is explained by the one slip (or the few
slips) that reproduce it on every layer of that case: the list reversed, pre-activation
stds, the std of x included, variances, the mean of per-unit stds, the std of dh or dz
instead of dW, the activation derivative missing (everywhere, in dW only, in the
propagation only, on the last layer only), tanh's derivative as 1 - tanh or 1 - z^2, no
activation on the last layer, dW divided by N, dW from the layer's output h_l.
"""

from __future__ import annotations

import numpy as np

from course_utils.grading import call_student, check, describe_value, expect_callable, fail, seal

from ._common import forbid_library

RTOL = 1e-5

_FORWARD = {
    "pre": "act_std holds the std of the PRE-activations z_l = h_{l-1} @ W_l; take it after "
    "the activation, np.std(h_l)",
    "with_x": "act_std starts with the std of x (h_0) and stops before the last layer: it "
    "holds np.std(h_l) for l = 1..L, after each layer",
    "var": "these are VARIANCES (np.var or the mean of squares); take np.std",
    "per_unit": "this is the mean over units of the per-unit std (np.std(h, axis=0).mean()); "
    "take np.std of the whole array",
    "reversed": "the list is in reverse order (last layer first); return it in layer order "
    "1..L (reverse a list built during the backward pass)",
    "no_last_act": "the last layer has no activation in yours; the task applies f on EVERY "
    "layer, the last one included",
}
_BACKWARD = {
    "reversed": "grad_std is in BACKWARD order (layer L first): the backward pass meets the "
    "layers from last to first; return the list in layer order 1..L (reverse it)",
    "dh_in": "grad_std holds the std of dh_{l-1} = dz_l @ W_l.T, the gradient of the layer's "
    "INPUT; the task asks for the weight gradient dW_l = h_{l-1}.T @ dz_l",
    "dh_out": "grad_std holds the std of dh_l, the gradient of the layer's output; the task "
    "asks for the weight gradient dW_l = h_{l-1}.T @ dz_l",
    "dz": "grad_std holds the std of dz_l; the task asks for the weight gradient dW_l = "
    "h_{l-1}.T @ dz_l",
    "no_deriv": "the activation's derivative is missing: dz_l = dh_l * f'(z_l)",
    "no_deriv_dw": "dW uses dh_l instead of dz_l = dh_l * f'(z_l) (the propagation uses dz "
    "correctly)",
    "no_deriv_prop": "the gradient is propagated as dh_l @ W_l.T; it must be dz_l @ W_l.T, "
    "after multiplying by f'(z_l)",
    "no_last_deriv": "the last layer's backward skips f'(z_L): dz_L = dout * f'(z_L), the "
    "activation is on the last layer too",
    "tanh_1_minus_h": "tanh's derivative is 1 - tanh(z)**2 = 1 - h**2; yours is 1 - h",
    "tanh_z_squared": "tanh's derivative is 1 - tanh(z)**2, i.e. 1 - h**2 with h = tanh(z); "
    "yours squares z itself (1 - z**2)",
    "no_last_act": "the last layer has no activation in yours; the task applies f on EVERY "
    "layer, the last one included (forward and backward)",
    "mean_n": "dW is divided by N; the task's dW_l = h_{l-1}.T @ dz_l has no 1/N (dout is "
    "already the gradient of the loss)",
    "var": "these are VARIANCES of dW; take np.std",
    "per_unit": "this is the mean over units of the per-unit std of dW; take np.std of the "
    "whole array",
    "h_out": "dW uses the layer's OUTPUT h_l; it is h_{l-1}.T @ dz_l, with the layer's input",
}


def _f(name, z):
    return np.maximum(z, 0.0) if name == "relu" else np.tanh(z)


def _df(name, z, h, slip):
    if name == "relu":
        return (z > 0).astype(z.dtype)
    if slip == "tanh_1_minus_h":
        return 1.0 - h
    if slip == "tanh_z_squared":
        return 1.0 - z**2
    return 1.0 - h**2


def _std(a, slip):
    if slip == "var":
        return float(np.var(a))
    if slip == "per_unit":
        return float(np.std(a, axis=0).mean())
    return float(np.std(a))


def reference(weights, x, activation, dout, slip=None) -> tuple[list, list]:
    """(act_std, grad_std) in float64; ``slip`` one of the names of _FORWARD/_BACKWARD
    computes the variant that differs from the task in that one part."""
    L = len(weights)
    hs, zs = [x], []
    for i, W in enumerate(weights):
        zs.append(hs[-1] @ W)
        last_linear = slip == "no_last_act" and i == L - 1
        hs.append(zs[-1] if last_linear else _f(activation, zs[-1]))
    dh, grads = dout, [None] * L
    for i in reversed(range(L)):
        if slip == "no_last_act" and i == L - 1 or slip == "no_last_deriv" and i == L - 1:
            dz = dh
        elif slip == "no_deriv":
            dz = dh
        else:
            dz = dh * _df(activation, zs[i], hs[i + 1], slip)
        src = hs[i + 1] if slip == "h_out" else hs[i]
        dW = src.T @ (dh if slip == "no_deriv_dw" else dz)
        if slip == "mean_n":
            dW = dW / len(x)
        dh_prev = (dh if slip == "no_deriv_prop" else dz) @ weights[i].T
        grads[i] = {"dh_in": dh_prev, "dh_out": dh, "dz": dz}.get(slip, dW)
        dh = dh_prev
    act = [_std(h, slip) for h in (hs[1:] if slip != "with_x" else hs[:-1])]
    act = [float(np.std(z)) for z in zs] if slip == "pre" else act
    grad = [_std(g, slip) for g in grads]
    if slip == "reversed":
        act, grad = act[::-1], grad[::-1]
    return act, grad


def _close(got, want) -> bool:
    return len(got) == len(want) and bool(
        np.all(
            np.abs(np.asarray(got) - np.asarray(want)) <= RTOL * np.abs(np.asarray(want)) + 1e-300
        )
    )


def _floats(seq, L, name, label, h_shapes) -> list[float]:
    if isinstance(seq, np.ndarray) and seq.ndim == 1:
        seq = list(seq)
    if not isinstance(seq, list | tuple):
        fail(f"{label}: `{name}` should be a list of {L} numbers (one per layer), got "
             f"{describe_value(seq)}")  # fmt: skip
    if len(seq) != L:
        more = ("\nHint: one value per layer l = 1..L; do not include x (h_0)"
                if len(seq) == L + 1 and name == "act_std" else "")  # fmt: skip
        fail(f"{label}: `{name}` has {len(seq)} values, expected {L} (one per layer){more}")
    out = []
    for i, v in enumerate(seq):
        a = np.asarray(v) if isinstance(v, np.ndarray | np.generic | int | float) else None
        if a is None or a.dtype.kind not in "iuf":
            fail(f"{label}: `{name}[{i}]` should be a number, got {describe_value(v)}")
        if a.size != 1:
            per = ("\nHint: that is one value per unit (a std over axis 0); take np.std of "
                   "the whole array, one number per layer"
                   if a.ndim == 1 and a.shape[0] == h_shapes[i] else "")  # fmt: skip
            fail(f"{label}: `{name}[{i}]` should be ONE number, np.std over the whole array, "
                 f"got an array of shape {a.shape}{per}")  # fmt: skip
        out.append(float(a.reshape(())))
    return out


def _explain(got, which, weights, x, activation, dout) -> str:
    table = _FORWARD if which == 0 else _BACKWARD
    fits = []
    for slip, text in table.items():
        if slip.startswith("tanh") and activation != "tanh":
            continue
        try:
            with np.errstate(all="ignore"):
                variant = reference(weights, x, activation, dout, slip)[which]
        except ValueError:  # h_out with layers of other widths
            continue
        if _close(got, variant):
            fits.append(text)
    if len(fits) == 1:
        return fits[0]
    if fits:
        return f"{len(fits)} slips each reproduce yours on this net: " + "; or ".join(
            f"({i}) {t}" for i, t in enumerate(fits, start=1)
        )
    return ""


def _show(values) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in values) + "]"


def _case(fn, weights, x, activation, dout, case) -> None:
    sizes = " -> ".join(str(s) for s in [x.shape[1]] + [W.shape[1] for W in weights])
    label = f"`signal_stats(weights, x, {activation!r}, dout)` {case} (N={len(x)}, {sizes})"
    got = call_student(fn, [W.copy() for W in weights], x, activation, dout, label=label)
    if not isinstance(got, tuple | list) or len(got) != 2:
        fail(f"{label}: expected the pair `(act_std, grad_std)`, got {describe_value(got)}")
    L = len(weights)
    widths = [W.shape[1] for W in weights]
    act = _floats(got[0], L, "act_std", label, widths)
    grad = _floats(got[1], L, "grad_std", label, widths)
    want = reference(weights, x, activation, dout)
    for which, (name, mine, exp) in enumerate((("act_std", act, want[0]),
                                               ("grad_std", grad, want[1]))):  # fmt: skip
        if _close(mine, exp):
            continue
        bad = [i for i in range(L) if not _close([mine[i]], [exp[i]])]
        why = _explain(mine, which, weights, x, activation, dout)
        fail(
            f"{label}: `{name}` is wrong at layer {bad[0] + 1}: expected {exp[bad[0]]:.6g}, "
            f"got {mine[bad[0]]:.6g}\n  expected {_show(exp)}\n  yours    {_show(mine)}"
            + (f"\nHint: {why}" if why else "\nHint: " + (
                "act_std[l-1] = np.std(h_l) with h_l = f(h_{l-1} @ W_l), layer by layer"
                if which == 0 else "backward from dh_L = dout: dz_l = dh_l * f'(z_l), dW_l = "
                "h_{l-1}.T @ dz_l, dh_{l-1} = dz_l @ W_l.T; grad_std[l-1] = np.std(dW_l)"))
        )  # fmt: skip


def _net(rng, sizes, scale):
    """Weights (D_{l-1}, D_l); ``scale``: a number, "he", "xavier" or 0."""
    out = []
    for d_in, d_out in zip(sizes[:-1], sizes[1:], strict=True):
        s = {"he": np.sqrt(2.0 / d_in), "xavier": np.sqrt(1.0 / d_in)}.get(scale, scale)
        out.append(rng.standard_normal((d_in, d_out)) * s)
    return out


def _run(fn, rng, sizes, activation, scale, n, case) -> None:
    weights = _net(rng, sizes, scale)
    x = rng.standard_normal((n, sizes[0]))
    dout = rng.standard_normal((n, sizes[-1]))
    _case(fn, weights, x, activation, dout, case)


def _preamble(signal_stats) -> None:
    expect_callable(signal_stats, "signal_stats")
    forbid_library(signal_stats, "signal_stats", "two loops of NumPy: forward, then backward")


@check
def check_signal_stats(signal_stats) -> None:
    """Visible: small nets of other widths (ReLU, tanh), 10-layer He / Xavier nets."""
    _preamble(signal_stats)
    rng = np.random.default_rng(2)
    for activation in ("relu", "tanh"):
        _run(signal_stats, rng, [5, 7, 4, 3], activation, 0.8, 16, "on a small net")
    _run(signal_stats, rng, [20] + [32] * 10, "relu", "he", 64, "on 10 layers, He init")
    _run(signal_stats, rng, [20] + [32] * 10, "tanh", "xavier", 64, "on 10 layers, Xavier init")


@check
def check_signal_stats_hidden(signal_stats) -> None:
    """Hidden: random widths and depths, N(0, 0.01) and zero weights on 10 layers, one layer."""
    _preamble(signal_stats)
    rng = np.random.default_rng(7_207)  # hidden values, the same at every regrade
    for activation in ("tanh", "relu"):
        sizes = [int(v) for v in rng.integers(3, 12, int(rng.integers(4, 7)))]
        _run(signal_stats, rng, sizes, activation, float(rng.uniform(0.4, 1.2)),
             int(rng.integers(8, 40)), "on a random net")  # fmt: skip
        _run(signal_stats, rng, [24] + [32] * 10, activation, 0.01, 50,
             "on 10 layers, N(0, 0.01) init")  # fmt: skip
        _run(signal_stats, rng, [6, 4], activation, 1.0, 9, "on one layer")
    _run(signal_stats, rng, [16] + [32] * 10, "tanh", 0.0, 20, "on 10 layers, zero init")


seal(__name__)
