"""2-D convolution (cross-correlation, as in every deep-learning library), NCHW layout.

    out[n, f, i, j] = b[f] + sum_{c, p, q} x_pad[n, c, i*sh + p, j*sw + q] * w[f, c, p, q]

Shapes (CS231n layout): ``x: (N, C, H, W)``, ``w: (F, C, HH, WW)``, ``b: (F,)``,
``out: (N, F, H_out, W_out)`` with

    H_out = (H + 2*ph - HH) // sh + 1,    W_out = (W + 2*pw - WW) // sw + 1.

The division is *floored*, like TensorFlow's ``padding="VALID"`` and PyTorch: when the
stride does not divide ``H + 2*ph - HH``, the last rows/columns that do not fill a whole
window are never read, and their gradient is 0. ``stride`` and ``pad`` are an int or a pair
``(along H, along W)``; ``pad="same"`` (stride 1, odd kernel) keeps H_out = H, W_out = W.

Two implementations of the same maths:

- ``conv_forward_naive`` / ``conv_backward_naive``: plain loops, one output value at a time.
  Slow, but every line maps to the formula above.
- ``conv_forward_im2col`` / ``conv_backward_im2col``: ``im2col`` copies every receptive
  field into one row of a matrix, so the convolution becomes one matrix product (done
  image by image, ``w_mat @ cols[n].T``, so that it comes out in NCHW order without a
  transposing copy); the backward pass is two more matrix products and ``col2im``, which
  adds the rows back into image positions (``conv_backward_im2col`` fuses ``col2im`` with
  the product that makes its rows: one small product per kernel offset, added straight
  into dx). Hundreds of times faster than the loops.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import DTypeLike, NDArray

from course_utils._validate import as_array, check_positive_int
from course_utils.init import get_initializer, zeros
from course_utils.layers.base import Layer
from course_utils.threads import blas_threads_for

__all__ = [
    "Conv2D",
    "Conv2DNaive",
    "col2im",
    "conv_backward_im2col",
    "conv_backward_naive",
    "conv_forward_im2col",
    "conv_forward_naive",
    "conv_output_size",
    "im2col",
]


# --------------------------------------------------------------------------------------
# Argument handling shared by both implementations (and by pooling)
# --------------------------------------------------------------------------------------


def _pair(value, name: str, *, minimum: int = 1) -> tuple[int, int]:
    """``3 -> (3, 3)``, ``(2, 1) -> (2, 1)``; each entry an int >= ``minimum``."""
    items = tuple(value) if isinstance(value, tuple | list) else (value, value)
    ok = len(items) == 2 and all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= minimum for v in items
    )
    if not ok:
        kind = {0: "non-negative int", 1: "positive int"}.get(minimum, f"int >= {minimum}")
        raise ValueError(f"{name}: expected a {kind} or a pair of them, got {value!r}")
    return int(items[0]), int(items[1])


def conv_output_size(size: int, kernel: int, stride: int = 1, pad: int = 0) -> int:
    """Output length along one axis: ``(size + 2*pad - kernel) // stride + 1`` (floored)."""
    return (size + 2 * pad - kernel) // stride + 1


def _resolve_pad(pad, kernel: tuple[int, int], stride: tuple[int, int]) -> tuple[int, int]:
    """Turn ``pad`` (int, pair, "valid" or "same") into a pair of non-negative ints."""
    if isinstance(pad, str):
        mode = pad.lower()
        if mode == "valid":
            return 0, 0
        if mode == "same":
            if stride != (1, 1) or kernel[0] % 2 == 0 or kernel[1] % 2 == 0:
                raise ValueError(
                    f"pad: 'same' needs stride 1 and an odd kernel size, got stride {stride} "
                    f"and kernel {kernel[0]}x{kernel[1]}; pass an explicit int padding instead"
                )
            return (kernel[0] - 1) // 2, (kernel[1] - 1) // 2
        raise ValueError(f"pad: expected an int, a pair, 'same' or 'valid', got {pad!r}")
    return _pair(pad, "pad", minimum=0)


