"""Implementations of assignment 03_backprop's tasks: correct ones and known-wrong ones.

``CORRECT[task]``: implementations every check of that task must accept.
``WRONG[task]``: name -> (implementation, regex the failure message must match, checks that
must reject it). An implementation is what the test cell passes to the check: a function,
a class, or a tuple of arguments (``check_std_value(std_value, Value)``).
"""

from __future__ import annotations

import math

import numpy as np

from course_utils.data import make_function_data
from course_utils.functional import log_softmax as cu_log_softmax
from course_utils.functional import sigmoid as cu_sigmoid
from course_utils.losses import softmax_cross_entropy


def both(task: str) -> tuple[str, str]:
    return (f"check_{task}", f"check_{task}_hidden")


# =====================================================================================
# Cross-entropy
# =====================================================================================
def ce_probs_reference(Y, targets):
    N = Y.shape[0]
    return -np.mean(np.log(Y[np.arange(N), targets]))


def ce_probs_one_hot(Y, targets):
    one_hot = np.eye(Y.shape[1])[targets]
    return float(-np.sum(one_hot * np.log(Y)) / len(Y))


def ce_probs_loop(Y, targets):
    total = 0.0
    for row, t in zip(Y, targets, strict=True):
        total -= math.log(row[t])
    return total / len(targets)


def ce_logits_reference(Y, targets):
    shifted = Y - Y.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.mean(log_probs[np.arange(len(Y)), targets])


def ce_logits_logsumexp(Y, targets):
    m = Y.max(axis=1)
    lse = m + np.log(np.exp(Y - m[:, None]).sum(axis=1))
    return float(np.mean(lse - Y[np.arange(len(Y)), targets]))


def ce_logits_logaddexp(Y, targets):
    lse = np.logaddexp.reduce(Y, axis=1)
    return float(np.mean(lse - Y[np.arange(len(Y)), targets]))


def ce_logits_shift_then_log_softmax(Y, targets):
    """Shifts by the row max (no overflow), then takes log of the softmax: a confidently
    wrong row (true class 1400 below the max) has probability exp(-1400) = 0, log(0) = -inf."""
    e = np.exp(Y - Y.max(axis=1, keepdims=True))
    P = e / e.sum(axis=1, keepdims=True)
    return ce_probs_reference(P, targets)


# --- wrong ---
def ce_probs_sum(Y, targets):
    return float(-np.sum(np.log(Y[np.arange(len(Y)), targets])))


def ce_probs_no_minus(Y, targets):
    return float(np.mean(np.log(Y[np.arange(len(Y)), targets])))


def ce_probs_log10(Y, targets):
    return float(-np.mean(np.log10(Y[np.arange(len(Y)), targets])))


def ce_probs_binary(Y, targets):
    one_hot = np.eye(Y.shape[1])[targets]
    return float(-np.mean(np.sum(one_hot * np.log(Y) + (1 - one_hot) * np.log(1 - Y), axis=1)))


def ce_probs_all_classes(Y, targets):
    return float(-np.mean(np.sum(np.log(Y), axis=1)))


def ce_probs_one_based(Y, targets):
    C = Y.shape[1]
    return float(-np.mean(np.log(Y[np.arange(len(Y)), (targets + 1) % C])))


def ce_probs_renormalised(Y, targets):
    return ce_probs_reference(Y / Y.sum(axis=1, keepdims=True), targets)


def ce_probs_with_softmax(Y, targets):
    return ce_logits_reference(Y, targets)


def ce_probs_mean_over_all(Y, targets):
    one_hot = np.eye(Y.shape[1])[targets]
    return float(-np.mean(one_hot * np.log(Y)))


def ce_probs_hard_coded(Y, targets):
    return 0.4775438454427519


def ce_probs_returns_array(Y, targets):
    return -np.log(Y[np.arange(len(Y)), targets])


def ce_logits_unstable(Y, targets):
    P = np.exp(Y) / np.exp(Y).sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(P[np.arange(len(Y)), targets])))


def ce_logits_no_softmax(Y, targets):
    return ce_probs_reference(Y, targets)


def ce_logits_axis0(Y, targets):
    shifted = Y - Y.max(axis=0, keepdims=True)
    P = np.exp(shifted) / np.exp(shifted).sum(axis=0, keepdims=True)
    return float(-np.mean(np.log(P[np.arange(len(Y)), targets])))


def ce_logits_sum(Y, targets):
    return len(Y) * ce_logits_reference(Y, targets)


def ce_logits_library(Y, targets):
    return softmax_cross_entropy(Y, targets)[0]


