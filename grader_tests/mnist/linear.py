"""Task 3 of 05_mnist: ``Linear(in_features, out_features, rng=None, init=None, dtype=np.float64)``.

``params = {"W": init(in_features, out_features, rng) as dtype, "b": zeros(out_features)}``
(``init`` None means ``he_normal``); ``forward(x) -> x @ W + b``; ``backward(dout)`` fills
``grads["W"]`` and ``grads["b"]`` and returns dx. The student's initialisers are Task 2:
while these checks run, ``he_normal``/``xavier_uniform`` are the course's reference ones.
"""

from __future__ import annotations

import numpy as np

from course_utils.grading import (
    assert_close,
    assert_layer_gradients,
    assign_student_array,
    call_student,
    check,
    describe_value,
    expect_callable,
    fail,
    reference,
    seal,
    stand_ins,
    student_rng,
    substituted,
    to_array,
)

from ._common import STAND_INS, forbid_library


def _initialisers() -> dict:
    return {name: reference(STAND_INS, name) for name in ("he_normal", "xavier_uniform")}


def _build(Linear, d, m, seed, label, **kwargs):
    layer = call_student(Linear, d, m, rng=student_rng(seed), label=label, **kwargs)
    params = getattr(layer, "params", None)
    if not isinstance(params, dict) or set(params) != {"W", "b"}:
        fail(
            f"{label}: expected `params` to be a dict with the keys 'W' and 'b', got "
            f"{describe_value(params) if not isinstance(params, dict) else sorted(params)}"
        )
    W, b = to_array(params["W"], "params['W']"), to_array(params["b"], "params['b']")
    if W.shape != (d, m):
        extra = " (transposed: x @ W needs W of shape (in, out))" if W.shape == (m, d) else ""
        fail(f"{label}: params['W'] should have shape ({d}, {m}), got {W.shape}{extra}")
    if b.shape != (m,):
        extra = ""
        if b.shape in ((1, m), (m, 1)):
            extra = " (one bias per output unit, a 1-D array: np.zeros(out_features))"
        fail(f"{label}: params['b'] should have shape ({m},), got {b.shape}{extra}")
    if np.any(b != 0):
        fail(
            f"{label}: the bias should start at zero, got {b[:4].tolist()}...: the weights "
            f"break the symmetry, the bias needs no random start"
        )
    return layer, W, b


def _check_init(Linear, d, m, seed) -> None:
    label = f"`Linear({d}, {m}, rng)`"
    _, W, _ = _build(Linear, d, m, seed, label)
    expected = stand_ins.he_normal(d, m, np.random.default_rng(seed))
    if not np.allclose(W, expected, rtol=1e-6, atol=1e-7):
        fail(
            f"{label}: params['W'] is not he_normal(in_features, out_features, rng) drawn from "
            f"the `rng` argument: with init=None use he_normal, call it once with this rng "
            f"(before drawing anything else from it)"
        )
    label = f"`Linear({d}, {m}, rng, init=xavier_uniform)`"
    _, W, _ = _build(Linear, d, m, seed, label, init=_initialisers()["xavier_uniform"])
    expected = stand_ins.xavier_uniform(d, m, np.random.default_rng(seed))
    if not np.allclose(W, expected, rtol=1e-6, atol=1e-7):
        fail(f"{label}: params['W'] is not init(in_features, out_features, rng): use `init`")
    label = f"`Linear({d}, {m}, rng, dtype=np.float32)`"
    _, W, b = _build(Linear, d, m, seed, label, dtype=np.float32)
    if W.dtype != np.float32 or b.dtype != np.float32:
        fail(f"{label}: params should be float32 (dtype argument), got W {W.dtype}, b {b.dtype}")


