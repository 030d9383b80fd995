"""Task 11 of 07_tuning: fine-tuning the last layer of a trained Keras MLP.

The student's function::

    fine_tune(model, X, y, epochs, lr, batch_size=128, seed=0) -> keras History
        every layer but the last frozen (layer.trainable = False), compiled with Adam(lr)
        and SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"], fitted
        with shuffling after keras.utils.set_random_seed(seed)

The check builds the model where the student's code runs (in their kernel at grading time,
through ``grading.reference``): Dense(h) -> BatchNormalization -> relu -> Dropout(seed
fixed, so that only fine_tune's seed decides the run) -> Dense(10), "trained" on a
synthetic 10-class task of 784-pixel images in NumPy (random first layer, the batch
statistics as BN's moving statistics, a softmax head fitted by gradient descent). The
fine-tuning task is the same images with the labels permuted (y -> (y + 1) mod 10): a new
head solves it, so only the last layer needs to learn. Then, from copies of the weights:

- the frozen weights (Dense kernel and bias, BN gamma, beta, moving mean and variance) are
  unchanged bit for bit, every layer but the last has trainable False, the last layer
  changed (else: frozen too, or another model was trained);
- the training loss of the model (computed here in NumPy from its weights, inference
  mode) went down; History has ``epochs`` entries of "loss" and "accuracy";
- the optimizer is Adam with learning rate lr (to float32 precision), it took
  epochs * ceil(N / batch_size) steps, the loss has from_logits=True;
- the same seed on a second identical model gives the same last layer (to 1e-5).
"""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np

from course_utils.grading import (
    call_student,
    check,
    expect_callable,
    fail,
    reference,
    seal,
    type_name,
)

_FROZEN = ["the first Dense layer's kernel", "the first Dense layer's bias",
           "BatchNormalization's gamma", "BatchNormalization's beta",
           "BatchNormalization's moving_mean", "BatchNormalization's moving_variance"]  # fmt: skip
_EPS = 1e-3  # Keras' BatchNormalization epsilon


def task(rng, n: int, hidden: int) -> dict:
    """Synthetic images, pretrained weights and the permuted labels to fine-tune on."""
    protos = np.clip(rng.random((10, 784)) * 1.4 - 0.2, 0, 1)
    y = rng.integers(0, 10, n)
    X = np.clip(protos[y] + 0.3 * rng.standard_normal((n, 784)), 0, 1).astype(np.float32)
    W1 = (rng.standard_normal((784, hidden)) * np.sqrt(2 / 784)).astype(np.float32)
    b1 = np.zeros(hidden, np.float32)
    z = X @ W1
    mean, var = z.mean(axis=0), z.var(axis=0)
    gamma = (1 + 0.1 * rng.standard_normal(hidden)).astype(np.float32)
    beta = (0.1 * rng.standard_normal(hidden)).astype(np.float32)
    h = np.maximum(gamma * (z - mean) / np.sqrt(var + _EPS) + beta, 0)
    W2, b2 = np.zeros((hidden, 10)), np.zeros(10)
    onehot = np.eye(10)[y]
    for _ in range(200):  # the head, fitted by gradient descent on the softmax loss
        s = h @ W2 + b2
        p = np.exp(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        W2 -= 0.5 * h.T @ (p - onehot) / n
        b2 -= 0.5 * (p - onehot).mean(axis=0)
    weights = [W1, b1, gamma, beta, mean.astype(np.float32), var.astype(np.float32),
               W2.astype(np.float32), b2.astype(np.float32)]  # fmt: skip
    return {"X": X, "y": ((y + 1) % 10).astype(np.int64), "weights": weights}


def loss_of(weights, X, y) -> float:
    """The model's mean cross-entropy in inference mode (dropout off, BN moving stats)."""
    W1, b1, g, b, mm, mv, W2, b2 = (np.asarray(w, np.float64) for w in weights)
    h = np.maximum(g * (X @ W1 + b1 - mm) / np.sqrt(mv + _EPS) + b, 0)
    s = h @ W2 + b2
    s = s - s.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(s).sum(axis=1)) - s[np.arange(len(y)), y]))