def ce_logits_course_log_softmax(Y, targets):
    return float(-np.mean(cu_log_softmax(Y)[np.arange(len(Y)), targets]))


def ce_logits_mutates(Y, targets):
    Y -= Y.max(axis=1, keepdims=True)
    return ce_logits_reference(Y, targets)


def ce_logits_hard_coded(Y, targets):
    return 0.8489720134868745


# =====================================================================================
# std_backward
# =====================================================================================
def std_backward_reference(x1, x2, ddof=0):
    N = 2
    s = x1 + x2
    m = s / N
    d1, d2 = x1 - m, x2 - m
    q1, q2 = d1**2, d2**2
    S = q1 + q2
    v = S / (N - ddof)
    sigma = math.sqrt(v)
    g = {"sigma": 1.0}
    g["v"] = g["sigma"] / (2 * sigma)
    g["S"] = g["v"] / (N - ddof)
    g["q1"] = g["q2"] = g["S"]
    g["d1"], g["d2"] = 2 * d1 * g["q1"], 2 * d2 * g["q2"]
    g["m"] = -g["d1"] - g["d2"]
    g["s"] = g["m"] / N
    g["x1"] = g["d1"] + g["s"]
    g["x2"] = g["d2"] + g["s"]
    return sigma, g


def std_backward_numpy_floats(x1, x2, ddof=0):
    sigma, g = std_backward_reference(np.float64(x1), np.float64(x2), ddof)
    return np.float64(sigma), {k: np.float64(v) for k, v in g.items()}


def _std_bug(bug):
    def std_backward(x1, x2, ddof=0):
        sigma, g = std_backward_reference(x1, x2, ddof)
        N = 2
        m = (x1 + x2) / N
        d1, d2 = x1 - m, x2 - m
        if bug == "m_one_path":
            g["m"] = -g["d1"]
            g["s"] = g["m"] / N
            g["x1"], g["x2"] = g["d1"] + g["s"], g["d2"] + g["s"]
        elif bug == "v_derivative":
            g["v"] = 1 / (2 * sigma**2)
            g["S"] = g["v"] / (N - ddof)
            g["q1"] = g["q2"] = g["S"]
            g["d1"], g["d2"] = 2 * d1 * g["S"], 2 * d2 * g["S"]
            g["x1"], g["x2"] = g["d1"], g["d2"]
        elif bug == "divides_by_N":
            g["S"] = g["v"] / N
            g["q1"] = g["q2"] = g["S"]
            g["d1"], g["d2"] = 2 * d1 * g["S"], 2 * d2 * g["S"]
            g["x1"], g["x2"] = g["d1"], g["d2"]
        elif bug == "square_no_2":
            g["d1"], g["d2"] = d1 * g["q1"], d2 * g["q2"]
            g["x1"], g["x2"] = g["d1"], g["d2"]
        elif bug == "always_population":
            return std_backward_reference(x1, x2, 0)
        elif bug == "hard_coded":
            g = {"sigma": 1.0, "x1": -0.5, "x2": 0.5}
            g.update({k: 0.0 for k in ("v", "S", "q1", "q2", "d1", "d2", "m", "s")})
            g.update(v=0.25, S=0.125, q1=0.125, q2=0.125, d1=-0.5, d2=0.5)
            if ddof == 1:
                r = 1 / math.sqrt(2)
                g.update(v=1 / (4 * math.sqrt(2)), S=1 / (4 * math.sqrt(2)))
                g.update(q1=g["S"], q2=g["S"], d1=-r, d2=r, x1=-r, x2=r)
                return 2 * math.sqrt(2), g
            return 2.0, g
        elif bug == "missing_keys":
            g = {"x1": g["x1"], "x2": g["x2"]}
        return sigma, g

    return std_backward


