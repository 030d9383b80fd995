"""Implementations of 02_numpy_layers' tasks: correct ones and known-wrong ones.

``CORRECT[task]``: implementations every check of that task must accept (the reference
first). ``WRONG``: name -> (task, implementation, regex the failure message must match,
checks that must reject it). Tasks: matmul, relu, softmax, log, cross_entropy,
two_layer_net, train_epoch. The TensorFlow tasks (tf_model, tf_train_step) have the same
catalogues by name in ``TF_CORRECT`` / ``TF_WRONG``; their implementations are built by
``tf_catalogue()`` so that importing this module does not import TensorFlow.
"""

from __future__ import annotations

import numpy as np

from course_utils.layers import Layer


def _both(task: str) -> tuple[str, str]:
    return (f"check_{task}", f"check_{task}_hidden")


# =====================================================================================
# Matmul
# =====================================================================================
class Matmul(Layer):
    def __init__(self, w):
        super().__init__()
        self.params["w"] = w

    def forward(self, x):
        self.x = x
        return x @ self.params["w"]

    def backward(self, dout):
        self.grads["w"] = self.x.T @ dout
        return dout @ self.params["w"].T


class MatmulEinsum(Matmul):
    def forward(self, x):
        self._cache = x
        return np.einsum("nd,dm->nm", x, self.params["w"])

    def backward(self, dout):
        x = self._pop_cache()
        self.grads["w"] = np.einsum("nd,nm->dm", x, dout)
        return np.einsum("nm,dm->nd", dout, self.params["w"])


class MatmulCopiesInput(Matmul):
    def forward(self, x):
        self.x = np.array(x, copy=True)
        return np.dot(x, self.params["w"])

    def backward(self, dout):
        self.grads["w"] = np.dot(self.x.T, dout)
        return np.dot(dout, self.params["w"].T)


class MatmulDwTransposed(Matmul):
    def backward(self, dout):
        self.grads["w"] = dout.T @ self.x
        return dout @ self.params["w"].T


class MatmulDxNoTranspose(Matmul):
    def backward(self, dout):
        self.grads["w"] = self.x.T @ dout
        return dout @ self.params["w"]


class MatmulDwOverN(Matmul):
    def backward(self, dout):
        self.grads["w"] = self.x.T @ dout / len(dout)
        return dout @ self.params["w"].T


class MatmulNoGrad(Matmul):
    def backward(self, dout):
        return dout @ self.params["w"].T


class MatmulAccumulates(Matmul):
    def backward(self, dout):
        if "w" not in self.grads:
            self.grads["w"] = np.zeros_like(self.params["w"])
        self.grads["w"] += self.x.T @ dout
        return dout @ self.params["w"].T


class MatmulReturnsPair(Matmul):
    def backward(self, dout):  # the nndl original returns both
        return dout @ self.params["w"].T, self.x.T @ dout


class MatmulUpdatesWeight(Matmul):
    def backward(self, dout):
        self.grads["w"] = self.x.T @ dout
        self.params["w"] -= 0.1 * self.grads["w"]  # the optimiser's job, not backward's
        return dout @ self.params["w"].T


class MatmulNotImplemented(Matmul):
    def forward(self, x):
        raise NotImplementedError()

    def backward(self, dout):
        raise NotImplementedError()


def _library_matmul():
    from course_utils.layers import Matmul as LibraryMatmul

    class MatmulFromLibrary(Layer):
        def __init__(self, w):
            super().__init__()
            self.params["w"] = w
            self.inner = None

        def forward(self, x):
            self.inner = LibraryMatmul(self.params["w"].shape[0], self.params["w"].shape[1])
            self.inner.params["w"] = self.params["w"]
            return self.inner.forward(x)

        def backward(self, dout):
            dx = self.inner.backward(dout)
            self.grads["w"] = self.inner.grads["w"]
            return dx

    return MatmulFromLibrary


MatmulFromLibrary = _library_matmul()


# =====================================================================================
# Relu
# =====================================================================================
class Relu(Layer):
    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dout):
        return dout * (self.x > 0)


class ReluMask(Layer):
    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, dout):
        return np.where(self.mask, dout, 0.0)


class ReluHeaviside(Layer):
    def forward(self, x):
        self.out = np.clip(x, 0, None)
        return self.out

    def backward(self, dout):
        return dout * np.heaviside(self.out, 0.0)  # out > 0 exactly when x > 0


class ReluGradOneAtZero(Relu):
    def backward(self, dout):
        return dout * (self.x >= 0)


class ReluUsesOutputGe0(Layer):
    def forward(self, x):
        self.out = np.maximum(x, 0)
        return self.out

    def backward(self, dout):
        return dout * (self.out >= 0)


class ReluBackwardInPlace(Relu):
    def backward(self, dout):
        dout[self.x <= 0] = 0
        return dout


class ReluForwardInPlace(Layer):
    def forward(self, x):
        self.x = x
        x[x < 0] = 0
        return x

    def backward(self, dout):
        return dout * (self.x > 0)


class ReluIgnoresDout(Relu):
    def backward(self, dout):
        return (self.x > 0).astype(float)


class ReluOfDout(Relu):
    def backward(self, dout):
        return np.maximum(dout, 0)


