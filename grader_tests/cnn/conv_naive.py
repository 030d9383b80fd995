"""Task 1 of 06_cnn: ``conv_forward_naive`` and ``conv_backward_naive`` with explicit loops.

Interfaces (the notebook's docstrings say the same)::

    conv_forward_naive(x, w, b, stride=1, pad=0) -> (out, cache)
        x (N, C, H, W), w (F, C, HH, WW), b (F,), int stride and pad;
        out (N, F, H_out, W_out), H_out = (H + 2*pad - HH) // stride + 1;
        cache = (x, w, b, stride, pad)          (given in the skeleton)
    conv_backward_naive(dout, cache) -> (dx, dw, db)

Forward values are compared with ``tf.nn.conv2d`` (NHWC input, HWIO filters) and the
backward pass with central differences of the reference forward pass, in float64. The
backward check builds the skeleton's cache itself, so it grades the backward pass alone.
"""

from __future__ import annotations

import functools

import numpy as np

from course_utils.grading import (
    assert_close,
    assert_gradient,
    call_student,
    check,
    expect_callable,
    fail,
    seal,
)

from ._common import (
    as_result,
    conv_grads_ref,
    conv_output_grid_reason,
    conv_ref,
    explain_conv_grads,
    explain_conv_output,
    forbid_library,
    numerical_grad,
    out_size,
    pair_of,
    run_cases,
    same,
    tf_conv,
    triple_of,
)

# (x shape, w shape, stride, pad): non-square inputs and kernels, strides that do not
# divide H + 2*pad - HH (the floor matters), padding larger than zero.
VISIBLE_CASES = [
    ((2, 3, 5, 6), (4, 3, 3, 2), 1, 1),
    ((2, 2, 7, 7), (3, 2, 3, 3), 2, 1),
    ((1, 2, 8, 7), (2, 2, 2, 3), 3, 0),
]


def hidden_cases(seed: int) -> list:
    rng = np.random.default_rng(seed)
    cases = [
        ((1, 1, 4, 4), (1, 1, 1, 1), 1, 0),  # 1x1 kernel, one of everything
        ((2, 3, 5, 5), (2, 3, 5, 5), 1, 0),  # kernel as large as the image: 1x1 output
        ((3, 1, 6, 9), (2, 1, 3, 4), 2, 2),  # padding 2, stride 2, 1 channel
    ]
    for _ in range(4):
        c, f = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        hh, ww = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        pad, stride = int(rng.integers(0, 3)), int(rng.integers(1, 4))
        h = int(rng.integers(max(hh - 2 * pad, 1), 9))
        w = int(rng.integers(max(ww - 2 * pad, 1), 9))
        cases.append(((int(rng.integers(1, 4)), c, h, w), (f, c, hh, ww), stride, pad))
    return cases