# =====================================================================================
# Value
# =====================================================================================
def make_value_class(bug=None, *, iterative=False):
    """A micrograd-style Value; ``bug`` switches in one known mistake.

    ``iterative=True``: a correct alternative with a set for ``_prev`` and an iterative
    (stack-based) topological sort instead of the recursive one.
    """

    class Value:
        def __init__(self, data, _children=(), _op=""):
            self.data = float(data)
            self.grad = 0.0
            self._backward = lambda: None
            self._prev = set(_children) if iterative else tuple(_children)
            self._op = _op

        def __repr__(self):
            return f"Value(data={self.data:.4g}, grad={self.grad:.4g})"

        def __add__(self, other):
            other = other if isinstance(other, Value) else Value(other)
            out = Value(self.data + other.data, (self, other), "+")

            def _backward():
                if bug == "overwrite":
                    self.grad = out.grad
                    other.grad = out.grad
                else:
                    self.grad += out.grad
                    other.grad += out.grad

            out._backward = _backward
            return out

        def __mul__(self, other):
            other = other if isinstance(other, Value) else Value(other)
            out = Value(self.data * other.data, (self, other), "*")

            def _backward():
                if bug == "overwrite":
                    self.grad = other.data * out.grad
                    other.grad = self.data * out.grad
                elif bug == "mul_swapped":
                    self.grad += self.data * out.grad
                    other.grad += other.data * out.grad
                elif bug == "no_chain_rule":
                    self.grad += other.data
                    other.grad += self.data
                else:
                    self.grad += other.data * out.grad
                    other.grad += self.data * out.grad

            out._backward = _backward
            if bug == "no_backward_set":
                out._backward = lambda: None
            return out

        def __pow__(self, n):
            assert isinstance(n, int | float), "only constant exponents"
            out = Value(self.data**n, (self,), f"**{n}")

            def _backward():
                if bug == "pow_not_reduced":
                    self.grad += n * self.data**n * out.grad
                else:
                    self.grad += n * self.data ** (n - 1) * out.grad

            out._backward = _backward
            return out

        def exp(self):
            out = Value(math.exp(self.data), (self,), "exp")

            def _backward():
                self.grad += (self.data if bug == "exp_grad_x" else out.data) * out.grad

            out._backward = _backward
            return out

        def log(self):
            out = Value(math.log(self.data), (self,), "log")

            def _backward():
                self.grad += (math.log(self.data) if bug == "log_grad" else 1 / self.data) * (
                    out.grad
                )

            out._backward = _backward
            return out

        def tanh(self):
            t = math.tanh(self.data)
            out = Value(t, (self,), "tanh")

            def _backward():
                local = 1 - self.data**2 if bug == "tanh_grad_x" else 1 - t**2
                self.grad += local * out.grad

            out._backward = _backward
            return out

        def relu(self):
            out = Value(max(self.data, 0.0), (self,), "relu")

            def _backward():
                if bug == "relu_ge":
                    self.grad += (self.data >= 0) * out.grad
                else:
                    self.grad += (out.data > 0) * out.grad

            out._backward = _backward
            return out

        def backward(self):
            if bug == "bfs_order":
                order, queue, seen = [], [self], {id(self)}
                while queue:
                    node = queue.pop(0)
                    order.append(node)
                    for child in node._prev:
                        if id(child) not in seen:
                            seen.add(id(child))
                            queue.append(child)
                self.grad = 1.0
                for node in order:
                    node._backward()
                return
            if bug == "preorder_recursion":  # propagate, then recurse: no topological sort

                def propagate(v):
                    v._backward()
                    for child in v._prev:
                        propagate(child)

                self.grad = 1.0
                propagate(self)
                return
            if bug == "no_visited":
                order = []

                def walk(v):
                    for child in v._prev:
                        walk(child)
                    order.append(v)

                walk(self)
                self.grad = 1.0
                for node in reversed(order):
                    node._backward()
                return
            if iterative:
                order, visited, stack = [], set(), [(self, False)]
                while stack:
                    node, expanded = stack.pop()
                    if expanded:
                        order.append(node)
                    elif node not in visited:
                        visited.add(node)
                        stack.append((node, True))
                        stack.extend((c, False) for c in node._prev if c not in visited)
                self.grad = 1.0
                for node in reversed(order):
                    node._backward()
                return
            topo, visited = [], set()

            def build(v):
                if v not in visited:
                    visited.add(v)
                    for child in v._prev:
                        build(child)
                    topo.append(v)

            build(self)
            if bug != "no_seed":
                self.grad = 1.0
            nodes = topo if bug == "forward_order" else reversed(topo)
            for node in nodes:
                node._backward()

        # given in the notebook: everything else through the operations above
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

    if bug == "no_prev":
        original_init = Value.__init__

        def __init__(self, data, _children=(), _op=""):
            original_init(self, data, (), _op)

        Value.__init__ = __init__
    if bug == "add_returns_float":
        Value.__add__ = lambda self, other: (
            self.data + (other.data if isinstance(other, Value) else other)
        )
    if bug == "not_implemented":

        def backward(self):
            raise NotImplementedError

        Value.backward = backward
    Value.__name__ = Value.__qualname__ = "Value"
    return Value


def std_value_reference(x1, x2, ddof=0):
    N = 2
    m = (x1 + x2) / N
    return (((x1 - m) ** 2 + (x2 - m) ** 2) / (N - ddof)) ** 0.5