# =====================================================================================
# Softmax
# =====================================================================================
class Softmax(Layer):
    def forward(self, x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        self.s = e / e.sum(axis=1, keepdims=True)
        return self.s

    def backward(self, dout):
        s = self.s
        return s * (dout - np.sum(dout * s, axis=1, keepdims=True))


class SoftmaxJacobian(Layer):
    """The nndl way: build each row's Jacobian diag(s) - s s^T and multiply."""

    def forward(self, x):
        z = x - np.max(x, axis=-1, keepdims=True)
        self.s = np.exp(z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True)))
        return self.s

    def backward(self, dout):
        s = self.s
        jac = np.einsum("ni,ij->nij", s, np.eye(s.shape[1])) - np.einsum("ni,nj->nij", s, s)
        return np.einsum("ni,nij->nj", dout, jac)


class SoftmaxLoop(Layer):
    def forward(self, x):
        rows = []
        for row in x:
            e = np.exp(row - row.max())
            rows.append(e / e.sum())
        self.s = np.array(rows)
        return self.s

    def backward(self, dout):
        dx = np.empty_like(dout)
        for i, (s, g) in enumerate(zip(self.s, dout, strict=True)):
            dx[i] = (np.diag(s) - np.outer(s, s)) @ g
        return dx


class SoftmaxUnstable(Softmax):
    def forward(self, x):
        e = np.exp(x)
        self.s = e / e.sum(axis=1, keepdims=True)
        return self.s


class SoftmaxDiagonal(Softmax):
    def backward(self, dout):
        return dout * self.s


class SoftmaxDiagonalS1mS(Softmax):
    def backward(self, dout):
        return dout * self.s * (1 - self.s)


class SoftmaxSumAxis0(Softmax):
    def backward(self, dout):
        s = self.s
        return s * (dout - np.sum(dout * s, axis=0, keepdims=True))


class SoftmaxForwardAxis0(Layer):
    def forward(self, x):
        e = np.exp(x - x.max(axis=0, keepdims=True))
        self.s = e / e.sum(axis=0, keepdims=True)
        return self.s

    def backward(self, dout):
        s = self.s
        return s * (dout - np.sum(dout * s, axis=1, keepdims=True))


class SoftmaxUnweightedSum(Softmax):
    def backward(self, dout):
        return self.s * (dout - np.sum(dout, axis=1, keepdims=True))


def _library_softmax():
    from course_utils.functional import softmax

    class SoftmaxFromLibrary(Softmax):
        def forward(self, x):
            self.s = softmax(x, axis=1)
            return self.s

    return SoftmaxFromLibrary


SoftmaxFromLibrary = _library_softmax()


# =====================================================================================
# Log
# =====================================================================================
class Log(Layer):
    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, dout):
        return dout / self.x


class LogWithEpsilon(Layer):
    """The nndl original adds a tiny epsilon; harmless for inputs away from 0."""

    def forward(self, x):
        self.x = x
        return np.log(x + 1e-12)

    def backward(self, dout):
        return dout * (1.0 / (self.x + 1e-12))


class LogBackwardReturnsLog(Log):
    def backward(self, dout):
        return dout * np.log(self.x)


class LogBackwardPlainLog(Log):
    def backward(self, dout):
        return np.log(self.x)


class LogIgnoresDout(Log):
    def backward(self, dout):
        return 1 / self.x


class LogTimesX(Log):
    def backward(self, dout):
        return dout * self.x


class LogForwardLog10(Log):
    def forward(self, x):
        self.x = x
        return np.log10(x)


# =====================================================================================
# cross_entropy
# =====================================================================================
def cross_entropy(log_probs, y):
    n = len(y)
    loss = -np.mean(log_probs[np.arange(n), y])
    dlog_probs = np.zeros_like(log_probs)
    dlog_probs[np.arange(n), y] = -1.0 / n
    return loss, dlog_probs


def cross_entropy_one_hot(log_probs, y):
    onehot = np.eye(log_probs.shape[1])[y]
    n = log_probs.shape[0]
    return float(-(onehot * log_probs).sum() / n), -onehot / n


def cross_entropy_loop(log_probs, y):
    n = len(y)
    total = 0.0
    grad = np.zeros(log_probs.shape)
    for i in range(n):
        total -= log_probs[i, y[i]]
        grad[i, y[i]] = -1 / n
    return total / n, grad


def cross_entropy_take_along(log_probs, y):
    picked = np.take_along_axis(log_probs, y[:, None].astype(np.intp), axis=1)
    grad = -(np.arange(log_probs.shape[1]) == y[:, None]).astype(float) / len(y)
    return np.asarray(-picked.mean()), grad


def ce_summed(log_probs, y):
    n = len(y)
    grad = np.zeros_like(log_probs)
    grad[np.arange(n), y] = -1.0
    return -np.sum(log_probs[np.arange(n), y]), grad


def ce_grad_not_averaged(log_probs, y):
    loss, grad = cross_entropy(log_probs, y)
    return loss, grad * len(y)


def ce_positive(log_probs, y):
    loss, grad = cross_entropy(log_probs, y)
    return -loss, -grad


def ce_grad_wrt_logits(log_probs, y):
    loss, grad = cross_entropy(log_probs, y)
    return loss, np.exp(log_probs) / len(y) + grad  # (softmax - one-hot) / N


def ce_grad_not_masked(log_probs, y):
    loss, _ = cross_entropy(log_probs, y)
    return loss, np.full(log_probs.shape, -1.0 / len(y))


def ce_mean_all_entries(log_probs, y):
    onehot = np.eye(log_probs.shape[1])[y]
    return -np.mean(onehot * log_probs), -onehot / onehot.size