def build(weights, hidden: int, rate: float):
    """The pretrained model, made where the student's code runs."""
    keras = reference("course_utils.grading.models", "_keras")()
    layers = keras.layers
    model = keras.Sequential([layers.Dense(hidden), layers.BatchNormalization(),
                              layers.Activation("relu"), layers.Dropout(rate, seed=7),
                              layers.Dense(10)])  # fmt: skip
    model.build((None, 784))
    model.set_weights(weights)
    return model


def _fit(fine_tune, model, data, case, label):
    with contextlib.redirect_stdout(io.StringIO()):  # a progress bar is not the check's
        return call_student(fine_tune, model, data["X"], data["y"], case["epochs"],
                            case["lr"], batch_size=case["batch_size"], seed=case["seed"],
                            label=label)  # fmt: skip


def _weights(model, label) -> list:
    got = call_student(model.get_weights, label=f"{label}: model.get_weights()")
    return [np.asarray(w) for w in got]


def _check_frozen(model, before, after, label) -> None:
    if len(after) != len(before) or any(
        a.shape != b.shape for a, b in zip(after, before, strict=False)
    ):
        fail(f"{label}: the model's weights changed in number or shape\nHint: train the "
             f"model you are given, as it is: freeze layers, do not add or replace "
             f"any")  # fmt: skip
    changed = [name for name, a, b in zip(_FROZEN, after, before, strict=False)
               if not np.array_equal(a, b)]  # fmt: skip
    flags = [bool(layer.trainable) for layer in model.layers]
    if changed:
        dense = any(c.startswith("the first Dense") for c in changed)
        bn = any(c.startswith("BatchNorm") for c in changed)
        if not any(flags[:-1]) and flags[-1]:
            hint = (
                "the trainable flags are right now, but the frozen layers were trained: "
                "set trainable = False BEFORE model.fit"
            )
        elif all(flags):
            hint = (
                "nothing is frozen (every layer has trainable True): set "
                "layer.trainable = False for every layer but the last"
            )
        elif dense and not bn:
            hint = "the first Dense layer was trained: freeze it (layer.trainable = False)"
        elif bn and not dense:
            hint = (
                "BatchNormalization is left trainable: its gamma and beta were trained "
                "and its moving statistics updated (a trainable BN layer updates them in "
                "every training step; frozen, trainable = False, it runs in inference "
                "mode and keeps them)"
            )
        else:
            hint = (
                "freeze every layer but the last: for layer in model.layers[:-1]: "
                "layer.trainable = False"
            )
        fail(f"{label}: frozen weights changed: {', '.join(changed)} (trainable flags of "
             f"the layers: {flags})\nHint: {hint}")  # fmt: skip
    if np.array_equal(after[-2], before[-2]) and np.array_equal(after[-1], before[-1]):
        if not flags[-1]:
            hint = "the last layer is frozen too: it is the one to train"
        elif model.trainable is False:
            hint = (
                "model.trainable is False: a layer inside a non-trainable model is not "
                "trained, whatever its own flag; set trainable = False on "
                "model.layers[:-1] only"
            )
        else:
            hint = (
                "the model passed to fine_tune was not trained: train that model "
                "itself (not a copy or a new one)"
            )
        fail(f"{label}: the last layer's weights did not change (trainable flags "
             f"{flags})\nHint: {hint}")  # fmt: skip
    if any(flags[:-1]) or not flags[-1]:
        fail(f"{label}: trainable flags of the layers are {flags}, expected False for "
             f"every layer but the last\nHint: set layer.trainable = False on "
             f"model.layers[:-1]")  # fmt: skip