def std_value_with_mean_of_squares(x1, x2, ddof=0):
    N = 2
    v = (x1**2 + x2**2) / N - ((x1 + x2) / N) ** 2
    return (v * N / (N - ddof)) ** 0.5


def std_value_floats(x1, x2, ddof=0):
    V = type(x1)
    return V(math.sqrt(((x1.data - x2.data) ** 2 / 2) / (2 - ddof)))


def std_value_population_only(x1, x2, ddof=0):
    return std_value_reference(x1, x2, 0)


# =====================================================================================
# ThreeLayerNet
# =====================================================================================
def make_net_class(bug=None, *, variant="reference"):
    """The notebook's ThreeLayerNet; ``bug`` switches in one known mistake."""

    class ThreeLayerNet:
        def __init__(self, d, h, c, loss="mse", reg=0.0, seed=0):
            if loss not in ("mse", "ce"):
                raise ValueError(f"loss: expected 'mse' or 'ce', got {loss!r}")
            rng = np.random.default_rng(seed)
            self.loss_type, self.reg = loss, float(reg)
            self.params = {
                "W1": rng.standard_normal((d, h)) / np.sqrt(d),
                "b1": np.zeros(h),
                "W2": rng.standard_normal((h, c)) / np.sqrt(h),
                "b2": np.zeros(c),
            }

        def loss(self, X, y):
            W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
            N = X.shape[0]
            z1 = X @ W1 + b1
            if variant == "course_sigmoid":
                a1 = cu_sigmoid(z1)
            else:
                a1 = 1 / (1 + np.exp(-z1))
            scores = a1 @ W2 + b2
            if self.loss_type == "mse":
                diff = scores - y
                data_loss = np.mean(diff**2)
                if bug == "mse_sum_over_N":
                    data_loss = np.sum(diff**2) / N
                dscores = 2 * diff / diff.size
            else:
                shifted = scores - scores.max(axis=1, keepdims=True)
                log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
                data_loss = -np.mean(log_probs[np.arange(N), y])
                dscores = np.exp(log_probs)
                dscores[np.arange(N), y] -= 1
                dscores /= N
            if bug == "precedence_slip" and self.loss_type == "ce":
                probs = np.exp(log_probs)
                dscores = probs - np.eye(probs.shape[1])[y] / N  # only the labels divided
            if bug == "grad_not_averaged":
                dscores = dscores * N
            reg_loss = 0.5 * self.reg * (np.sum(W1**2) + np.sum(W2**2))
            if bug == "no_reg_loss":
                reg_loss = 0.0
            loss = data_loss + reg_loss
            grads = {}
            if bug == "loss_float32":
                loss = float(np.float32(data_loss) + np.float32(reg_loss))
            if variant == "einsum":
                grads["W2"] = np.einsum("nh,nc->hc", a1, dscores)
            else:
                grads["W2"] = a1.T @ dscores
            grads["b2"] = dscores.sum(axis=0)
            da1 = dscores @ W2.T
            if bug == "sigmoid_at_activation":
                s = 1 / (1 + np.exp(-a1))
                dz1 = da1 * s * (1 - s)
            elif bug == "sigmoid_grad_dot":
                dz1 = np.dot(da1, a1 * (1 - a1))  # a matrix product where * is meant
            else:
                dz1 = da1 * a1 * (1 - a1)
            grads["W1"] = X.T @ dz1
            grads["b1"] = dz1.sum(axis=0)
            if bug == "bias_not_summed":
                grads["b1"], grads["b2"] = dz1, dscores
            if bug == "bias_mean":
                grads["b1"], grads["b2"] = dz1.mean(axis=0), dscores.mean(axis=0)
            if bug == "bias_first_row":
                grads["b1"] = dz1[0]
            if bug != "no_reg_grad":
                grads["W1"] = grads["W1"] + self.reg * W1
                grads["W2"] = grads["W2"] + self.reg * W2
            if bug == "reg_twice":
                grads["W1"] = grads["W1"] + self.reg * W1
                grads["W2"] = grads["W2"] + self.reg * W2
            if bug == "reg_scales_grad":  # dW += reg * dW instead of dW += reg * W
                grads["W1"] = (grads["W1"] - self.reg * W1) * (1 + self.reg)
                grads["W2"] = (grads["W2"] - self.reg * W2) * (1 + self.reg)
            if bug == "params_mutated":
                self.params["b2"] += 0.0 * b2 + 1e-3
            return loss, grads

        def predict(self, X):
            a1 = 1 / (1 + np.exp(-(X @ self.params["W1"] + self.params["b1"])))
            scores = a1 @ self.params["W2"] + self.params["b2"]
            if self.loss_type == "ce" and bug != "predict_scores":
                return np.argmax(scores, axis=1)
            return scores

        def train(self, X, y, lr=0.1, num_epochs=10, batch_size=32, seed=0):
            rng = np.random.default_rng(seed)
            N = X.shape[0]
            history = []
            order = rng.permutation(N)
            for _ in range(num_epochs):
                if bug != "no_shuffle":
                    order = rng.permutation(N)
                if bug == "full_batch":
                    batches = [order]
                else:
                    batches = [order[i : i + batch_size] for i in range(0, N, batch_size)]
                losses = []
                for idx in batches:
                    loss, grads = self.loss(X[idx], y[idx])
                    losses.append(loss)
                    if bug == "update_sign":
                        for k in self.params:
                            self.params[k] += lr * grads[k]
                    elif bug != "update_per_epoch":
                        for k in self.params:
                            self.params[k] -= lr * grads[k]
                if bug == "update_per_epoch":
                    for k in self.params:
                        self.params[k] -= lr * grads[k]
                if bug == "history_full_loss":
                    losses = [self.loss(X, y)[0]]
                history.append(float(np.mean(losses)))
            return history

    return ThreeLayerNet


