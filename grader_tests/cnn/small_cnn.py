"""Task 4 of 06_cnn: ``SmallCNN``, conv-relu-pool-conv-relu-pool-linear in NumPy, trained on
MNIST with Adam.

Interface::

    class SmallCNN:
        SmallCNN(num_filters=(F1, F2), kernel_size=K, seed=0, dtype=np.float32)
        params: {"w1": (F1, 1, K, K), "b1": (F1,), "w2": (F2, F1, K, K), "b2": (F2,),
                 "w3": (F2 * 7 * 7, 10), "b3": (10,)};  grads: the same keys and shapes
        forward(x) -> scores (N, 10)      x (N, 1, 28, 28); convolutions stride 1,
                                          pad K // 2; 2x2 max-pooling, stride 2;
                                          flatten in (F2, 7, 7) order: reshape(N, -1)
        backward(dscores) -> None         fills grads (overwrites)

``check_small_cnn`` grades the class alone: it runs with the course's
``conv_forward_im2col`` / ``conv_backward_im2col`` (``stand_ins``) in place of the
student's, on small float64 nets whose parameters it sets, against the forward and
backward pass written here. ``check_cnn_accuracy`` grades the trained network from its
weights: the forward pass here, over the 10,000 test images (>= 98.5 %); the student's own
forward pass is only compared with it on a few images. When the accuracy is not reached,
its message names the earlier tasks whose visible checks fail.
"""

from __future__ import annotations

import numpy as np

from course_utils.grading import (
    assert_close,
    assign_student_array,
    call_student,
    check,
    class_of,
    describe_value,
    expect_callable,
    fail,
    reference,
    seal,
    substituted,
    to_array,
)
from course_utils.layers import conv as _conv
from course_utils.layers import pooling as _pool
from course_utils.threads import blas_threads_for

ACCURACY_THRESHOLD = 0.985
_STAND_INS = "course_utils.grading.stand_ins"
_KEYS = ("w1", "b1", "w2", "b2", "w3", "b3")


def _stand_in_names() -> dict:
    return {
        name: reference(_STAND_INS, name)
        for name in ("conv_forward_im2col", "conv_backward_im2col", "im2col", "col2im")
    }


# --- the reference network ---------------------------------------------------------------
def cnn_forward(x, p: dict, k: int, flatten_last: bool = False):
    """Scores and the cache of the reference network (any float dtype).

    ``flatten_last``: flatten the (F2, 7, 7) maps channels-last, the (7, 7, F2) order (a
    slip the check names).
    """
    pad = k // 2
    h1, c1 = _conv.conv_forward_im2col(x, p["w1"], p["b1"], 1, pad)
    r1 = np.maximum(h1, 0)
    q1, m1 = _pool.max_pool_forward(r1, 2, 2)
    h2, c2 = _conv.conv_forward_im2col(q1, p["w2"], p["b2"], 1, pad)
    r2 = np.maximum(h2, 0)
    q2, m2 = _pool.max_pool_forward(r2, 2, 2)
    flat = (q2.transpose(0, 2, 3, 1) if flatten_last else q2).reshape(len(x), -1)
    scores = flat @ p["w3"] + p["b3"]
    return scores, (c1, h1, m1, c2, h2, m2, q2.shape, flat)


def cnn_backward(dscores, p: dict, cache, relu_mask: bool = True) -> dict:
    """The gradients; ``relu_mask=False`` leaves out ReLU's mask (a slip the check names)."""
    c1, h1, m1, c2, h2, m2, q2_shape, flat = cache
    g = {"w3": flat.T @ dscores, "b3": dscores.sum(axis=0)}
    dq2 = (dscores @ p["w3"].T).reshape(q2_shape)
    dh2 = _pool.max_pool_backward(dq2, m2) * ((h2 > 0) if relu_mask else 1.0)
    dq1, g["w2"], g["b2"] = _conv.conv_backward_im2col(dh2, c2)
    dh1 = _pool.max_pool_backward(dq1, m1) * ((h1 > 0) if relu_mask else 1.0)
    _, g["w1"], g["b1"] = _conv.conv_backward_im2col(dh1, c1)
    return g


