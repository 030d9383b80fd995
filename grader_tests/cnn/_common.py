"""What the checks of 06_cnn share: references, known answers, structural diagnoses.

References are the grader's own (``course_utils.layers.conv`` / ``pooling``, run here, in
float64); known answers come from TensorFlow (``tf.nn.conv2d`` on NHWC/HWIO transposes,
``tf.nn.max_pool2d``), imported quietly only when a check needs one.

A wrong result is explained by what it IS, not by matching a list of known wrong
programs: the checks ask which simple change of the computation reproduces it exactly
(``explain_conv_output``: the kernel flipped, a different window grid (stride, padding
on one side), the bias in the wrong place, channels not summed, axes exchanged; the
right numbers in another memory order, ``rearranged``; a gradient a sum of per-image or
per-filter parts with the wrong weights, ``explain_by_parts``; a crop of the padded
gradient at the wrong offset, ``explain_crop``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np

from course_utils.grading import (
    call_student,
    describe_value,
    fail,
    is_remote,
    library_names,
    to_array,
)
from course_utils.grading import forbid_library as _forbid_library
from course_utils.layers import conv as _conv
from course_utils.layers import pooling as _pool

# --- what the student must not use -------------------------------------------------------
LIBRARY = [
    "course_utils.layers.Conv2D",
    "course_utils.layers.Conv2DNaive",
    "course_utils.layers.MaxPool2D",
    "course_utils.layers.conv.conv_forward_naive",
    "course_utils.layers.conv.conv_backward_naive",
    "course_utils.layers.conv.conv_forward_im2col",
    "course_utils.layers.conv.conv_backward_im2col",
    "course_utils.layers.conv.im2col",
    "course_utils.layers.conv.col2im",
    "course_utils.layers.pooling.max_pool_forward",
    "course_utils.layers.pooling.max_pool_backward",
    "course_utils.grading.stand_ins.im2col",
    "course_utils.grading.stand_ins.col2im",
    "course_utils.grading.stand_ins.conv_forward_im2col",
    "course_utils.grading.stand_ins.conv_backward_im2col",
    "scipy.signal.correlate",
    "scipy.signal.convolve",
    "scipy.signal.correlate2d",
    "scipy.signal.convolve2d",
    "scipy.ndimage.correlate",
    "scipy.ndimage.convolve",
    "scipy.ndimage.maximum_filter",
]
_TF_LIBRARY = [
    "tf.nn.conv2d",
    "tf.nn.convolution",
    "tf.nn.max_pool2d",
    "tf.nn.max_pool",
    "tf.image.extract_patches",
]
NUMPY_HINT = (
    "write it with NumPy (loops, slicing, np.pad, np.sum, @); the course library's and "
    "TensorFlow's layers are what this task rebuilds"
)


def forbid_library(fn, what: str) -> None:
    _forbid_library(fn, library_names(LIBRARY, _TF_LIBRARY), what, NUMPY_HINT)


# --- small helpers -----------------------------------------------------------------------
def same(a, b, rtol: float = 1e-7, atol: float = 1e-10) -> bool:
    try:
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= atol + rtol * np.abs(b)))


def as_result(got, name: str, ndim: int) -> np.ndarray:
    """The student's array (a copy), or a failure naming what came instead."""
    if got is None:
        fail(f"`{name}` is None: did you forget to `return` it?")
    return to_array(got, name, expected_ndim=ndim)


def pair_of(result, name: str, what: str = "(out, cache)"):
    if not (isinstance(result, tuple) and len(result) == 2):
        extra = f" of length {len(result)}" if isinstance(result, tuple) else ""
        fail(f"`{name}` must return a pair {what}, got {describe_value(result)}{extra}")
    return result


def triple_of(result, name: str):
    if not (isinstance(result, tuple | list) and len(result) == 3):
        extra = f" of length {len(result)}" if isinstance(result, tuple | list) else ""
        fail(
            f"`{name}` must return three gradients (dx, dw, db), got "
            f"{describe_value(result)}{extra}"
        )
    return result