def make_net_with_dataloader():
    """Correct alternative: train with course_utils.data.DataLoader, new-array updates."""
    from course_utils.data import DataLoader

    Base = make_net_class(variant="einsum")

    class ThreeLayerNet(Base):
        def train(self, X, y, lr=0.1, num_epochs=10, batch_size=32, seed=0):
            loader = DataLoader(X, y, batch_size=batch_size, shuffle=True, seed=seed)
            history = []
            for _ in range(num_epochs):
                total, seen = 0.0, 0
                for Xb, yb in loader:
                    loss, grads = self.loss(Xb, yb)
                    total, seen = total + loss * len(Xb), seen + len(Xb)
                    self.params = {k: self.params[k] - lr * grads[k] for k in self.params}
                history.append(total / seen)
            return np.array(history)

    return ThreeLayerNet


# =====================================================================================
# Function fit
# =====================================================================================
_GRID = np.linspace(-2 * np.pi, 2 * np.pi, 2001)
_GRID_Y = 24 * np.sin(3.2 * _GRID) + 42 * np.cos(2.3 * _GRID)


def predict_interpolated(X):
    """A stand-in for a well-trained network: linear interpolation on a grid (MSE ~1e-6)."""
    return np.interp(X[:, 0], _GRID, _GRID_Y)[:, None]


def predict_interpolated_flat(X):
    return np.interp(X[:, 0], _GRID, _GRID_Y)


def predict_exact_formula(X):
    return 24 * np.sin(3.2 * X) + 42 * np.cos(2.3 * X)


def predict_zero(X):
    return np.zeros((len(X), 1))


_TEST_X, _TEST_Y = make_function_data(100, seed=1)


def predict_memorised_test_set(X):
    out = np.zeros((len(X), 1))
    for i, x in enumerate(X[:, 0]):
        hit = np.flatnonzero(np.isclose(_TEST_X[:, 0], x))
        out[i, 0] = _TEST_Y[hit[0], 0] + 0.5 if hit.size else 0.0
    return out


def predict_row_vector(X):
    return predict_interpolated(X).T


def predict_coarse(X):
    grid = np.linspace(-2 * np.pi, 2 * np.pi, 40)
    return np.interp(X[:, 0], grid, 24 * np.sin(3.2 * grid) + 42 * np.cos(2.3 * grid))[:, None]


# =====================================================================================
# Answers that call the grader's own reference
# =====================================================================================
def ce_logits_grader_reference(Y, targets):
    from grader_tests import backprop

    return backprop._ce_logits_ref(Y, targets)


def std_backward_grader_reference(x1, x2, ddof=0):
    from grader_tests import backprop as checks

    f, g = checks._std_reference(x1, x2, ddof)
    return f["sigma"], g


def make_net_using_grader_reference():
    from grader_tests import backprop

    Base = make_net_class()

    class ThreeLayerNet(Base):
        def loss(self, X, y):
            return backprop.net_reference(self.params, X, y, self.loss_type, self.reg)

    return ThreeLayerNet


# =====================================================================================
# The catalogue
# =====================================================================================
def _value_correct():
    return [make_value_class(), make_value_class(iterative=True)]


