"""Task 6 of 07_tuning: L2 weight decay added to the gradients of a network's layers.

The student's function::

    penalty = add_l2(layers, lam)

``layers`` is a network's list of ``course_utils.layers`` objects after ``backward``
(``Linear`` layers with ``params = {"w": (D, M), "b": (M,)}`` and ``grads`` of the same
keys, and parameter-free ``ReLU`` layers with empty dicts). For every layer with a weight
``"w"``: ``grads["w"] += lam * params["w"]``; biases, their gradients and every parameter
are left alone. It returns the penalty ``0.5 * lam * sum over layers of sum(w ** 2)`` as
one number, to add to the data loss. (/work/07_API.md writes the key as "W"; the course's
``Linear`` class, which the notebook uses, calls it ``"w"``.) The gradient may be updated in
place or replaced by a new array holding the sum (an optimiser reads ``layer.grads[...]``
after ``add_l2``); the penalty may be a Python float, a NumPy float or a 0-d array.

The check builds the layers in the student's process (``grading.reference``), sets random
weights, non-zero biases and the gradients of a data loss (``sum(net(x) * G)`` through the
ReLU network, computed here), calls ``add_l2`` once and reads back, in this order:

- the parameters, the bias gradients and the ReLU layers are unchanged;
- each weight gradient is the data gradient plus ``lam * w`` (relative 1e-9); a wrong
  added term is explained by its structure (a constant factor such as 2 or lam, sign(w),
  the data gradient replaced, layers left out);
- the gradient is the numerical gradient (central differences, h = 1e-5, relative error
  1e-6, 8 sampled entries per layer) of data loss + the RETURNED penalty, the student's
  ``add_l2`` evaluated with each sampled weight moved: the gradient and the penalty agree;
- the penalty's value (relative 1e-9);
- ``lam = 0`` changes no gradient and returns 0.
"""

from __future__ import annotations

import numpy as np

from course_utils.grading import (
    GUARD,
    check,
    expect_callable,
    fail,
    perturbed_results,
    reference,
    seal,
    set_student_value,
    type_name,
)

from ._common import call_with_hint, forbid_library

_H = 1e-5
_GRAD_TOL = 1e-6
_RTOL = 1e-9
_SAMPLES = 8


class _Net:
    """A ReLU network's weights, biases, input and data-loss gradients (computed here)."""

    def __init__(self, rng, dims, n):
        self.dims = dims
        shapes = list(zip(dims[:-1], dims[1:], strict=True))
        self.ws = [rng.standard_normal(s) / np.sqrt(s[0]) for s in shapes]
        self.bs = [rng.uniform(0.2, 1.0, b) * rng.choice([-1, 1], b) for b in dims[1:]]
        self.x = rng.standard_normal((n, dims[0]))
        while self._margin() < 1e-3:  # keep every ReLU input away from its kink at 0
            self.x = rng.standard_normal((n, dims[0]))
        self.g = rng.standard_normal((n, dims[-1]))
        self.dws, self.dbs = self._gradients()

    def _margin(self) -> float:
        h, margin = self.x, np.inf
        for w, b in zip(self.ws[:-1], self.bs, strict=False):
            h = h @ w + b
            margin = min(margin, float(np.abs(h).min()))
            h = np.maximum(h, 0)
        return margin

    def loss(self, ws) -> float:
        h = self.x
        for i, (w, b) in enumerate(zip(ws, self.bs, strict=True)):
            h = h @ w + b
            if i < len(ws) - 1:
                h = np.maximum(h, 0)
        return float(np.sum(h * self.g))

    def _gradients(self):
        hs, h = [self.x], self.x
        for i, (w, b) in enumerate(zip(self.ws, self.bs, strict=True)):
            h = h @ w + b
            if i < len(self.ws) - 1:
                h = np.maximum(h, 0)
            hs.append(h)
        dws, dbs, dh = [], [], self.g
        for i in range(len(self.ws) - 1, -1, -1):
            if i < len(self.ws) - 1:
                dh = dh * (hs[i + 1] > 0)
            dws.insert(0, hs[i].T @ dh)
            dbs.insert(0, dh.sum(axis=0))
            dh = dh @ self.ws[i].T
        return dws, dbs