def _check_training(model, history, case, n, label) -> None:
    if type_name(history) != "History":
        fail(f"{label} returned {type_name(history)}, expected the History that "
             f"model.fit returns\nHint: return model.fit(...)")  # fmt: skip
    logs = history.history
    losses = logs.get("loss", []) if isinstance(logs, dict) else []
    if len(losses) != case["epochs"]:
        fail(f"{label}: History has {len(losses)} epochs of 'loss', expected epochs = "
             f"{case['epochs']}\nHint: pass epochs to model.fit")  # fmt: skip
    if "accuracy" not in logs:
        fail(f"{label}: History has no 'accuracy' (keys {sorted(logs)})\nHint: compile "
             f"with metrics=['accuracy']")  # fmt: skip
    opt = model.optimizer
    if opt is None or type_name(opt) != "Adam":
        fail(f"{label}: the model's optimizer is {type_name(opt)}, expected Adam\nHint: "
             f"compile with optimizer=keras.optimizers.Adam(learning_rate=lr)")  # fmt: skip
    lr = float(np.asarray(opt.learning_rate))
    if not math.isclose(lr, case["lr"], rel_tol=1e-6):
        fail(f"{label}: the optimizer's learning rate is {lr:.6g}, expected lr = "
             f"{case['lr']:g}\nHint: Adam(learning_rate=lr)")  # fmt: skip
    steps, want = int(np.asarray(opt.iterations)), case["epochs"] * math.ceil(n / case[
        "batch_size"])  # fmt: skip
    if steps != want:
        hint = ("batch_size is ignored (Keras' default is 32)"
                if steps == case["epochs"] * math.ceil(n / 32) else
                "pass epochs and batch_size to model.fit")  # fmt: skip
        fail(f"{label}: the optimizer took {steps} steps, expected epochs * ceil(N / "
             f"batch_size) = {want}\nHint: {hint}")  # fmt: skip
    loss = model.loss
    config = loss if isinstance(loss, str) else call_student(loss.get_config, label="loss")
    if not (isinstance(config, dict) and config.get("from_logits") is True):
        fail(f"{label}: the model's loss is {config!r}\nHint: the last layer outputs "
             f"logits: compile with keras.losses.SparseCategoricalCrossentropy("
             f"from_logits=True)")  # fmt: skip


def _run(fine_tune, case: dict, seed: int) -> None:
    expect_callable(fine_tune, "fine_tune")
    data = task(np.random.default_rng(seed), case["n"], case["hidden"])
    shown = ", ".join(f"{k}={case[k]:g}" for k in ("epochs", "lr", "batch_size", "seed"))
    label = f"`fine_tune(model, X, y, {shown})`"
    models, lasts = [], []
    keras = reference("course_utils.grading.models", "_keras")()
    for k in range(2):
        model = build(data["weights"], case["hidden"], case["rate"])
        before = _weights(model, label)
        keras.utils.set_random_seed(1000 + k)  # only fine_tune's own seeding repeats a run
        history = _fit(fine_tune, model, data, case, label)
        after = _weights(model, label)
        _check_frozen(model, before, after, label)
        if not models:
            _check_training(model, history, case, case["n"], label)
            start, end = loss_of(before, data["X"], data["y"]), loss_of(after, data["X"], data["y"])
            if not end < start:
                fail(f"{label}: the training loss went from {start:.4f} to {end:.4f}\n"
                     f"Hint: train the last layer on (X, y) with Adam(lr)")  # fmt: skip
        models.append(model)
        lasts.append(after[-2:])
    diff = max(float(np.abs(a - b).max()) for a, b in zip(*lasts, strict=True))
    if diff > 1e-5:
        fail(f"{label}: two identical models fine-tuned with the same seed ended with last "
             f"layers {diff:.3g} apart\nHint: call keras.utils.set_random_seed(seed) before "
             f"fitting, so the shuffling is reproducible")  # fmt: skip


VISIBLE = {"n": 1500, "hidden": 64, "rate": 0.2, "epochs": 3, "lr": 0.01, "batch_size": 128,
           "seed": 1}  # fmt: skip


def hidden_case(rng) -> dict:
    return {"n": int(rng.integers(1000, 1600)), "hidden": int(rng.integers(32, 80)),
            "rate": float(np.round(rng.uniform(0.1, 0.4), 2)), "epochs": int(rng.integers(2, 5)),
            "lr": float(np.round(10 ** rng.uniform(-2.5, -1.7), 5)),
            "batch_size": int(rng.integers(60, 200)), "seed": int(rng.integers(100))}  # fmt: skip


@check
def check_fine_tune(fine_tune) -> None:
    """Visible: a 784-64-10 MLP with BN and dropout, 3 epochs on 1500 images."""
    _run(fine_tune, VISIBLE, 11)


@check
def check_fine_tune_hidden(fine_tune) -> None:
    """Hidden: random width, dropout rate, epochs, lr, batch size, seed and N."""
    _run(fine_tune, hidden_case(np.random.default_rng(5112)), 111)


seal(__name__)
