"""Task 6 of 05_mnist: ``train_mlp(X_train, y_train, X_test=None, y_test=None,
hidden=(256, 128), epochs=10, batch_size=128, lr=1e-3, lr_decay=1.0, seed=0, verbose=True)
-> (layers, history)``.

``layers`` is the list of ``Linear`` layers of the MLP (ReLU between them, logits out);
``history`` a dict of per-epoch lists ("loss", "train_acc", "test_acc").

``check_train_mlp`` grades the training function ALONE: while it runs, the names
``DataLoader``, ``he_normal``, ``xavier_uniform``, ``Linear``, ``softmax_cross_entropy``
and ``Adam`` that ``train_mlp`` looks up are the course's reference answers (Tasks 1-5).
``check_mlp_accuracy`` grades the network the notebook trained with the student's own
pieces (the composition), from its weights evaluated here (never from the student's
predictions); when it fails, it names the earlier tasks whose visible checks fail.
"""

from __future__ import annotations

import numpy as np

from course_utils.grading import (
    call_student,
    check,
    describe_value,
    expect_callable,
    fail,
    reference,
    seal,
    substituted,
    to_array,
)

from ._common import STAND_INS, failing_task, forbid_library, mnist_test

ACCURACY_THRESHOLD = 0.98
MAX_EPOCHS = 10
TASK_NAMES = (
    "DataLoader",
    "he_normal",
    "xavier_uniform",
    "Linear",
    "softmax_cross_entropy",
    "Adam",
)


def _stand_ins() -> dict:
    return {name: reference(STAND_INS, name) for name in TASK_NAMES}


def _weights(layers, sizes, label) -> list[tuple[np.ndarray, np.ndarray]]:
    """(W, b) of each layer, as float64 copies, after checking the architecture."""
    if not isinstance(layers, list | tuple):
        fail(f"{label}: expected a list of Linear layers, got {describe_value(layers)}")
    want = list(zip(sizes[:-1], sizes[1:], strict=True))
    if len(layers) != len(want):
        fail(
            f"{label}: expected {len(want)} Linear layers for the sizes {sizes} "
            f"({' -> '.join(map(str, sizes))}), got {len(layers)}"
        )
    out = []
    for i, (layer, (d, m)) in enumerate(zip(layers, want, strict=True)):
        params = getattr(layer, "params", None)
        if not isinstance(params, dict) or not {"W", "b"} <= set(params):
            fail(f"{label}: layer {i} has no params 'W' and 'b' ({describe_value(params)})")
        W = to_array(params["W"], f"layer {i} W").astype(np.float64)
        b = to_array(params["b"], f"layer {i} b").astype(np.float64)
        if W.shape != (d, m) or b.shape != (m,):
            fail(
                f"{label}: layer {i} should map {d} -> {m} (W {(d, m)}, b {(m,)}), got W "
                f"{W.shape}, b {b.shape}; build the layers from the sizes "
                f"[X.shape[1], *hidden, number of classes]"
            )
        if not (np.isfinite(W).all() and np.isfinite(b).all()):
            fail(
                f"{label}: layer {i} has NaN or inf weights: the training diverged "
                f"(learning rate too large?) or a step is unstable"
            )
        out.append((W, b))
    return out


def mlp_logits(weights, x: np.ndarray) -> np.ndarray:
    """The reference forward pass: Linear -> ReLU -> ... -> Linear, in float64."""
    h = np.asarray(x, dtype=np.float64)
    for W, b in weights[:-1]:
        h = np.maximum(h @ W + b, 0.0)
    W, b = weights[-1]
    return h @ W + b


def _accuracy(weights, x, y) -> float:
    preds = np.concatenate(
        [mlp_logits(weights, x[i : i + 2000]).argmax(axis=1) for i in range(0, len(x), 2000)]
    )
    return float(np.mean(preds == y))


def _result(got, label):
    if not isinstance(got, tuple | list) or len(got) != 2:
        fail(f"{label}: expected `(layers, history)`, got {describe_value(got)}")
    return got[0], got[1]


