"""Task 2 of 06_cnn: ``max_pool_forward_naive`` and ``max_pool_backward_naive``.

Interfaces::

    max_pool_forward_naive(x, pool_size=2, stride=2) -> (out, cache)
        x (N, C, H, W); out (N, C, H_out, W_out), H_out = (H - pool_size) // stride + 1;
        cache = (x, pool_size, stride)            (given in the skeleton)
    max_pool_backward_naive(dout, cache) -> dx    (N, C, H, W)

Known answers from ``tf.nn.max_pool2d`` and its gradient; test inputs are permutations of
well-separated values, so no window has a tie and central differences are exact. Windows
overlap in some cases (stride < pool_size), where an input that is the maximum of several
windows receives the sum of their gradients.

A wrong backward pass is explained by where it sends each window's gradient: to every
element, spread evenly, to the minimum, to the maximum at a transposed or un-offset
position, or assigned instead of added where windows overlap.
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
    forbid_library,
    numerical_grad,
    pair_of,
    pool_grad_ref,
    pool_ref,
    run_cases,
    same,
    tf_max_pool,
    tf_max_pool_grad,
)

# (x shape, pool_size, stride): non-overlapping, overlapping (stride < pool), leftover rows.
VISIBLE_CASES = [
    ((2, 3, 4, 6), 2, 2),
    ((1, 2, 7, 7), 3, 2),
    ((2, 1, 5, 6), 2, 1),
]


def hidden_cases(seed: int) -> list:
    rng = np.random.default_rng(seed)
    cases = [((1, 1, 3, 3), 3, 1), ((2, 2, 9, 8), 3, 3), ((1, 3, 6, 7), 4, 1)]
    for _ in range(4):
        k = int(rng.integers(1, 5))
        s = int(rng.integers(1, 4))
        h, w = int(rng.integers(k, 10)), int(rng.integers(k, 10))
        cases.append(((int(rng.integers(1, 4)), int(rng.integers(1, 4)), h, w), k, s))
    return cases


def tie_free(shape, seed: int) -> np.ndarray:
    """Distinct values at least 1e-2 apart, in random order: no window has a tie."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return (rng.permutation(n) / 100.0 - n / 200.0).reshape(shape)


def _case(x, pool, stride) -> str:
    return f"(x {x.shape}, pool_size={pool}, stride={stride})"


def _windows(x, pool, stride):
    N, C, H, W = x.shape
    ho, wo = (H - pool) // stride + 1, (W - pool) // stride + 1
    for i in range(ho):
        for j in range(wo):
            yield i, j, x[:, :, i * stride : i * stride + pool, j * stride : j * stride + pool]


def _pool_with(x, pool, stride, reduce) -> np.ndarray:
    N, C, H, W = x.shape
    ho, wo = (H - pool) // stride + 1, (W - pool) // stride + 1
    out = np.zeros((N, C, ho, wo))
    for i, j, win in _windows(x, pool, stride):
        out[:, :, i, j] = reduce(win)
    return out