def _check_conv_args(x, w, b, stride, pad):
    """Validate ``x, w, b, stride, pad``; return them normalised plus (H_out, W_out)."""
    w = as_array(w, "w", shape=("F", "C", "HH", "WW"), dtype_kind="f")
    F, C, HH, WW = w.shape
    x = as_array(x, "x", shape=("N", "C", "H", "W"), dtype_kind="f")
    if x.shape[1] != C:
        raise ValueError(
            f"x: expected shape (N, {C}, H, W) to match the C={C} input channels of w "
            f"(shape {w.shape}), got {x.shape}"
        )
    b = as_array(b, "b", shape=("F",), dtype_kind="f", dims={"F": F})
    stride = _pair(stride, "stride")
    pad = _resolve_pad(pad, (HH, WW), stride)
    H, W = x.shape[2:]
    Hp, Wp = H + 2 * pad[0], W + 2 * pad[1]
    if HH > Hp or WW > Wp:
        raise ValueError(
            f"w: kernel {HH}x{WW} is larger than the padded input {Hp}x{Wp} "
            f"(x has H={H}, W={W}; pad={pad}); use a smaller kernel or more padding"
        )
    out_hw = (
        conv_output_size(H, HH, stride[0], pad[0]),
        conv_output_size(W, WW, stride[1], pad[1]),
    )
    return x, w, b, stride, pad, out_hw


def _check_dout(dout, expected_shape: tuple[int, ...]) -> np.ndarray:
    dout = as_array(dout, "dout", dtype_kind="f")
    if dout.shape != tuple(expected_shape):
        raise ValueError(
            f"dout: expected shape {tuple(expected_shape)} (the forward output's), got {dout.shape}"
        )
    return dout


def _pad_hw(x: np.ndarray, pad: tuple[int, int]) -> np.ndarray:
    """Zero-pad the two spatial axes of an NCHW array."""
    ph, pw = pad
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


# --------------------------------------------------------------------------------------
# Naive loops (for reading)
# --------------------------------------------------------------------------------------


def conv_forward_naive(
    x: NDArray[np.floating], w: NDArray[np.floating], b: NDArray[np.floating], stride=1, pad=0
) -> tuple[NDArray[np.floating], tuple]:
    """Convolution forward pass with explicit loops.

    Args:
        x: (N, C, H, W) float inputs.
        w: (F, C, HH, WW) float filters.
        b: (F,) float biases.
        stride: int or (sh, sw), step between neighbouring windows.
        pad: int, (ph, pw), "same" or "valid": zeros added on every side of H and W.

    Returns:
        out: (N, F, H_out, W_out) output.
        cache: (x, w, b, stride, pad) for ``conv_backward_naive``.
    """
    x, w, b, stride, pad, (H_out, W_out) = _check_conv_args(x, w, b, stride, pad)
    N = x.shape[0]
    F, _, HH, WW = w.shape
    sh, sw = stride
    x_pad = _pad_hw(x, pad)
    out = np.zeros((N, F, H_out, W_out), dtype=np.result_type(x, w, b))
    for n in range(N):  # every image
        for f in range(F):  # every filter
            for i in range(H_out):  # every output row
                for j in range(W_out):  # every output column
                    # the receptive field of out[n, f, i, j]: all channels, an HH x WW patch
                    window = x_pad[n, :, i * sh : i * sh + HH, j * sw : j * sw + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, stride, pad)


def conv_backward_naive(
    dout: NDArray[np.floating], cache: tuple, input_grad: bool = True
) -> tuple[NDArray[np.floating] | None, NDArray[np.floating], NDArray[np.floating]]:
    """Convolution backward pass with explicit loops.

    Each output value used one window of ``x_pad`` and one filter, so it sends
    ``dout * w[f]`` back to that window and ``dout * window`` to the filter.

    Args:
        dout: (N, F, H_out, W_out) upstream gradient.
        cache: from ``conv_forward_naive``.
        input_grad: False skips dx (returned as None), as for the first layer of a network.

    Returns:
        dx: (N, C, H, W) or None, dw: (F, C, HH, WW), db: (F,).
    """
    x, w, b, (sh, sw), (ph, pw) = cache
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out, W_out = conv_output_size(H, HH, sh, ph), conv_output_size(W, WW, sw, pw)
    dout = _check_dout(dout, (N, F, H_out, W_out))
    dtype = np.result_type(dout, x, w)
    x_pad = _pad_hw(x, (ph, pw))
    dx_pad = np.zeros(x_pad.shape, dtype=dtype)
    dw = np.zeros(w.shape, dtype=dtype)
    db = dout.sum(axis=(0, 2, 3)).astype(dtype)  # b[f] was added to every out[:, f]
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    rows = slice(i * sh, i * sh + HH)
                    cols = slice(j * sw, j * sw + WW)
                    g = dout[n, f, i, j]
                    dw[f] += g * x_pad[n, :, rows, cols]
                    if input_grad:
                        dx_pad[n, :, rows, cols] += g * w[f]
    if not input_grad:
        return None, dw, db
    dx = dx_pad[:, :, ph : ph + H, pw : pw + W]  # drop the gradient of the zero padding
    return dx, dw, db


