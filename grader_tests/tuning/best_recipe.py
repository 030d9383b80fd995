"""Task 12 of 07_tuning: the best recipe, ``check_best_recipe(best_model)``.

``best_model`` is a trained Keras MLP: it takes the MNIST test images as
``course_utils.data.load_mnist(flatten=True)`` gives them, (N, 784) float32 in [0, 1], and
outputs (N, 10) logits or probabilities (the prediction is the argmax of either). Any
standard layer is allowed (Dense, BatchNormalization, Dropout, Activation, Flatten,
Reshape, GaussianNoise, ...) except convolutions, pooling, locally-connected, recurrent
and attention layers, looked for in every layer, nested models and wrappers included.

The model is graded from a copy rebuilt here from its configuration and weights
(``keras_model_copy``), evaluated here on the 10 000 test images: >= 98.5 %. Messages for
a wrong object (a History instead of the model, a non-Keras object), inputs that are not
(N, 784), outputs that are not (N, 10), and NaN/inf outputs (naming the NaN weights).

The hidden check adds the test of ``grader_tests.mnist.train.fitted_to_training_set``: a
network does better on the images it learned from, so one clearly better on the 10 000
test images than on the first 6000 training images was trained on the test set.
"""

from __future__ import annotations

import re

import numpy as np

from course_utils.grading import check, fail, keras_model_copy, seal, type_name
from grader_tests.mnist._common import mnist_test
from grader_tests.mnist.train import fitted_to_training_set

ACCURACY_THRESHOLD = 0.985
LABEL = "your best_model"
#: Layer classes (or their bases) that make a model something other than an MLP.
_REFUSED = re.compile(r"Conv|Pool|LocallyConnected|RNN|LSTM|GRU|Attention|Bidirectional")
_ALLOWED = ("Dense, BatchNormalization, Dropout, Activation, ReLU, Flatten, Reshape, "
            "GaussianNoise, ...")  # fmt: skip


def _walk(layer):
    """The layer, and every layer inside it (nested models, wrappers such as
    TimeDistributed), depth first."""
    yield layer
    for sub in getattr(layer, "layers", None) or ():
        yield from _walk(sub)
    inner = getattr(layer, "layer", None)
    if inner is not None and inner is not layer:
        yield from _walk(inner)


def refused_layers(model) -> list[str]:
    """Names of the layers that are convolutions, pooling, recurrent, attention..."""
    out = []
    for layer in _walk(model):
        bases = [c.__name__ for c in type(layer).__mro__]
        if any(_REFUSED.search(b) for b in bases):
            out.append(f"{type(layer).__name__} ({layer.name})")
    return out


def _input_shape(model):
    try:
        shape = model.input_shape  # a Keras property (a request to the kernel for a proxy)
    except Exception:  # noqa: BLE001  (not built yet, several inputs, not Keras...)
        return None
    if isinstance(shape, tuple | list) and all(d is None or isinstance(d, int) for d in shape):
        return tuple(shape)
    return None


def _predict(copy, x) -> np.ndarray:
    return np.concatenate(
        [np.asarray(copy(x[i : i + 2000], training=False)) for i in range(0, len(x), 2000)]
    )


def keras_accuracy(copy, x, y) -> float:
    return float(np.mean(_predict(copy, x).argmax(axis=1) == y))


def _copy(model, x):
    if type_name(model) == "History":
        fail(f"{LABEL} is the History that model.fit returned: pass the trained model "
             f"itself, check_best_recipe(best_model), not what best_model.fit(...) "
             f"returns")  # fmt: skip
    shape = _input_shape(model)
    if shape is not None and shape[1:] != (784,):
        fail(
            f"{LABEL} takes inputs of shape {shape}; the check feeds the test images as "
            f"load_mnist(flatten=True) gives them, (N, 784) float32 in [0, 1]\nHint: start "
            f"the model with keras.Input((784,)) (a Reshape((28, 28)) after it if a layer "
            f"needs the image shape)"
        )
    copy = keras_model_copy(model, x[:2], label=LABEL)
    bad = refused_layers(copy)
    if bad:
        fail(
            f"{LABEL} contains {', '.join(bad[:4])}{' ...' if len(bad) > 4 else ''}: task 12 "
            f"asks for an MLP ({_ALLOWED}); convolution, pooling, locally-connected, "
            f"recurrent and attention layers are not allowed (06_cnn is where they belong)"
        )
    out = np.asarray(copy(x[:2], training=False))
    if out.shape != (2, 10):
        fail(
            f"{LABEL} outputs shape {out.shape} for 2 images; expected (2, 10): one logit "
            f"(or probability) per class\nHint: end the model with Dense(10) (logits, or "
            f"activation='softmax')"
        )
    return copy


def _nonfinite_weights(copy) -> list[str]:
    names = []
    for layer in _walk(copy):
        if getattr(layer, "layers", None):
            continue  # a model: its layers are walked themselves
        if any(not np.all(np.isfinite(np.asarray(w))) for w in layer.get_weights()):
            names.append(layer.name)
    return names


def _check(model, hidden: bool) -> None:
    x, y = mnist_test()
    copy = _copy(model, x)
    pred = _predict(copy, x)
    if not np.all(np.isfinite(pred)):
        rows = int(np.sum(~np.all(np.isfinite(pred), axis=1)))
        bad = _nonfinite_weights(copy)
        why = (f"the weights of layer(s) {', '.join(bad)} contain NaN or inf: training "
               f"diverged (a learning rate too large?); retrain and watch the loss"
               if bad else "the weights are finite: look for a layer that overflows")  # fmt: skip
        fail(f"{LABEL}: its outputs contain NaN or inf for {rows} of the {len(x)} test "
             f"images\nHint: {why}")  # fmt: skip
    acc = float(np.mean(pred.argmax(axis=1) == y))
    if not acc >= ACCURACY_THRESHOLD:
        fail(
            f"{LABEL}: test accuracy {acc:.2%} (computed here from its weights on the "
            f"{len(x)} test images) is below the required {ACCURACY_THRESHOLD:.1%}\nHint: "
            f"wide hidden layers (e.g. 2 x 1024) with BatchNormalization and Dropout "
            f"(0.2-0.4), Adam with a decaying learning rate (e.g. cosine decay from 2e-3), "
            f"batch size 128, 10-20 epochs"
        )
    if hidden:
        fitted_to_training_set(copy, acc, LABEL, accuracy=keras_accuracy)


@check
def check_best_recipe(best_model) -> None:
    """Visible: an MLP (no convolutions) with >= 98.5 % on the 10 000 test images."""
    _check(best_model, hidden=False)


@check
def check_best_recipe_hidden(best_model) -> None:
    """Hidden: the same, and trained on the training set (not on the test set)."""
    _check(best_model, hidden=True)


seal(__name__)