def explain_pool_output(got, x, pool, stride) -> str | None:
    got = np.asarray(got, dtype=np.float64)
    N, C, H, W = x.shape
    exp_shape = (N, C, (H - pool) // stride + 1, (W - pool) // stride + 1)
    if got.shape != exp_shape:
        if len(got.shape) == 4 and got.shape[:2] == (N, C):
            matching = []
            for fh, fw, why in (
                (
                    (H - pool) // stride,
                    (W - pool) // stride,
                    "(H - pool_size) // stride, without the + 1",
                ),
                (H - pool + 1, W - pool + 1, "H - pool_size + 1: the stride is ignored"),
                (H // pool, W // pool, "H // pool_size: the stride is ignored"),
                (H // stride, W // stride, "H // stride: the window size is ignored"),
                (
                    (H - pool) // pool + 1,
                    (W - pool) // pool + 1,
                    "(H - pool_size) // pool_size + 1: the stride is ignored (windows every "
                    "pool_size pixels)",
                ),
                (
                    -(-(H - pool) // stride) + 1,
                    -(-(W - pool) // stride) + 1,
                    "the division rounded up: H_out = (H - pool_size) // stride + 1 (floor)",
                ),
            ):
                if got.shape[2:] == (fh, fw):
                    matching.append(why)
            if matching:
                return (
                    f"your output has shape {got.shape}, expected {exp_shape}: your output "
                    f"size looks like {' (or: '.join(matching)}{')' * (len(matching) - 1)}"
                )
        if got.shape == (N, exp_shape[2], exp_shape[3]) or got.shape == exp_shape[2:]:
            return (
                f"your output has shape {got.shape}: pool every image and every channel "
                f"separately, the output is (N, C, H_out, W_out) = {exp_shape}"
            )
        return None
    for reduce, why in (
        (lambda win: win.min(axis=(2, 3)), "the MINIMUM of each window; max-pooling keeps the max"),
        (lambda win: win.mean(axis=(2, 3)), "the MEAN of each window (average pooling)"),
        (lambda win: win.sum(axis=(2, 3)), "the SUM of each window; keep its maximum"),
        (
            lambda win: np.broadcast_to(win.max(axis=(1, 2, 3))[:, None], win.shape[:2]),
            "the maximum over the window AND all channels: pool each channel on its own",
        ),
        (lambda win: win[:, :, 0, 0], "the window's top-left value, not its maximum"),
    ):
        if same(got, _pool_with(x, pool, stride, reduce)):
            return f"your output is {why}"
    for s2 in {1, pool, stride + 1} - {stride}:
        alt = pool_ref(x, pool, s2)
        if alt.shape[2] >= got.shape[2] and alt.shape[3] >= got.shape[3]:
            if same(got, alt[:, :, : got.shape[2], : got.shape[3]]):
                return (
                    f"your windows step by {s2} pixels, the stride is {stride}: window (i, j) "
                    f"starts at row i*stride, column j*stride"
                )
    if H == W and same(got, pool_ref(x.transpose(0, 1, 3, 2), pool, stride).transpose(0, 1, 3, 2)):
        return None
    return None


def _route_models(x, dout, pool, stride) -> list:
    """Where each window's gradient could have gone, as full dx arrays, with what it means."""
    N, C, H, W = x.shape
    models = []

    def build(place):
        dx = np.zeros_like(x, dtype=np.float64)
        for i, j, win in _windows(x, pool, stride):
            place(dx, i, j, win, dout[:, :, i, j])
        return dx

    def every(dx, i, j, win, g):
        dx[:, :, i * stride : i * stride + pool, j * stride : j * stride + pool] += g[
            ..., None, None
        ]

    def spread(dx, i, j, win, g):
        dx[:, :, i * stride : i * stride + pool, j * stride : j * stride + pool] += (
            g[..., None, None] / pool**2
        )

    def at(index_of, assign=False, offset=True, shift=(0, 0)):
        def place(dx, i, j, win, g):
            for n in range(N):
                for c in range(C):
                    p, q = index_of(win[n, c])
                    r = (i * stride if offset else i) + p + shift[0]
                    s = (j * stride if offset else j) + q + shift[1]
                    if 0 <= r < H and 0 <= s < W:
                        if assign:
                            dx[n, c, r, s] = g[n, c]
                        else:
                            dx[n, c, r, s] += g[n, c]

        return place

    def argmax(win):
        return np.unravel_index(np.argmax(win), win.shape)

    def argmin(win):
        return np.unravel_index(np.argmin(win), win.shape)

    def argmax_transposed(win):
        p, q = np.unravel_index(np.argmax(win), win.shape)
        return q, p

    def flat_as_square(win):
        k = int(np.argmax(win))
        return k // pool, k % pool

    def mask_only(dx, i, j, win, g):
        for n in range(N):
            for c in range(C):
                p, q = argmax(win[n, c])
                dx[n, c, i * stride + p, j * stride + q] += 1.0

    models += [
        (
            build(every),
            "every element of the window gets the window's gradient; only the "
            "maximum does (the others did not change the output)",
        ),
        (
            build(spread),
            f"the gradient is spread evenly over the window (dout / {pool * pool}, "
            f"average pooling's); max-pooling sends it all to the maximum",
        ),
        (build(at(argmin)), "the gradient goes to the window's MINIMUM; it belongs to the max"),
        (
            build(at(argmax_transposed)),
            "the gradient lands at the maximum's position with row "
            "and column exchanged (unravel_index gives (row, col))",
        ),
        (
            build(at(argmax, offset=False)),
            "the gradient lands at i + p instead of i*stride + p: "
            "add the window's offset i*stride (j*stride) to the "
            "position of the max inside it",
        ),
        (
            build(at(argmax, assign=True)),
            "where windows overlap, a later window's gradient "
            "REPLACES an earlier one's: add (+=) instead of "
            "assigning (=), an input that is the max of two "
            "windows gets both gradients",
        ),
        (
            build(mask_only),
            "backward ignores dout: multiply the arg-max mask by the window's "
            "upstream gradient dout[n, c, i, j]",
        ),
    ]
    if pool == stride:
        models.append((build(at(flat_as_square)), None))
    return models


def explain_pool_backward(got, x, dout, pool, stride) -> str | None:
    got = np.asarray(got, dtype=np.float64)
    if got.shape != x.shape:
        if got.shape == dout.shape:
            return (
                f"dx has the shape of dout {dout.shape}: the gradient is shaped like the input "
                f"x {x.shape} (zero except at each window's maximum)"
            )
        return None
    correct = pool_grad_ref(dout, x, pool, stride)
    fits = [
        why
        for model, why in _route_models(x, dout, pool, stride)
        if why and same(got, model) and not same(model, correct)
    ]
    # one explanation only: in a tiny case (one window) several routes coincide
    return fits[0] if len(fits) == 1 else None


def check_pool_forward_case(fn, x, pool, stride) -> None:
    case = _case(x, pool, stride)
    result = call_student(fn, x, pool, stride, label="`max_pool_forward_naive`")
    out, _ = pair_of(result, "max_pool_forward_naive")
    out = as_result(out, "max_pool_forward_naive(...)[0]", 4)
    expected = tf_max_pool(x, pool, stride)
    if not same(out, expected):
        why = explain_pool_output(out, x, pool, stride)
        if why:
            fail(f"max_pool_forward_naive {case}: {why}")
    assert_close(out, expected, f"max_pool_forward_naive output {case}", rtol=1e-12, atol=1e-12)


def check_pool_backward_case(fn, x, pool, stride, seed: int) -> None:
    case = _case(x, pool, stride)
    N, C, H, W = x.shape
    shape = (N, C, (H - pool) // stride + 1, (W - pool) // stride + 1)
    dout = np.random.default_rng(seed).standard_normal(shape)
    got = call_student(fn, dout, (x, pool, stride), label="`max_pool_backward_naive`")
    if isinstance(got, tuple):
        fail(
            f"max_pool_backward_naive {case}: returned a tuple of {len(got)} items; it returns "
            f"dx only (one array shaped like x)"
        )
    dx = as_result(got, "max_pool_backward_naive(...)", 4)
    expected = tf_max_pool_grad(x, dout, pool, stride)
    if not same(dx, expected):
        why = explain_pool_backward(dx, x, dout, pool, stride)
        if why:
            fail(f"max_pool_backward_naive {case}: {why}")
    numeric = numerical_grad(lambda z: pool_ref(z, pool, stride), x, dout, h=1e-6)
    assert_gradient(
        dx,
        numeric,
        "dx",
        tol=1e-6,
        batch_size=N,
        batch_axis=True,
        label=f"max_pool_backward_naive {case}",
    )


@check
def check_max_pool_forward_naive(max_pool_forward_naive) -> None:
    """Visible: three fixed cases (one with overlapping windows) against tf.nn.max_pool2d."""
    expect_callable(max_pool_forward_naive, "max_pool_forward_naive")
    for k, (shape, pool, stride) in enumerate(VISIBLE_CASES):
        check_pool_forward_case(max_pool_forward_naive, tie_free(shape, k), pool, stride)
    forbid_library(max_pool_forward_naive, "`max_pool_forward_naive`")


@check
def check_max_pool_forward_naive_hidden(max_pool_forward_naive) -> None:
    """Hidden: random shapes, pool sizes and strides."""
    expect_callable(max_pool_forward_naive, "max_pool_forward_naive")
    run_cases(
        functools.partial(
            check_pool_forward_case, max_pool_forward_naive, tie_free(shape, 50 + k), pool, stride
        )
        for k, (shape, pool, stride) in enumerate(hidden_cases(61))
    )


@check
def check_max_pool_backward_naive(max_pool_backward_naive) -> None:
    """Visible: the three fixed cases; the gradient goes to each window's maximum."""
    expect_callable(max_pool_backward_naive, "max_pool_backward_naive")
    for k, (shape, pool, stride) in enumerate(VISIBLE_CASES):
        check_pool_backward_case(max_pool_backward_naive, tie_free(shape, k), pool, stride, 20 + k)
    forbid_library(max_pool_backward_naive, "`max_pool_backward_naive`")


@check
def check_max_pool_backward_naive_hidden(max_pool_backward_naive) -> None:
    """Hidden: random shapes, pool sizes and strides (many overlapping)."""
    expect_callable(max_pool_backward_naive, "max_pool_backward_naive")
    run_cases(
        functools.partial(
            check_pool_backward_case,
            max_pool_backward_naive,
            tie_free(shape, 70 + k),
            pool,
            stride,
            90 + k,
        )
        for k, (shape, pool, stride) in enumerate(hidden_cases(62))
    )


seal(__name__)