CORRECT = {
    "ce_from_probabilities": [ce_probs_reference, ce_probs_one_hot, ce_probs_loop],
    "ce_from_logits": [
        ce_logits_reference,
        ce_logits_logsumexp,
        ce_logits_logaddexp,
    ],
    "std_backward": [std_backward_reference, std_backward_numpy_floats],
    "value_add_mul": _value_correct(),
    # `=` instead of `+=` in + and * is task 3a's bug: it costs 3a's points, not 3b's
    # (a / b and a.exp() * a are checked with the course's __mul__).
    "value_pow_exp_log": [*_value_correct(), make_value_class("overwrite")],
    "value_tanh_relu": _value_correct(),
    "value_backward": _value_correct(),
    "std_value": [
        (std_value_reference, make_value_class()),
        (std_value_with_mean_of_squares, make_value_class()),
        (std_value_reference, make_value_class(iterative=True)),
        # A correct std_value on a broken engine keeps its point (issue 15: it runs on the
        # course's Value, the engine's bug costs the engine's cells).
        (std_value_reference, make_value_class("overwrite")),
    ],
    "loss_mse": [
        make_net_class(),
        make_net_class(variant="einsum"),
        make_net_class(variant="course_sigmoid"),
    ],  # fmt: skip
    "loss_ce": [make_net_class(), make_net_class(variant="course_sigmoid")],
    "predict": [make_net_class(), make_net_with_dataloader()],
    "train": [make_net_class(), make_net_with_dataloader()],
    "function_fit": [predict_interpolated, predict_interpolated_flat],
}