def scores_of(x, p: dict, k: int, batch: int = 500) -> np.ndarray:
    """Scores of many images, in batches, on the course's BLAS-thread policy (one thread)."""
    with blas_threads_for():
        return np.concatenate(
            [cnn_forward(x[i : i + batch], p, k)[0] for i in range(0, len(x), batch)]
        )


# --- reading a student's network -----------------------------------------------------------
def _read_params(net, label: str) -> dict:
    params = getattr(net, "params", None)
    if not isinstance(params, dict):
        fail(f"{label} has no `params` dict (got {describe_value(params)}): keep the skeleton")
    missing = [k for k in _KEYS if k not in params]
    if missing:
        fail(f"{label}.params is missing {missing}: expected the keys {list(_KEYS)}")
    return {k: to_array(params[k], f"{label}.params[{k!r}]") for k in _KEYS}


def _architecture(p: dict, label: str) -> int:
    """The kernel size K, after checking every parameter's shape against the others'."""
    w1, w2 = p["w1"], p["w2"]
    if w1.ndim != 4 or w1.shape[1] != 1 or w1.shape[2] != w1.shape[3] or w1.shape[2] % 2 == 0:
        fail(f"{label}: params['w1'] must be (F1, 1, K, K) with an odd K, got {w1.shape}")
    f1, _, k, _ = w1.shape
    if w2.ndim != 4 or w2.shape[1:] != (f1, k, k):
        fail(f"{label}: params['w2'] must be (F2, F1={f1}, {k}, {k}), got {w2.shape}")
    f2 = w2.shape[0]
    expected = {"b1": (f1,), "b2": (f2,), "w3": (f2 * 49, 10), "b3": (10,)}
    for key, shape in expected.items():
        if p[key].shape != shape:
            hint = ""
            if key == "w3" and p[key].shape[::-1] == shape:
                hint = " (transposed: scores = flat @ w3 with flat of shape (N, F2*7*7))"
            fail(f"{label}: params[{key!r}] must have shape {shape}, got {p[key].shape}{hint}")
    return k


def _forward_hint(exc: BaseException) -> str | None:
    if isinstance(exc, ValueError) and ("mismatch" in str(exc) or "aligned" in str(exc)):
        return (
            "both convolutions use stride 1 and pad K // 2, so the maps stay 28x28, then "
            "14x14 after the first pooling and 7x7 after the second: w3 has F2*7*7 rows"
        )
    return None


def _new(SmallCNN, filters, k, seed):
    return call_student(
        SmallCNN,
        num_filters=filters,
        kernel_size=k,
        seed=seed,
        dtype=np.float64,
        label=f"`SmallCNN(num_filters={filters}, kernel_size={k}, seed={seed}, dtype=np.float64)`",
        check_mutation=False,
    )