def ce_mutates_input(log_probs, y):
    n = len(y)
    log_probs *= -1  # "negative log-likelihood", in place
    loss = np.mean(log_probs[np.arange(n), y])
    grad = np.zeros_like(log_probs)
    grad[np.arange(n), y] = -1.0 / n
    return loss, grad


def ce_assumes_one_hot(log_probs, y):
    n = log_probs.shape[0]
    return -np.sum(y * log_probs) / n, -y / n


def ce_loss_only(log_probs, y):
    return cross_entropy(log_probs, y)[0]


def ce_returns_list(log_probs, y):
    loss, grad = cross_entropy(log_probs, y)
    return [loss], grad


def ce_from_library(log_probs, y):
    from course_utils.losses import softmax_cross_entropy

    return softmax_cross_entropy(log_probs, y)


# =====================================================================================
# TwoLayerNet
# =====================================================================================
def append_ones(x):
    return np.hstack([x, np.ones((len(x), 1), dtype=x.dtype)])


def make_net(matmul=Matmul, relu=Relu, softmax=Softmax, log=Log):
    class TwoLayerNet:
        def __init__(self, D, H, C, seed=0, dtype=np.float32):
            rng = np.random.default_rng(seed)
            w1 = np.zeros((D + 1, H), dtype=dtype)
            w1[:D] = rng.standard_normal((D, H)) * np.sqrt(2.0 / D)
            w2 = np.zeros((H + 1, C), dtype=dtype)
            w2[:H] = rng.standard_normal((H, C)) * np.sqrt(2.0 / H)
            self.params = {"w1": w1, "w2": w2}
            self.grads = {}
            self.mul1, self.relu, self.mul2 = matmul(w1), relu(), matmul(w2)
            self.softmax, self.log = softmax(), log()

        def forward(self, x):
            h = self.relu.forward(self.mul1.forward(append_ones(x)))
            scores = self.mul2.forward(append_ones(h))
            return self.log.forward(self.softmax.forward(scores))

        def backward(self, dlog_probs):
            dscores = self.softmax.backward(self.log.backward(dlog_probs))
            dh = self.mul2.backward(dscores)[:, :-1]
            dx = self.mul1.backward(self.relu.backward(dh))[:, :-1]
            self.grads["w1"] = self.mul1.grads["w"]
            self.grads["w2"] = self.mul2.grads["w"]
            return dx

    return TwoLayerNet


TwoLayerNet = make_net()
TwoLayerNetJacobianSoftmax = make_net(matmul=MatmulEinsum, relu=ReluMask, softmax=SoftmaxJacobian)


class NetKeepsBiasColumn(TwoLayerNet):
    def backward(self, dlog_probs):
        dscores = self.softmax.backward(self.log.backward(dlog_probs))
        dh = self.mul2.backward(dscores)[:, :-1]
        dx = self.mul1.backward(self.relu.backward(dh))
        self.grads["w1"] = self.mul1.grads["w"]
        self.grads["w2"] = self.mul2.grads["w"]
        return dx


class NetSkipsLogBackward(TwoLayerNet):
    def backward(self, dlog_probs):
        dscores = self.softmax.backward(dlog_probs)
        dh = self.mul2.backward(dscores)[:, :-1]
        dx = self.mul1.backward(self.relu.backward(dh))[:, :-1]
        self.grads["w1"] = self.mul1.grads["w"]
        self.grads["w2"] = self.mul2.grads["w"]
        return dx


class NetSkipsSoftmaxBackward(TwoLayerNet):
    def backward(self, dlog_probs):
        dh = self.mul2.backward(self.log.backward(dlog_probs))[:, :-1]
        dx = self.mul1.backward(self.relu.backward(dh))[:, :-1]
        self.grads["w1"] = self.mul1.grads["w"]
        self.grads["w2"] = self.mul2.grads["w"]
        return dx


class NetSkipsReluBackward(TwoLayerNet):
    def backward(self, dlog_probs):
        dscores = self.softmax.backward(self.log.backward(dlog_probs))
        dh = self.mul2.backward(dscores)[:, :-1]
        dx = self.mul1.backward(dh)[:, :-1]
        self.grads["w1"] = self.mul1.grads["w"]
        self.grads["w2"] = self.mul2.grads["w"]
        return dx


class NetDropsFirstColumn(TwoLayerNet):
    def backward(self, dlog_probs):
        dscores = self.softmax.backward(self.log.backward(dlog_probs))
        dh = self.mul2.backward(dscores)[:, 1:]
        dx = self.mul1.backward(self.relu.backward(dh))[:, 1:]
        self.grads["w1"] = self.mul1.grads["w"]
        self.grads["w2"] = self.mul2.grads["w"]
        return dx


class NetForgetsOnes(TwoLayerNet):
    def forward(self, x):
        h = self.relu.forward(self.mul1.forward(x))
        return self.log.forward(self.softmax.forward(self.mul2.forward(h)))


class NetNoGrads(TwoLayerNet):
    def backward(self, dlog_probs):
        dscores = self.softmax.backward(self.log.backward(dlog_probs))
        dh = self.mul2.backward(dscores)[:, :-1]
        return self.mul1.backward(self.relu.backward(dh))[:, :-1]


class NetReturnsProbabilities(TwoLayerNet):
    def forward(self, x):
        h = self.relu.forward(self.mul1.forward(append_ones(x)))
        return self.softmax.forward(self.mul2.forward(append_ones(h)))


class NetNoRelu(TwoLayerNet):
    def forward(self, x):
        h = self.mul1.forward(append_ones(x))
        scores = self.mul2.forward(append_ones(h))
        return self.log.forward(self.softmax.forward(scores))


