"""Implementations of 06_cnn's tasks: correct ones and known-wrong ones.

``CORRECT[task]``: implementations every check of that task must accept (the model answer
first, then alternatives: one built on ``numpy.lib.stride_tricks.sliding_window_view``, one
on ``np.einsum``). ``WRONG``: name -> (task, implementation, regex the failure message must
match, checks that must reject it). The wrong ones are mistakes students make with
convolutions (CS231n-style assignments, forum threads); each check must name the bug.
Tasks: conv_forward_naive, conv_backward_naive, max_pool_forward_naive,
max_pool_backward_naive, im2col, col2im, conv_forward_im2col, conv_backward_im2col,
small_cnn. ``build_vgg`` implementations are made by ``keras_catalogue()`` so that importing
this module does not import TensorFlow.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from course_utils.layers.pooling import max_pool_backward as max_pool_backward_fast
from course_utils.layers.pooling import max_pool_forward as max_pool_forward_fast


def _both(task: str) -> tuple[str, str]:
    return (f"check_{task}", f"check_{task}_hidden")


def _visible(task: str) -> tuple[str]:
    return (f"check_{task}",)


def _hidden(task: str) -> tuple[str]:
    return (f"check_{task}_hidden",)


def _selector(n_out: int, k: int, stride: int, size: int) -> np.ndarray:
    """S[i, p, h] = 1 where h = i*stride + p: gathers (and, transposed, scatters) windows."""
    s = np.zeros((n_out, k, size))
    for i in range(n_out):
        for p in range(k):
            s[i, p, i * stride + p] = 1.0
    return s


# =====================================================================================
# The model answer (the solution notebook's code)
# =====================================================================================
def conv_forward_naive(x, w, b, stride=1, pad=0):
    """Convolution (cross-correlation) forward pass with explicit loops.

    Args:
        x: (N, C, H, W) inputs.
        w: (F, C, HH, WW) filters.
        b: (F,) biases.
        stride: int, step between neighbouring windows (the same along H and W).
        pad: int, zeros added on EVERY side of H and W.

    Returns:
        out: (N, F, H_out, W_out), H_out = (H + 2*pad - HH) // stride + 1 (W_out alike).
        cache: (x, w, b, stride, pad), for conv_backward_naive.
    """
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = (H + 2 * pad - HH) // stride + 1
    W_out = (W + 2 * pad - WW) // stride + 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, H_out, W_out), dtype=np.result_type(x, w, b))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[n, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    cache = (x, w, b, stride, pad)
    return out, cache


def conv_backward_naive(dout, cache):
    """Convolution backward pass with explicit loops.

    Args:
        dout: (N, F, H_out, W_out) upstream gradient.
        cache: from conv_forward_naive.

    Returns:
        dx: (N, C, H, W), dw: (F, C, HH, WW), db: (F,).
    """
    x, w, b, stride, pad = cache
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = dout.sum(axis=(0, 2, 3))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    rows = slice(i * stride, i * stride + HH)
                    cols = slice(j * stride, j * stride + WW)
                    dw[f] += dout[n, f, i, j] * x_pad[n, :, rows, cols]
                    dx_pad[n, :, rows, cols] += dout[n, f, i, j] * w[f]
    dx = dx_pad[:, :, pad : pad + H, pad : pad + W]
    return dx, dw, db


def max_pool_forward_naive(x, pool_size=2, stride=2):
    """Max-pooling forward pass with explicit loops.

    Args:
        x: (N, C, H, W) inputs.
        pool_size: int, the window is pool_size x pool_size.
        stride: int, step between neighbouring windows (stride < pool_size: they overlap).

    Returns:
        out: (N, C, H_out, W_out), H_out = (H - pool_size) // stride + 1 (W_out alike).
        cache: (x, pool_size, stride), for max_pool_backward_naive.
    """
    N, C, H, W = x.shape
    H_out = (H - pool_size) // stride + 1
    W_out = (W - pool_size) // stride + 1
    out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[
                        n,
                        c,
                        i * stride : i * stride + pool_size,
                        j * stride : j * stride + pool_size,
                    ]
                    out[n, c, i, j] = window.max()
    cache = (x, pool_size, stride)
    return out, cache


def max_pool_backward_naive(dout, cache):
    """Max-pooling backward pass: each window's gradient goes to its maximum.

    Args:
        dout: (N, C, H_out, W_out) upstream gradient.
        cache: from max_pool_forward_naive.

    Returns:
        dx: (N, C, H, W); where windows overlap, the gradients of every window an input
        is the maximum of add up.
    """
    x, pool_size, stride = cache
    N, C, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[
                        n,
                        c,
                        i * stride : i * stride + pool_size,
                        j * stride : j * stride + pool_size,
                    ]
                    p, q = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + p, j * stride + q] += dout[n, c, i, j]
    return dx


def im2col(x, HH, WW, stride=1, pad=0):
    """Copy every receptive field of x into one row of a matrix.

    Row (n * H_out + i) * W_out + j holds the (zero-padded) window of output position
    (n, i, j), flattened in (c, p, q) order, the order of w[f].reshape(-1): then
    im2col(x, ...) @ w.reshape(F, -1).T is the convolution without bias.

    Args:
        x: (N, C, H, W) inputs.
        HH, WW: kernel height and width.
        stride: int.
        pad: int, zeros on every side.

    Returns:
        cols: (N * H_out * W_out, C * HH * WW), x's dtype.
    """
    N, C, H, W = x.shape
    H_out = (H + 2 * pad - HH) // stride + 1
    W_out = (W + 2 * pad - WW) // stride + 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cols = np.empty((N, H_out, W_out, C, HH, WW), dtype=x.dtype)
    for p in range(HH):
        for q in range(WW):
            # entry (p, q) of every window at once: a strided slice of the padded image
            patch = x_pad[:, :, p : p + stride * H_out : stride, q : q + stride * W_out : stride]
            cols[:, :, :, :, p, q] = patch.transpose(0, 2, 3, 1)
    return cols.reshape(N * H_out * W_out, C * HH * WW)


def col2im(cols, x_shape, HH, WW, stride=1, pad=0):
    """The adjoint of im2col: add every row back into the window it was copied from.

    Overlapping windows ADD UP (so col2im(im2col(x)) is not x): with cols the gradient of
    im2col(x), the result is the gradient of x.

    Args:
        cols: (N * H_out * W_out, C * HH * WW), in im2col's layout.
        x_shape: (N, C, H, W), the shape of the (unpadded) image.
        HH, WW, stride, pad: as for im2col.

    Returns:
        (N, C, H, W) array.
    """
    N, C, H, W = x_shape
    H_out = (H + 2 * pad - HH) // stride + 1
    W_out = (W + 2 * pad - WW) // stride + 1
    cols6 = cols.reshape(N, H_out, W_out, C, HH, WW)
    dx_pad = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=cols.dtype)
    for p in range(HH):
        for q in range(WW):
            dx_pad[:, :, p : p + stride * H_out : stride, q : q + stride * W_out : stride] += cols6[
                :, :, :, :, p, q
            ].transpose(0, 3, 1, 2)
    return dx_pad[:, :, pad : pad + H, pad : pad + W]


def conv_forward_im2col(x, w, b, stride=1, pad=0):
    """Convolution forward pass as one matrix product on im2col(x).

    Same arguments and output as conv_forward_naive; the cache is yours to choose (it
    only has to serve conv_backward_im2col).
    """
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = (H + 2 * pad - HH) // stride + 1
    W_out = (W + 2 * pad - WW) // stride + 1
    cols = im2col(x, HH, WW, stride, pad)  # (N*H_out*W_out, C*HH*WW)
    out = cols @ w.reshape(F, -1).T + b  # (N*H_out*W_out, F)
    out = out.reshape(N, H_out, W_out, F).transpose(0, 3, 1, 2)
    cache = (x.shape, cols, w, stride, pad)
    return out, cache


def conv_backward_im2col(dout, cache):
    """Convolution backward pass with matrix products and col2im.

    Returns dx (N, C, H, W), dw (F, C, HH, WW), db (F,), as conv_backward_naive.
    """
    x_shape, cols, w, stride, pad = cache
    F, C, HH, WW = w.shape
    dout_mat = dout.transpose(0, 2, 3, 1).reshape(-1, F)  # (N*H_out*W_out, F)
    dw = (dout_mat.T @ cols).reshape(w.shape)
    db = dout_mat.sum(axis=0)
    dx = col2im(dout_mat @ w.reshape(F, -1), x_shape, HH, WW, stride, pad)
    return dx, dw, db


class SmallCNN:
    """conv(K) - relu - 2x2 max-pool - conv(K) - relu - 2x2 max-pool - linear, on 28x28 images.

    Both convolutions have stride 1 and pad K // 2 (28x28 stays 28x28, then 14x14), so the
    linear layer sees F2 * 7 * 7 features, flattened in (F2, 7, 7) order (reshape(N, -1)).

    Args:
        num_filters: (F1, F2), filters of the two convolutions.
        kernel_size: K, odd.
        seed: seeds the He-normal initial filters and weights; biases start at 0.
        dtype: np.float32 for training (twice as fast), np.float64 for checks.

    Attributes:
        params: {"w1": (F1, 1, K, K), "b1": (F1,), "w2": (F2, F1, K, K), "b2": (F2,),
                 "w3": (F2 * 7 * 7, 10), "b3": (10,)}
        grads: the same keys and shapes, filled (overwritten) by backward.
    """

    def __init__(self, num_filters=(8, 16), kernel_size=5, seed=0, dtype=np.float32):
        F1, F2 = num_filters
        K = kernel_size
        rng = np.random.default_rng(seed)

        def he(shape, fan_in):
            return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)

        self.params = {
            "w1": he((F1, 1, K, K), K * K),
            "b1": np.zeros(F1, dtype=dtype),
            "w2": he((F2, F1, K, K), F1 * K * K),
            "b2": np.zeros(F2, dtype=dtype),
            "w3": he((F2 * 7 * 7, 10), F2 * 7 * 7),
            "b3": np.zeros(10, dtype=dtype),
        }
        self.pad = K // 2
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}

    def forward(self, x):
        """(N, 1, 28, 28) images -> (N, 10) class scores; keeps what backward needs."""
        p = self.params
        h1, self.conv1 = conv_forward_im2col(x, p["w1"], p["b1"], 1, self.pad)
        self.relu1 = h1 > 0
        a1, self.pool1 = max_pool_forward_fast(h1 * self.relu1, 2, 2)
        h2, self.conv2 = conv_forward_im2col(a1, p["w2"], p["b2"], 1, self.pad)
        self.relu2 = h2 > 0
        a2, self.pool2 = max_pool_forward_fast(h2 * self.relu2, 2, 2)
        self.a2_shape = a2.shape
        self.flat = a2.reshape(len(x), -1)
        return self.flat @ p["w3"] + p["b3"]

    def backward(self, dscores):
        """Fill self.grads from dL/dscores (N, 10)."""
        p = self.params
        self.grads["w3"] = self.flat.T @ dscores
        self.grads["b3"] = dscores.sum(axis=0)
        da2 = (dscores @ p["w3"].T).reshape(self.a2_shape)
        dh2 = max_pool_backward_fast(da2, self.pool2) * self.relu2
        da1, self.grads["w2"], self.grads["b2"] = conv_backward_im2col(dh2, self.conv2)
        dh1 = max_pool_backward_fast(da1, self.pool1) * self.relu1
        _, self.grads["w1"], self.grads["b1"] = conv_backward_im2col(dh1, self.conv1)

    def zero_grad(self):
        for g in self.grads.values():
            g[...] = 0


# =====================================================================================
# Correct alternatives
# =====================================================================================
def conv_forward_swv(x, w, b, stride=1, pad=0):
    """All windows as a strided view, one tensordot."""
    F, C, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = sliding_window_view(x_pad, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))  # (N, H_out, W_out, F)
    return out.transpose(0, 3, 1, 2) + b[None, :, None, None], (x, w, b, stride, pad)


def conv_forward_einsum(x, w, b, stride=1, pad=0):
    """One einsum per output position."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = (H + 2 * pad - HH) // stride + 1
    W_out = (W + 2 * pad - WW) // stride + 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.empty((N, F, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            win = x_pad[:, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
            out[:, :, i, j] = np.einsum("nchw,fchw->nf", win, w) + b
    return out, (x, w, b, stride, pad)