def data(x_shape, w_shape, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    return x, w, b


def _case(x, w, stride, pad) -> str:
    return f"(x {x.shape}, w {w.shape}, stride={stride}, pad={pad})"


def _shape_hint(exc: BaseException) -> str | None:
    text = str(exc)
    if isinstance(exc, ValueError) and ("broadcast" in text or "shape" in text):
        return (
            "a window and w[f] must have the same shape (C, HH, WW): the window of out[n, f, "
            "i, j] is x_pad[n, :, i*stride:i*stride+HH, j*stride:j*stride+WW]"
        )
    if isinstance(exc, IndexError):
        return "an index runs past the (padded) input: check H_out, W_out and the window bounds"
    return None


def check_forward_case(
    conv_forward_naive,
    x,
    w,
    b,
    stride,
    pad,
    name="conv_forward_naive",
    known=None,
    tol: float = 1e-8,
) -> None:
    case = _case(x, w, stride, pad)
    result = call_student(
        conv_forward_naive, x, w, b, stride, pad, label=f"`{name}`", hint=_shape_hint
    )
    out, _ = pair_of(result, name)
    out = as_result(out, f"{name}(...)[0]", 4)
    expected = tf_conv(x, w, b, stride, pad) if known is None else known
    if not same(out, expected, rtol=tol, atol=tol):
        why = explain_conv_output(out, x, w, b, stride, pad)
        why = why or conv_output_grid_reason(out, x, w, b, stride, pad)
        if why:
            fail(f"{name} {case}: {why}")
    assert_close(out, expected, f"{name} output {case}", rtol=tol, atol=tol)


def check_backward_case(
    conv_backward,
    x,
    w,
    b,
    stride,
    pad,
    seed: int,
    name="conv_backward_naive",
    cache=None,
    explain=explain_conv_grads,
) -> None:
    case = _case(x, w, stride, pad)
    N, F = x.shape[0], w.shape[0]
    ho, wo = (
        out_size(x.shape[2], w.shape[2], stride, pad),
        out_size(x.shape[3], w.shape[3], stride, pad),
    )
    dout = np.random.default_rng(seed).standard_normal((N, F, ho, wo))
    cache = (x, w, b, stride, pad) if cache is None else cache
    result = call_student(conv_backward, dout, cache, label=f"`{name}`", hint=_shape_hint)
    dx, dw, db = triple_of(result, name)
    got = {"dx": dx, "dw": dw, "db": db}
    ex, ew, eb = conv_grads_ref(dout, x, w, b, stride, pad)
    wrong = {k for k, e in (("dx", ex), ("dw", ew), ("db", eb)) if not same(got[k], e, 1e-6, 1e-8)}
    if wrong:
        reasons = explain(got, dout, x, w, b, stride, pad)
        found = [f"{k} is wrong: {reasons[k]}" for k in ("dx", "dw", "db") if k in reasons]
        if found:
            fail(f"{name} {case}: " + "\n".join(found))
    shapes = {"dx": x.shape, "dw": w.shape, "db": b.shape}
    arrays = {k: as_result(got[k], f"{name} {k}", len(shapes[k])) for k in got}
    # Central differences of the forward pass, for each of x, w and b.
    numeric = {
        "dx": numerical_grad(lambda z: conv_ref(z, w, b, stride, pad), x, dout),
        "dw": numerical_grad(lambda z: conv_ref(x, z, b, stride, pad), w, dout),
        "db": numerical_grad(lambda z: conv_ref(x, w, z, stride, pad), b, dout),
    }
    for k in ("dx", "dw", "db"):
        assert_gradient(
            arrays[k],
            numeric[k],
            k,
            tol=1e-6,
            batch_size=N if k == "dx" else None,
            batch_axis=k == "dx",
            label=f"{name} {case}",
        )


@check
def check_conv_forward_naive(conv_forward_naive) -> None:
    """Visible: three fixed cases against tf.nn.conv2d; no library convolution."""
    expect_callable(conv_forward_naive, "conv_forward_naive")
    for k, (xs, ws, stride, pad) in enumerate(VISIBLE_CASES):
        x, w, b = data(xs, ws, k)
        check_forward_case(conv_forward_naive, x, w, b, stride, pad)
    forbid_library(conv_forward_naive, "`conv_forward_naive`")


@check
def check_conv_forward_naive_hidden(conv_forward_naive) -> None:
    """Hidden: random shapes, strides and paddings; 1x1 kernels; a float32 input."""
    expect_callable(conv_forward_naive, "conv_forward_naive")
    run_cases(
        functools.partial(
            check_forward_case, conv_forward_naive, *data(xs, ws, 100 + k), stride, pad
        )
        for k, (xs, ws, stride, pad) in enumerate(hidden_cases(606))
    )
    x, w, b = data((2, 2, 6, 6), (3, 2, 3, 3), 7)
    x32, w32, b32 = (a.astype(np.float32) for a in (x, w, b))
    out = call_student(conv_forward_naive, x32, w32, b32, 1, 1, label="`conv_forward_naive`")
    out = as_result(pair_of(out, "conv_forward_naive")[0], "conv_forward_naive(...)[0]", 4)
    assert_close(
        out,
        conv_ref(x32, w32, b32, 1, 1),
        "conv_forward_naive output (float32 input)",
        rtol=1e-4,
        atol=1e-5,
    )


@check
def check_conv_backward_naive(conv_backward_naive) -> None:
    """Visible: the three fixed cases; dx, dw, db against numerical gradients."""
    expect_callable(conv_backward_naive, "conv_backward_naive")
    for k, (xs, ws, stride, pad) in enumerate(VISIBLE_CASES):
        x, w, b = data(xs, ws, k)
        check_backward_case(conv_backward_naive, x, w, b, stride, pad, seed=10 + k)
    forbid_library(conv_backward_naive, "`conv_backward_naive`")


@check
def check_conv_backward_naive_hidden(conv_backward_naive) -> None:
    """Hidden: random shapes, strides and paddings."""
    expect_callable(conv_backward_naive, "conv_backward_naive")
    run_cases(
        functools.partial(
            check_backward_case,
            conv_backward_naive,
            *data(xs, ws, 200 + k),
            stride,
            pad,
            seed=300 + k,
        )
        for k, (xs, ws, stride, pad) in enumerate(hidden_cases(607))
    )


seal(__name__)