# --------------------------------------------------------------------------------------
# im2col (for speed)
# --------------------------------------------------------------------------------------


def im2col(x: NDArray[np.floating], HH: int, WW: int, stride=1, pad=0) -> NDArray[np.floating]:
    """Copy every receptive field of ``x`` into one row of a matrix.

    Row ``(n * H_out + i) * W_out + j`` holds the window of output position (n, i, j);
    its columns run over the window in **(p, q, c)** order (kernel row, kernel column,
    channel; channel fastest), which makes the copy contiguous and fast. The matching
    weight matrix is therefore ``w.transpose(0, 2, 3, 1).reshape(F, -1)``, and

        out (as N*H_out*W_out rows, F columns) = im2col(x) @ w_mat.T + b.

    Args:
        x: (N, C, H, W) inputs.
        HH, WW: kernel height and width.
        stride: int or (sh, sw).
        pad: int or (ph, pw).

    Returns:
        (N * H_out * W_out, HH * WW * C) array of x's dtype.
    """
    x = as_array(x, "x", shape=("N", "C", "H", "W"), dtype_kind="f")
    HH, WW = check_positive_int(HH, "HH"), check_positive_int(WW, "WW")
    sh, sw = _pair(stride, "stride")
    ph, pw = _pair(pad, "pad", minimum=0)
    N, C, H, W = x.shape
    if HH > H + 2 * ph or WW > W + 2 * pw:
        raise ValueError(
            f"HH, WW: kernel {HH}x{WW} is larger than the padded input {H + 2 * ph}x{W + 2 * pw}"
        )
    H_out, W_out = conv_output_size(H, HH, sh, ph), conv_output_size(W, WW, sw, pw)
    # Channels-last copy of the padded input: then each window's (p, q, c) block is
    # made of contiguous runs of C values.
    x_nhwc = np.zeros((N, H + 2 * ph, W + 2 * pw, C), dtype=x.dtype)
    x_nhwc[:, ph : ph + H, pw : pw + W, :] = x.transpose(0, 2, 3, 1)
    # View (no copy) of every HH x WW window: (N, H_out, W_out, C, HH, WW) ...
    windows = sliding_window_view(x_nhwc, (HH, WW), axis=(1, 2))
    windows = windows[:, : (H_out - 1) * sh + 1 : sh, : (W_out - 1) * sw + 1 : sw]
    # ... reordered to (N, H_out, W_out, HH, WW, C); reshape makes the one real copy.
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(N * H_out * W_out, HH * WW * C)


def col2im(
    cols: NDArray[np.floating],
    x_shape: tuple[int, int, int, int],
    HH: int,
    WW: int,
    stride=1,
    pad=0,
) -> NDArray[np.floating]:
    """Adjoint of ``im2col``: add each row back into the window it was copied from.

    Overlapping windows add up, so ``col2im(im2col(x))`` is *not* ``x``; it is the
    gradient of ``x`` when ``cols`` is the gradient of ``im2col(x)``. Loops over the
    HH*WW kernel offsets, each one a vectorised strided add over all windows at once.

    Args:
        cols: (N * H_out * W_out, HH * WW * C) in ``im2col``'s layout.
        x_shape: (N, C, H, W) shape of the image ``cols`` came from.
        HH, WW: kernel height and width.
        stride: int or (sh, sw).
        pad: int or (ph, pw).

    Returns:
        (N, C, H, W) array.
    """
    N, C, H, W = x_shape
    HH, WW = check_positive_int(HH, "HH"), check_positive_int(WW, "WW")
    sh, sw = _pair(stride, "stride")
    ph, pw = _pair(pad, "pad", minimum=0)
    H_out, W_out = conv_output_size(H, HH, sh, ph), conv_output_size(W, WW, sw, pw)
    expected = (N * H_out * W_out, HH * WW * C)
    if cols.shape != expected:
        raise ValueError(f"cols: expected shape {expected}, got {cols.shape}")
    cols6 = cols.reshape(N, H_out, W_out, HH, WW, C)
    dx_nhwc = np.zeros((N, H + 2 * ph, W + 2 * pw, C), dtype=cols.dtype)
    for p in range(HH):
        for q in range(WW):
            # every window's (p, q) entry lands at padded position (i*sh + p, j*sw + q)
            dx_nhwc[:, p : p + sh * H_out : sh, q : q + sw * W_out : sw, :] += cols6[:, :, :, p, q]
    return dx_nhwc[:, ph : ph + H, pw : pw + W, :].transpose(0, 3, 1, 2)


