"""Task 3 of 06_cnn: ``im2col``, ``col2im`` and the fast convolution built on them.

Interfaces::

    im2col(x, HH, WW, stride=1, pad=0) -> cols      (N * H_out * W_out, C * HH * WW)
        row (n * H_out + i) * W_out + j is the zero-padded window of output (n, i, j),
        flattened in (c, p, q) order, like w[f].reshape(-1)
    col2im(cols, x_shape, HH, WW, stride=1, pad=0) -> (N, C, H, W)
        the adjoint of im2col: rows added back into their windows, overlaps ADD UP
    conv_forward_im2col(x, w, b, stride=1, pad=0) -> (out, cache)
        cache = (x.shape, cols, w, stride, pad)         (given in the skeleton)
    conv_backward_im2col(dout, cache) -> (dx, dw, db)

``im2col`` is compared with the course's (reordered to (c, p, q)); ``col2im`` with the
adjoint identity <im2col(x), cols> = <x, col2im(cols)> and the reference. The fast
convolution is checked against the naive reference to 1e-10 in float64, with the
course's ``im2col`` and ``col2im`` in place of the student's (``stand_ins``): each test
cell scores its own task. Its backward pass gets the skeleton's cache built here.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from course_utils.grading import (
    assert_close,
    call_student,
    check,
    expect_callable,
    fail,
    reference,
    seal,
    substituted,
)
from course_utils.grading import stand_ins as _stand_ins
from course_utils.layers import conv as _conv

from . import conv_naive
from ._common import (
    as_result,
    conv_grads_ref,
    explain_conv_grads,
    explain_crop,
    forbid_library,
    misreadings,
    out_size,
    rearranged,
    run_cases,
    same,
)

_STAND_INS = "course_utils.grading.stand_ins"

VISIBLE_CASES = [
    ((2, 3, 5, 6), 3, 2, 1, 1),
    ((1, 2, 7, 7), 3, 3, 2, 1),
    ((2, 1, 6, 5), 2, 2, 2, 0),
]


def hidden_cases(seed: int) -> list:
    rng = np.random.default_rng(seed)
    cases = [((1, 1, 3, 3), 1, 1, 1, 0), ((2, 2, 4, 4), 4, 4, 1, 0), ((1, 3, 5, 7), 3, 3, 1, 2)]
    for _ in range(4):
        hh, ww = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        pad, stride = int(rng.integers(0, 3)), int(rng.integers(1, 4))
        h = int(rng.integers(max(hh - 2 * pad, 1), 9))
        w = int(rng.integers(max(ww - 2 * pad, 1), 9))
        cases.append(
            ((int(rng.integers(1, 4)), int(rng.integers(1, 4)), h, w), hh, ww, stride, pad)
        )
    return cases


def _case(x_shape, hh, ww, stride, pad) -> str:
    return f"(x {tuple(x_shape)}, HH={hh}, WW={ww}, stride={stride}, pad={pad})"


# --- im2col --------------------------------------------------------------------------------
def _cols_or_none(x, hh, ww, stride, pad):
    try:
        return _stand_ins.im2col(x, hh, ww, stride, pad)
    except ValueError:  # the kernel does not fit that padding
        return None


def explain_cols(got, x, hh, ww, stride, pad) -> str | None:
    got = np.asarray(got, dtype=np.float64)
    N, C, H, W = x.shape
    ho, wo = out_size(H, hh, stride, pad), out_size(W, ww, stride, pad)
    exp = _stand_ins.im2col(x, hh, ww, stride, pad)
    if got.shape == exp.shape[::-1] and got.shape != exp.shape:
        if same(got, exp.T):
            return (
                f"your matrix is the transpose, {got.shape}: CS231n's layout has one column per "
                f"window; this notebook wants one ROW per window, {exp.shape}"
            )
    if got.shape != exp.shape:
        for s2, p2, why in (
            (stride, 0, "the padding is missing: pad x with np.pad first"),
            (1, pad, "the stride is ignored: windows start at i*stride"),
        ):
            alt = _cols_or_none(x, hh, ww, s2, p2)
            if (s2, p2) != (stride, pad) and alt is not None and same(got, alt):
                return f"your matrix has shape {got.shape}, expected {exp.shape}: {why}"
        return None
    six = exp.reshape(N, ho, wo, C, hh, ww)
    rows, cols = "nij", "cpq"
    for rp in itertools.permutations(range(3)):
        for cp in itertools.permutations(range(3)):
            if rp == (0, 1, 2) and cp == (0, 1, 2):
                continue
            moved = six.transpose(*rp, *(3 + i for i in cp)).reshape(exp.shape)
            if same(got, moved):
                parts = []
                if rp != (0, 1, 2):
                    parts.append(
                        f"rows ordered ({', '.join(rows[i] for i in rp)}) instead of (n, i, j)"
                    )
                if cp != (0, 1, 2):
                    parts.append(
                        f"each row's entries ordered ({', '.join(cols[i] for i in cp)}) "
                        f"instead of (c, p, q), the order of w[f].reshape(-1)"
                    )
                return "the right windows in the wrong order: " + "; ".join(parts)
    if same(got, six[..., ::-1, ::-1].reshape(exp.shape)):
        return "each window is flipped (p, q reversed): copy it as it is"
    for s2, p2 in itertools.product(range(1, 4), range(0, 3)):
        if (s2, p2) != (stride, pad):
            alt = _cols_or_none(x, hh, ww, s2, p2)
            if alt is not None and same(got, alt):
                return f"those are the windows of stride={s2}, pad={p2}"
    return None


def check_im2col_case(im2col, x, hh, ww, stride, pad) -> None:
    case = _case(x.shape, hh, ww, stride, pad)
    got = call_student(im2col, x, hh, ww, stride, pad, label="`im2col`")
    if isinstance(got, tuple):
        fail(f"im2col {case}: returned a tuple of {len(got)} items; return the matrix only")
    cols = as_result(got, "im2col(...)", 2)
    expected = _stand_ins.im2col(x, hh, ww, stride, pad)
    if not same(cols, expected, 0, 0):
        why = explain_cols(cols, x, hh, ww, stride, pad)
        if why:
            fail(f"im2col {case}: {why}")
    assert_close(cols, expected, f"im2col(x, ...) {case}", rtol=0, atol=0, rows_are_samples=False)


# --- col2im --------------------------------------------------------------------------------
def explain_col2im(fn, got, cols, x_shape, hh, ww, stride, pad) -> str | None:
    got = np.asarray(got, dtype=np.float64)
    N, C, H, W = x_shape
    exp = _stand_ins.col2im(cols, x_shape, hh, ww, stride, pad)
    full = _stand_ins.col2im(cols, (N, C, H + 2 * pad, W + 2 * pad), hh, ww, stride, 0)
    why = explain_crop(got, x_shape, full, pad, "the result")
    if why:
        return why
    if got.shape != exp.shape:
        return None
    # How often is each pixel counted? col2im of all-ones columns is that count.
    ones = np.ones_like(cols)
    counts = np.asarray(
        call_student(fn, ones, x_shape, hh, ww, stride, pad, label="`col2im`"), dtype=np.float64
    )
    right = _stand_ins.col2im(ones, x_shape, hh, ww, stride, pad)
    if counts.shape == right.shape and right.max() > 1 and counts.max() <= 1 + 1e-12:
        return (
            f"pixels shared by overlapping windows get ONE window's value: col2im must ADD "
            f"every window's entry (+=), e.g. a pixel in {int(right.max())} windows gets "
            f"the sum of {int(right.max())} entries"
        )
    six = cols.reshape(N, out_size(H, hh, stride, pad), out_size(W, ww, stride, pad), C, hh, ww)
    for cp in itertools.permutations(range(3)):
        if cp == (0, 1, 2):
            continue
        inv = np.argsort(cp)
        moved = six.reshape(six.shape[:3] + tuple(six.shape[3 + i] for i in cp))
        read = moved.transpose(0, 1, 2, *(3 + i for i in inv)).reshape(cols.shape)
        if same(got, _stand_ins.col2im(read, x_shape, hh, ww, stride, pad)):
            order = ", ".join("cpq"[i] for i in cp)
            return (
                f"your col2im reads each row's entries in ({order}) order; im2col wrote them in "
                f"(c, p, q) order"
            )
    return None


def check_col2im_case(col2im, x_shape, hh, ww, stride, pad, seed: int) -> None:
    case = _case(x_shape, hh, ww, stride, pad)
    N, C, H, W = x_shape
    rows = N * out_size(H, hh, stride, pad) * out_size(W, ww, stride, pad)
    rng = np.random.default_rng(seed)
    cols = rng.standard_normal((rows, C * hh * ww))
    got = call_student(col2im, cols, x_shape, hh, ww, stride, pad, label="`col2im`")
    dx = as_result(got, "col2im(...)", 4)
    expected = _stand_ins.col2im(cols, x_shape, hh, ww, stride, pad)
    if not same(dx, expected):
        why = explain_col2im(col2im, dx, cols, x_shape, hh, ww, stride, pad)
        if why:
            fail(f"col2im {case}: {why}")
    assert_close(dx, expected, f"col2im(cols, ...) {case}", rtol=1e-10, atol=1e-10)
    # The adjoint identity: <im2col(x), cols> = <x, col2im(cols)>.
    x = rng.standard_normal(x_shape)
    lhs = float(np.sum(_stand_ins.im2col(x, hh, ww, stride, pad) * cols))
    rhs = float(np.sum(x * dx))
    if abs(lhs - rhs) > 1e-9 * max(1.0, abs(lhs)):
        fail(f"col2im {case}: <im2col(x), cols> = {lhs:.6g} but <x, col2im(cols)> = {rhs:.6g}")


# --- the fast convolution --------------------------------------------------------------------
def _stand_in_names() -> dict:
    return {name: reference(_STAND_INS, name) for name in ("im2col", "col2im")}


def check_fast_forward_case(fn, x, w, b, stride, pad) -> None:
    expected = _conv.conv_forward_naive(x, w, b, stride, pad)[0]  # the loops, float64
    conv_naive.check_forward_case(
        fn, x, w, b, stride, pad, name="conv_forward_im2col", known=expected, tol=1e-10
    )


def explain_fast_grads(got, dout, x, w, b, stride, pad) -> dict:
    """The naive diagnoses, plus dout (or dw) reshaped without its transpose."""
    reasons = explain_conv_grads(got, dout, x, w, b, stride, pad)
    dx, dw, db = conv_grads_ref(dout, x, w, b, stride, pad)
    g = got.get("dw")
    if g is not None and "dw" not in reasons and not same(g, dw):
        why = rearranged(g, dw, "FCHW")
        if why:
            reasons["dw"] = why
    for what, read in misreadings(dout, "NFHW"):
        ex, ew, _ = conv_grads_ref(read, x, w, b, stride, pad)
        for key, alt, right in (("dx", ex, dx), ("dw", ew, dw)):
            g = got.get(key)
            if g is not None and key not in reasons and same(g, alt) and not same(alt, right):
                reasons[key] = (
                    f"{key} is what the correct formula gives for dout with {what}: dout_mat "
                    f"must be dout.transpose(0, 2, 3, 1).reshape(-1, F) (rows (n, i, j), "
                    f"columns f); a plain reshape mixes filters and positions"
                )
    return reasons


def check_fast_backward_case(fn, x, w, b, stride, pad, seed) -> None:
    cols = _stand_ins.im2col(x, w.shape[2], w.shape[3], stride, pad)
    cache = (x.shape, cols, w, stride, pad)
    conv_naive.check_backward_case(
        fn,
        x,
        w,
        b,
        stride,
        pad,
        seed,
        name="conv_backward_im2col",
        cache=cache,
        explain=explain_fast_grads,
    )


@check
def check_im2col(im2col) -> None:
    """Visible: three fixed cases, exact values; no library im2col."""
    expect_callable(im2col, "im2col")
    for k, (xs, hh, ww, stride, pad) in enumerate(VISIBLE_CASES):
        x = np.random.default_rng(k).standard_normal(xs)
        check_im2col_case(im2col, x, hh, ww, stride, pad)
    forbid_library(im2col, "`im2col`")


@check
def check_im2col_hidden(im2col) -> None:
    """Hidden: random shapes, kernels, strides and paddings; float32 keeps its dtype."""
    expect_callable(im2col, "im2col")
    run_cases(
        functools.partial(
            check_im2col_case,
            im2col,
            np.random.default_rng(30 + k).standard_normal(xs),
            hh,
            ww,
            stride,
            pad,
        )
        for k, (xs, hh, ww, stride, pad) in enumerate(hidden_cases(63))
    )
    x = np.random.default_rng(9).standard_normal((2, 3, 6, 6)).astype(np.float32)
    cols = as_result(call_student(im2col, x, 3, 3, 1, 1, label="`im2col`"), "im2col(...)", 2)
    if cols.dtype != np.float32:
        fail(
            f"im2col of a float32 x returned {cols.dtype}: keep x's dtype (training in float32 "
            f"is twice as fast)"
        )


@check
def check_col2im(col2im) -> None:
    """Visible: three fixed cases (overlapping windows); the adjoint identity."""
    expect_callable(col2im, "col2im")
    for k, (xs, hh, ww, stride, pad) in enumerate(VISIBLE_CASES):
        check_col2im_case(col2im, xs, hh, ww, stride, pad, seed=40 + k)
    forbid_library(col2im, "`col2im`")


@check
def check_col2im_hidden(col2im) -> None:
    """Hidden: random shapes, kernels, strides and paddings."""
    expect_callable(col2im, "col2im")
    run_cases(
        functools.partial(check_col2im_case, col2im, xs, hh, ww, stride, pad, seed=50 + k)
        for k, (xs, hh, ww, stride, pad) in enumerate(hidden_cases(64))
    )


@check
def check_conv_forward_im2col(conv_forward_im2col) -> None:
    """Visible: the fixed conv cases, against the loops to 1e-10 (course im2col in place)."""
    expect_callable(conv_forward_im2col, "conv_forward_im2col")
    with substituted(conv_forward_im2col, _stand_in_names()):
        for k, (xs, ws, stride, pad) in enumerate(conv_naive.VISIBLE_CASES):
            x, w, b = conv_naive.data(xs, ws, k)
            check_fast_forward_case(conv_forward_im2col, x, w, b, stride, pad)
    forbid_library(conv_forward_im2col, "`conv_forward_im2col`")


@check
def check_conv_forward_im2col_hidden(conv_forward_im2col) -> None:
    """Hidden: random shapes, strides and paddings."""
    expect_callable(conv_forward_im2col, "conv_forward_im2col")
    with substituted(conv_forward_im2col, _stand_in_names()):
        run_cases(
            functools.partial(
                check_fast_forward_case,
                conv_forward_im2col,
                *conv_naive.data(xs, ws, 400 + k),
                stride,
                pad,
            )
            for k, (xs, ws, stride, pad) in enumerate(conv_naive.hidden_cases(608))
        )


@check
def check_conv_backward_im2col(conv_backward_im2col) -> None:
    """Visible: the fixed conv cases; dx, dw, db against numerical gradients."""
    expect_callable(conv_backward_im2col, "conv_backward_im2col")
    with substituted(conv_backward_im2col, _stand_in_names()):
        for k, (xs, ws, stride, pad) in enumerate(conv_naive.VISIBLE_CASES):
            x, w, b = conv_naive.data(xs, ws, k)
            check_fast_backward_case(conv_backward_im2col, x, w, b, stride, pad, seed=60 + k)
    forbid_library(conv_backward_im2col, "`conv_backward_im2col`")


@check
def check_conv_backward_im2col_hidden(conv_backward_im2col) -> None:
    """Hidden: random shapes, strides and paddings."""
    expect_callable(conv_backward_im2col, "conv_backward_im2col")
    with substituted(conv_backward_im2col, _stand_in_names()):
        run_cases(
            functools.partial(
                check_fast_backward_case,
                conv_backward_im2col,
                *conv_naive.data(xs, ws, 500 + k),
                stride,
                pad,
                seed=70 + k,
            )
            for k, (xs, ws, stride, pad) in enumerate(conv_naive.hidden_cases(609))
        )


seal(__name__)