def _check_net_case(SmallCNN, filters, k, n, seed: int) -> None:
    case = f"(num_filters={filters}, kernel_size={k}, N={n})"
    net = _new(SmallCNN, filters, k, seed)
    for attr in ("forward", "backward"):
        if not callable(getattr(net, attr, None)):
            fail(f"SmallCNN has no method `{attr}`: keep the class skeleton")
    p = _read_params(net, "SmallCNN")
    k_got = _architecture(p, f"SmallCNN {case}")
    if k_got != k or p["w1"].shape[0] != filters[0] or p["w2"].shape[0] != filters[1]:
        fail(
            f"SmallCNN {case}: params['w1'] {p['w1'].shape} and params['w2'] {p['w2'].shape} "
            f"do not follow num_filters={filters}, kernel_size={k}"
        )
    w_std = float(p["w1"].std())
    if not (0 < w_std < 10) or not np.all(p["b1"] == 0):
        fail(
            f"SmallCNN {case}: initialise the filters with small random values (He: "
            f"std sqrt(2 / fan_in)) and the biases with zeros; w1 has std {w_std:.3g}"
        )
    rng = np.random.default_rng(seed)
    new = {
        key: rng.standard_normal(v.shape) * (0.3 if key.startswith("w") else 0.1)
        for key, v in p.items()
    }
    for key, value in new.items():
        assign_student_array(net, [("attr", "params"), ("item", key)], value)
    x = rng.random((n, 1, 28, 28))
    scores = call_student(net.forward, x, label="`SmallCNN.forward`", hint=_forward_hint)
    scores = to_array(scores, "SmallCNN.forward(x)", expected_ndim=2)
    expected, cache = cnn_forward(x, new, k)
    if scores.shape == expected.shape and not np.allclose(scores, expected, 1e-7, 1e-9):
        if np.allclose(scores, cnn_forward(x, new, k, flatten_last=True)[0], 1e-7, 1e-9):
            fail(
                f"SmallCNN.forward {case}: the pooled maps are flattened in (7, 7, F2) order "
                f"(channels-last); flatten the (N, F2, 7, 7) array as it is: reshape(N, -1)"
            )
    assert_close(
        scores,
        expected,
        f"SmallCNN.forward(x) {case}",
        rtol=1e-7,
        atol=1e-9,
        hint="conv (pad K//2) -> relu -> 2x2 max-pool -> conv -> relu -> max-pool -> "
        "reshape(N, -1) -> @ w3 + b3",
    )
    dscores = rng.standard_normal(expected.shape)
    call_student(net.backward, dscores, label="`SmallCNN.backward`")
    grads = getattr(net, "grads", None)
    if not isinstance(grads, dict):
        fail(
            f"SmallCNN {case}: after backward, `grads` is {describe_value(grads)}; expected a "
            f"dict with the keys of params"
        )
    want = cnn_backward(dscores, new, cache)
    unmasked = cnn_backward(dscores, new, cache, relu_mask=False)
    for key in ("w3", "b3", "w2", "b2", "w1", "b1"):
        if grads.get(key) is None:
            fail(f"SmallCNN {case}: grads[{key!r}] is missing after backward")
        got = to_array(grads[key], f"SmallCNN.grads[{key!r}]")
        if (
            got.shape == want[key].shape
            and not np.allclose(got, want[key], 1e-6, 1e-9)
            and np.allclose(got, unmasked[key], 1e-6, 1e-9)
        ):
            fail(
                f"SmallCNN.backward {case}: grads[{key!r}] is what you get without the ReLU's "
                f"gradient mask: multiply the gradient by (h > 0) of the ReLU's input on the "
                f"way back, after each pooling's backward"
            )
        assert_close(
            grads[key],
            want[key],
            f"SmallCNN grads[{key!r}] {case}",
            rtol=1e-6,
            atol=1e-9,
            rows_are_samples=False,
        )
    # a second backward after a forward overwrites the gradients
    call_student(net.forward, x, label="`SmallCNN.forward`")
    call_student(net.backward, dscores, label="`SmallCNN.backward`")
    again = to_array(net.grads["w1"], "SmallCNN.grads['w1']")
    if np.allclose(again, 2 * want["w1"]) and not np.allclose(again, want["w1"]):
        fail(
            f"SmallCNN {case}: grads doubled after a second forward/backward: overwrite them "
            f"(self.grads[...] = ...) instead of accumulating"
        )


@check
def check_small_cnn(SmallCNN) -> None:
    """Visible: a small float64 net (3 and 4 filters, 3x3), forward and every gradient."""
    expect_callable(SmallCNN, "SmallCNN", kind="class")
    with substituted(SmallCNN, _stand_in_names()):
        _check_net_case(SmallCNN, (3, 4), 3, 2, seed=0)


@check
def check_small_cnn_hidden(SmallCNN) -> None:
    """Hidden: other widths and a 5x5 kernel."""
    expect_callable(SmallCNN, "SmallCNN", kind="class")
    with substituted(SmallCNN, _stand_in_names()):
        _check_net_case(SmallCNN, (2, 3), 5, 3, seed=1)
        _check_net_case(SmallCNN, (4, 2), 1, 1, seed=2)