NetWithLibraryLayers = make_net(matmul=MatmulFromLibrary)


class Memorizer:
    """Cheat: untrained weights, and a forward pass that looks the image up in the test set."""

    def __init__(self, like):
        from course_utils.data import load_mnist

        data = load_mnist(flatten=True, verbose=False)
        self.lookup = {x.tobytes(): y for x, y in zip(data.X_test, data.y_test, strict=True)}
        self.params = like.params

    def forward(self, x):
        y = np.array([self.lookup.get(np.asarray(r, np.float32).tobytes(), 0) for r in x])
        out = np.full((len(x), 10), np.log(1e-6 / 9))
        out[np.arange(len(x)), y] = np.log(1 - 1e-6)
        return out


def memorizer():
    return Memorizer(TwoLayerNet(784, 100, 10))


def library_sequential(d, h, c):
    """Not a TwoLayerNet at all: course_utils' own layers in a Sequential."""
    from course_utils.layers import Linear, ReLU, Sequential

    return Sequential([Linear(d, h), ReLU(), Linear(h, c)])


# =====================================================================================
# train_epoch
# =====================================================================================
def train_epoch(net, X, y, batch_size, lr, rng):
    order = rng.permutation(len(X))
    losses = []
    for start in range(0, len(X), batch_size):
        idx = order[start : start + batch_size]
        loss, dlog_probs = cross_entropy(net.forward(X[idx]), y[idx])
        net.backward(dlog_probs)
        for key in net.params:
            net.params[key] -= lr * net.grads[key]
        losses.append(loss)
    return float(np.mean(losses))


def train_epoch_weighted(net, X, y, batch_size, lr, rng):
    n = X.shape[0]
    perm = rng.permutation(n)
    Xs, ys = X[perm], y[perm]
    total = 0.0
    for start in range(0, n, batch_size):
        xb, yb = Xs[start : start + batch_size], ys[start : start + batch_size]
        loss, d = cross_entropy_one_hot(net.forward(xb), yb)
        net.backward(d)
        for w, g in ((net.params[k], net.grads[k]) for k in net.params):
            w -= lr * g
        total += loss * len(yb)
    return total / n


def train_epoch_array_split(net, X, y, batch_size, lr, rng):
    n = len(X)
    idx = rng.permutation(n)
    losses = []
    for batch in np.array_split(idx, np.arange(batch_size, n, batch_size)):
        loss, d = cross_entropy(net.forward(X[batch]), y[batch])
        net.backward(d)
        for k, w in net.params.items():
            np.subtract(w, lr * net.grads[k], out=w)
        losses.append(loss)
    return np.mean(losses)