def outputs_of(fn, calls: Sequence[tuple], label: str, select: int | None = None) -> list:
    """``fn(*args)`` (its item ``select``) for every args tuple: one request when remote.

    The first call goes through ``call_student`` (an exception becomes the check's message,
    the same in both places); the others run in one batch.
    """
    first = call_student(fn, *calls[0], label=label)
    results = [first if select is None else first[select]]
    rest = [tuple(c) for c in calls[1:]]
    if is_remote(fn):
        return results + list(fn.map(rest, select=select))
    for args in rest:
        r = call_student(fn, *args, label=label)
        results.append(r if select is None else r[select])
    return results


def random_input(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.standard_normal(shape)


# --- references ---------------------------------------------------------------------------
def conv_ref(x, w, b, stride=1, pad=0) -> np.ndarray:
    x, w, b = (np.asarray(a, dtype=np.float64) for a in (x, w, b))
    return _conv.conv_forward_im2col(x, w, b, stride, pad)[0]


def conv_grads_ref(dout, x, w, b, stride=1, pad=0):
    x, w, b = (np.asarray(a, dtype=np.float64) for a in (x, w, b))
    _, cache = _conv.conv_forward_im2col(x, w, b, stride, pad)
    return _conv.conv_backward_im2col(np.asarray(dout, dtype=np.float64), cache)


def pool_ref(x, pool, stride) -> np.ndarray:
    return _pool.max_pool_forward(np.asarray(x, dtype=np.float64), pool, stride)[0]


def pool_grad_ref(dout, x, pool, stride) -> np.ndarray:
    _, cache = _pool.max_pool_forward(np.asarray(x, dtype=np.float64), pool, stride)
    return _pool.max_pool_backward(np.asarray(dout, dtype=np.float64), cache)


def out_size(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


def _tf():
    from course_utils.environment import import_tensorflow

    return import_tensorflow()


def tf_conv(x, w, b, stride, pad) -> np.ndarray:
    """``tf.nn.conv2d`` on the NHWC input and HWIO filters, back to NCHW, plus the bias."""
    tf = _tf()
    out = tf.nn.conv2d(
        tf.constant(np.transpose(x, (0, 2, 3, 1))),
        tf.constant(np.transpose(w, (2, 3, 1, 0))),
        strides=[1, stride, stride, 1],
        padding=[[0, 0], [pad, pad], [pad, pad], [0, 0]],
    )
    return np.transpose(out.numpy(), (0, 3, 1, 2)) + np.asarray(b)[None, :, None, None]


def tf_max_pool(x, pool, stride) -> np.ndarray:
    tf = _tf()
    out = tf.nn.max_pool2d(
        tf.constant(np.transpose(x, (0, 2, 3, 1))), ksize=pool, strides=stride, padding="VALID"
    )
    return np.transpose(out.numpy(), (0, 3, 1, 2))


def tf_max_pool_grad(x, dout, pool, stride) -> np.ndarray:
    tf = _tf()
    xt = tf.constant(np.transpose(x, (0, 2, 3, 1)))
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = tf.nn.max_pool2d(xt, ksize=pool, strides=stride, padding="VALID")
    g = tape.gradient(out, xt, output_gradients=tf.constant(np.transpose(dout, (0, 2, 3, 1))))
    return np.transpose(g.numpy(), (0, 3, 1, 2))


# --- structure: the same numbers in another order ------------------------------------------
def rearranged(got, expected, axes: str, layout: str | None = None) -> str | None:
    """If ``got`` holds ``expected``'s numbers in another axis order, say which.

    ``axes`` names the expected array's axes, e.g. "NFHW" for (N, F, H_out, W_out). Two
    mistakes are recognised: the axes transposed (``got`` is ``expected.transpose(perm)``)
    and a reshape without the transpose it needed (``got`` is ``expected.transpose(perm)``
    read in memory order into ``expected``'s shape).
    """
    got = np.asarray(got, dtype=np.float64)
    exp = np.asarray(expected, dtype=np.float64)
    if got.size != exp.size or same(got.reshape(exp.shape) if got.shape == exp.shape else got, exp):
        return None
    names = list(axes)
    for perm in itertools.permutations(range(exp.ndim)):
        if perm == tuple(range(exp.ndim)):
            continue
        moved = exp.transpose(perm)
        order = "".join(names[i] for i in perm)
        if got.shape == moved.shape and same(got, moved):
            return (
                f"the values are right but the axes are in the order ({', '.join(order)}), "
                f"expected ({', '.join(names)}): transpose them"
            )
        if got.shape == exp.shape and same(got, np.ascontiguousarray(moved).reshape(exp.shape)):
            what = f" ({layout})" if layout else ""
            return (
                f"the right numbers in the wrong places: your array is the ({', '.join(order)}) "
                f"array{what} reshaped straight to ({', '.join(names)}). A reshape keeps the "
                f"memory order; move the axes with transpose first (and reshape after)"
            )
    return None


def explain_by_parts(
    got,
    parts: Sequence[np.ndarray],
    rest: np.ndarray | None,
    what: str,
    each: str,
    labels: Sequence[str] | None = None,
) -> str | None:
    """``got`` as ``sum_k a_k parts[k] (+ c rest)``: name the weights when they are simple.

    ``parts`` are the contributions that must be summed with weight 1 (one per image, per
    filter, per channel ...; ``labels[k]`` names part k), ``rest`` a further term (the
    bias) with weight 1.
    """
    coef = _coefficients(got, parts, rest)
    if coef is None:
        return None
    coef = np.round(coef, 6)
    k = len(parts)
    labels = list(labels) if labels is not None else [f"{each} {i}" for i in range(k)]
    a, c = coef[:k], (coef[k] if rest is not None else 1.0)
    if np.allclose(a, 1) and np.isclose(c, 1):
        return None
    if np.allclose(a, 1) and rest is not None:
        return _rest_sentence(c)
    kept = [i for i in range(k) if not np.isclose(a[i], 0)]
    if len(kept) == 1 and np.isclose(a[kept[0]], 1) and k > 1:
        return (
            f"{what} holds only the contribution of {labels[kept[0]]} (of {k} parts): the "
            f"others are lost. Sum over every {each}: accumulate with += instead of assigning, "
            f"and do not reset the sum inside the loop"
        )
    if np.allclose(a, a[0]) and not np.isclose(a[0], 0):
        f = a[0]
        if np.isclose(f, 1 / k):
            return f"{what} is the MEAN over the {k} {each}s, not their SUM"
        return f"{what} is {f:g} times the sum over the {each}s (an extra factor)"
    return None


def _rest_sentence(c: float) -> str:
    if np.isclose(c, 0):
        return "the bias is missing: add b[f] to every output of filter f"
    return f"the bias is added {c:g} times to each output instead of once"


def misreadings(a: np.ndarray, axes: str):
    """(description, array) for each way of reading ``a``'s numbers in another axis order.

    Two families: the memory read as another layout and transposed back
    (``a.reshape(L).transpose(...)``, e.g. TensorFlow's HWIO filters taken for FCHW), and
    the axes moved and the result reshaped back without the inverse move
    (``a.transpose(perm).reshape(a.shape)``).
    """
    a = np.asarray(a, dtype=np.float64)
    dims = dict(zip(axes, a.shape, strict=True))
    seen = [a]
    for layout in itertools.permutations(axes):
        if layout == tuple(axes):
            continue
        read = a.reshape([dims[n] for n in layout]).transpose([layout.index(n) for n in axes])
        moved = np.ascontiguousarray(a.transpose([axes.index(n) for n in layout])).reshape(a.shape)
        for what, arr in (
            (f"its memory read as a ({', '.join(layout)}) array", read),
            (
                f"its axes moved to ({', '.join(layout)}) and reshaped back to "
                f"({', '.join(axes)}) without moving them back",
                moved,
            ),
        ):
            if not any(same(arr, s) for s in seen):
                seen.append(arr)
                yield what, arr


# --- structure: convolution outputs ------------------------------------------------------
def _shape_reason(got_shape, x_shape, w_shape, stride, pad) -> str | None:
    N, C, H, W = x_shape
    F, _, HH, WW = w_shape
    s, p = stride, pad
    exp = (N, F, out_size(H, HH, s, p), out_size(W, WW, s, p))
    if tuple(got_shape) == exp:
        return None
    if len(got_shape) != 4:
        return f"expected 4 axes (N, F, H_out, W_out) = {exp}, got shape {tuple(got_shape)}"
    if tuple(got_shape) == (N, exp[2], exp[3], F):
        return (
            f"shape {tuple(got_shape)} is channels-last (N, H_out, W_out, F); the layout "
            f"is NCHW: (N, F, H_out, W_out) = {exp}"
        )
    if tuple(got_shape) == (N, F, exp[3], exp[2]) and exp[2] != exp[3]:
        return f"H_out and W_out are exchanged: expected {exp}, got {tuple(got_shape)}"
    formulas = [
        (lambda n, k: (n + 2 * p - k) // s, "(H + 2*pad - HH) // stride, without the + 1"),
        (
            lambda n, k: -(-(n + 2 * p - k) // s) + 1,
            "the division rounded UP; the output size is floor((H + 2*pad - HH) / stride) + 1",
        ),
        (
            lambda n, k: (n + p - k) // s + 1,
            "(H + pad - HH) // stride + 1: the padding counted on one side only (it is "
            "added on both sides: 2*pad)",
        ),
        (lambda n, k: (n - k) // s + 1, "(H - HH) // stride + 1: the padding is ignored"),
        (lambda n, k: n + 2 * p - k + 1, "(H + 2*pad - HH) + 1: the stride is ignored"),
        (
            lambda n, k: n + 2 * p - k // s + 1,
            "H + 2*pad - HH // stride + 1: operator precedence, put (H + 2*pad - HH) in brackets",
        ),
        (lambda n, k: (n + 2 * p - k) // s - 1, "(H + 2*pad - HH) // stride - 1 instead of + 1"),
        (lambda n, k: (n + 2 * p) // s, "(H + 2*pad) // stride: the kernel size is ignored"),
        (lambda n, k: n // s, "H // stride: the kernel size and padding are ignored"),
        (
            lambda n, k: (n + 4 * p - k) // s + 1,
            "(H + 4*pad - HH) // stride + 1: the input is padded twice (2*pad on each side)",
        ),
    ]
    matching = [
        why
        for formula, why in formulas
        if got_shape[:2] == (N, F)
        and got_shape[2] == formula(H, HH)
        and got_shape[3] == formula(W, WW)
    ]
    if matching:
        return (
            f"your output has shape {tuple(got_shape)}, expected {exp}: your output size "
            f"looks like {' (or: '.join(matching)}{')' * (len(matching) - 1)}"
        )
    return None


def conv_shape_reason(got_shape, x_shape, w_shape, stride, pad) -> str | None:
    return _shape_reason(got_shape, x_shape, w_shape, stride, pad)


def _dense(x, w, margin: int) -> np.ndarray:
    """Stride-1 correlation (no bias) of x zero-padded by ``margin`` on every side."""
    return conv_ref(x, w, np.zeros(w.shape[0]), 1, margin)


def _grid(got, x, w, b, stride, pad) -> str | None:
    """Windows taken on another grid: rows i*s' + o (a missing stride, one-sided padding)."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = got.shape[2:]
    m = pad + max(HH, WW)
    dense = _dense(x, w, m) + np.asarray(b)[None, :, None, None]
    right = m - pad  # where window 0 starts in the dense grid
    for sr in sorted({stride, 1, stride + 1, 2} - {0}):
        for sc in sorted({stride, 1, stride + 1, 2} - {0}):
            for orow in range(0, dense.shape[2]):
                if orow + (Ho - 1) * sr >= dense.shape[2]:
                    break
                for ocol in range(0, dense.shape[3]):
                    if ocol + (Wo - 1) * sc >= dense.shape[3]:
                        break
                    if (sr, sc, orow, ocol) == (stride, stride, right, right):
                        continue
                    cand = dense[
                        :,
                        :,
                        orow : orow + (Ho - 1) * sr + 1 : sr,
                        ocol : ocol + (Wo - 1) * sc + 1 : sc,
                    ]
                    if cand.shape == got.shape and same(got, cand):
                        return _grid_sentence(sr, sc, orow - right, ocol - right, stride, pad)
    return None


def _grid_sentence(sr, sc, dr, dc, stride, pad) -> str:
    if (sr, sc) != (stride, stride):
        return (
            f"your windows step by ({sr}, {sc}) pixels, the stride is {stride}: window "
            f"(i, j) starts at row i*stride and column j*stride of the padded input"
        )
    if dr == dc == -pad:
        return (
            f"the window grid is shifted by pad = {pad} rows and columns towards the top "
            f"left: the input is padded on one side only (zeros before the image, none "
            f"after); np.pad with (pad, pad) on both H and W"
        )
    if dr == dc == pad:
        return (
            f"the window grid is shifted by pad = {pad} rows and columns towards the bottom "
            f"right: the input is padded on one side only (all the zeros after the image), "
            f"or windows start at i*stride + pad"
        )
    return (
        f"each window starts {dr:+d} rows and {dc:+d} columns away from where it should "
        f"(row i*stride, column j*stride of the zero-padded input): padding on one side "
        f"only, or an offset in the window's index"
    )


def explain_conv_output(got, x, w, b, stride, pad) -> str | None:
    """One sentence naming what the student's convolution output IS, or None."""
    got = np.asarray(got, dtype=np.float64)
    x, w, b = (np.asarray(a, dtype=np.float64) for a in (x, w, b))
    exp = conv_ref(x, w, b, stride, pad)
    reason = _shape_reason(got.shape, x.shape, w.shape, stride, pad)
    if reason:
        return reason
    if got.shape != exp.shape or same(got, exp):
        return None
    F, C, HH, WW = w.shape
    nb = conv_ref(x, w, np.zeros_like(b), stride, pad)
    if same(got, conv_ref(x, w[:, :, ::-1, ::-1], b, stride, pad)):
        return (
            "that is a TRUE convolution (the kernel flipped in both directions); deep-learning "
            "'convolution' is cross-correlation: out = sum(window * w[f]), no flip"
        )
    for axis, word in ((2, "vertically"), (3, "horizontally")):
        flipped = np.flip(w, axis=axis)
        if not same(flipped, w) and same(got, conv_ref(x, flipped, b, stride, pad)):
            return f"the kernel is flipped {word}: use w[f] as it is (cross-correlation)"
    if HH == WW and not same(w, w.transpose(0, 1, 3, 2)):
        if same(got, conv_ref(x, w.transpose(0, 1, 3, 2), b, stride, pad)):
            return "the kernel is transposed (w[f, c, q, p] used for w[f, c, p, q])"
    if x.shape[2] == x.shape[3]:
        xt = x.transpose(0, 1, 3, 2)
        if not same(xt, x) and same(got, conv_ref(xt, w, b, stride, pad)):
            return "rows and columns of x are exchanged (x[n, c, j, i] used for x[n, c, i, j])"
        if same(got, conv_ref(xt, w, b, stride, pad).transpose(0, 1, 3, 2)):
            return (
                "rows and columns are exchanged between the input and the kernel (x "
                "indexed [.., column, row] while w is indexed [.., row, column])"
            )
    why = rearranged(got, exp, "NFHW")
    if why:
        return why
    # the bias: missing, repeated, or broadcast along the wrong axis
    resid = got - nb
    for axis, name in ((3, "W_out (columns)"), (2, "H_out (rows)"), (0, "N (images)")):
        if got.shape[axis] == F and not np.allclose(b, b[0]):
            shape = [1, 1, 1, 1]
            shape[axis] = F
            if same(resid, np.broadcast_to(b.reshape(shape), got.shape)):
                return (
                    f"the bias is broadcast along the axis of {name}: b has one entry per "
                    f"FILTER, add b[f] to out[:, f] (b[None, :, None, None])"
                )
    if same(resid, np.full(got.shape, b.sum())) and F > 1:
        return "every output gets the sum of ALL biases: add only b[f] to the outputs of filter f"
    # the filters read in another layout (TensorFlow's HWIO, channels-last), reshaped back
    for what, read in misreadings(w, "FCHW"):
        if same(got, conv_ref(x, read, b, stride, pad)):
            return (
                f"each filter's numbers are read in the wrong order: your result is the "
                f"convolution with w {what}; this notebook's w is (F, C, HH, WW) and a window "
                f"flattens in (c, p, q) order: use w.reshape(F, -1) as it is"
            )
    # channels: per-channel parts of the sum, and the bias as a further part
    parts = [
        conv_ref(x[:, c : c + 1], w[:, c : c + 1], np.zeros_like(b), stride, pad) for c in range(C)
    ]
    bias = np.broadcast_to(b[None, :, None, None], got.shape)
    rest = bias if np.any(b) else None
    coef = _coefficients(got, parts, rest)
    if coef is not None:
        a, c = coef[:C], (coef[C] if rest is not None else 1.0)
        if np.allclose(a, 1) and rest is not None:
            for times, where in (
                (HH * WW, "once per kernel entry"),
                (C * HH * WW, "once per entry of the window (C*HH*WW)"),
                (C, "once per input channel"),
            ):
                if times > 1 and np.isclose(c, times):
                    return (
                        f"the bias is added {times} times, {where}: it is inside the sum over "
                        f"the window; add b[f] once per output value"
                    )
        if np.allclose(a, 1.0 / (C * HH * WW)) and C * HH * WW > 1:
            return (
                f"your output uses the MEAN over the window (divided by C*HH*WW = "
                f"{C * HH * WW}); a convolution SUMS window * w[f]"
            )
    why = explain_by_parts(got, parts, rest, "your output", "input channel")
    if why:
        return why
    return None


def _coefficients(got, parts, rest):
    cols = [np.asarray(p, dtype=np.float64).reshape(-1) for p in parts]
    if rest is not None:
        cols.append(np.asarray(rest, dtype=np.float64).reshape(-1))
    g = np.asarray(got, dtype=np.float64).reshape(-1)
    if g.size < len(cols) + 2:
        return None
    A = np.stack(cols, axis=1)
    coef, *_ = np.linalg.lstsq(A, g, rcond=None)
    if float(np.abs(A @ coef - g).max()) > 1e-6 * max(float(np.abs(g).max()), 1e-12):
        return None
    return coef


def conv_output_grid_reason(got, x, w, b, stride, pad) -> str | None:
    """The window-grid diagnosis on its own (slower: tried last)."""
    got = np.asarray(got, dtype=np.float64)
    if got.ndim != 4 or got.shape[:2] != (x.shape[0], w.shape[0]):
        return None
    return _grid(
        got, np.asarray(x, np.float64), np.asarray(w, np.float64), np.asarray(b), stride, pad
    )


# --- structure: gradients that should be cropped from a padded array -----------------------
def explain_crop(got, x_shape, full_padded: np.ndarray, pad: int, name: str) -> str | None:
    """``got`` vs the gradient of the padded input: not cropped, or cropped at an offset."""
    got = np.asarray(got, dtype=np.float64)
    N, C, H, W = x_shape
    if got.shape == full_padded.shape and pad > 0:
        if same(got, full_padded):
            return (
                f"{name} has the padded shape {got.shape}: it still includes the gradient of the "
                f"zero padding; crop it to the input's (N, C, H, W) = {tuple(x_shape)}"
            )
    if got.shape == tuple(x_shape) and pad > 0:
        for r in range(0, 2 * pad + 1):
            for c in range(0, 2 * pad + 1):
                if (r, c) == (pad, pad):
                    continue
                if same(got, full_padded[:, :, r : r + H, c : c + W]):
                    return (
                        f"{name} is cropped from the padded gradient starting at row {r}, "
                        f"column {c}; the image starts at row pad = {pad}, column {pad}: "
                        f"dx = dx_pad[:, :, pad:pad + H, pad:pad + W]"
                    )
    if got.size == 0 and pad == 0:
        return (
            f"{name} is empty: with pad = 0, dx_pad[:, :, pad:-pad] is dx_pad[:, :, 0:0]; "
            f"crop with pad:pad + H instead of pad:-pad"
        )
    return None


def conv_backward_parts(dout, x, w, stride, pad):
    """Per-image parts of dw and per-(image, filter) parts of dx, with their labels."""
    N, F = dout.shape[0], w.shape[0]
    zeros = np.zeros(F)
    dw_parts = [
        conv_grads_ref(dout[n : n + 1], x[n : n + 1], w, zeros, stride, pad)[1] for n in range(N)
    ]
    dx_parts, dx_labels = [], []
    for n in range(N):
        for f in range(F):
            d = np.zeros_like(dout)
            d[n, f] = dout[n, f]
            dx_parts.append(conv_grads_ref(d, x, w, zeros, stride, pad)[0])
            dx_labels.append(f"image {n}, filter {f}")
    return dw_parts, (dx_parts, dx_labels)


def explain_conv_grads(got: dict, dout, x, w, b, stride, pad) -> dict[str, str]:
    """For each of dx, dw, db that is wrong, the sentence naming its structure (if found)."""
    dx, dw, db = conv_grads_ref(dout, x, w, b, stride, pad)
    out: dict[str, str] = {}
    N, C, H, W = x.shape
    F = w.shape[0]
    Ho, Wo = dout.shape[2:]
    g = got.get("db")
    if g is not None and not same(g, db):
        g = np.asarray(g, dtype=np.float64)
        if g.shape == (F,):
            for what, alt in (
                (
                    "the MEAN of dout over (N, H_out, W_out); db is the SUM",
                    dout.mean(axis=(0, 2, 3)),
                ),
                ("summed over image 0 only; sum over every image n too", dout[0].sum(axis=(1, 2))),
                (
                    "dout summed over (H_out, W_out) of the last image only: db is overwritten per "
                    "image instead of accumulated",
                    dout[-1].sum(axis=(1, 2)),
                ),
            ):
                if same(g, alt):
                    out["db"] = f"db is {what}"
                    break
        elif g.shape == dout.shape[1:] or g.shape == (N, F) or g.shape == (F, Ho, Wo):
            out["db"] = (
                f"db has shape {g.shape}: sum dout over the batch AND both spatial axes, "
                f"db = dout.sum(axis=(0, 2, 3)) of shape ({F},)"
            )
    g = got.get("dw")
    if g is not None and not same(g, dw):
        g = np.asarray(g, dtype=np.float64)
        if g.shape == dw.shape:
            if same(g, dw[:, :, ::-1, ::-1]):
                out["dw"] = (
                    "dw is flipped in both spatial directions: dw[f] accumulates "
                    "dout[n, f, i, j] * window, with the window as it is"
                )
            else:
                dw_parts, _ = conv_backward_parts(dout, x, w, stride, pad)
                why = explain_by_parts(g, dw_parts, None, "dw", "image")
                why = why or rearranged(g, dw, "FCHW", None)
                if why:
                    out["dw"] = why
    g = got.get("dx")
    if g is not None and not same(g, dx):
        g = np.asarray(g, dtype=np.float64)
        full = _full_padded_dx(dout, x, w, stride, pad)
        why = explain_crop(g, x.shape, full, pad, "dx")
        if not why and g.shape == dx.shape:
            flipped = conv_grads_ref(dout, x, w[:, :, ::-1, ::-1], b, stride, pad)[0]
            if same(g, flipped):
                why = (
                    "dx uses the flipped kernel: each window receives dout[n, f, i, j] * "
                    "w[f] as it is"
                )
            else:
                _, (dx_parts, labels) = conv_backward_parts(dout, x, w, stride, pad)
                why = explain_by_parts(g, dx_parts, None, "dx", "filter", labels)
        if why:
            out["dx"] = why
    return out


def _full_padded_dx(dout, x, w, stride, pad) -> np.ndarray:
    """The gradient with respect to the ZERO-PADDED input (before cropping)."""
    N, C, H, W = x.shape
    xp = np.pad(np.asarray(x, np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    return conv_grads_ref(dout, xp, w, np.zeros(w.shape[0]), stride, 0)[0]


def numerical_grad(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dout: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Central differences of sum(f(x) * dout) with respect to every entry of x (float64)."""
    x = np.array(x, dtype=np.float64, copy=True)
    grad = np.zeros_like(x)
    flat, g = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        plus = float(np.sum(f(x) * dout))
        flat[i] = old - h
        minus = float(np.sum(f(x) * dout))
        flat[i] = old
        g[i] = (plus - minus) / (2 * h)
    return grad


def diagnosed(message: str) -> bool:
    """Whether a failure message names a structure (not only 'k entries differ')."""
    first = message.split("\n")[0]
    return not ("entries differ" in first or "relative error" in first)


def run_cases(thunks) -> None:
    """Run every case; on failures raise the first one whose message names the bug.

    Tiny cases (a 1x1 output, one window) are honest tests but leave a wrong result too
    few numbers to tell its structure; a larger failing case usually can.
    """
    failures = []
    for thunk in thunks:
        try:
            thunk()
        except AssertionError as exc:
            failures.append(exc)
    if failures:
        best = next((e for e in failures if diagnosed(str(e))), failures[0])
        raise best