# --- accuracy --------------------------------------------------------------------------------
def _make_mnist_test():
    store: dict[str, bytes] = {}

    def get():
        if not store:
            from course_utils.data import load_mnist

            data = load_mnist(verbose=False)
            store["x"] = np.ascontiguousarray(data.X_test, dtype=np.float32).tobytes()
            store["y"] = np.ascontiguousarray(data.y_test, dtype=np.int64).tobytes()
        x = np.frombuffer(store["x"], dtype=np.float32).reshape(-1, 1, 28, 28).copy()
        y = np.frombuffer(store["y"], dtype=np.int64).copy()
        return x, y

    return get


mnist_test = _make_mnist_test()


def _failing(name: str, probe) -> str | None:
    try:
        probe()
    except AssertionError as exc:
        return f"your {name} fails its test ({str(exc).splitlines()[0][:160]})"
    return None


def _earlier_faults(model, conv_forward_im2col, conv_backward_im2col) -> list:
    from . import im2col as task3

    faults = []
    if conv_forward_im2col is not None:
        faults.append(
            _failing(
                "conv_forward_im2col",
                lambda: task3.check_conv_forward_im2col.__wrapped__(conv_forward_im2col),
            )
        )  # noqa: E501
    if conv_backward_im2col is not None:
        faults.append(
            _failing(
                "conv_backward_im2col",
                lambda: task3.check_conv_backward_im2col.__wrapped__(conv_backward_im2col),
            )
        )  # noqa: E501
    cls = class_of(model)
    faults.append(_failing("SmallCNN", lambda: check_small_cnn.__wrapped__(cls)))
    return [f for f in faults if f]


def _check_accuracy(model, conv_forward_im2col, conv_backward_im2col, sample) -> None:
    if model is None or not callable(getattr(model, "forward", None)):
        fail(f"expected your trained SmallCNN, got {describe_value(model)}")
    p = _read_params(model, "your network")
    k = _architecture(p, "your network")
    p = {key: v.astype(np.float32) for key, v in p.items()}
    if not all(np.isfinite(v).all() for v in p.values()):
        fail(
            "your network's parameters contain NaN or inf: the training diverged (lr too "
            "large?) or a layer is unstable"
        )
    x, y = mnist_test()
    try:
        expected = scores_of(x[sample], p, k)
        got = to_array(
            call_student(model.forward, x[sample], label="`cnn_model.forward`"),
            "cnn_model.forward on test images",
            expected_ndim=2,
        )
        if got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-3, atol=1e-3):
            fail(
                "your network: `cnn_model.forward` on test images does not compute the network "
                "from its own weights: SmallCNN must pass its test first"
            )
        acc = float(np.mean(scores_of(x, p, k).argmax(axis=1) == y))
        if not acc >= ACCURACY_THRESHOLD:
            fail(
                f"your network: test accuracy {acc:.2%} is below the required "
                f"{ACCURACY_THRESHOLD:.1%}. Check that every earlier task passes its test, then "
                f"train longer or tune lr (the given settings reach it in 2 epochs)"
            )
    except AssertionError as exc:
        faults = _earlier_faults(model, conv_forward_im2col, conv_backward_im2col)
        if not faults:
            raise
        fail(
            f"{exc}\nHint: this task grades the network your earlier answers trained, and "
            f"{'; '.join(faults)}. Fix that task first (its own test cell)"
        )


@check
def check_cnn_accuracy(model, conv_forward_im2col=None, conv_backward_im2col=None) -> None:
    """Visible: the trained network's weights reach >= 98.5 % on the 10,000 test images."""
    _check_accuracy(model, conv_forward_im2col, conv_backward_im2col, np.arange(100))


@check
def check_cnn_accuracy_hidden(model, conv_forward_im2col=None, conv_backward_im2col=None) -> None:
    """Hidden: the same; the forward pass compared with the weights on 300 random images."""
    sample = np.random.default_rng(985).permutation(10_000)[:300]
    _check_accuracy(model, conv_forward_im2col, conv_backward_im2col, sample)


seal(__name__)