def conv_forward_im2col(
    x: NDArray[np.floating], w: NDArray[np.floating], b: NDArray[np.floating], stride=1, pad=0
) -> tuple[NDArray[np.floating], tuple]:
    """Convolution forward pass as one matrix product: ``im2col(x) @ w_mat.T + b``.

    Computed image by image as ``w_mat @ cols[n].T``: (F, H_out * W_out) blocks, already
    in NCHW order. Same arguments and output as ``conv_forward_naive``; the cache holds
    the im2col matrix (about HH*WW times the size of x) so that backward need not
    rebuild it.
    """
    x, w, b, stride, pad, (H_out, W_out) = _check_conv_args(x, w, b, stride, pad)
    N = x.shape[0]
    F, C, HH, WW = w.shape
    dtype = np.result_type(x, w, b)
    cols = im2col(x.astype(dtype, copy=False), HH, WW, stride, pad)
    w_mat = w.transpose(0, 2, 3, 1).reshape(F, HH * WW * C).astype(dtype, copy=False)
    out = np.matmul(w_mat, cols.reshape(N, H_out * W_out, -1).transpose(0, 2, 1))
    out += b.astype(dtype, copy=False)[:, None]
    return out.reshape(N, F, H_out, W_out), (x.shape, cols, w, stride, pad)


def conv_backward_im2col(
    dout: NDArray[np.floating], cache: tuple, input_grad: bool = True
) -> tuple[NDArray[np.floating] | None, NDArray[np.floating], NDArray[np.floating]]:
    """Convolution backward pass with the im2col matrix from the forward pass.

    With ``out_mat = cols @ w_mat.T + b``: ``dw_mat = dout_mat.T @ cols``,
    ``db = sum of dout_mat over rows``, ``dcols = dout_mat @ w_mat``, ``dx = col2im(dcols)``.
    (``dout_mat`` is dout as (N*H_out*W_out, F) rows; ``col2im(dcols)`` is computed one
    kernel offset's columns at a time, see ``_col2im_of_product``.)

    Args:
        dout: (N, F, H_out, W_out) upstream gradient.
        cache: from ``conv_forward_im2col``.
        input_grad: False skips dx (returned as None): ``dcols`` and ``col2im`` are the
            dearer half of the backward pass, and the first layer does not need them.

    Returns:
        dx: (N, C, H, W) or None, dw: (F, C, HH, WW), db: (F,).
    """
    x_shape, cols, w, stride, pad = cache
    F, C, HH, WW = w.shape
    N, _, H, W = x_shape
    H_out = conv_output_size(H, HH, stride[0], pad[0])
    W_out = conv_output_size(W, WW, stride[1], pad[1])
    dout = _check_dout(dout, (N, F, H_out, W_out))
    dtype = np.result_type(dout, cols)
    dout = dout.astype(dtype, copy=False)
    dout_t = dout.transpose(1, 0, 2, 3).reshape(F, N * H_out * W_out)  # dout_mat.T
    dw = (dout_t @ cols).reshape(F, HH, WW, C).transpose(0, 3, 1, 2)
    db = dout_t.sum(axis=1)
    if not input_grad:
        return None, np.ascontiguousarray(dw), db
    dx = _col2im_of_product(dout_t.T, w.astype(dtype, copy=False), x_shape, stride, pad)
    return np.ascontiguousarray(dx), np.ascontiguousarray(dw), db


def _col2im_of_product(dout_mat, w, x_shape, stride, pad) -> np.ndarray:
    """``col2im(dout_mat @ w_mat, x_shape, ...)`` without building ``dout_mat @ w_mat``.

    The columns of ``dcols = dout_mat @ w_mat`` for kernel offset (p, q) are
    ``dout_mat @ w[:, :, p, q]``: computed one offset at a time, each block is contiguous
    (N, H_out, W_out, C), and adding it into its strided window of dx is much faster than
    ``col2im``'s reads of C values at a time out of the wide ``dcols``.
    """
    N, C, H, W = x_shape
    F, _, HH, WW = w.shape
    (sh, sw), (ph, pw) = stride, pad
    H_out, W_out = conv_output_size(H, HH, sh, ph), conv_output_size(W, WW, sw, pw)
    dx_nhwc = np.zeros((N, H + 2 * ph, W + 2 * pw, C), dtype=dout_mat.dtype)
    for p in range(HH):
        for q in range(WW):
            block = (dout_mat @ w[:, :, p, q]).reshape(N, H_out, W_out, C)
            dx_nhwc[:, p : p + sh * H_out : sh, q : q + sw * W_out : sw, :] += block
    return dx_nhwc[:, ph : ph + H, pw : pw + W, :].transpose(0, 3, 1, 2)


