"""Reference answers of graded tasks, with the exact interfaces the notebooks ask for.

A check of task k that needs the student's EARLIER tasks (a two-layer net made of the
student's layers, a training loop calling the student's loss, a standard deviation built
from the student's ``Value``) grades task k alone: it runs the student's task k with these
stand-ins in place of the earlier answers (``substitute.substituted``), so a bug in an
earlier cell costs the points of that cell only. They live in ``course_utils`` because at
grading time the student's code runs in its own sandboxed kernel, which must import them
(``grading.reference``); the layers are thin wrappers over ``course_utils.layers.core``.

Assignment 02 (``numpy_layers``): ``Matmul``, ``Relu``, ``Softmax``, ``Log``,
``cross_entropy``, ``tf_two_layer_net_class``. Assignment 03 (``backprop``): ``Value`` (the
micrograd engine with every operation of the notebook), ``value_mul`` (its ``__mul__``, to
install on a student's ``Value`` class), ``ThreeLayerNetLoss`` (``ThreeLayerNet.loss``).
Assignment 05 (``mnist``): ``DataLoader``, ``he_normal``, ``xavier_uniform``, ``Linear``,
``softmax_cross_entropy``, ``Adam``.
Assignment 06 (``cnn``): ``im2col``, ``col2im`` (the notebook's (c, p, q) column order),
``conv_forward_im2col``, ``conv_backward_im2col`` (int stride and pad, as the notebook asks).
"""

from __future__ import annotations

import math

import numpy as np

from course_utils.functional import log_softmax, sigmoid
from course_utils.layers import conv as _conv
from course_utils.layers.base import Layer
from course_utils.layers.core import (
    matmul_backward,
    matmul_forward,
    relu_backward,
    relu_forward,
    softmax_backward,
    softmax_forward,
)

__all__ = [
    "Adam",
    "DataLoader",
    "Linear",
    "Log",
    "Matmul",
    "Relu",
    "Softmax",
    "ThreeLayerNetLoss",
    "Value",
    "col2im",
    "conv_backward_im2col",
    "conv_forward_im2col",
    "im2col",
    "cross_entropy",
    "he_normal",
    "softmax_cross_entropy",
    "tf_two_layer_net_class",
    "value_mul",
    "xavier_uniform",
]


# --- 02_numpy_layers ---------------------------------------------------------------------
class Matmul(Layer):
    """out = x @ w; ``Matmul(w)`` keeps ``w`` itself (not a copy) in ``params["w"]``."""

    def __init__(self, w):
        super().__init__()
        self.params["w"] = w

    def forward(self, x):
        self.x = x  # the notebook's attribute names, for a net that reads them
        out, self._cache = matmul_forward(x, self.params["w"])
        return out

    def backward(self, dout):
        cache = self._cache  # kept: the grader may run backward twice after one forward
        dx, self.grads["w"] = matmul_backward(dout, cache)
        return dx


class Relu(Layer):
    """out = max(x, 0); relu'(0) = 0."""

    def forward(self, x):
        self.x = x
        out, self._cache = relu_forward(x)
        return out

    def backward(self, dout):
        return relu_backward(dout, self._cache)


class Softmax(Layer):
    """Row-wise stable softmax; backward is the full Jacobian-vector product."""

    def forward(self, x):
        out, self._cache = softmax_forward(x)
        self.s = out
        return out

    def backward(self, dout):
        return softmax_backward(dout, self._cache)


class Log(Layer):
    """out = log(x) for x > 0; dx = dout / x."""

    def forward(self, x):
        self.x = self._cache = np.asarray(x)
        return np.log(self._cache)

    def backward(self, dout):
        return np.asarray(dout) / self._cache


def cross_entropy(log_probs, y):
    """(-mean_n log_probs[n, y[n]], -onehot(y) / N) for (N, C) log-probabilities."""
    log_probs, y = np.asarray(log_probs), np.asarray(y)
    n = len(y)
    dlog_probs = np.zeros_like(log_probs, dtype=np.result_type(log_probs, np.float32))
    dlog_probs[np.arange(n), y] = -1.0 / n
    return float(-np.mean(log_probs[np.arange(n), y])), dlog_probs