def conv_backward_swv(dout, cache):
    x, w, b, stride, pad = cache
    F, C, HH, WW = w.shape
    N, _, H, W = x.shape
    H_out, W_out = dout.shape[2:]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = sliding_window_view(x_pad, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
    win = win[:, :, :H_out, :W_out]
    dw = np.tensordot(dout, win, axes=([0, 2, 3], [0, 2, 3]))  # (F, C, HH, WW)
    dx_pad = np.zeros_like(x_pad)
    for p in range(HH):
        for q in range(WW):
            dx_pad[:, :, p : p + stride * H_out : stride, q : q + stride * W_out : stride] += (
                np.tensordot(dout, w[:, :, p, q], axes=([1], [0])).transpose(0, 3, 1, 2)
            )
    return dx_pad[:, :, pad : pad + H, pad : pad + W], dw, dout.sum(axis=(0, 2, 3))


def conv_backward_einsum(dout, cache):
    x, w, b, stride, pad = cache
    F, C, HH, WW = w.shape
    N, _, H, W = x.shape
    H_out, W_out = dout.shape[2:]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    for i in range(H_out):
        for j in range(W_out):
            rows = slice(i * stride, i * stride + HH)
            cols = slice(j * stride, j * stride + WW)
            dw += np.einsum("nf,nchw->fchw", dout[:, :, i, j], x_pad[:, :, rows, cols])
            dx_pad[:, :, rows, cols] += np.einsum("nf,fchw->nchw", dout[:, :, i, j], w)
    return dx_pad[:, :, pad : pad + H, pad : pad + W], dw, np.einsum("nfij->f", dout)


def max_pool_forward_swv(x, pool_size=2, stride=2):
    win = sliding_window_view(x, (pool_size, pool_size), axis=(2, 3))[:, :, ::stride, ::stride]
    return win.max(axis=(4, 5)), (x, pool_size, stride)


def max_pool_forward_einsum(x, pool_size=2, stride=2):
    N, C, H, W = x.shape
    H_out, W_out = (H - pool_size) // stride + 1, (W - pool_size) // stride + 1
    sh, sw = _selector(H_out, pool_size, stride, H), _selector(W_out, pool_size, stride, W)
    win = np.einsum("iph,jqw,nchw->ncijpq", sh, sw, x)
    return win.max(axis=(4, 5)), (x, pool_size, stride)


def max_pool_backward_swv(dout, cache):
    x, k, s = cache
    N, C, H_out, W_out = dout.shape
    win = sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s][:, :, :H_out, :W_out]
    flat = win.reshape(N, C, H_out, W_out, k * k)
    arg = flat.argmax(axis=-1)
    dx = np.zeros_like(x)
    n, c, i, j = np.indices(arg.shape)
    np.add.at(dx, (n, c, i * s + arg // k, j * s + arg % k), dout)
    return dx


def max_pool_backward_einsum(dout, cache):
    x, k, s = cache
    N, C, H, W = x.shape
    H_out, W_out = dout.shape[2:]
    sh, sw = _selector(H_out, k, s, H), _selector(W_out, k, s, W)
    win = np.einsum("iph,jqw,nchw->ncijpq", sh, sw, x)
    mask = win == win.max(axis=(4, 5), keepdims=True)
    return np.einsum("iph,jqw,ncijpq->nchw", sh, sw, mask * dout[..., None, None])


def im2col_swv(x, HH, WW, stride=1, pad=0):
    N, C, H, W = x.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = sliding_window_view(x_pad, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
    H_out = (H + 2 * pad - HH) // stride + 1
    W_out = (W + 2 * pad - WW) // stride + 1
    win = win[:, :, :H_out, :W_out]  # (N, C, H_out, W_out, HH, WW)
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(N * H_out * W_out, C * HH * WW)


def im2col_einsum(x, HH, WW, stride=1, pad=0):
    N, C, H, W = x.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    H_out = (H + 2 * pad - HH) // stride + 1
    W_out = (W + 2 * pad - WW) // stride + 1
    sh = _selector(H_out, HH, stride, H + 2 * pad).astype(x.dtype)
    sw = _selector(W_out, WW, stride, W + 2 * pad).astype(x.dtype)
    cols = np.einsum("iph,jqw,nchw->nijcpq", sh, sw, x_pad)
    return cols.reshape(N * H_out * W_out, C * HH * WW)


def col2im_swv(cols, x_shape, HH, WW, stride=1, pad=0):
    """Scatter through a window view of pixel INDICES (np.add.at adds the overlaps)."""
    N, C, H, W = x_shape
    Hp, Wp = H + 2 * pad, W + 2 * pad
    H_out, W_out = (Hp - HH) // stride + 1, (Wp - WW) // stride + 1
    index = np.arange(Hp * Wp).reshape(Hp, Wp)
    win = sliding_window_view(index, (HH, WW))[::stride, ::stride][:H_out, :W_out]
    dx = np.zeros((N, C, Hp * Wp))
    vals = cols.reshape(N, H_out, W_out, C, HH, WW).transpose(0, 3, 1, 2, 4, 5)
    np.add.at(dx, (slice(None), slice(None), win), vals)
    return dx.reshape(N, C, Hp, Wp)[:, :, pad : pad + H, pad : pad + W]


def col2im_einsum(cols, x_shape, HH, WW, stride=1, pad=0):
    N, C, H, W = x_shape
    Hp, Wp = H + 2 * pad, W + 2 * pad
    H_out, W_out = (Hp - HH) // stride + 1, (Wp - WW) // stride + 1
    sh, sw = _selector(H_out, HH, stride, Hp), _selector(W_out, WW, stride, Wp)
    six = cols.reshape(N, H_out, W_out, C, HH, WW)
    dx = np.einsum("iph,jqw,nijcpq->nchw", sh, sw, six)
    return dx[:, :, pad : pad + H, pad : pad + W]


def conv_forward_im2col_einsum(x, w, b, stride=1, pad=0):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = (H + 2 * pad - HH) // stride + 1
    W_out = (W + 2 * pad - WW) // stride + 1
    cols = im2col(x, HH, WW, stride, pad)
    out = np.einsum("rk,fk->fr", cols, w.reshape(F, -1)) + b[:, None]
    out = out.reshape(F, N, H_out, W_out).transpose(1, 0, 2, 3)
    cache = (x.shape, cols, w, stride, pad)
    return out, cache


def conv_forward_im2col_swv(x, w, b, stride=1, pad=0):
    """The column matrix straight from a window view (same layout as im2col)."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = sliding_window_view(x_pad, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
    H_out = (H + 2 * pad - HH) // stride + 1
    W_out = (W + 2 * pad - WW) // stride + 1
    cols = win[:, :, :H_out, :W_out].transpose(0, 2, 3, 1, 4, 5).reshape(N * H_out * W_out, -1)
    out = (cols @ w.reshape(F, -1).T + b).reshape(N, H_out, W_out, F)
    cache = (x.shape, cols, w, stride, pad)
    return np.moveaxis(out, 3, 1), cache


def conv_backward_im2col_einsum(dout, cache):
    x_shape, cols, w, stride, pad = cache
    F, C, HH, WW = w.shape
    N, _, H_out, W_out = dout.shape
    d = dout.reshape(N, F, H_out * W_out)
    c3 = cols.reshape(N, H_out * W_out, -1)
    dw = np.einsum("nfr,nrk->fk", d, c3).reshape(w.shape)
    dcols = np.einsum("nfr,fk->nrk", d, w.reshape(F, -1)).reshape(cols.shape)
    return col2im(dcols, x_shape, HH, WW, stride, pad), dw, np.einsum("nfr->f", d)


def conv_backward_im2col_swv(dout, cache):
    """dx through a window view of the gradient's pixel indices (np.add.at)."""
    x_shape, cols, w, stride, pad = cache
    F, C, HH, WW = w.shape
    N, _, H, W = x_shape
    H_out, W_out = dout.shape[2:]
    dout_mat = np.moveaxis(dout, 1, 3).reshape(-1, F)
    dw = (dout_mat.T @ cols).reshape(w.shape)
    dcols = (dout_mat @ w.reshape(F, -1)).reshape(N, H_out, W_out, C, HH, WW)
    Hp, Wp = H + 2 * pad, W + 2 * pad
    index = sliding_window_view(np.arange(Hp * Wp).reshape(Hp, Wp), (HH, WW))
    index = index[::stride, ::stride][:H_out, :W_out]
    dx = np.zeros((N, C, Hp * Wp))
    np.add.at(dx, (slice(None), slice(None), index), dcols.transpose(0, 3, 1, 2, 4, 5))
    dx = dx.reshape(N, C, Hp, Wp)[:, :, pad : pad + H, pad : pad + W]
    return dx, dw, dout_mat.sum(axis=0)


# =====================================================================================
# Wrong: conv_forward_naive
# =====================================================================================
def _loops(x, w, b, stride, pad, *, x_pad=None, H_out=None, W_out=None, value=None, step=None):
    """The model answer's loops with one piece replaced (each wrong answer states which)."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    if H_out is None:
        H_out = (H + 2 * pad - HH) // stride + 1
        W_out = (W + 2 * pad - WW) // stride + 1
    if x_pad is None:
        x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    step = stride if step is None else step
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[n, :, i * step : i * step + HH, j * step : j * step + WW]
                    if value is None:
                        out[n, f, i, j] = np.sum(window * w[f]) + b[f]
                    else:
                        out[n, f, i, j] = value(window, w, b, n, f, i, j)
    return out, (x, w, b, stride, pad)


def conv_fwd_flipped_kernel(x, w, b, stride=1, pad=0):
    # "convolution" from the signal-processing course: the kernel flipped
    return _loops(x, w[:, :, ::-1, ::-1], b, stride, pad)


def conv_fwd_pad_one_side(x, w, b, stride=1, pad=0):
    # all 2*pad zeros at the bottom/right
    x_pad = np.pad(x, ((0, 0), (0, 0), (0, 2 * pad), (0, 2 * pad)))
    return _loops(x, w, b, stride, pad, x_pad=x_pad)


def conv_fwd_size_no_plus_one(x, w, b, stride=1, pad=0):
    H, W = x.shape[2:]
    HH, WW = w.shape[2:]
    return _loops(
        x, w, b, stride, pad, H_out=(H + 2 * pad - HH) // stride, W_out=(W + 2 * pad - WW) // stride
    )


def conv_fwd_size_rounded_up(x, w, b, stride=1, pad=0):
    H, W = x.shape[2:]
    HH, WW = w.shape[2:]
    H_out = int(np.ceil((H + 2 * pad - HH) / stride)) + 1
    W_out = int(np.ceil((W + 2 * pad - WW) / stride)) + 1
    big = np.pad(x, ((0, 0), (0, 0), (pad, pad + stride), (pad, pad + stride)))
    return _loops(x, w, b, stride, pad, x_pad=big, H_out=H_out, W_out=W_out)


def conv_fwd_size_precedence(x, w, b, stride=1, pad=0):
    H, W = x.shape[2:]
    HH, WW = w.shape[2:]
    H_out = H + 2 * pad - HH // stride + 1  # missing brackets
    W_out = W + 2 * pad - WW // stride + 1
    big = np.pad(x, ((0, 0), (0, 0), (pad, pad + 40), (pad, pad + 40)))
    return _loops(x, w, b, stride, pad, x_pad=big, H_out=H_out, W_out=W_out)


def conv_fwd_stride_not_in_index(x, w, b, stride=1, pad=0):
    # the output size uses the stride, the window position forgets it
    return _loops(x, w, b, stride, pad, step=1)


def conv_fwd_bias_inside_sum(x, w, b, stride=1, pad=0):
    return _loops(
        x, w, b, stride, pad, value=lambda win, w, b, n, f, i, j: np.sum(win * w[f] + b[f])
    )


def conv_fwd_no_bias(x, w, b, stride=1, pad=0):
    return _loops(x, w, b, stride, pad, value=lambda win, w, b, n, f, i, j: np.sum(win * w[f]))


def conv_fwd_last_channel_only(x, w, b, stride=1, pad=0):
    def value(win, w, b, n, f, i, j):
        for c in range(win.shape[0]):
            total = np.sum(win[c] * w[f, c])  # overwritten for every channel
        return total + b[f]

    return _loops(x, w, b, stride, pad, value=value)


def conv_fwd_mean_not_sum(x, w, b, stride=1, pad=0):
    return _loops(
        x, w, b, stride, pad, value=lambda win, w, b, n, f, i, j: np.mean(win * w[f]) + b[f]
    )


def conv_fwd_all_biases(x, w, b, stride=1, pad=0):
    return _loops(
        x, w, b, stride, pad, value=lambda win, w, b, n, f, i, j: np.sum(win * w[f]) + np.sum(b)
    )


def conv_fwd_channels_last_output(x, w, b, stride=1, pad=0):
    out, cache = conv_forward_naive(x, w, b, stride, pad)
    return out.transpose(0, 2, 3, 1), cache  # "like TensorFlow"


def conv_fwd_tf_weights(x, w, b, stride=1, pad=0):
    # treats the (F, C, HH, WW) array as TensorFlow's HWIO filters, reshaped into place
    F, C, HH, WW = w.shape
    w_hwio = w.reshape(HH, WW, C, F)
    return conv_forward_naive(x, w_hwio.transpose(3, 2, 0, 1), b, stride, pad)


def conv_fwd_padded_twice(x, w, b, stride=1, pad=0):
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    return conv_forward_naive(x_pad, w, b, stride, pad)  # pads again inside


def conv_fwd_uses_library(x, w, b, stride=1, pad=0):
    from course_utils.layers.conv import conv_forward_naive as library

    return library(x, w, b, stride, pad)


# =====================================================================================
# Wrong: conv_backward_naive
# =====================================================================================
def _back_loops(
    dout,
    cache,
    *,
    dx_kernel=None,
    reset_dw_per_image=False,
    reset_dx_per_filter=False,
    crop=None,
    db=None,
):
    x, w, b, stride, pad = cache
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    kernel = w if dx_kernel is None else dx_kernel
    for n in range(N):
        if reset_dw_per_image:
            dw = np.zeros_like(w)
        for f in range(F):
            if reset_dx_per_filter:
                dx_pad = np.zeros_like(x_pad)
            for i in range(H_out):
                for j in range(W_out):
                    rows = slice(i * stride, i * stride + HH)
                    cols = slice(j * stride, j * stride + WW)
                    dw[f] += dout[n, f, i, j] * x_pad[n, :, rows, cols]
                    dx_pad[n, :, rows, cols] += dout[n, f, i, j] * kernel[f]
    dx = dx_pad[:, :, pad : pad + H, pad : pad + W] if crop is None else crop(dx_pad, pad, H, W)
    return dx, dw, (dout.sum(axis=(0, 2, 3)) if db is None else db(dout))


def conv_bwd_dx_flipped_kernel(dout, cache):
    # "the backward pass of a convolution is a convolution with the flipped kernel"
    return _back_loops(dout, cache, dx_kernel=cache[1][:, :, ::-1, ::-1])


def conv_bwd_dw_flipped(dout, cache):
    dx, dw, db = conv_backward_naive(dout, cache)
    return dx, dw[:, :, ::-1, ::-1], db


def conv_bwd_db_mean(dout, cache):
    return _back_loops(dout, cache, db=lambda d: d.mean(axis=(0, 2, 3)))


def conv_bwd_db_not_summed_over_batch(dout, cache):
    return _back_loops(dout, cache, db=lambda d: d.sum(axis=(2, 3)))


def conv_bwd_not_cropped(dout, cache):
    return _back_loops(dout, cache, crop=lambda d, pad, H, W: d)


def conv_bwd_crop_minus_pad(dout, cache):
    return _back_loops(dout, cache, crop=lambda d, pad, H, W: d[:, :, pad:-pad, pad:-pad])


def conv_bwd_crop_top_left(dout, cache):
    return _back_loops(dout, cache, crop=lambda d, pad, H, W: d[:, :, :H, :W])


def conv_bwd_dw_reset_per_image(dout, cache):
    return _back_loops(dout, cache, reset_dw_per_image=True)


def conv_bwd_dx_reset_per_filter(dout, cache):
    return _back_loops(dout, cache, reset_dx_per_filter=True)


def conv_bwd_dw_over_n(dout, cache):
    dx, dw, db = conv_backward_naive(dout, cache)
    return dx, dw / len(dout), db


def conv_bwd_no_db(dout, cache):
    dx, dw, db = conv_backward_naive(dout, cache)
    return dx, dw, np.zeros_like(db)


# =====================================================================================
# Wrong: max-pooling
# =====================================================================================
def _pool_loops(x, pool_size, stride, reduce, step=None, H_out=None, W_out=None):
    N, C, H, W = x.shape
    step = stride if step is None else step
    if H_out is None:
        H_out, W_out = (H - pool_size) // stride + 1, (W - pool_size) // stride + 1
    out = np.zeros((N, C, H_out, W_out))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    out[n, c, i, j] = reduce(
                        x[n, :, i * step : i * step + pool_size, j * step : j * step + pool_size], c
                    )
    return out, (x, pool_size, stride)


def pool_fwd_mean(x, pool_size=2, stride=2):
    return _pool_loops(x, pool_size, stride, lambda win, c: win[c].mean())


def pool_fwd_step_pool_size(x, pool_size=2, stride=2):
    # the stride argument never used: windows every pool_size pixels
    return _pool_loops(x, pool_size, pool_size, lambda win, c: win[c].max())


def pool_fwd_size_no_plus_one(x, pool_size=2, stride=2):
    H, W = x.shape[2:]
    return _pool_loops(
        x,
        pool_size,
        stride,
        lambda win, c: win[c].max(),
        H_out=(H - pool_size) // stride,
        W_out=(W - pool_size) // stride,
    )


def pool_fwd_over_channels(x, pool_size=2, stride=2):
    return _pool_loops(x, pool_size, stride, lambda win, c: win.max())


def pool_fwd_size_ignores_stride(x, pool_size=2, stride=2):
    H, W = x.shape[2:]
    return _pool_loops(
        x,
        pool_size,
        stride,
        lambda win, c: win[c].max(),
        H_out=H // pool_size,
        W_out=W // pool_size,
    )


def _pool_back(dout, cache, place):
    x, k, s = cache
    N, C, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * s : i * s + k, j * s : j * s + k]
                    place(dx, n, c, i, j, window, dout[n, c, i, j], k, s)
    return dx


def pool_bwd_every_element(dout, cache):
    def place(dx, n, c, i, j, window, g, k, s):
        dx[n, c, i * s : i * s + k, j * s : j * s + k] += g

    return _pool_back(dout, cache, place)


def pool_bwd_averaged(dout, cache):
    def place(dx, n, c, i, j, window, g, k, s):
        dx[n, c, i * s : i * s + k, j * s : j * s + k] += g / (k * k)

    return _pool_back(dout, cache, place)


def pool_bwd_index_transposed(dout, cache):
    def place(dx, n, c, i, j, window, g, k, s):
        idx = np.argmax(window)
        p, q = idx % k, idx // k  # row and column exchanged
        dx[n, c, i * s + p, j * s + q] += g

    return _pool_back(dout, cache, place)


def pool_bwd_no_window_offset(dout, cache):
    def place(dx, n, c, i, j, window, g, k, s):
        p, q = np.unravel_index(np.argmax(window), window.shape)
        dx[n, c, i + p, j + q] += g  # i, not i * stride

    return _pool_back(dout, cache, place)


def pool_bwd_assigns(dout, cache):
    def place(dx, n, c, i, j, window, g, k, s):
        p, q = np.unravel_index(np.argmax(window), window.shape)
        dx[n, c, i * s + p, j * s + q] = g  # overlapping windows overwrite each other

    return _pool_back(dout, cache, place)


def pool_bwd_ignores_dout(dout, cache):
    def place(dx, n, c, i, j, window, g, k, s):
        p, q = np.unravel_index(np.argmax(window), window.shape)
        dx[n, c, i * s + p, j * s + q] += 1.0

    return _pool_back(dout, cache, place)


def pool_bwd_to_minimum(dout, cache):
    def place(dx, n, c, i, j, window, g, k, s):
        p, q = np.unravel_index(np.argmin(window), window.shape)
        dx[n, c, i * s + p, j * s + q] += g

    return _pool_back(dout, cache, place)


def pool_bwd_returns_dout_shape(dout, cache):
    return dout.copy()


# =====================================================================================
# Wrong: im2col, col2im
# =====================================================================================
def im2col_cs231n_layout(x, HH, WW, stride=1, pad=0):
    return im2col(x, HH, WW, stride, pad).T  # one COLUMN per window


def im2col_channels_last(x, HH, WW, stride=1, pad=0):
    N, C, H, W = x.shape
    cols = im2col(x, HH, WW, stride, pad)
    return cols.reshape(-1, C, HH, WW).transpose(0, 2, 3, 1).reshape(cols.shape)


def im2col_rows_position_major(x, HH, WW, stride=1, pad=0):
    N, C, H, W = x.shape
    H_out = (H + 2 * pad - HH) // stride + 1
    W_out = (W + 2 * pad - WW) // stride + 1
    cols = im2col(x, HH, WW, stride, pad).reshape(N, H_out * W_out, -1)
    return cols.transpose(1, 0, 2).reshape(N * H_out * W_out, -1)  # loop over (i, j) first


def im2col_no_padding(x, HH, WW, stride=1, pad=0):
    return im2col(x, HH, WW, stride, 0)


def im2col_stride_ignored(x, HH, WW, stride=1, pad=0):
    return im2col(x, HH, WW, 1, pad)


def im2col_float64(x, HH, WW, stride=1, pad=0):
    N, C, H, W = x.shape
    H_out = (H + 2 * pad - HH) // stride + 1
    W_out = (W + 2 * pad - WW) // stride + 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cols = np.zeros((N * H_out * W_out, C * HH * WW))  # float64 whatever x is
    r = 0
    for n in range(N):
        for i in range(H_out):
            for j in range(W_out):
                cols[r] = x_pad[
                    n, :, i * stride : i * stride + HH, j * stride : j * stride + WW
                ].reshape(-1)
                r += 1
    return cols


def col2im_overwrites(cols, x_shape, HH, WW, stride=1, pad=0):
    N, C, H, W = x_shape
    H_out = (H + 2 * pad - HH) // stride + 1
    W_out = (W + 2 * pad - WW) // stride + 1
    dx_pad = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    r = 0
    for n in range(N):
        for i in range(H_out):
            for j in range(W_out):
                dx_pad[n, :, i * stride : i * stride + HH, j * stride : j * stride + WW] = cols[
                    r
                ].reshape(C, HH, WW)  # = instead of +=
                r += 1
    return dx_pad[:, :, pad : pad + H, pad : pad + W]


def col2im_not_cropped(cols, x_shape, HH, WW, stride=1, pad=0):
    N, C, H, W = x_shape
    return col2im(cols, (N, C, H + 2 * pad, W + 2 * pad), HH, WW, stride, 0)


def col2im_reads_channels_last(cols, x_shape, HH, WW, stride=1, pad=0):
    C = x_shape[1]
    pqc = cols.reshape(-1, HH, WW, C).transpose(0, 3, 1, 2).reshape(cols.shape)
    return col2im(pqc, x_shape, HH, WW, stride, pad)


def col2im_crop_minus_pad(cols, x_shape, HH, WW, stride=1, pad=0):
    N, C, H, W = x_shape
    full = col2im(cols, (N, C, H + 2 * pad, W + 2 * pad), HH, WW, stride, 0)
    return full[:, :, pad:-pad, pad:-pad]


# =====================================================================================
# Wrong: the fast convolution
# =====================================================================================
def conv_fast_fwd_reshape_no_transpose(x, w, b, stride=1, pad=0):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = (H + 2 * pad - HH) // stride + 1
    W_out = (W + 2 * pad - WW) // stride + 1
    cols = im2col(x, HH, WW, stride, pad)
    out = (cols @ w.reshape(F, -1).T + b).reshape(N, F, H_out, W_out)
    return out, (x.shape, cols, w, stride, pad)


def conv_fast_fwd_channels_last_weights(x, w, b, stride=1, pad=0):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = (H + 2 * pad - HH) // stride + 1
    W_out = (W + 2 * pad - WW) // stride + 1
    cols = im2col(x, HH, WW, stride, pad)
    w_mat = w.transpose(0, 2, 3, 1).reshape(F, -1)  # (p, q, c) order, as in course_utils
    out = (cols @ w_mat.T + b).reshape(N, H_out, W_out, F).transpose(0, 3, 1, 2)
    return out, (x.shape, cols, w, stride, pad)


def conv_fast_fwd_no_bias(x, w, b, stride=1, pad=0):
    return conv_forward_im2col(x, w, np.zeros_like(b), stride, pad)


def conv_fast_fwd_calls_library(x, w, b, stride=1, pad=0):
    from course_utils.layers.conv import conv_forward_im2col as library

    return library(x, w, b, stride, pad)


def conv_fast_bwd_dout_plain_reshape(dout, cache):
    x_shape, cols, w, stride, pad = cache
    F, C, HH, WW = w.shape
    dout_mat = dout.reshape(-1, F)  # mixes filters and positions
    dw = (dout_mat.T @ cols).reshape(w.shape)
    dx = col2im(dout_mat @ w.reshape(F, -1), x_shape, HH, WW, stride, pad)
    return dx, dw, dout_mat.sum(axis=0)


def conv_fast_bwd_dw_wrong_product(dout, cache):
    x_shape, cols, w, stride, pad = cache
    F, C, HH, WW = w.shape
    dout_mat = dout.transpose(0, 2, 3, 1).reshape(-1, F)
    dw = (cols.T @ dout_mat).reshape(w.shape)  # (C*HH*WW, F) poured into (F, C, HH, WW)
    dx = col2im(dout_mat @ w.reshape(F, -1), x_shape, HH, WW, stride, pad)
    return dx, dw, dout_mat.sum(axis=0)


def conv_fast_bwd_db_mean(dout, cache):
    dx, dw, db = conv_backward_im2col(dout, cache)
    return dx, dw, db / (dout.shape[0] * dout.shape[2] * dout.shape[3])


def conv_fast_bwd_dw_over_n(dout, cache):
    dx, dw, db = conv_backward_im2col(dout, cache)
    return dx, dw / dout.shape[0], db


# =====================================================================================
# SmallCNN
# =====================================================================================
class SmallCNNEinsum(SmallCNN):
    """The linear layer with einsum, the ReLU masks recomputed from the cached outputs."""

    def forward(self, x):
        p = self.params
        h1, self.conv1 = conv_forward_im2col(x, p["w1"], p["b1"], 1, self.pad)
        self.h1 = h1
        a1, self.pool1 = max_pool_forward_fast(np.maximum(h1, 0), 2, 2)
        h2, self.conv2 = conv_forward_im2col(a1, p["w2"], p["b2"], 1, self.pad)
        self.h2 = h2
        a2, self.pool2 = max_pool_forward_fast(np.maximum(h2, 0), 2, 2)
        self.a2 = a2
        return np.einsum("nk,kc->nc", a2.reshape(len(x), -1), p["w3"]) + p["b3"]

    def backward(self, dscores):
        p, n = self.params, len(dscores)
        flat = self.a2.reshape(n, -1)
        self.grads["w3"] = np.einsum("nk,nc->kc", flat, dscores)
        self.grads["b3"] = np.einsum("nc->c", dscores)
        da2 = np.einsum("nc,kc->nk", dscores, p["w3"]).reshape(self.a2.shape)
        dh2 = np.where(self.h2 > 0, max_pool_backward_fast(da2, self.pool2), 0.0)
        da1, self.grads["w2"], self.grads["b2"] = conv_backward_im2col(dh2, self.conv2)
        dh1 = np.where(self.h1 > 0, max_pool_backward_fast(da1, self.pool1), 0.0)
        _, self.grads["w1"], self.grads["b1"] = conv_backward_im2col(dh1, self.conv1)


def _pool_swv(x):
    """2x2 max-pool with a window view; returns (out, argmax mask) for the backward pass."""
    win = sliding_window_view(x, (2, 2), axis=(2, 3))[:, :, ::2, ::2]
    out = win.max(axis=(4, 5))
    return out


class SmallCNNWindowView(SmallCNN):
    """Pooling through sliding_window_view (the fast pool's backward kept)."""

    def forward(self, x):
        p = self.params
        h1, self.conv1 = conv_forward_im2col(x, p["w1"], p["b1"], 1, self.pad)
        r1 = np.maximum(h1, 0)
        _, self.pool1 = max_pool_forward_fast(r1, 2, 2)
        a1 = _pool_swv(r1)
        h2, self.conv2 = conv_forward_im2col(a1, p["w2"], p["b2"], 1, self.pad)
        r2 = np.maximum(h2, 0)
        _, self.pool2 = max_pool_forward_fast(r2, 2, 2)
        a2 = _pool_swv(r2)
        self.relu1, self.relu2, self.a2_shape = h1 > 0, h2 > 0, a2.shape
        self.flat = a2.reshape(len(x), -1)
        return self.flat @ p["w3"] + p["b3"]


class SmallCNNNoReluMask(SmallCNN):
    def backward(self, dscores):
        p = self.params
        self.grads["w3"] = self.flat.T @ dscores
        self.grads["b3"] = dscores.sum(axis=0)
        da2 = (dscores @ p["w3"].T).reshape(self.a2_shape)
        dh2 = max_pool_backward_fast(da2, self.pool2)  # the ReLU's mask forgotten
        da1, self.grads["w2"], self.grads["b2"] = conv_backward_im2col(dh2, self.conv2)
        dh1 = max_pool_backward_fast(da1, self.pool1)
        _, self.grads["w1"], self.grads["b1"] = conv_backward_im2col(dh1, self.conv1)


class SmallCNNFlattenChannelsLast(SmallCNN):
    def forward(self, x):
        super().forward(x)
        a2 = self.flat.reshape(self.a2_shape)
        self.flat = a2.transpose(0, 2, 3, 1).reshape(len(x), -1)  # (7, 7, F2) order
        return self.flat @ self.params["w3"] + self.params["b3"]


class SmallCNNNoPadding(SmallCNN):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pad = 0


class SmallCNNAccumulates(SmallCNN):
    def backward(self, dscores):
        before = {k: v.copy() for k, v in self.grads.items()}
        super().backward(dscores)
        for k in self.grads:
            self.grads[k] = self.grads[k] + before[k]


class SmallCNNW3Transposed(SmallCNN):
    def __init__(self, num_filters=(8, 16), kernel_size=5, seed=0, dtype=np.float32):
        super().__init__(num_filters, kernel_size, seed, dtype)
        self.params["w3"] = np.ascontiguousarray(self.params["w3"].T)
        self.grads["w3"] = np.zeros_like(self.params["w3"])

    def forward(self, x):
        w3 = self.params["w3"]
        self.params["w3"] = w3.T
        try:
            return super().forward(x)
        finally:
            self.params["w3"] = w3


# =====================================================================================
# build_vgg (Keras): made on demand
# =====================================================================================
def keras_catalogue() -> dict:
    """name -> build_vgg implementation; imports TensorFlow (quietly)."""
    from course_utils.environment import import_tensorflow

    import_tensorflow()
    import keras

    def block_layers(width, conv_activation=None, norm=True):
        out = [keras.layers.Conv2D(width, 3, padding="same", activation=conv_activation)]
        if norm:
            out.append(keras.layers.BatchNormalization())
        if conv_activation is None:
            out.append(keras.layers.ReLU())
        return out

    def sequential(
        widths, dense_units, seed, conv_activation=None, norm=True, head_act=None, pool=True
    ):
        keras.utils.set_random_seed(seed)
        layers = [keras.Input((28, 28, 1))]
        for w in widths:
            layers += block_layers(w, conv_activation, norm) + block_layers(
                w, conv_activation, norm
            )
            if pool:
                layers.append(keras.layers.MaxPooling2D(2))
        layers += [
            keras.layers.Flatten(),
            keras.layers.Dense(dense_units, activation="relu"),
            keras.layers.Dense(10, activation=head_act),
        ]
        return keras.Sequential(layers)

    def build_vgg(widths=(16, 32), dense_units=128, seed=0):
        return sequential(widths, dense_units, seed)

    def build_vgg_functional(widths=(16, 32), dense_units=128, seed=0):
        keras.utils.set_random_seed(seed)
        inputs = keras.Input((28, 28, 1))
        h = inputs
        for w in widths:
            for _ in range(2):
                h = keras.layers.Conv2D(w, 3, padding="same", use_bias=False)(h)
                h = keras.layers.BatchNormalization()(h)
                h = keras.layers.Activation("relu")(h)
            h = keras.layers.MaxPooling2D(2)(h)
        h = keras.layers.Flatten()(h)
        h = keras.layers.Dense(dense_units, activation="relu")(h)
        return keras.Model(inputs, keras.layers.Dense(10)(h))

    def vgg_relu_before_bn(widths=(16, 32), dense_units=64, seed=0):
        return sequential(widths, dense_units, seed, conv_activation="relu")

    def vgg_no_batch_norm(widths=(16, 32), dense_units=64, seed=0):
        return sequential(widths, dense_units, seed, norm=False)

    def vgg_softmax_output(widths=(16, 32), dense_units=64, seed=0):
        return sequential(widths, dense_units, seed, head_act="softmax")

    def vgg_no_pooling(widths=(16, 32), dense_units=64, seed=0):
        return sequential(widths, dense_units, seed, pool=False)

    def vgg_unseeded(widths=(16, 32), dense_units=64, seed=0):
        layers = [keras.Input((28, 28, 1))]
        for w in widths:
            layers += block_layers(w) + block_layers(w) + [keras.layers.MaxPooling2D(2)]
        layers += [
            keras.layers.Flatten(),
            keras.layers.Dense(dense_units, activation="relu"),
            keras.layers.Dense(10),
        ]
        return keras.Sequential(layers)

    return {
        "build_vgg": build_vgg,
        "build_vgg_functional": build_vgg_functional,
        "vgg_relu_before_bn": vgg_relu_before_bn,
        "vgg_no_batch_norm": vgg_no_batch_norm,
        "vgg_softmax_output": vgg_softmax_output,
        "vgg_no_pooling": vgg_no_pooling,
        "vgg_unseeded": vgg_unseeded,
    }


KERAS_CORRECT = ["build_vgg", "build_vgg_functional"]
KERAS_WRONG = {
    "vgg_relu_before_bn": (r"BEFORE batch normalisation", _both("build_vgg")),
    "vgg_no_batch_norm": (r"Batch normalisation is missing", _both("build_vgg")),
    "vgg_softmax_output": (r"logits: no activation", _both("build_vgg")),
    "vgg_no_pooling": (r"MaxPooling2D", _both("build_vgg")),
    "vgg_unseeded": (r"same seed have different weights", _hidden("build_vgg")),
}


# =====================================================================================
# The trained networks, as the notebook hands them to check_cnn_accuracy (Task 4) and
# check_vgg_accuracy (Task 5). ``nets`` holds what the test module trained once per run:
# "small", the SmallCNN's params (16 and 32 filters of 3x3, NCHW layout: trained in Keras
# and converted), and "vgg", the weights of build_vgg() after training.
# =====================================================================================
def _small(cls, nets, dtype=np.float32, **changes):
    net = cls(num_filters=(16, 32), kernel_size=3, seed=0, dtype=dtype)
    for key, value in {**nets["small"], **changes}.items():
        net.params[key] = np.array(value, dtype)  # copies: the tests share nets
    return net


def cnn_net_reference(nets):
    return _small(SmallCNN, nets)


def cnn_net_einsum_float64(nets):
    return _small(SmallCNNEinsum, nets, np.float64)


def cnn_net_window_view(nets):
    return _small(SmallCNNWindowView, nets)


def cnn_net_untrained(nets):
    return SmallCNN(num_filters=(16, 32), kernel_size=3, seed=3)


def cnn_net_diverged(nets):
    w3 = np.array(nets["small"]["w3"])
    w3[5, 2] = np.inf
    return _small(SmallCNN, nets, w3=w3)


def cnn_net_flatten_channels_last(nets):
    """Its forward reads the pooled maps in (7, 7, F2) order, its weights expect (F2, 7, 7)."""
    return _small(SmallCNNFlattenChannelsLast, nets)


def cnn_net_keras_order_kept(nets):
    """Weights taken from a channels-last model without reordering the dense rows."""
    w3 = np.array(nets["small"]["w3"]).reshape(32, 7, 7, 10).transpose(1, 2, 0, 3)
    return _small(SmallCNN, nets, w3=w3.reshape(-1, 10))


CNN_NET_CORRECT = [cnn_net_reference, cnn_net_einsum_float64, cnn_net_window_view]
CNN_NET_WRONG = {
    "untrained": (cnn_net_untrained, r"test accuracy \d+\.\d\d% is below the required"),
    "diverged": (cnn_net_diverged, r"NaN or inf"),
    "flatten_channels_last": (cnn_net_flatten_channels_last,
                              r"does not compute the network from its own weights"),
    "keras_order_kept": (cnn_net_keras_order_kept, r"test accuracy \d+\.\d\d% is below"),
}  # fmt: skip


def keras_trained_catalogue(nets) -> dict:
    """name -> a trained (or broken) Keras model made from ``nets["vgg"]``."""
    import keras

    builders = keras_catalogue()

    def trained():
        model = builders["build_vgg"]()
        model.set_weights(nets["vgg"])
        return model

    def functional_folded():
        """build_vgg_functional (convolutions without bias): each bias b is moved into the
        next BatchNormalization, whose moving mean becomes mean - b (the same function)."""
        model, bias = builders["build_vgg_functional"](), None
        source = [layer for layer in trained().layers if layer.weights]
        target = [layer for layer in model.layers if layer.weights]
        for src, dst in zip(source, target, strict=True):
            w = src.get_weights()
            if isinstance(src, keras.layers.Conv2D):
                dst.set_weights(w[:1])
                bias = w[1]
            elif isinstance(src, keras.layers.BatchNormalization):
                gamma, beta, mean, var = w
                dst.set_weights([gamma, beta, mean - bias, var])
            else:
                dst.set_weights(w)
        return model

    def statistics_reset():
        """Trained weights, but the BatchNormalization moving statistics of a new model."""
        model = trained()
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.moving_mean.assign(np.zeros(layer.moving_mean.shape, np.float32))
                layer.moving_variance.assign(np.ones(layer.moving_variance.shape, np.float32))
        return model

    def nan_weights():
        model = trained()
        weights = model.get_weights()
        weights[-2][3, 1] = np.nan
        model.set_weights(weights)
        return model

    return {
        "trained": trained,
        "functional_folded": functional_folded,
        "untrained": lambda: builders["build_vgg"](seed=5),
        "statistics_reset": statistics_reset,
        "no_batch_norm": lambda: builders["vgg_no_batch_norm"](),
        "nan_weights": nan_weights,
    }


VGG_NET_CORRECT = ["trained", "functional_folded"]
VGG_NET_WRONG = {
    "untrained": r"test accuracy \d+\.\d\d% is below the required 99.2%",
    "statistics_reset": r"test accuracy \d+\.\d\d% is below the required 99.2%",
    "no_batch_norm": r"expected the VGG-style network of build_vgg",
    "nan_weights": r"NaN or inf",
}


# =====================================================================================
# The catalogue
# =====================================================================================
CORRECT = {
    "conv_forward_naive": [conv_forward_naive, conv_forward_swv, conv_forward_einsum],
    "conv_backward_naive": [conv_backward_naive, conv_backward_swv, conv_backward_einsum],
    "max_pool_forward_naive": [
        max_pool_forward_naive,
        max_pool_forward_swv,
        max_pool_forward_einsum,
    ],
    "max_pool_backward_naive": [
        max_pool_backward_naive,
        max_pool_backward_swv,
        max_pool_backward_einsum,
    ],
    "im2col": [im2col, im2col_swv, im2col_einsum],
    "col2im": [col2im, col2im_swv, col2im_einsum],
    "conv_forward_im2col": [
        conv_forward_im2col,
        conv_forward_im2col_swv,
        conv_forward_im2col_einsum,
    ],
    "conv_backward_im2col": [
        conv_backward_im2col,
        conv_backward_im2col_swv,
        conv_backward_im2col_einsum,
    ],
    "small_cnn": [SmallCNN, SmallCNNWindowView, SmallCNNEinsum],
}

WRONG = {
    # --- conv_forward_naive
    "conv_fwd_flipped_kernel": (
        "conv_forward_naive",
        conv_fwd_flipped_kernel,
        r"TRUE convolution \(the kernel flipped",
        _both("conv_forward_naive"),
    ),
    "conv_fwd_pad_one_side": (
        "conv_forward_naive",
        conv_fwd_pad_one_side,
        r"padded on one side only",
        _both("conv_forward_naive"),
    ),
    "conv_fwd_size_no_plus_one": (
        "conv_forward_naive",
        conv_fwd_size_no_plus_one,
        r"without the \+ 1",
        _both("conv_forward_naive"),
    ),
    "conv_fwd_size_rounded_up": (
        "conv_forward_naive",
        conv_fwd_size_rounded_up,
        r"rounded UP",
        _both("conv_forward_naive"),
    ),
    "conv_fwd_size_precedence": (
        "conv_forward_naive",
        conv_fwd_size_precedence,
        r"operator precedence",
        _both("conv_forward_naive"),
    ),
    "conv_fwd_stride_not_in_index": (
        "conv_forward_naive",
        conv_fwd_stride_not_in_index,
        r"windows step by \(1, 1\) pixels, the stride is",
        _both("conv_forward_naive"),
    ),
    "conv_fwd_bias_inside_sum": (
        "conv_forward_naive",
        conv_fwd_bias_inside_sum,
        r"bias is added \d+ times.*inside the sum",
        _both("conv_forward_naive"),
    ),
    "conv_fwd_no_bias": (
        "conv_forward_naive",
        conv_fwd_no_bias,
        r"the bias is missing",
        _both("conv_forward_naive"),
    ),
    "conv_fwd_last_channel_only": (
        "conv_forward_naive",
        conv_fwd_last_channel_only,
        r"only the contribution of input channel \d+",
        _both("conv_forward_naive"),
    ),
    "conv_fwd_mean_not_sum": (
        "conv_forward_naive",
        conv_fwd_mean_not_sum,
        r"MEAN over the window",
        _both("conv_forward_naive"),
    ),
    "conv_fwd_all_biases": (
        "conv_forward_naive",
        conv_fwd_all_biases,
        r"sum of ALL biases",
        _both("conv_forward_naive"),
    ),
    "conv_fwd_channels_last_output": (
        "conv_forward_naive",
        conv_fwd_channels_last_output,
        r"channels-last",
        _both("conv_forward_naive"),
    ),
    "conv_fwd_tf_weights": (
        "conv_forward_naive",
        conv_fwd_tf_weights,
        r"filter's numbers are read in the wrong order",
        _both("conv_forward_naive"),
    ),
    "conv_fwd_padded_twice": (
        "conv_forward_naive",
        conv_fwd_padded_twice,
        r"padded twice",
        _both("conv_forward_naive"),
    ),
    "conv_fwd_uses_library": (
        "conv_forward_naive",
        conv_fwd_uses_library,
        r"must not use a library implementation",
        _visible("conv_forward_naive"),
    ),
    # --- conv_backward_naive
    "conv_bwd_dx_flipped_kernel": (
        "conv_backward_naive",
        conv_bwd_dx_flipped_kernel,
        r"dx uses the flipped kernel",
        _both("conv_backward_naive"),
    ),
    "conv_bwd_dw_flipped": (
        "conv_backward_naive",
        conv_bwd_dw_flipped,
        r"dw is flipped",
        _both("conv_backward_naive"),
    ),
    "conv_bwd_db_mean": (
        "conv_backward_naive",
        conv_bwd_db_mean,
        r"db is the MEAN",
        _both("conv_backward_naive"),
    ),
    "conv_bwd_db_not_summed_over_batch": (
        "conv_backward_naive",
        conv_bwd_db_not_summed_over_batch,
        r"sum dout over the batch AND",
        _both("conv_backward_naive"),
    ),
    "conv_bwd_not_cropped": (
        "conv_backward_naive",
        conv_bwd_not_cropped,
        r"still includes the gradient of the zero padding",
        _both("conv_backward_naive"),
    ),
    "conv_bwd_crop_minus_pad": (
        "conv_backward_naive",
        conv_bwd_crop_minus_pad,
        r"pad:-pad",
        _visible("conv_backward_naive"),
    ),
    "conv_bwd_crop_top_left": (
        "conv_backward_naive",
        conv_bwd_crop_top_left,
        r"cropped from the padded gradient starting at row 0",
        _both("conv_backward_naive"),
    ),
    "conv_bwd_dw_reset_per_image": (
        "conv_backward_naive",
        conv_bwd_dw_reset_per_image,
        r"dw holds only the contribution of image",
        _both("conv_backward_naive"),
    ),
    "conv_bwd_dx_reset_per_filter": (
        "conv_backward_naive",
        conv_bwd_dx_reset_per_filter,
        r"dx holds only the contribution of image \d, filter \d",
        _both("conv_backward_naive"),
    ),
    "conv_bwd_dw_over_n": (
        "conv_backward_naive",
        conv_bwd_dw_over_n,
        r"MEAN over the 2 images",
        _both("conv_backward_naive"),
    ),
    "conv_bwd_no_db": (
        "conv_backward_naive",
        conv_bwd_no_db,
        r"(?s)gradient db is wrong.*all zeros",
        _both("conv_backward_naive"),
    ),
    # --- max-pooling
    "pool_fwd_mean": (
        "max_pool_forward_naive",
        pool_fwd_mean,
        r"MEAN of each window",
        _both("max_pool_forward_naive"),
    ),
    "pool_fwd_step_pool_size": (
        "max_pool_forward_naive",
        pool_fwd_step_pool_size,
        r"the stride is ignored \(windows every pool_size",
        _both("max_pool_forward_naive"),
    ),
    "pool_fwd_size_no_plus_one": (
        "max_pool_forward_naive",
        pool_fwd_size_no_plus_one,
        r"without the \+ 1",
        _both("max_pool_forward_naive"),
    ),
    "pool_fwd_over_channels": (
        "max_pool_forward_naive",
        pool_fwd_over_channels,
        r"AND all channels",
        _both("max_pool_forward_naive"),
    ),
    "pool_fwd_size_ignores_stride": (
        "max_pool_forward_naive",
        pool_fwd_size_ignores_stride,
        r"the stride is ignored",
        _both("max_pool_forward_naive"),
    ),
    "pool_bwd_every_element": (
        "max_pool_backward_naive",
        pool_bwd_every_element,
        r"every element of the window gets",
        _both("max_pool_backward_naive"),
    ),
    "pool_bwd_averaged": (
        "max_pool_backward_naive",
        pool_bwd_averaged,
        r"spread evenly",
        _both("max_pool_backward_naive"),
    ),
    "pool_bwd_index_transposed": (
        "max_pool_backward_naive",
        pool_bwd_index_transposed,
        r"row and column exchanged",
        _both("max_pool_backward_naive"),
    ),
    "pool_bwd_no_window_offset": (
        "max_pool_backward_naive",
        pool_bwd_no_window_offset,
        r"i \+ p instead of i\*stride \+ p",
        _both("max_pool_backward_naive"),
    ),
    "pool_bwd_assigns": (
        "max_pool_backward_naive",
        pool_bwd_assigns,
        r"REPLACES",
        _both("max_pool_backward_naive"),
    ),
    "pool_bwd_ignores_dout": (
        "max_pool_backward_naive",
        pool_bwd_ignores_dout,
        r"ignores dout",
        _both("max_pool_backward_naive"),
    ),
    "pool_bwd_to_minimum": (
        "max_pool_backward_naive",
        pool_bwd_to_minimum,
        r"MINIMUM",
        _both("max_pool_backward_naive"),
    ),
    "pool_bwd_returns_dout_shape": (
        "max_pool_backward_naive",
        pool_bwd_returns_dout_shape,
        r"shape of dout",
        _both("max_pool_backward_naive"),
    ),
    # --- im2col, col2im
    "im2col_cs231n_layout": (
        "im2col",
        im2col_cs231n_layout,
        r"one ROW per window",
        _both("im2col"),
    ),
    "im2col_channels_last": (
        "im2col",
        im2col_channels_last,
        r"entries ordered \(p, q, c\) instead of \(c, p, q\)",
        _both("im2col"),
    ),
    "im2col_rows_position_major": (
        "im2col",
        im2col_rows_position_major,
        r"rows ordered \(i, j, n\)",
        _visible("im2col"),
    ),
    "im2col_no_padding": ("im2col", im2col_no_padding, r"padding is missing", _both("im2col")),
    "im2col_stride_ignored": (
        "im2col",
        im2col_stride_ignored,
        r"stride is ignored",
        _both("im2col"),
    ),
    "im2col_float64": ("im2col", im2col_float64, r"keep x's dtype", _hidden("im2col")),
    "col2im_overwrites": ("col2im", col2im_overwrites, r"must ADD", _both("col2im")),
    "col2im_not_cropped": ("col2im", col2im_not_cropped, r"zero padding", _both("col2im")),
    "col2im_reads_channels_last": (
        "col2im",
        col2im_reads_channels_last,
        r"reads each row's entries in \(p, q, c\) order",
        _both("col2im"),
    ),
    "col2im_crop_minus_pad": ("col2im", col2im_crop_minus_pad, r"pad:-pad", _visible("col2im")),
    # --- the fast convolution
    "conv_fast_fwd_reshape_no_transpose": (
        "conv_forward_im2col",
        conv_fast_fwd_reshape_no_transpose,
        r"reshaped straight to",
        _both("conv_forward_im2col"),
    ),
    "conv_fast_fwd_channels_last_weights": (
        "conv_forward_im2col",
        conv_fast_fwd_channels_last_weights,
        r"filter's numbers are read in the wrong order",
        _both("conv_forward_im2col"),
    ),
    "conv_fast_fwd_no_bias": (
        "conv_forward_im2col",
        conv_fast_fwd_no_bias,
        r"the bias is missing",
        _both("conv_forward_im2col"),
    ),
    "conv_fast_fwd_calls_library": (
        "conv_forward_im2col",
        conv_fast_fwd_calls_library,
        r"must not use a library implementation",
        _visible("conv_forward_im2col"),
    ),
    "conv_fast_bwd_dout_plain_reshape": (
        "conv_backward_im2col",
        conv_fast_bwd_dout_plain_reshape,
        r"dout\.transpose\(0, 2, 3, 1\)\.reshape\(-1, F\)",
        _both("conv_backward_im2col"),
    ),
    "conv_fast_bwd_dw_wrong_product": (
        "conv_backward_im2col",
        conv_fast_bwd_dw_wrong_product,
        r"dw is wrong: the right numbers in the wrong places",
        _both("conv_backward_im2col"),
    ),
    "conv_fast_bwd_db_mean": (
        "conv_backward_im2col",
        conv_fast_bwd_db_mean,
        r"db is the MEAN",
        _both("conv_backward_im2col"),
    ),
    "conv_fast_bwd_dw_over_n": (
        "conv_backward_im2col",
        conv_fast_bwd_dw_over_n,
        r"MEAN over the 2 images",
        _both("conv_backward_im2col"),
    ),
    # --- SmallCNN
    "cnn_no_relu_mask": (
        "small_cnn",
        SmallCNNNoReluMask,
        r"ReLU's gradient mask",
        _both("small_cnn"),
    ),
    "cnn_flatten_channels_last": (
        "small_cnn",
        SmallCNNFlattenChannelsLast,
        r"flattened in \(7, 7, F2\)",
        _both("small_cnn"),
    ),
    "cnn_no_padding": ("small_cnn", SmallCNNNoPadding, r"pad K // 2", _both("small_cnn")),
    "cnn_grads_accumulate": ("small_cnn", SmallCNNAccumulates, r"doubled", _both("small_cnn")),
    "cnn_w3_transposed": (
        "small_cnn",
        SmallCNNW3Transposed,
        r"transposed: scores = flat @ w3",
        _both("small_cnn"),
    ),
}