# --------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------


class Conv2D(Layer):
    """2-D convolution layer over NCHW inputs (im2col implementation).

    Input shape: (N, in_channels, H, W). Output shape: (N, out_channels, H_out, W_out)
    with ``H_out = (H + 2*ph - kh) // sh + 1`` (floored, like Keras ``padding="valid"``).

    Args:
        in_channels: C, channels of the input.
        out_channels: F, number of filters.
        kernel_size: int or (kh, kw).
        stride: int or (sh, sw).
        padding: int, (ph, pw), "valid" (= 0) or "same" (stride 1 and odd kernel only).
        init: weight initialiser name ("he_normal", "xavier_uniform", ...) or callable
            ``init(shape, seed=..., dtype=...)`` (see ``course_utils.init``); b starts at 0.
        seed: int, None or np.random.Generator for the initialiser.
        dtype: parameter dtype; float64 for gradient checks, float32 for fast training.
        name: optional layer name.

    Attributes:
        params: {"w": (F, C, kh, kw), "b": (F,)}; grads: same keys and shapes.
    """

    _forward = staticmethod(conv_forward_im2col)
    _backward = staticmethod(conv_backward_im2col)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size=3,
        stride=1,
        padding=0,
        init: Any = "he_normal",
        seed: Any = None,
        dtype: DTypeLike = np.float64,
        name: str | None = None,
    ):
        super().__init__(name)
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        self.pad = _resolve_pad(padding, self.kernel_size, self.stride)
        self.padding = padding
        self.init = init
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.params["w"] = np.asarray(get_initializer(init)(shape, seed=seed, dtype=dtype))
        self.params["b"] = zeros((self.out_channels,), dtype=dtype)
        self.zero_grad()
        self._macs = 0  # of the last forward's product (N*H_out*W_out, C*HH*WW) @ (C*HH*WW, F)

    def forward(self, x: NDArray[np.floating]) -> NDArray[np.floating]:
        """(N, in_channels, H, W) -> (N, out_channels, H_out, W_out)."""
        x = as_array(x, "x", shape=("N", self.in_channels, "H", "W"), dtype_kind="f")
        N, C, H, W = x.shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.pad
        rows = N * max(conv_output_size(H, kh, sh, ph), 0) * max(conv_output_size(W, kw, sw, pw), 0)
        self._macs = rows * C * kh * kw * self.out_channels
        with blas_threads_for(self._macs):  # BLAS threads: see course_utils.threads
            out, self._cache = self._forward(
                x, self.params["w"], self.params["b"], self.stride, self.pad
            )
        return out

    def backward(
        self, dout: NDArray[np.floating], input_grad: bool = True
    ) -> NDArray[np.floating] | None:
        """Fill ``grads["w"]``, ``grads["b"]``; return dx of shape (N, C, H, W).

        With ``input_grad=False`` dx is skipped and None returned (``fit`` does this for
        a network's first layer, whose input is data).
        """
        cache = self._pop_cache()
        with blas_threads_for(self._macs):  # its two products have the forward's size
            dx, dw, db = self._backward(dout, cache, input_grad=input_grad)
        self.grads["w"] = dw
        self.grads["b"] = db
        return dx

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """(C, H, W) -> (F, H_out, W_out) for one sample."""
        _, H, W = input_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.pad
        return (
            self.out_channels,
            conv_output_size(H, kh, sh, ph),
            conv_output_size(W, kw, sw, pw),
        )

    def get_config(self) -> dict[str, Any]:
        init = self.init if isinstance(self.init, str) else getattr(self.init, "__name__", "?")
        return {
            "name": self.name,
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": self.kernel_size,
            "stride": self.stride,
            "padding": self.padding,
            "init": init,
        }


class Conv2DNaive(Conv2D):
    """``Conv2D`` computed with the explicit loops of ``conv_forward_naive`` (slow; for study).

    Same arguments, parameters and results as ``Conv2D``.
    """

    _forward = staticmethod(conv_forward_naive)
    _backward = staticmethod(conv_backward_naive)