def train_drops_last_batch(net, X, y, batch_size, lr, rng):
    order = rng.permutation(len(X))
    losses = []
    for b in range(max(len(X) // batch_size, 1)):
        idx = order[b * batch_size : (b + 1) * batch_size]
        loss, d = cross_entropy(net.forward(X[idx]), y[idx])
        net.backward(d)
        for key in net.params:
            net.params[key] -= lr * net.grads[key]
        losses.append(loss)
    return float(np.mean(losses))


def train_no_shuffle(net, X, y, batch_size, lr, rng):
    return train_epoch(net, X, y, batch_size, lr, _Identity())


class _Identity:
    @staticmethod
    def permutation(n):
        return np.arange(n)


def train_global_rng(net, X, y, batch_size, lr, rng):
    order = np.random.permutation(len(X))  # the bug: ignores rng
    return _train_in_order(net, X, y, batch_size, lr, order)


def train_own_seeded_rng(net, X, y, batch_size, lr, rng):
    return train_epoch(net, X, y, batch_size, lr, np.random.default_rng(0))


def _train_in_order(net, X, y, batch_size, lr, order):
    losses = []
    for start in range(0, len(X), batch_size):
        idx = order[start : start + batch_size]
        loss, d = cross_entropy(net.forward(X[idx]), y[idx])
        net.backward(d)
        for key in net.params:
            net.params[key] -= lr * net.grads[key]
        losses.append(loss)
    return float(np.mean(losses))


def train_rebinds_params(net, X, y, batch_size, lr, rng):
    order = rng.permutation(len(X))
    losses = []
    for start in range(0, len(X), batch_size):
        idx = order[start : start + batch_size]
        loss, d = cross_entropy(net.forward(X[idx]), y[idx])
        net.backward(d)
        for key in net.params:
            net.params[key] = net.params[key] - lr * net.grads[key]
        losses.append(loss)
    return float(np.mean(losses))


def train_ascent(net, X, y, batch_size, lr, rng):
    return train_epoch(net, X, y, batch_size, -lr, rng)


def train_lr_halved(net, X, y, batch_size, lr, rng):
    return train_epoch(net, X, y, batch_size, lr / 2, rng)


def train_no_update(net, X, y, batch_size, lr, rng):
    order = rng.permutation(len(X))
    losses = []
    for start in range(0, len(X), batch_size):
        idx = order[start : start + batch_size]
        loss, d = cross_entropy(net.forward(X[idx]), y[idx])
        net.backward(d)
        losses.append(loss)
    return float(np.mean(losses))


def train_returns_last_loss(net, X, y, batch_size, lr, rng):
    order = rng.permutation(len(X))
    loss = None
    for start in range(0, len(X), batch_size):
        idx = order[start : start + batch_size]
        loss, d = cross_entropy(net.forward(X[idx]), y[idx])
        net.backward(d)
        for key in net.params:
            net.params[key] -= lr * net.grads[key]
    return float(loss)


def train_shuffles_X_in_place(net, X, y, batch_size, lr, rng):
    state = rng.bit_generator.state
    rng.shuffle(X)
    rng.bit_generator.state = state
    rng.shuffle(y)
    return _train_in_order(net, X, y, batch_size, lr, np.arange(len(X)))


def train_backward_twice(net, X, y, batch_size, lr, rng):
    order = rng.permutation(len(X))
    losses = []
    for start in range(0, len(X), batch_size):
        idx = order[start : start + batch_size]
        loss, d = cross_entropy(net.forward(X[idx]), y[idx])
        net.backward(d)
        net.backward(d)
        for key in net.params:
            net.params[key] -= lr * net.grads[key]
        losses.append(loss)
    return float(np.mean(losses))


# =====================================================================================
# Catalogue
# =====================================================================================
CORRECT = {
    "matmul": [Matmul, MatmulEinsum, MatmulCopiesInput],
    "relu": [Relu, ReluMask, ReluHeaviside],
    "softmax": [Softmax, SoftmaxJacobian, SoftmaxLoop],
    "log": [Log, LogWithEpsilon],
    "cross_entropy": [
        cross_entropy,
        cross_entropy_one_hot,
        cross_entropy_loop,
        cross_entropy_take_along,
    ],
    "two_layer_net": [TwoLayerNet, TwoLayerNetJacobianSoftmax],
    "train_epoch": [train_epoch, train_epoch_weighted, train_epoch_array_split],
}

WRONG = {
    # --- Matmul ---
    "matmul_dw_transposed": (
        "matmul",
        MatmulDwTransposed,
        r"weight gradient is transposed",
        _both("matmul"),
    ),
    "matmul_dx_no_transpose": (
        "matmul",
        MatmulDxNoTranspose,
        r"dx = dout @ w\.T is \(N, M\) @ \(M, D\)|TRANSPOSED weight",
        _both("matmul"),
    ),
    "matmul_dw_over_n": ("matmul", MatmulDwOverN, r"times too small", _both("matmul")),
    "matmul_no_grad": ("matmul", MatmulNoGrad, r"grads\['w'\] is missing", _both("matmul")),
    "matmul_accumulates": (
        "matmul",
        MatmulAccumulates,
        r"instead of accumulating \(\+=\)",
        _both("matmul"),
    ),
    "matmul_returns_pair": ("matmul", MatmulReturnsPair, r"returns dx only", _both("matmul")),
    "matmul_updates_weight": (
        "matmul",
        MatmulUpdatesWeight,
        r"params\['w'\] changed during forward/backward",
        _both("matmul"),
    ),
    "matmul_not_implemented": (
        "matmul",
        MatmulNotImplemented,
        r"not implemented yet",
        _both("matmul"),
    ),
    "matmul_from_library": (
        "matmul",
        MatmulFromLibrary,
        r"(?s)must not use a library implementation.*course_utils",
        ("check_matmul",),
    ),
    # --- Relu ---
    "relu_grad_one_at_zero": ("relu", ReluGradOneAtZero, r"relu'\(0\) = 0", _both("relu")),
    "relu_uses_output_ge0": (
        "relu",
        ReluUsesOutputGe0,
        r"out >= 0. is true everywhere",
        _both("relu"),
    ),
    "relu_backward_in_place": (
        "relu",
        ReluBackwardInPlace,
        r"modified its argument `dout` in place",
        _both("relu"),
    ),
    "relu_forward_in_place": (
        "relu",
        ReluForwardInPlace,
        r"modified its argument `x` in place",
        _both("relu"),
    ),
    "relu_ignores_dout": ("relu", ReluIgnoresDout, r"ignores dout", _both("relu")),
    "relu_of_dout": ("relu", ReluOfDout, r"relu applied to dout", _both("relu")),
    # --- Softmax ---
    "softmax_no_max_subtraction": (
        "softmax",
        SoftmaxUnstable,
        r"not numerically stable",
        _both("softmax"),
    ),
    "softmax_backward_diagonal": (
        "softmax",
        SoftmaxDiagonal,
        r"only the diagonal of the Jacobian",
        _both("softmax"),
    ),
    "softmax_backward_diag_s1ms": (
        "softmax",
        SoftmaxDiagonalS1mS,
        r"only the diagonal of the Jacobian",
        _both("softmax"),
    ),
    "softmax_backward_sum_axis0": (
        "softmax",
        SoftmaxSumAxis0,
        r"axis 0|diagonal",
        _both("softmax"),
    ),
    "softmax_forward_axis0": (
        "softmax",
        SoftmaxForwardAxis0,
        r"normalised over axis 0",
        _both("softmax"),
    ),
    "softmax_unweighted_sum": (
        "softmax",
        SoftmaxUnweightedSum,
        r"missing the weights",
        _both("softmax"),
    ),
    "softmax_from_library": (
        "softmax",
        SoftmaxFromLibrary,
        r"(?s)must not use .*course_utils\.functional\.softmax",
        ("check_softmax",),
    ),
    # --- Log ---
    "log_backward_returns_log": (
        "log",
        LogBackwardReturnsLog,
        r"derivative of log x is 1/x",
        _both("log"),
    ),
    "log_backward_plain_log": ("log", LogBackwardPlainLog, r"returns log\(x\)", _both("log")),
    "log_ignores_dout": ("log", LogIgnoresDout, r"ignores dout", _both("log")),
    "log_times_x": ("log", LogTimesX, r"multiplies by x", _both("log")),
    "log_forward_log10": ("log", LogForwardLog10, r"natural logarithm", _both("log")),
    # --- cross_entropy ---
    "ce_summed": ("cross_entropy", ce_summed, r"SUMMED over the batch", _both("cross_entropy")),
    "ce_grad_not_averaged": (
        "cross_entropy",
        ce_grad_not_averaged,
        r"N = \d+ times too large",
        _both("cross_entropy"),
    ),
    "ce_positive": ("cross_entropy", ce_positive, r"sign is flipped", _both("cross_entropy")),
    "ce_grad_wrt_logits": (
        "cross_entropy",
        ce_grad_wrt_logits,
        r"with respect to the LOGITS",
        _both("cross_entropy"),
    ),
    "ce_grad_not_masked": (
        "cross_entropy",
        ce_grad_not_masked,
        r"only at the true class",
        _both("cross_entropy"),
    ),
    "ce_mean_all_entries": (
        "cross_entropy",
        ce_mean_all_entries,
        r"all N x C",
        _both("cross_entropy"),
    ),
    "ce_mutates_input": (
        "cross_entropy",
        ce_mutates_input,
        r"modified its argument `log_probs` in place",
        _both("cross_entropy"),
    ),
    "ce_assumes_one_hot": (
        "cross_entropy",
        ce_assumes_one_hot,
        r"integer class labels|expected shape",
        _both("cross_entropy"),
    ),
    "ce_loss_only": (
        "cross_entropy",
        ce_loss_only,
        r"expected a pair \(loss, dlog_probs\)",
        _both("cross_entropy"),
    ),
    "ce_returns_list": (
        "cross_entropy",
        ce_returns_list,
        r"list of length 1",
        _both("cross_entropy"),
    ),
    "ce_from_library": (
        "cross_entropy",
        ce_from_library,
        r"LOGITS|must not use",
        _both("cross_entropy"),
    ),
    # --- TwoLayerNet ---
    "net_keeps_bias_column": (
        "two_layer_net",
        NetKeepsBiasColumn,
        r"constant 1-column",
        _both("two_layer_net"),
    ),
    "net_skips_log_backward": (
        "two_layer_net",
        NetSkipsLogBackward,
        r"Log layer's backward is missing",
        _both("two_layer_net"),
    ),
    "net_skips_softmax_backward": (
        "two_layer_net",
        NetSkipsSoftmaxBackward,
        r"Softmax layer's backward is missing",
        _both("two_layer_net"),
    ),
    "net_skips_relu_backward": (
        "two_layer_net",
        NetSkipsReluBackward,
        r"Relu layer's backward is missing",
        _both("two_layer_net"),
    ),
    "net_drops_first_column": (
        "two_layer_net",
        NetDropsFirstColumn,
        r"FIRST column was dropped",
        _both("two_layer_net"),
    ),
    "net_forgets_ones": (
        "two_layer_net",
        NetForgetsOnes,
        r"before EACH Matmul",
        _both("two_layer_net"),
    ),
    "net_no_grads": (
        "two_layer_net",
        NetNoGrads,
        r"set self\.grads\['w1'\]",
        _both("two_layer_net"),
    ),
    "net_returns_probabilities": (
        "two_layer_net",
        NetReturnsProbabilities,
        r"LOG-probabilities",
        _both("two_layer_net"),
    ),
    "net_no_relu": (
        "two_layer_net",
        NetNoRelu,
        r"no Relu between the two Matmul layers",
        _both("two_layer_net"),
    ),
    "net_library_layers": (
        "two_layer_net",
        NetWithLibraryLayers,
        r"(?s)must not use .*course_utils\.layers\.Matmul",
        ("check_two_layer_net",),
    ),
    # --- train_epoch ---
    "train_drops_last_batch": (
        "train_epoch",
        train_drops_last_batch,
        r"never used",
        _both("train_epoch"),
    ),
    "train_no_shuffle": ("train_epoch", train_no_shuffle, r"stored order", _both("train_epoch")),
    "train_global_rng": ("train_epoch", train_global_rng, r"not np\.random", _both("train_epoch")),
    "train_own_seeded_rng": (
        "train_epoch",
        train_own_seeded_rng,
        r"different seeds gave the same order",
        _both("train_epoch"),
    ),
    "train_rebinds_params": (
        "train_epoch",
        train_rebinds_params,
        r"IN PLACE",
        _both("train_epoch"),
    ),
    "train_ascent": ("train_epoch", train_ascent, r"uphill", _both("train_epoch")),
    "train_lr_halved": (
        "train_epoch",
        train_lr_halved,
        r"the step is 0\.5 x",
        _both("train_epoch"),
    ),
    "train_no_update": ("train_epoch", train_no_update, r"did not change", _both("train_epoch")),
    "train_returns_last_loss": (
        "train_epoch",
        train_returns_last_loss,
        r"LAST mini-batch's loss",
        ("check_train_epoch",),
    ),
    "train_shuffles_X_in_place": (
        "train_epoch",
        train_shuffles_X_in_place,
        r"modified its argument `X` in place",
        _both("train_epoch"),
    ),
    "train_backward_twice": (
        "train_epoch",
        train_backward_twice,
        r"alternate",
        _both("train_epoch"),
    ),
}


# =====================================================================================
# TensorFlow (built on demand)
# =====================================================================================
def tf_catalogue():
    """name -> implementation for the TensorFlow tasks (see TF_CORRECT and TF_WRONG)."""
    import keras
    import tensorflow as tf

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
            h = tf.nn.relu(tf.matmul(x, self.w1) + self.b1)
            return tf.matmul(h, self.w2) + self.b2

    class TFModuleNet(tf.Module):
        def __init__(self, D, H, C, seed=0):
            super().__init__()
            rng = np.random.default_rng(seed)
            self.w1 = tf.Variable(rng.normal(0, np.sqrt(2 / D), (D, H)).astype(np.float32))
            self.b1 = tf.Variable(np.zeros(H, np.float32))
            self.w2 = tf.Variable(rng.normal(0, np.sqrt(2 / H), (H, C)).astype(np.float32))
            self.b2 = tf.Variable(np.zeros(C, np.float32))

        @property
        def variables(self):
            return [self.w1, self.b1, self.w2, self.b2]

        def __call__(self, x):
            x = tf.convert_to_tensor(x, tf.float32)
            return tf.maximum(x @ self.w1 + self.b1, 0.0) @ self.w2 + self.b2

    def tf_train_step(model, x, y, lr):
        with tf.GradientTape() as tape:
            logits = model(x)
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
            )
        grads = tape.gradient(loss, model.variables)
        for var, grad in zip(model.variables, grads, strict=True):
            var.assign_sub(lr * grad)
        return loss

    def tf_train_step_by_hand(model, x, y, lr):
        with tf.GradientTape() as tape:
            z = model(tf.convert_to_tensor(x))
            z = z - tf.reduce_max(z, axis=1, keepdims=True)
            logp = z - tf.math.log(tf.reduce_sum(tf.exp(z), axis=1, keepdims=True))
            onehot = tf.one_hot(tf.cast(y, tf.int32), depth=tf.shape(z)[1])
            loss = -tf.reduce_sum(onehot * logp) / tf.cast(tf.shape(z)[0], tf.float32)
        dw1, db1, dw2, db2 = tape.gradient(loss, [model.w1, model.b1, model.w2, model.b2])
        model.w1.assign_sub(lr * dw1)
        model.b1.assign_sub(lr * db1)
        model.w2.assign_sub(lr * dw2)
        model.b2.assign_sub(lr * db2)
        return float(loss)

    def step_summed(model, x, y, lr):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=model(x))
            )
        for var, grad in zip(model.variables, tape.gradient(loss, model.variables), strict=True):
            var.assign_sub(lr * grad)
        return loss

    def step_ascent(model, x, y, lr):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=model(x))
            )
        for var, grad in zip(model.variables, tape.gradient(loss, model.variables), strict=True):
            var.assign_add(lr * grad)
        return loss

    def step_new_variables(model, x, y, lr):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=model(x))
            )
        grads = tape.gradient(loss, model.variables)
        for name, grad in zip(("w1", "b1", "w2", "b2"), grads, strict=True):
            setattr(model, name, tf.Variable(getattr(model, name) - lr * grad))
        return loss

    def step_skips_biases(model, x, y, lr):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=model(x))
            )
        dw1, dw2 = tape.gradient(loss, [model.w1, model.w2])
        model.w1.assign_sub(lr * dw1)
        model.w2.assign_sub(lr * dw2)
        return loss

    def step_keras_sgd(model, x, y, lr):
        optimizer = keras.optimizers.SGD(learning_rate=lr)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=model(x))
            )
        optimizer.apply_gradients(
            zip(tape.gradient(loss, model.variables), model.variables, strict=True)
        )
        return loss

    def step_returns_none(model, x, y, lr):
        tf_train_step(model, x, y, lr)

    def step_softmax_on_probs(model, x, y, lr):
        # softmax applied twice: the cross-entropy of the probabilities as if they were logits
        with tf.GradientTape() as tape:
            probs = tf.nn.softmax(model(x))
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=probs)
            )
        for var, grad in zip(model.variables, tape.gradient(loss, model.variables), strict=True):
            var.assign_sub(lr * grad)
        return loss

    class ModelNoRelu(TFTwoLayerNet):
        def __call__(self, x):
            return tf.matmul(tf.matmul(x, self.w1) + self.b1, self.w2) + self.b2

    class ModelSoftmaxOutput(TFTwoLayerNet):
        def __call__(self, x):
            return tf.nn.softmax(super().__call__(x))

    class ModelNumpyWeights(TFTwoLayerNet):
        def __init__(self, D, H, C, seed=0):
            super().__init__(D, H, C, seed)
            self.w1 = self.w1.numpy()

    class ModelTransposedW1(TFTwoLayerNet):
        def __init__(self, D, H, C, seed=0):
            super().__init__(D, H, C, seed)
            self.w1 = tf.Variable(tf.transpose(self.w1))

        def __call__(self, x):
            h = tf.nn.relu(tf.matmul(x, self.w1, transpose_b=True) + self.b1)
            return tf.matmul(h, self.w2) + self.b2

    class ModelRandomBias(TFTwoLayerNet):
        def __init__(self, D, H, C, seed=0):
            super().__init__(D, H, C, seed)
            self.b1.assign(tf.random.stateless_normal((H,), seed=(seed, 1)))

    class ModelZeroWeights(TFTwoLayerNet):
        def __init__(self, D, H, C, seed=0):
            super().__init__(D, H, C, seed)
            self.w1.assign(tf.zeros((D, H)))

    class ModelUnseeded(TFTwoLayerNet):
        def __init__(self, D, H, C, seed=0):
            super().__init__(D, H, C, seed)
            self.w1.assign(tf.random.normal((D, H)) * np.sqrt(2.0 / D))

    class ModelHeFanOut(TFTwoLayerNet):
        """He scaling with the wrong fan: sqrt(2 / fan_out) instead of sqrt(2 / fan_in)."""

        def __init__(self, D, H, C, seed=0):
            super().__init__(D, H, C, seed)
            gen = tf.random.Generator.from_seed(seed)
            self.w1 = tf.Variable(gen.normal((D, H)) * np.sqrt(2.0 / H), name="w1")
            self.w2 = tf.Variable(gen.normal((H, C)) * np.sqrt(2.0 / C), name="w2")

    class ModelIgnoresSeed(TFTwoLayerNet):
        def __init__(self, D, H, C, seed=0):
            super().__init__(D, H, C, 0)

    class ModelFloat64(TFTwoLayerNet):
        def __init__(self, D, H, C, seed=0):
            super().__init__(D, H, C, seed)
            self.w1 = tf.Variable(tf.cast(self.w1, tf.float64))

        def __call__(self, x):
            x = tf.cast(x, tf.float64)
            h = tf.cast(tf.nn.relu(x @ self.w1), tf.float32) + self.b1
            return tf.nn.relu(h) @ self.w2 + self.b2

    class ModelKerasDense:
        def __init__(self, D, H, C, seed=0):
            keras.utils.set_random_seed(seed)
            self.hidden = keras.layers.Dense(H, activation="relu")
            self.out = keras.layers.Dense(C)
            self.hidden.build((None, D))
            self.out.build((None, H))
            self.w1, self.b1 = self.hidden.kernel, self.hidden.bias
            self.w2, self.b2 = self.out.kernel, self.out.bias

        @property
        def variables(self):
            return [self.w1, self.b1, self.w2, self.b2]

        def __call__(self, x):
            return self.out(self.hidden(x))

    return {
        "TFTwoLayerNet": TFTwoLayerNet,
        "TFModuleNet": TFModuleNet,
        "tf_train_step": tf_train_step,
        "tf_train_step_by_hand": tf_train_step_by_hand,
        "tf_model_no_relu": ModelNoRelu,
        "tf_model_softmax_output": ModelSoftmaxOutput,
        "tf_model_numpy_weights": ModelNumpyWeights,
        "tf_model_transposed_w1": ModelTransposedW1,
        "tf_model_random_bias": ModelRandomBias,
        "tf_model_zero_weights": ModelZeroWeights,
        "tf_model_unseeded": ModelUnseeded,
        "tf_model_ignores_seed": ModelIgnoresSeed,
        "tf_model_he_fan_out": ModelHeFanOut,
        "tf_model_float64": ModelFloat64,
        "tf_model_keras_dense": ModelKerasDense,
        "tf_step_summed": step_summed,
        "tf_step_ascent": step_ascent,
        "tf_step_new_variables": step_new_variables,
        "tf_step_skips_biases": step_skips_biases,
        "tf_step_keras_sgd": step_keras_sgd,
        "tf_step_returns_none": step_returns_none,
        "tf_step_softmax_twice": step_softmax_on_probs,
    }