def tf_two_layer_net_class():
    """The class ``TFTwoLayerNet(D, H, C, seed)``: relu(x @ w1 + b1) @ w2 + b2, He init.

    Made on demand: importing TensorFlow costs seconds and writes to stderr, which a NumPy
    test cell must never do.
    """
    from course_utils.environment import import_tensorflow

    tf = import_tensorflow()

    class TFTwoLayerNet:
        def __init__(self, D, H, C, seed=0):
            gen = tf.random.Generator.from_seed(seed)
            self.w1 = tf.Variable(gen.normal((D, H)) * np.sqrt(2.0 / D), name="w1")
            self.b1 = tf.Variable(tf.zeros(H), name="b1")
            self.w2 = tf.Variable(gen.normal((H, C)) * np.sqrt(2.0 / H), name="w2")
            self.b2 = tf.Variable(tf.zeros(C), name="b2")

        @property
        def variables(self):
            return [self.w1, self.b1, self.w2, self.b2]

        def __call__(self, x):
            return tf.matmul(tf.nn.relu(tf.matmul(x, self.w1) + self.b1), self.w2) + self.b2

    return TFTwoLayerNet


# --- 03_backprop -------------------------------------------------------------------------
def value_mul(self, other):
    """``Value.__mul__`` for any micrograd-style class: d/dself = other, d/dother = self."""
    cls = type(self)
    other = other if isinstance(other, cls) else cls(other)
    out = cls(self.data * other.data, (self, other), "*")

    def _backward():
        self.grad += other.data * out.grad
        other.grad += self.data * out.grad

    out._backward = _backward
    return out


def reverse_topological(root) -> list:
    """The nodes of a ``Value`` graph (through ``_prev``), root first, each after its users.

    An iterative depth-first search: deep graphs do not hit the recursion limit. The grader
    walks students' graphs with it too, so it only reads ``_prev``.
    """
    order, visited, stack = [], set(), [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
        elif id(node) not in visited:
            visited.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in tuple(getattr(node, "_prev", ()) or ()))
    return order[::-1]


class Value:
    """A scalar of the notebook's autodiff engine (every operation, and ``backward``)."""

    def __init__(self, data, _children=(), _op=""):
        self.data = float(data)
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = tuple(_children)
        self._op = _op

    def __repr__(self):
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    def _unary(self, data, op, local):
        out = Value(data, (self,), op)

        def _backward():
            self.grad += local * out.grad

        out._backward = _backward
        return out

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    __mul__ = value_mul

    def __pow__(self, n):
        if not isinstance(n, int | float):
            raise TypeError(f"n: expected a constant int or float exponent, got {type(n)}")
        return self._unary(self.data**n, f"**{n}", n * self.data ** (n - 1))

    def exp(self):
        e = math.exp(self.data)
        return self._unary(e, "exp", e)

    def log(self):
        return self._unary(math.log(self.data), "log", 1.0 / self.data)

    def tanh(self):
        t = math.tanh(self.data)
        return self._unary(t, "tanh", 1.0 - t * t)

    def relu(self):
        return self._unary(max(self.data, 0.0), "relu", float(self.data > 0))

    def backward(self):
        self.grad = 1.0
        for node in reverse_topological(self):
            node._backward()

    def __neg__(self):
        return self * -1

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * other**-1

    def __rtruediv__(self, other):
        return other * self**-1