def _history(history, epochs, label) -> dict:
    if not isinstance(history, dict):
        fail(f"{label}: history should be a dict of per-epoch lists, got {describe_value(history)}")
    for key in ("loss", "train_acc"):
        values = history.get(key)
        if not isinstance(values, list | tuple) or len(values) != epochs:
            fail(
                f"{label}: history[{key!r}] should hold one value per epoch ({epochs}), got "
                f"{describe_value(values)}"
            )
    return history


def _train(train_mlp, X, y, label, **kwargs):
    got = call_student(train_mlp, X, y, label=label, verbose=False, **kwargs)
    return _result(got, label)


def _overfit(train_mlp, hidden=(256, 128), seed=0) -> None:
    X, y = mnist_test.train_subset()
    X, y = X[:64], y[:64]
    label = (
        f"`train_mlp(X[:64], y[:64], hidden={hidden}, epochs=40, batch_size=64, "
        f"lr=2e-3, seed={seed})`"
    )
    layers, history = _train(
        train_mlp, X, y, label, hidden=hidden, epochs=40, batch_size=64, lr=2e-3, seed=seed
    )
    _history(history, 40, label)
    weights = _weights(layers, [784, *hidden, 10], label)
    acc = _accuracy(weights, X, y)
    if acc < 1.0:
        loss = history.get("loss", [None])
        fail(
            f"{label}: the network fits only {acc:.1%} of its 64 training images (a working "
            f"training loop fits all of them: it has far more weights than images). The "
            f"loss went from {loss[0]} to {loss[-1]}. Check that every batch is followed by "
            f"backward through all layers (ReLU mask included) and one optimiser step on the "
            f"gradients of ALL parameters (the course's loader, layer, loss and Adam are in "
            f"place while this check runs)"
        )


def _recorded_stand_ins():
    """The reference Tasks 1-5, with a loader and an Adam that log their use."""
    names = _stand_ins()
    recorder = reference("course_utils.grading.doubles", "TrainingRecorder")(
        names["DataLoader"], names["Adam"]
    )
    return {**names, "DataLoader": recorder.DataLoader, "Adam": recorder.Adam}, recorder


