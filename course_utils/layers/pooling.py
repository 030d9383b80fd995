"""2-D max and average pooling over NCHW inputs.

Each channel is pooled separately over ``ph x pw`` windows taken every ``(sh, sw)``
pixels (stride defaults to the pool size: non-overlapping windows):

    max:  out[n, c, i, j] = max  over (p, q) of x[n, c, i*sh + p, j*sw + q]
    avg:  out[n, c, i, j] = mean over (p, q) of x[n, c, i*sh + p, j*sw + q]

with ``H_out = (H - ph) // sh + 1`` and ``W_out = (W - pw) // sw + 1``, floored like
TensorFlow's ``padding="VALID"``: trailing rows/columns that do not fill a window are
ignored (e.g. 2x2 pooling of a 7x7 map gives 3x3) and get zero gradient.

Max-pool gradient and ties: each window passes its upstream gradient to exactly ONE
input, the *first* maximum in row-major order within the window (``np.argmax``
convention). TensorFlow's CPU kernel does the same; so the gradient of a window full of
equal values goes to its top-left element, not split among them. Where windows overlap,
an input that is the maximum of several windows receives the sum of their gradients.

Non-overlapping windows (stride == pool size, the usual case) take a fast path: one strided
view per offset inside the window (4 for 2x2 pooling), compared element-wise, with no copy
of the windows. Other strides use a strided window view, ``np.argmax`` forward and
``np.put_along_axis`` backward; so do inputs with NaN (``np.argmax`` picks the first NaN)
and, backward, an inf/NaN upstream gradient. Neither path loops over positions in Python.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from course_utils._validate import as_array
from course_utils.layers.base import Layer
from course_utils.layers.conv import _pair

__all__ = [
    "AvgPool2D",
    "MaxPool2D",
    "avg_pool_backward",
    "avg_pool_forward",
    "max_pool_backward",
    "max_pool_forward",
]


def _check_pool_args(x, pool_size, stride):
    """Validate; return (x, (ph, pw), (sh, sw), (H_out, W_out))."""
    x = as_array(x, "x", shape=("N", "C", "H", "W"), dtype_kind="f")
    pool = _pair(pool_size, "pool_size")
    stride = pool if stride is None else _pair(stride, "stride")
    H, W = x.shape[2:]
    if pool[0] > H or pool[1] > W:
        raise ValueError(
            f"pool_size: window {pool[0]}x{pool[1]} is larger than the input "
            f"{H}x{W} (x has shape {x.shape})"
        )
    out_hw = ((H - pool[0]) // stride[0] + 1, (W - pool[1]) // stride[1] + 1)
    return x, pool, stride, out_hw


def _windows(x: np.ndarray, pool, stride, out_hw) -> np.ndarray:
    """(N, C, H_out, W_out, ph * pw) copy of every window, row-major inside the window."""
    (ph, pw), (sh, sw), (H_out, W_out) = pool, stride, out_hw
    N, C = x.shape[:2]
    if (sh, sw) == (ph, pw):
        # Non-overlapping: crop to whole windows, split each axis into (window, offset).
        x6 = x[:, :, : H_out * ph, : W_out * pw].reshape(N, C, H_out, ph, W_out, pw)
        win = x6.transpose(0, 1, 2, 4, 3, 5)
    else:
        win = sliding_window_view(x, (ph, pw), axis=(2, 3))
        win = win[:, :, : (H_out - 1) * sh + 1 : sh, : (W_out - 1) * sw + 1 : sw]
    return win.reshape(N, C, H_out, W_out, ph * pw)


def _scatter_windows(dwin: np.ndarray, x_shape, pool, stride) -> np.ndarray:
    """Adjoint of ``_windows``: add (N, C, H_out, W_out, ph * pw) back into (N, C, H, W)."""
    (ph, pw), (sh, sw) = pool, stride
    N, C, H_out, W_out, _ = dwin.shape
    dx = np.zeros(x_shape, dtype=dwin.dtype)
    dwin = dwin.reshape(N, C, H_out, W_out, ph, pw)
    if (sh, sw) == (ph, pw):
        block = dwin.transpose(0, 1, 2, 4, 3, 5).reshape(N, C, H_out * ph, W_out * pw)
        dx[:, :, : H_out * ph, : W_out * pw] = block
        return dx
    for p in range(ph):  # one strided add per offset inside the window
        for q in range(pw):
            dx[:, :, p : p + sh * H_out : sh, q : q + sw * W_out : sw] += dwin[..., p, q]
    return dx


def _tile_offsets(pool, out_hw):
    """(k, (rows, cols)) for each offset k = p * pw + q inside non-overlapping windows."""
    (ph, pw), (H_out, W_out) = pool, out_hw
    for p in range(ph):
        for q in range(pw):
            yield p * pw + q, (slice(p, H_out * ph, ph), slice(q, W_out * pw, pw))


def _max_tiles(x: np.ndarray, pool, out_hw) -> tuple[np.ndarray, np.ndarray]:
    """Max and argmax of non-overlapping windows, one strided view per window offset.

    The same numbers as ``np.argmax`` over ``_windows`` for NaN-free x, without its copy:
    a later offset replaces the running maximum only if it is strictly larger, so the
    first maximum in row-major order wins ties.
    """
    offsets = _tile_offsets(pool, out_hw)
    _, (rows, cols) = next(offsets)
    out = x[:, :, rows, cols].copy()
    idx = np.zeros(out.shape, dtype=np.min_scalar_type(pool[0] * pool[1] - 1))
    for k, (rows, cols) in offsets:
        view = x[:, :, rows, cols]
        larger = view > out
        np.maximum(out, view, out=out)
        # k is larger than every offset before it: this sets idx to k where `larger`
        np.maximum(idx, larger * idx.dtype.type(k), out=idx)
    return out, idx


def _unpool_tiles(dout: np.ndarray, idx: np.ndarray, x_shape, pool) -> np.ndarray:
    """Adjoint of ``_max_tiles``: each window's dout goes to its argmax, zeros elsewhere.

    ``dout * (idx == k)`` is about 3 times faster than ``np.where`` and the same for a
    finite dout, the only kind ``max_pool_backward`` sends here (inf * 0 would be NaN).
    """
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for k, (rows, cols) in _tile_offsets(pool, idx.shape[2:]):
        np.multiply(dout, idx == k, out=dx[:, :, rows, cols])
    return dx


def _check_dout(dout, shape) -> np.ndarray:
    dout = as_array(dout, "dout", dtype_kind="f")
    if dout.shape != tuple(shape):
        raise ValueError(
            f"dout: expected shape {tuple(shape)} (the forward output's), got {dout.shape}"
        )
    return dout


def max_pool_forward(
    x: NDArray[np.floating], pool_size=2, stride=None
) -> tuple[NDArray[np.floating], tuple]:
    """Max pooling: the largest value of each window, per channel.

    Args:
        x: (N, C, H, W) float inputs.
        pool_size: int or (ph, pw) window size.
        stride: int or (sh, sw); None means ``pool_size`` (non-overlapping windows).

    Returns:
        out: (N, C, H_out, W_out).
        cache: for ``max_pool_backward`` (input shape, window geometry, argmax per window).
    """
    x, pool, stride, out_hw = _check_pool_args(x, pool_size, stride)
    if stride == pool and not np.isnan(x).any():
        out, idx = _max_tiles(x, pool, out_hw)
    else:
        win = _windows(x, pool, stride, out_hw)
        idx = np.argmax(win, axis=-1)  # first maximum in row-major window order
        out = np.take_along_axis(win, idx[..., None], axis=-1)[..., 0]
    return out, (x.shape, pool, stride, idx)


def max_pool_backward(dout: NDArray[np.floating], cache: tuple) -> NDArray[np.floating]:
    """Route each window's upstream gradient to its (first) maximum; zeros elsewhere.

    Args:
        dout: (N, C, H_out, W_out) upstream gradient.
        cache: from ``max_pool_forward``.

    Returns:
        dx: (N, C, H, W).
    """
    x_shape, pool, stride, idx = cache
    dout = _check_dout(dout, idx.shape)
    if stride == pool and np.isfinite(dout).all():
        return _unpool_tiles(dout, idx, x_shape, pool)
    dwin = np.zeros((*idx.shape, pool[0] * pool[1]), dtype=dout.dtype)
    np.put_along_axis(dwin, idx[..., None], dout[..., None], axis=-1)
    return _scatter_windows(dwin, x_shape, pool, stride)


def avg_pool_forward(
    x: NDArray[np.floating], pool_size=2, stride=None
) -> tuple[NDArray[np.floating], tuple]:
    """Average pooling: the mean of each window, per channel.

    Args:
        x: (N, C, H, W) float inputs.
        pool_size: int or (ph, pw) window size.
        stride: int or (sh, sw); None means ``pool_size``.

    Returns:
        out: (N, C, H_out, W_out).
        cache: for ``avg_pool_backward``.
    """
    x, pool, stride, out_hw = _check_pool_args(x, pool_size, stride)
    out = _windows(x, pool, stride, out_hw).mean(axis=-1)
    return out, (x.shape, pool, stride, out.shape)


def avg_pool_backward(dout: NDArray[np.floating], cache: tuple) -> NDArray[np.floating]:
    """Each input of a window gets ``dout / (ph * pw)`` of that window (summed over windows).

    Args:
        dout: (N, C, H_out, W_out) upstream gradient.
        cache: from ``avg_pool_forward``.

    Returns:
        dx: (N, C, H, W).
    """
    x_shape, pool, stride, out_shape = cache
    dout = _check_dout(dout, out_shape)
    k = pool[0] * pool[1]
    dwin = np.broadcast_to((dout / k)[..., None], (*out_shape, k))
    return _scatter_windows(dwin, x_shape, pool, stride)


class _Pool2D(Layer):
    _forward: Any = None
    _backward: Any = None

    def __init__(self, pool_size=2, stride=None, name: str | None = None):
        super().__init__(name)
        self.pool_size = _pair(pool_size, "pool_size")
        self.stride = self.pool_size if stride is None else _pair(stride, "stride")

    def forward(self, x: NDArray[np.floating]) -> NDArray[np.floating]:
        """(N, C, H, W) -> (N, C, H_out, W_out)."""
        out, self._cache = type(self)._forward(x, self.pool_size, self.stride)
        return out

    def backward(self, dout: NDArray[np.floating]) -> NDArray[np.floating]:
        """Return dx of shape (N, C, H, W); pooling has no parameters."""
        return type(self)._backward(dout, self._pop_cache())

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """(C, H, W) -> (C, H_out, W_out) for one sample."""
        C, H, W = input_shape
        (ph, pw), (sh, sw) = self.pool_size, self.stride
        return (C, (H - ph) // sh + 1, (W - pw) // sw + 1)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "pool_size": self.pool_size, "stride": self.stride}


class MaxPool2D(_Pool2D):
    """Max pooling layer (no parameters); see ``max_pool_forward`` for the tie convention.

    Input shape: (N, C, H, W). Output shape: (N, C, (H - ph) // sh + 1, (W - pw) // sw + 1).

    Args:
        pool_size: int or (ph, pw).
        stride: int or (sh, sw); None means ``pool_size`` (like Keras ``MaxPooling2D``).
        name: optional layer name.
    """

    _forward = staticmethod(max_pool_forward)
    _backward = staticmethod(max_pool_backward)


class AvgPool2D(_Pool2D):
    """Average pooling layer (no parameters).

    Input shape: (N, C, H, W). Output shape: (N, C, (H - ph) // sh + 1, (W - pw) // sw + 1).

    Args:
        pool_size: int or (ph, pw).
        stride: int or (sh, sw); None means ``pool_size``.
        name: optional layer name.
    """

    _forward = staticmethod(avg_pool_forward)
    _backward = staticmethod(avg_pool_backward)