class ThreeLayerNetLoss:
    """``net.loss(X, y)`` of the notebook's ThreeLayerNet, from ``net``'s current params.

    d -> h sigmoid units -> c linear outputs; MSE over all N*C entries (``loss_type
    "mse"``) or mean softmax cross-entropy of int labels (``"ce"``), plus reg/2 (||W1||^2 +
    ||W2||^2). Returns ``(loss, grads)`` in float64.
    """

    def __init__(self, net):
        self.net = net

    def __call__(self, X, y):
        p = {k: np.asarray(v, dtype=np.float64) for k, v in self.net.params.items()}
        reg = float(self.net.reg)
        X = np.asarray(X, dtype=np.float64)
        a1 = sigmoid(X @ p["W1"] + p["b1"])
        scores = a1 @ p["W2"] + p["b2"]
        if self.net.loss_type == "mse":
            diff = scores - np.asarray(y, dtype=np.float64)
            data_loss, dscores = float(np.mean(diff**2)), 2.0 * diff / diff.size
        else:
            n, labels = len(X), np.asarray(y)
            logp = log_softmax(scores)
            data_loss = float(-np.mean(logp[np.arange(n), labels]))
            dscores = np.exp(logp)
            dscores[np.arange(n), labels] -= 1.0
            dscores /= n
        loss = data_loss + 0.5 * reg * float(np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
        dz1 = (dscores @ p["W2"].T) * a1 * (1.0 - a1)
        grads = {
            "W1": X.T @ dz1 + reg * p["W1"],
            "b1": dz1.sum(axis=0),
            "W2": a1.T @ dscores + reg * p["W2"],
            "b2": dscores.sum(axis=0),
        }
        return loss, grads


# --- 05_mnist ----------------------------------------------------------------------------
# The notebook's interfaces: ``DataLoader(X, y, batch_size, shuffle=True, seed=None,
# drop_last=False)``, ``he_normal(fan_in, fan_out, rng)``, ``xavier_uniform(fan_in,
# fan_out, rng)``, ``Linear(in_features, out_features, rng=None, init=None,
# dtype=np.float64)`` with params/grads {"W", "b"}, ``softmax_cross_entropy(logits, y)`` and
# ``Adam(params, lr, beta1, beta2, eps).step(grads)`` over lists of arrays (Keras' formula).
class DataLoader:
    """Mini-batches of (X, y): a new permutation per epoch from a generator seeded once."""

    def __init__(self, X, y, batch_size, shuffle=True, seed=None, drop_last=False):
        from course_utils.data import DataLoader as _Loader

        self._loader = _Loader(
            X, y, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed
        )
        self.X, self.y, self.batch_size = X, y, batch_size

    def __len__(self):
        return len(self._loader)

    def __iter__(self):
        return iter(self._loader)


def he_normal(fan_in, fan_out, rng):
    """(fan_in, fan_out) weights ~ N(0, 2 / fan_in), drawn from ``rng``."""
    return rng.normal(0.0, math.sqrt(2.0 / fan_in), size=(fan_in, fan_out))


def xavier_uniform(fan_in, fan_out, rng):
    """(fan_in, fan_out) weights ~ U(-a, a), a = sqrt(6 / (fan_in + fan_out))."""
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


class Linear:
    """out = x @ W + b; W from ``init`` (default ``he_normal``), b = 0."""

    def __init__(self, in_features, out_features, rng=None, init=None, dtype=np.float64):
        from course_utils.layers.core import affine_backward, affine_forward

        self._fwd, self._bwd = affine_forward, affine_backward
        rng = np.random.default_rng() if rng is None else rng
        init = he_normal if init is None else init
        self.params = {
            "W": np.asarray(init(in_features, out_features, rng), dtype=dtype),
            "b": np.zeros(out_features, dtype=dtype),
        }
        self.grads = {}

    def forward(self, x):
        out, self._cache = self._fwd(x, self.params["W"], self.params["b"])
        return out

    def backward(self, dout):
        dx, self.grads["W"], self.grads["b"] = self._bwd(dout, self._cache)
        return dx


def softmax_cross_entropy(logits, y):
    """(mean cross-entropy, dlogits) for (N, C) logits and (N,) int labels."""
    from course_utils.losses import softmax_cross_entropy as _sce

    return _sce(logits, np.asarray(y))


class Adam:
    """Keras' Adam over a list of arrays, updated in place by ``step(grads)``."""

    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
        self.params = list(params)
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def step(self, grads):
        self.t += 1
        lr_t = self.lr * math.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            g = np.asarray(g, dtype=p.dtype)
            m += (1 - self.beta1) * (g - m)
            v += (1 - self.beta2) * (g * g - v)
            p -= lr_t * m / (np.sqrt(v) + self.eps)


# --- 06_cnn ------------------------------------------------------------------------------
# The notebook's im2col orders a window's columns (c, p, q), like ``w[f].reshape(-1)``;
# course_utils' orders them (p, q, c) for speed. These convert between the two.
def im2col(x, HH, WW, stride=1, pad=0):
    """(N * H_out * W_out, C * HH * WW): row (n, i, j) is that window, columns (c, p, q)."""
    x = np.asarray(x)
    C = x.shape[1]
    cols = _conv.im2col(x, HH, WW, stride, pad)  # columns (p, q, c)
    return np.ascontiguousarray(
        cols.reshape(-1, HH, WW, C).transpose(0, 3, 1, 2).reshape(len(cols), -1)
    )


def col2im(cols, x_shape, HH, WW, stride=1, pad=0):
    """The adjoint of ``im2col``: rows added back into their windows (overlaps add up)."""
    cols = np.asarray(cols)
    C = x_shape[1]
    pqc = cols.reshape(-1, C, HH, WW).transpose(0, 2, 3, 1).reshape(len(cols), -1)
    return _conv.col2im(np.ascontiguousarray(pqc), tuple(x_shape), HH, WW, stride, pad)


def conv_forward_im2col(x, w, b, stride=1, pad=0):
    """``(out, cache)`` of the convolution (cross-correlation), NCHW, w (F, C, HH, WW)."""
    return _conv.conv_forward_im2col(x, w, b, stride, pad)


def conv_backward_im2col(dout, cache):
    """``(dx, dw, db)`` from ``conv_forward_im2col``'s cache."""
    return _conv.conv_backward_im2col(dout, cache)