def _check_schedule(events, n, epochs, batch_size, lr, lr_decay, label) -> None:
    """The loader got ``batch_size``; each epoch made one Adam step per batch, at
    ``lr * lr_decay**epoch``."""
    sizes = [e[1] for e in events if e[0] == "loader"]
    if any(size != batch_size for size in sizes):
        fail(
            f"{label}: the DataLoader was made with batch_size {sizes}, but train_mlp was "
            f"asked for batch_size={batch_size}: pass the argument on"
        )
    steps = [e[1] for e in events if e[0] == "step"]
    per_epoch = {-(-n // batch_size), n // batch_size}  # the last partial batch kept or not
    if not any(len(steps) == epochs * k for k in per_epoch):
        fail(
            f"{label}: Adam made {len(steps)} steps; {epochs} epochs of {n} images in batches "
            f"of {batch_size} make {epochs * max(per_epoch)}: one step per mini-batch"
        )
    k = len(steps) // epochs
    for epoch in range(epochs):
        want = lr * lr_decay**epoch
        used = sorted(set(steps[epoch * k : (epoch + 1) * k]))
        if not all(np.isclose(u, want, rtol=1e-6, atol=0.0) for u in used):
            if len(used) > 1:
                how = "the lr changed within the epoch: multiply it by lr_decay once per epoch"
            elif epoch == 0:
                how = "pass lr to Adam, and decay it only after the first epoch"
            else:
                how = "after each epoch multiply the optimiser's lr by lr_decay"
            fail(
                f"{label}: in epoch {epoch + 1} Adam stepped with lr {used[:3]}, expected "
                f"lr * lr_decay^{epoch} = {want:.6g}: {how}"
            )


def _short_run(train_mlp, hidden, batch_size, lr, seed, min_acc=0.9, lr_decay=0.5) -> None:
    X, y = mnist_test.train_subset()
    Xt, yt = mnist_test()
    Xt, yt = Xt[:2000], yt[:2000]
    label = (
        f"`train_mlp(X[:6000], y[:6000], X_test, y_test, hidden={hidden}, epochs=2, "
        f"batch_size={batch_size}, lr={lr}, lr_decay={lr_decay}, seed={seed})`"
    )
    names, recorder = _recorded_stand_ins()
    with substituted(train_mlp, names):
        layers, history = _train(
            train_mlp, X, y, label, X_test=Xt, y_test=yt, hidden=hidden, epochs=2,
            batch_size=batch_size, lr=lr, lr_decay=lr_decay, seed=seed,
        )  # fmt: skip
    _history(history, 2, label)
    _check_schedule(recorder.events(), len(X), 2, batch_size, lr, lr_decay, label)
    test_acc = history.get("test_acc")
    if not isinstance(test_acc, list | tuple) or len(test_acc) != 2:
        fail(
            f"{label}: with X_test given, history['test_acc'] should hold one test accuracy "
            f"per epoch, got {describe_value(test_acc)}"
        )
    weights = _weights(layers, [784, *hidden, 10], label)
    acc = _accuracy(weights, Xt, yt)
    if acc < min_acc:
        fail(
            f"{label}: after 2 epochs on 6000 images the network classifies only {acc:.1%} of "
            f"2000 test images (a correct training reaches over {min_acc:.0%})"
        )
    if abs(float(test_acc[-1]) - acc) > 0.002:
        fail(
            f"{label}: history['test_acc'][-1] is {float(test_acc[-1]):.4f} but the returned "
            f"network's test accuracy is {acc:.4f}: report the accuracy of the network at the "
            f"end of the epoch, as a fraction in [0, 1]"
        )
    loss = [float(v) for v in history["loss"]]
    if not loss[1] < loss[0]:
        fail(f"{label}: the mean training loss did not decrease from epoch 1 to 2: {loss}")


def _seeding(train_mlp) -> None:
    X, y = mnist_test.train_subset()
    X, y = X[:640], y[:640]

    def weights(seed):
        label = f"`train_mlp(X[:640], y[:640], hidden=(32,), epochs=1, seed={seed})`"
        layers, _ = _train(train_mlp, X, y, label, hidden=(32,), epochs=1, seed=seed)
        return _weights(layers, [784, 32, 10], label), label

    a, label = weights(3)
    b, _ = weights(3)
    c, _ = weights(4)
    if any(not np.array_equal(p, q) for (p, _), (q, _) in zip(a, b, strict=True)):
        fail(
            f"{label}: two trainings with seed=3 gave different weights: make every random "
            f"choice from the seed (the layers' rng and the loader's seed)"
        )
    if all(np.array_equal(p, q) for (p, _), (q, _) in zip(a, c, strict=True)):
        fail(f"{label}: seed=3 and seed=4 gave identical weights: the seed is ignored")


def _preamble(train_mlp) -> None:
    expect_callable(train_mlp, "train_mlp")
    forbid_library(train_mlp, "train_mlp", "use YOUR DataLoader, Linear, loss and Adam")


def visible_train_mlp(train_mlp) -> None:
    with substituted(train_mlp, _stand_ins()):
        _overfit(train_mlp)
        _seeding(train_mlp)
    _short_run(train_mlp, (256, 128), 128, 2e-3, 0)


@check
def check_train_mlp(train_mlp) -> None:
    """Visible, with the reference Tasks 1-5: overfit 64 images; 2 epochs on 6000; seeds."""
    _preamble(train_mlp)
    visible_train_mlp(train_mlp)


@check
def check_train_mlp_hidden(train_mlp) -> None:
    """Hidden: other depths and widths, batch sizes, learning rates and seeds."""
    _preamble(train_mlp)
    with substituted(train_mlp, _stand_ins()):
        _overfit(train_mlp, hidden=(128,), seed=57)
    _short_run(train_mlp, (64, 32, 32), 96, 3e-3, 81, min_acc=0.85, lr_decay=0.8)


# --- the trained network -----------------------------------------------------------------
def _tasks_at_fault(earlier) -> list[str]:
    from . import adam, initializers, linear, loader, loss

    names = ("DataLoader", "he_normal", "xavier_uniform", "Linear", "softmax_cross_entropy",
             "Adam", "train_mlp")  # fmt: skip
    given = dict(zip(names, earlier, strict=False))
    probes = {
        "DataLoader": lambda: loader.visible(given["DataLoader"]),
        "he_normal/xavier_uniform": lambda: initializers.visible(
            given["he_normal"], given["xavier_uniform"]
        ),
        "Linear": lambda: linear.visible(given["Linear"]),
        "softmax_cross_entropy": lambda: loss.visible(given["softmax_cross_entropy"]),
        "Adam": lambda: adam.visible(given["Adam"]),
        "train_mlp": lambda: visible_train_mlp(given["train_mlp"]),
    }
    faults = []
    for name, probe in probes.items():
        if all(k in given for k in name.split("/")):
            faults.append(failing_task(name, probe))
    return [f for f in faults if f]


def fitted_to_training_set(weights, test_acc: float, label: str, accuracy=None) -> None:
    """A network is better on images it was trained on than on new ones: one that is
    clearly better on the test set was trained on it. ``accuracy(weights, X, y)``: how to
    evaluate ``weights`` (default: the MLP's (W, b) pairs; 07_tuning passes a Keras copy)."""
    X, y = mnist_test.train_subset()
    train_acc = (accuracy or _accuracy)(weights, X, y)
    if test_acc > train_acc + 0.01:
        fail(
            f"{label} classifies {test_acc:.2%} of the 10 000 test images but only "
            f"{train_acc:.2%} of the first 6000 training images: a network does better on "
            f"the images it learned from, so this one was trained on the test set. Train on "
            f"X_train, y_train; the test set only measures"
        )


def _check_accuracy(layers, history, earlier, hidden: bool) -> None:
    label = "your trained MLP"
    try:
        weights = _weights(layers, [784, 256, 128, 10], label)
        if isinstance(history, dict) and len(history.get("loss", ())) > MAX_EPOCHS:
            fail(
                f"{label} was trained for {len(history['loss'])} epochs: the task asks for "
                f"{ACCURACY_THRESHOLD:.0%} within {MAX_EPOCHS} epochs"
            )
        x, y = mnist_test()
        acc = _accuracy(weights, x, y)
        if not acc >= ACCURACY_THRESHOLD:
            fail(
                f"{label}: test accuracy {acc:.2%} (computed here from its weights on the "
                f"10 000 test images) is below the required {ACCURACY_THRESHOLD:.0%}. Train "
                f"with a decaying learning rate (e.g. lr 2e-3, lr_decay 0.7) for up to "
                f"{MAX_EPOCHS} epochs"
            )
        if hidden:
            fitted_to_training_set(weights, acc, label)
    except AssertionError as exc:
        faults = _tasks_at_fault(earlier or [])
        if not faults:
            raise
        fail(
            f"{str(exc)}\nHint: this network was built and trained by your earlier answers, "
            f"and {'; '.join(faults)}. Fix that task first (its own test cell)"
        )


@check
def check_mlp_accuracy(layers, history, earlier=None) -> None:
    """Visible: the trained 784-256-128-10 MLP reaches >= 98 % test accuracy (weights)."""
    _check_accuracy(layers, history, earlier, False)


@check
def check_mlp_accuracy_hidden(layers, history, earlier=None) -> None:
    """Hidden: the same, and trained on the training set (not on the test set)."""
    _check_accuracy(layers, history, earlier, True)


seal(__name__)