def _check_case(Linear, n, d, m, seed, rng) -> None:
    label = f"Linear({d}, {m}) on x of shape ({n}, {d})"
    layer, W, b = _build(Linear, d, m, seed, f"`Linear({d}, {m}, rng)`")
    b = rng.standard_normal(m)  # a trained bias is not zero: give it values to see it
    assign_student_array(layer, [("attr", "params"), ("item", "b")], b)
    x = rng.standard_normal((n, d))
    out = call_student(layer.forward, x, label=f"`{label}.forward`")
    expected = x @ W + b
    assert_close(
        out,
        expected,
        f"{label}: forward(x)",
        rtol=1e-7,
        atol=1e-9,
        hint="forward computes x @ W + b",
        parts={"b": np.broadcast_to(b, expected.shape), "x @ W": x @ W},
        related={"x @ W": x @ W},
    )
    dout = rng.standard_normal((n, m))
    call_student(layer.forward, x, label=f"`{label}.forward`")
    call_student(layer.backward, dout, label=f"`{label}.backward`")
    grads = getattr(layer, "grads", None)
    if not isinstance(grads, dict) or not {"W", "b"} <= set(grads):
        fail(
            f"{label}: after backward, `grads` should hold 'W' and 'b', got "
            f"{sorted(grads) if isinstance(grads, dict) else describe_value(grads)}"
        )
    gW, gb = to_array(grads["W"], "grads['W']"), to_array(grads["b"], "grads['b']")
    if gb.shape != (m,):
        extra = ""
        if gb.shape == (n, m):
            extra = (
                f": that is dout itself, one row per sample; the bias is shared by the {n} "
                f"samples, so its gradient is the SUM over the batch, dout.sum(axis=0)"
            )
        elif gb.shape == (n,):
            extra = ": summed over the wrong axis (axis=1); sum over the batch, axis=0"
        elif gb.shape in ((), (1,)):
            extra = ": summed over both axes; sum over the batch only, dout.sum(axis=0)"
        fail(f"{label}: grads['b'] should have shape ({m},) like b, got {gb.shape}{extra}")
    if gW.shape != (d, m):
        extra = " (transposed: x.T @ dout, not dout.T @ x)" if gW.shape == (m, d) else ""
        fail(f"{label}: grads['W'] should have shape ({d}, {m}) like W, got {gW.shape}{extra}")
    call_student(layer.backward, dout, label=f"`{label}.backward`")
    again = to_array(layer.grads["W"], "grads['W']")
    if again.shape == gW.shape and np.allclose(again, 2 * gW, rtol=1e-9, atol=1e-12):
        fail(
            f"{label}: a second backward(dout) after the same forward doubled grads['W']: "
            f"backward must SET the gradients (self.grads['W'] = ...), not add to them (+=); "
            f"each batch's step needs that batch's gradient only"
        )
    assert_layer_gradients(layer, x, dout, tol=1e-6, label=label)


def _preamble(Linear) -> None:
    expect_callable(Linear, "Linear", kind="class")
    forbid_library(Linear, "Linear", "write forward and backward with @, .T and .sum(axis=0)")


def visible(Linear) -> None:
    _preamble(Linear)
    with substituted(Linear, _initialisers()):
        _check_init(Linear, 40, 30, 0)
        _check_case(Linear, 5, 4, 3, 1, np.random.default_rng(3))


@check
def check_linear(Linear) -> None:
    """Visible: parameters and init; forward; gradients of x, W, b (N=5, 4 -> 3)."""
    visible(Linear)


@check
def check_linear_hidden(Linear) -> None:
    """Hidden: random shapes, N = 1, one output, many inputs."""
    _preamble(Linear)
    rng = np.random.default_rng(3105)  # hidden values, the same at every regrade
    with substituted(Linear, _initialisers()):
        _check_init(Linear, int(rng.integers(20, 60)), int(rng.integers(5, 40)), 3)
        m0 = int(rng.integers(2, 7))
        n0 = int(rng.choice([k for k in range(3, 12) if k != m0]))  # N != M: axes differ
        d0 = int(rng.choice([k for k in range(2, 9) if k not in (m0, n0)]))
        for n, d, m in [
            (n0, d0, m0),
            (1, 6, 2),
            (7, 3, 1),
            (3, 20, 4),
        ]:
            _check_case(Linear, n, d, m, int(rng.integers(100)), rng)


seal(__name__)