def _layers(net: _Net) -> tuple[list, list[int]]:
    """Linear, ReLU, Linear, ..., Linear in the student's process; indices of the Linears."""
    Linear = reference("course_utils.layers", "Linear")
    ReLU = reference("course_utils.layers", "ReLU")
    layers, linear = [], []
    for i, (w, b, dw, db) in enumerate(zip(net.ws, net.bs, net.dws, net.dbs, strict=True)):
        layer = Linear(w.shape[0], w.shape[1], seed=0)
        for kind, key, value in (("params", "w", w), ("params", "b", b), ("grads", "w", dw),
                                 ("grads", "b", db)):  # fmt: skip
            set_student_value(layer, [("attr", kind), ("item", key)], value.copy())
        linear.append(len(layers))
        layers.append(layer)
        if i < len(net.ws) - 1:
            layers.append(ReLU())
    return layers, linear


def _float_array(value):
    """A float64 copy, or None for what is not a numeric array (e.g. None)."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return arr if arr.ndim else None


def _state(layer) -> dict:
    return {kind: {k: _float_array(v) for k, v in dict(getattr(layer, kind)).items()}
            for kind in ("params", "grads")}  # fmt: skip


def _as_number(value, label) -> float:
    if value is None:
        fail(f"{label} returned None\nHint: return the penalty 0.5 * lam * (sum of w ** 2 over "
             f"the layers), the number to add to the data loss")  # fmt: skip
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        return float(value)
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer |
                                                            np.floating):  # fmt: skip
        shape = getattr(value, "shape", None)
        what = f"{type_name(value)}" + (f" of shape {tuple(shape)}" if shape is not None else "")
        if isinstance(value, list | tuple):
            what += f" of length {len(value)}"
        fail(f"{label} returned {what}, expected one number (the penalty)\nHint: the penalty "
             f"is ONE number, summed over all layers: return float(penalty)")  # fmt: skip
    return float(value)


def _layer_names(idx, linear) -> str:
    return ", ".join(f"layers[{i}]" for i in idx) if idx else ""


def _increment_hint(incs, wants, ws, lam, linear) -> str:
    """What the student added to each weight gradient, compared with lam * w."""
    same = [np.allclose(inc, 0, atol=1e-300) for inc in incs]
    if all(same):
        return ("no weight gradient changed: add lam * w to each layer's grads['w'] in place "
                "(grads['w'] += ...; a local `g = g + ...` leaves the layer untouched). The "
                "course's Linear layers call their weight 'w': layer.params['w']")  # fmt: skip
    if any(same):
        left = [linear[i] for i, s in enumerate(same) if s]
        return (f"the gradients of {_layer_names(left, linear)} did not change: loop over "
                f"EVERY layer that has a weight 'w' (and return after the loop)")  # fmt: skip
    if all(np.allclose(inc, lam * np.sign(w), rtol=1e-9) for inc, w in zip(incs, ws, strict=True)):
        return ("you added lam * sign(w): that is the gradient of the L1 penalty lam * "
                "sum|w|; L2's is lam * w")  # fmt: skip
    pairs = list(zip(incs, wants, strict=True))
    cs = [float(np.sum(inc * want) / np.sum(want * want)) for inc, want in pairs]
    if all(np.allclose(inc, c * want, rtol=1e-9) for (inc, want), c in zip(pairs, cs, strict=True)):
        if np.allclose(cs, cs[0], rtol=1e-9):
            c = cs[0]
            named = {2.0: "2 × lam * w: the derivative of 0.5 * lam * w² is lam * w (the 0.5 "
                     "cancels the 2)", -1.0: "−lam * w: the sign is flipped",
                     lam: "lam² * w: lam is applied twice", 0.5: "0.5 × lam * w: the derivative "
                     "of 0.5 * lam * w² is lam * w"}  # fmt: skip
            for value, text in named.items():
                if abs(c - value) <= 1e-9 * abs(value):
                    return f"you added {text}"
            return f"you added {c:.6g} × lam * w to each weight gradient; add lam * w"
        sizes = [w.size for w in ws]
        if np.allclose(cs, [1 / s for s in sizes], rtol=1e-9):
            return "you added lam * w / w.size: a mean over the weights instead of a sum"
        return ("each layer's added term is a different multiple of lam * w ("
                + ", ".join(f"{c:.4g}" for c in cs) + ")")
    return ("add lam * params['w'] to grads['w'] for every layer with a weight: what you added "
            "(grads['w'] after minus before) is not a multiple of lam * w")


def _check_untouched(before, after, layers, linear, lam, label) -> None:
    for i, (b, a) in enumerate(zip(before, after, strict=True)):
        name = f"layers[{i}] ({type_name(layers[i])})"
        for kind in ("params", "grads"):
            for key in b[kind]:
                if kind == "grads" and key == "w":
                    continue
                old, new = b[kind][key], a[kind].get(key)
                if new is not None and new.shape == old.shape and np.array_equal(new, old):
                    continue
                hint = f"add_l2 only adds lam * w to grads['w']; leave {kind}[{key!r}] alone"
                if new is not None and new.shape == old.shape and key == "w":
                    if np.allclose(new, (1 - lam) * old, rtol=1e-9):
                        hint = ("you shrank the weights (w *= 1 - lam: the optimiser's job): "
                                "add lam * w to the GRADIENT; the optimiser updates w")  # fmt: skip
                    else:
                        hint = ("the weights changed: add lam * w to the GRADIENT, grads['w'], "
                                "and leave params['w'] to the optimiser")  # fmt: skip
                if new is not None and kind == "grads" and key == "b" and new.shape == old.shape:
                    if np.allclose(new - old, lam * b["params"]["b"], rtol=1e-9):
                        hint = ("grads['b'] gained lam * b: the biases are decayed too. Weight "
                                "decay applies to the weights 'w' only")  # fmt: skip
                fail(f"{label}: {name}.{kind}[{key!r}] changed\nHint: {hint}")
        extra = set(a["params"]) - set(b["params"])
        if extra:
            fail(f"{label}: {name}.params gained {sorted(extra)}\nHint: add_l2 adds to the "
                 f"existing grads['w'] only")  # fmt: skip


def _run_case(add_l2, rng, dims, n, lam) -> None:
    net = _Net(rng, dims, n)
    layers, linear = _layers(net)
    shown = "-".join(str(d) for d in dims)
    label = f"`add_l2(layers, lam={lam:g})` on a {shown} ReLU network (Linear and ReLU layers)"
    before = [_state(layer) for layer in layers]
    penalty = call_with_hint(add_l2, layers, lam, label=label, hint=(
        "layers holds Linear layers (params 'w' and 'b') and ReLU layers (empty params and "
        "grads): skip the layers without a weight, e.g. `if 'w' in layer.params`"))  # fmt: skip
    after = [_state(layer) for layer in layers]
    _check_untouched(before, after, layers, linear, lam, label)
    value = _as_number(penalty, label)
    got = [after[i]["grads"].get("w") for i in linear]
    wants = [lam * w for w in net.ws]
    want_grads = [dw + t for dw, t in zip(net.dws, wants, strict=True)]
    for j, (g, want) in enumerate(zip(got, want_grads, strict=True)):
        if g is None:
            fail(f"{label}: layers[{linear[j]}].grads['w'] is not an array of numbers after "
                 f"add_l2\nHint: grads['w'] += lam * params['w'] keeps it an array")  # fmt: skip
        if g.shape != want.shape or not np.allclose(g, want, rtol=_RTOL, atol=1e-12):
            if lam == 0:
                fail(f"{label}: layers[{linear[j]}].grads['w'] changed with lam = 0\nHint: "
                     f"lam = 0 adds nothing: grads['w'] += 0 * w")  # fmt: skip
            if g.shape == want.shape and np.allclose(g, wants[j], rtol=_RTOL):
                hint = ("grads['w'] is lam * w alone: the data gradient from backward is gone; "
                        "ADD the decay term to it (grads['w'] += lam * w)")  # fmt: skip
            elif g.shape != want.shape:
                hint = f"grads['w'] has shape {g.shape}, expected {want.shape}"
            else:
                incs = [gi - dw for gi, dw in zip(got, net.dws, strict=True)]
                hint = _increment_hint(incs, wants, net.ws, lam, linear)
            fail(f"{label}: layers[{linear[j]}].grads['w'] is not the data gradient + lam * w"
                 f"\nHint: {hint}")  # fmt: skip
    if lam == 0:
        if value != 0:
            fail(f"{label}: the penalty is {value:.6g} with lam = 0\nHint: 0.5 * 0 * sum(w ** 2) "
                 f"= 0; do not replace a zero lam by a default")  # fmt: skip
        return
    _check_numerical(add_l2, net, layers, linear, lam, got, rng, label)
    expected = 0.5 * lam * sum(float(np.sum(w * w)) for w in net.ws)
    if not abs(value - expected) <= _RTOL * abs(expected):
        bias = 0.5 * lam * sum(float(np.sum(b * b)) for b in net.bs)
        if abs(value - expected - bias) <= _RTOL * abs(expected + bias):
            hint = ("your penalty includes 0.5 * lam * sum(b ** 2): the biases are not "
                    "decayed, sum over the weights 'w' only")  # fmt: skip
        else:
            hint = "penalty = 0.5 * lam * (sum over layers of np.sum(w ** 2))"
        fail(f"{label}: the penalty is {value:.10g}, expected {expected:.10g}\nHint: {hint}")


def _check_numerical(add_l2, net, layers, linear, lam, got, rng, label) -> None:
    """grads['w'] == the numerical gradient of data loss + the returned penalty."""
    for j, w in enumerate(net.ws):
        ids = rng.choice(w.size, size=min(_SAMPLES, w.size), replace=False)
        changes = [(int(i), float(w.reshape(-1)[i]) + s) for i in ids for s in (_H, -_H)]
        try:
            pens = perturbed_results(layers[linear[j]], [("attr", "params"), ("item", "w")],
                                     changes, add_l2, (layers, lam))  # fmt: skip
        except Exception as exc:  # student code, called with one weight moved
            GUARD.restore()
            fail(f"{label}: add_l2 raised {type(exc).__name__} ({exc}) when called again with "
                 f"one weight moved by {_H:g} (for the numerical gradient)\nHint: add_l2 must "
                 f"work on any layers, every time it is called")  # fmt: skip
        GUARD.restore()
        pens = [_as_number(v, label) for v in pens]
        data, pen = [], []
        for k, i in enumerate(ids):
            moved = []
            for s in (_H, -_H):
                ws = [v.copy() for v in net.ws]
                ws[j].reshape(-1)[i] += s
                moved.append(net.loss(ws))
            data.append((moved[0] - moved[1]) / (2 * _H))
            pen.append((pens[2 * k] - pens[2 * k + 1]) / (2 * _H))
        numerical = np.array(data) + np.array(pen)
        analytic = got[j].reshape(-1)[ids]
        err = np.abs(numerical - analytic) / np.maximum(np.abs(numerical) + np.abs(analytic),
                                                        1e-12)  # fmt: skip
        if np.max(err) <= _GRAD_TOL:
            continue
        pen, term = np.array(pen), lam * w.reshape(-1)[ids]
        c = float(np.sum(pen * term) / np.sum(term * term))
        if np.allclose(pen, 0, atol=1e-9):
            hint = (f"your penalty does not change when layers[{linear[j]}]'s weights change: it "
                    f"leaves that layer out (penalty = ... instead of += ...?)")  # fmt: skip
        elif np.allclose(pen, c * term, rtol=1e-5):
            hint = (f"the derivative of your penalty is {c:.6g} × lam * w, the term you added to "
                    f"the gradient: " + _penalty_factor(c, lam, w))
        else:
            hint = "penalty = 0.5 * lam * sum(w ** 2), whose derivative is lam * w"
        fail(f"{label}: layers[{linear[j]}].grads['w'] is not the numerical gradient of data "
             f"loss + your returned penalty (relative error {np.max(err):.2e} > {_GRAD_TOL:g})"
             f"\nHint: {hint}")  # fmt: skip


def _penalty_factor(c, lam, w) -> str:
    for value, text in ((2.0, "the 0.5 of 0.5 * lam * sum(w ** 2) is missing"),
                        (1 / lam, "lam is missing from your penalty"),
                        (lam, "lam appears twice in your penalty"),
                        (1 / w.size, "np.mean(w ** 2) instead of np.sum(w ** 2)")):  # fmt: skip
        if abs(c - value) <= 1e-5 * abs(value):
            return text
    return "the penalty must be 0.5 * lam * sum(w ** 2), whose derivative is lam * w"


def _preamble(add_l2) -> None:
    expect_callable(add_l2, "add_l2")
    forbid_library(add_l2, "add_l2", "add lam * w to each weight gradient yourself")


@check
def check_add_l2(add_l2) -> None:
    """Visible: a 6-5-4-3 ReLU network with lam = 0.1, then lam = 0."""
    _preamble(add_l2)
    rng = np.random.default_rng(61)
    _run_case(add_l2, rng, [6, 5, 4, 3], 7, 0.1)
    _run_case(add_l2, rng, [4, 3, 2], 5, 0.0)


@check
def check_add_l2_hidden(add_l2) -> None:
    """Hidden: random depths, widths and strengths."""
    _preamble(add_l2)
    rng = np.random.default_rng(6107)
    for _ in range(2):
        dims = [int(d) for d in rng.integers(2, 9, size=int(rng.integers(3, 6)))]
        lam = float(np.round(10 ** rng.uniform(-3.5, -0.5), 6))
        _run_case(add_l2, rng, dims, int(rng.integers(3, 10)), lam)


seal(__name__)