# Static so that collecting the tests does not import TensorFlow; the implementations are
# ``tf_catalogue()[name]``.
TF_CORRECT = {
    "tf_model": ["TFTwoLayerNet", "TFModuleNet"],
    "tf_train_step": ["tf_train_step", "tf_train_step_by_hand"],
}
_MODEL, _STEP = _both("tf_model"), _both("tf_train_step")
TF_WRONG = {
    "tf_model_no_relu": ("tf_model", r"no ReLU", _MODEL),
    "tf_model_softmax_output": ("tf_model", r"LOGITS", _MODEL),
    "tf_model_numpy_weights": ("tf_model", r"must be a tf\.Variable", _MODEL),
    "tf_model_transposed_w1": ("tf_model", r"\(transposed\?\)", _MODEL),
    "tf_model_random_bias": ("tf_model", r"biases must start at zero", _MODEL),
    "tf_model_zero_weights": ("tf_model", r"all entries of w1 are equal", _MODEL),
    "tf_model_unseeded": (
        "tf_model",
        r"same seed have different weights",
        ("check_tf_model_hidden",),
    ),
    "tf_model_ignores_seed": ("tf_model", r"different seeds", ("check_tf_model_hidden",)),
    "tf_model_he_fan_out": (
        "tf_model",
        r"initial w1 .*√\(2/D\)(.|\n)*matches the scale √\(2/H\)",
        _MODEL,
    ),
    "tf_model_float64": ("tf_model", r"dtype float64, expected float32", _MODEL),
    "tf_model_keras_dense": ("tf_model", r"(?s)must not use .*keras.*Dense", ("check_tf_model",)),
    "tf_step_summed": ("tf_train_step", r"N = \d+ times too large", _STEP),
    "tf_step_ascent": ("tf_train_step", r"sign is flipped", _STEP),
    "tf_step_new_variables": ("tf_train_step", r"replaced by a new object", _STEP),
    "tf_step_skips_biases": ("tf_train_step", r"b1 did not change", _STEP),
    "tf_step_keras_sgd": ("tf_train_step", r"(?s)must not use .*SGD", ("check_tf_train_step",)),
    "tf_step_returns_none": ("tf_train_step", r"returned None", _STEP),
    "tf_step_softmax_twice": ("tf_train_step", r"the update of w1", _STEP),
}