_V = make_value_class
WRONG = {
    "ce_from_probabilities": {
        "sum": (ce_probs_sum, r"SUM over the batch", both("ce_from_probabilities")),
        "no_minus": (ce_probs_no_minus, r"sign is flipped", both("ce_from_probabilities")),
        "log10": (ce_probs_log10, r"log10", both("ce_from_probabilities")),
        "binary": (ce_probs_binary, r"BINARY cross-entropy", both("ce_from_probabilities")),
        "all_classes": (ce_probs_all_classes, r"ALL classes", both("ce_from_probabilities")),
        "one_based": (ce_probs_one_based, r"0-based", both("ce_from_probabilities")),
        "renormalised": (ce_probs_renormalised, r"renormalises", both("ce_from_probabilities")),
        "with_softmax": (ce_probs_with_softmax, r"SOFTMAX version", both("ce_from_probabilities")),
        "mean_over_all": (ce_probs_mean_over_all, r"N\*C", both("ce_from_probabilities")),
        "returns_array": (
            ce_probs_returns_array,
            r"NumPy array of shape \(\d+,\)",
            both("ce_from_probabilities"),
        ),
        "hard_coded": (
            ce_probs_hard_coded,
            r"expected .* got 0\.477543845",
            ("check_ce_from_probabilities_hidden",),
        ),
    },
    "ce_from_logits": {
        "unstable": (ce_logits_unstable, r"overflows.*subtract", ("check_ce_from_logits_hidden",)),
        "no_softmax": (
            ce_logits_no_softmax,
            r"as probabilities \(no softmax\)",
            both("ce_from_logits"),
        ),  # fmt: skip
        "axis0": (ce_logits_axis0, r"axis 0", both("ce_from_logits")),
        "sum": (ce_logits_sum, r"SUM over the batch", both("ce_from_logits")),
        "library": (
            ce_logits_library,
            r"must not use .*softmax_cross_entropy",
            both("ce_from_logits"),
        ),  # fmt: skip
        "course_log_softmax": (
            ce_logits_course_log_softmax,
            r"must not use .*log_softmax",
            both("ce_from_logits"),
        ),  # fmt: skip
        "mutates": (
            ce_logits_mutates,
            r"modified its argument `Y` in place",
            both("ce_from_logits"),
        ),  # fmt: skip
        "grader_reference": (
            ce_logits_grader_reference,
            r"must not use .*_ce_logits_ref",
            both("ce_from_logits"),
        ),
        "hard_coded": (
            ce_logits_hard_coded,
            r"expected .* got 0\.848972013",
            ("check_ce_from_logits_hidden",),
        ),  # fmt: skip
        "shift_then_log_softmax": (
            ce_logits_shift_then_log_softmax,
            r"log\(0\)",
            ("check_ce_from_logits_hidden",),
        ),
    },
    "std_backward": {
        "m_one_path": (
            _std_bug("m_one_path"),
            r"grads\['m'\].*\n.*BOTH d1 and d2",
            both("std_backward"),
        ),  # fmt: skip
        "v_derivative": (
            _std_bug("v_derivative"),
            r"grads\['v'\].*\n.*not 1 / \(2 v\)",
            both("std_backward"),
        ),  # fmt: skip
        "divides_by_N": (
            _std_bug("divides_by_N"),
            r"grads\['S'\].*\n.*divide by 1, not by N",
            both("std_backward"),
        ),  # fmt: skip
        "square_no_2": (
            _std_bug("square_no_2"),
            r"grads\['d[12]'\].*\n(.*\n)?.*left out the factor 2",
            both("std_backward"),
        ),  # fmt: skip
        "always_population": (
            _std_bug("always_population"),
            r"population standard deviation",
            both("std_backward"),
        ),  # fmt: skip
        "missing_keys": (
            _std_bug("missing_keys"),
            r"no entry for \['s', 'm'",
            both("std_backward"),
        ),  # fmt: skip
        "grader_reference": (
            std_backward_grader_reference,
            r"grader's reference",
            both("std_backward"),
        ),
        "hard_coded": (_std_bug("hard_coded"), r"expected .*, got", ("check_std_backward_hidden",)),
    },
    "value_add_mul": {
        "overwrite": (
            _V("overwrite"),
            r"OVERWRITTEN \(`=`\): accumulate with `\+=`",
            both("value_add_mul"),
        ),  # fmt: skip
        "mul_swapped": (_V("mul_swapped"), r"look swapped", both("value_add_mul")),
        "no_chain_rule": (
            _V("no_chain_rule"),
            r"multiply the local derivative by out\.grad",
            both("value_add_mul"),
        ),  # fmt: skip
        "no_backward_set": (
            _V("no_backward_set"),
            r"did not change the operand's grad",
            both("value_add_mul"),
        ),  # fmt: skip
        "no_prev": (_V("no_prev"), r"_prev must hold the operand Values", both("value_add_mul")),
        "returns_float": (_V("add_returns_float"), r"not a Value", both("value_add_mul")),
    },
    "value_pow_exp_log": {
        "pow_not_reduced": (
            _V("pow_not_reduced"),
            r"n \* x\*\*\(n - 1\), not n \* x\*\*n",
            both("value_pow_exp_log"),
        ),  # fmt: skip
        "exp_grad_x": (
            _V("exp_grad_x"),
            r"exp\(x\) \(= out\.data\), not x",
            both("value_pow_exp_log"),
        ),  # fmt: skip
        "log_grad": (_V("log_grad"), r"d log\(x\)/dx = 1 / x", both("value_pow_exp_log")),
    },
    "value_tanh_relu": {
        "tanh_grad_x": (
            _V("tanh_grad_x"),
            r"1 - tanh\(x\)\*\*2 \(use out\.data\)",
            both("value_tanh_relu"),
        ),  # fmt: skip
        "relu_ge": (_V("relu_ge"), r"relu'\(0\) = 0", both("value_tanh_relu")),
    },
    "value_backward": {
        "bfs_order": (_V("bfs_order"), r"REVERSE topological", both("value_backward")),
        "no_visited": (
            _V("no_visited"),
            r"ran its _backward \d+ times.*visited",
            both("value_backward"),
        ),  # fmt: skip
        "no_seed": (_V("no_seed"), r"self\.grad = 1\.0", both("value_backward")),
        "preorder_recursion": (
            _V("preorder_recursion"),
            r"ran its _backward \d+ times",
            both("value_backward"),
        ),  # fmt: skip
        "forward_order": (_V("forward_order"), r"REVERSE topological", both("value_backward")),
        "no_prev": (_V("no_prev"), r"never ran its _backward", both("value_backward")),
        "not_implemented": (_V("not_implemented"), r"not implemented yet", both("value_backward")),
    },
    "std_value": {
        "floats": (
            (std_value_floats, make_value_class()),
            r"did not reach the inputs",
            both("std_value"),
        ),  # fmt: skip
        "population_only": (
            (std_value_population_only, make_value_class()),
            r"sigma\.data: expected",
            both("std_value"),
        ),  # fmt: skip
    },
    "loss_mse": {
        "no_reg_grad": (
            make_net_class("no_reg_grad"),
            r"missing from the gradient",
            both("loss_mse"),
        ),  # fmt: skip
        "reg_twice": (make_net_class("reg_twice"), r"applied twice", both("loss_mse")),
        "bias_not_summed": (
            make_net_class("bias_not_summed"),
            r"not summed over the batch",
            both("loss_mse"),
        ),  # fmt: skip
        "bias_mean": (make_net_class("bias_mean"), r"SUM over the batch", both("loss_mse")),
        "sigmoid_at_activation": (
            make_net_class("sigmoid_at_activation"),
            r"evaluated at the wrong point",
            both("loss_mse"),
        ),  # fmt: skip
        "grad_not_averaged": (
            make_net_class("grad_not_averaged"),
            r"averaged over the batch but the gradient is not",
            both("loss_mse"),
        ),  # fmt: skip
        "reg_scales_grad": (
            make_net_class("reg_scales_grad"),
            r"\(1 \+ reg\) × .*instead of adding the term reg \* W",
            both("loss_mse"),
        ),
        "sigmoid_grad_dot": (
            make_net_class("sigmoid_grad_dot"),
            r"not aligned(.|\n)*Hint: .*element-wise",
            both("loss_mse"),
        ),
        "loss_float32": (make_net_class("loss_float32"), r"float32", both("loss_mse")),
        "no_reg_loss": (make_net_class("no_reg_loss"), r"missing from the loss", both("loss_mse")),
        "mse_sum_over_N": (
            make_net_class("mse_sum_over_N"),
            r"mean over all N\*C entries",
            both("loss_mse"),
        ),  # fmt: skip
        "grader_reference": (
            make_net_using_grader_reference(),
            r"must not use .*net_reference",
            both("loss_mse"),
        ),
        "params_mutated": (
            make_net_class("params_mutated"),
            r"changed net\.params\['b2'\]",
            both("loss_mse"),
        ),  # fmt: skip
        "bias_first_row": (
            make_net_class("bias_first_row"),
            r"grads\['b1'\]",
            both("loss_mse"),
        ),  # fmt: skip
    },
    "loss_ce": {
        "no_reg_grad": (
            make_net_class("no_reg_grad"),
            r"missing from the gradient",
            both("loss_ce"),
        ),  # fmt: skip
        "reg_twice": (make_net_class("reg_twice"), r"applied twice", both("loss_ce")),
        "bias_not_summed": (
            make_net_class("bias_not_summed"),
            r"not summed over the batch",
            both("loss_ce"),
        ),  # fmt: skip
        "sigmoid_at_activation": (
            make_net_class("sigmoid_at_activation"),
            r"evaluated at the wrong point",
            both("loss_ce"),
        ),  # fmt: skip
        "grad_not_averaged": (
            make_net_class("grad_not_averaged"),
            r"averaged over the batch but the gradient is not",
            both("loss_ce"),
        ),  # fmt: skip
        "reg_scales_grad": (
            make_net_class("reg_scales_grad"),
            r"\(1 \+ reg\) × .*instead of adding the term reg \* W",
            both("loss_ce"),
        ),
        "sigmoid_grad_dot": (
            make_net_class("sigmoid_grad_dot"),
            r"not aligned(.|\n)*Hint: .*element-wise",
            both("loss_ce"),
        ),
        "loss_float32": (make_net_class("loss_float32"), r"float32", both("loss_ce")),
        "precedence_slip": (
            make_net_class("precedence_slip"),
            r"grads\['W2'\](.|\n)*Operator precedence",
            both("loss_ce"),
        ),
    },
    "predict": {
        "predict_scores": (
            make_net_class("predict_scores"),
            r"argmax over axis 1",
            both("predict"),
        ),  # fmt: skip
    },
    "train": {
        "no_shuffle": (
            make_net_class("no_shuffle"),
            r"same order: shuffle each epoch",
            both("train"),
        ),  # fmt: skip
        "full_batch": (make_net_class("full_batch"), r"one call per epoch", ("check_train",)),
        "update_per_epoch": (
            make_net_class("update_per_epoch"),
            r"did not change",
            both("train"),
        ),  # fmt: skip
        "update_sign": (make_net_class("update_sign"), r"UP the gradient", both("train")),
        "history_full_loss": (
            make_net_class("history_full_loss"),
            r"one extra call per epoch",
            both("train"),
        ),  # fmt: skip
    },
    "function_fit": {
        "exact_formula": (
            predict_exact_formula,
            r"reproduces the target function exactly",
            both("function_fit"),
        ),  # fmt: skip
        "zero": (predict_zero, r"MSE \d+(\.\d+)? > [12]\.", both("function_fit")),
        "coarse": (predict_coarse, r"MSE .* > ", both("function_fit")),
        "memorised": (predict_memorised_test_set, r"MSE .* > 2", ("check_function_fit_hidden",)),
        "row_vector": (predict_row_vector, r"expected shape \(\d+, 1\)", both("function_fit")),
    },
}
