"""Task 5 of 06_cnn: ``build_vgg``, a VGG-style Keras CNN with batch normalisation.

Interface::

    build_vgg(widths=(W1, W2), dense_units=D, seed=0) -> keras.Model
        input (28, 28, 1); for each width: [Conv2D(w, 3, padding="same", no activation),
        BatchNormalization, ReLU] twice, then MaxPooling2D(2); Flatten; Dense(D, relu);
        Dense(10) without activation (logits)

``check_build_vgg`` reads the architecture from a copy of the model rebuilt here from its
configuration (``keras_model_copy``). ``check_vgg_accuracy`` grades the trained model by
its weights, evaluated here on the 10,000 test images (>= 99.2 %).
"""

from __future__ import annotations

import numpy as np

from course_utils.grading import call_student, check, expect_callable, fail, keras_model_copy, seal

from .small_cnn import mnist_test

ACCURACY_THRESHOLD = 0.992


def _kind(layer) -> str:
    name = type(layer).__name__
    if name == "Activation":
        act = getattr(layer.activation, "__name__", str(layer.activation))
        return "ReLU" if act == "relu" else f"Activation({act})"
    if name in ("Conv2D", "Dense"):
        act = getattr(layer.activation, "__name__", "")
        return name if act == "linear" else f"{name}+{act}"
    return name


def _structure(model) -> list[str]:
    return [_kind(layer) for layer in model.layers if type(layer).__name__ != "InputLayer"]


def check_architecture(copy, widths, dense_units, label: str) -> None:
    kinds = _structure(copy)
    shown = " -> ".join(kinds)
    block = ["Conv2D", "BatchNormalization", "ReLU"] * 2 + ["MaxPooling2D"]
    expected = block * len(widths) + ["Flatten", "Dense+relu", "Dense"]
    if kinds != expected:
        hint = ""
        if any(k.startswith("Conv2D+") for k in kinds):
            hint = (
                " A Conv2D with an activation applies it BEFORE batch normalisation: leave "
                "the Conv2D linear and put the ReLU after BatchNormalization."
            )
        elif "BatchNormalization" not in kinds:
            hint = " Batch normalisation is missing: Conv2D -> BatchNormalization -> ReLU."
        elif kinds and kinds[-1] != "Dense":
            hint = " The last Dense layer outputs logits: no activation (the loss applies softmax)."
        fail(f"{label}: the layers are\n  {shown}\nexpected\n  {' -> '.join(expected)}.{hint}")
    convs = [layer for layer in copy.layers if type(layer).__name__ == "Conv2D"]
    got_widths = [c.filters for c in convs]
    want = [w for w in widths for _ in range(2)]
    if got_widths != want:
        fail(
            f"{label}: the convolutions have {got_widths} filters, expected {want} for "
            f"widths={tuple(widths)}"
        )
    for c in convs:
        if tuple(c.kernel_size) != (3, 3) or c.padding != "same" or tuple(c.strides) != (1, 1):
            fail(
                f"{label}: every Conv2D is 3x3, stride 1, padding='same'; got kernel "
                f"{tuple(c.kernel_size)}, strides {tuple(c.strides)}, padding {c.padding!r}"
            )
    dense = [layer for layer in copy.layers if type(layer).__name__ == "Dense"]
    if dense[0].units != dense_units or dense[1].units != 10:
        fail(
            f"{label}: the Dense layers have {dense[0].units} and {dense[1].units} units, "
            f"expected {dense_units} and 10"
        )
    if tuple(copy.output_shape) != (None, 10):
        fail(f"{label}: output shape {copy.output_shape}, expected (None, 10)")


def _build(build_vgg, widths, dense_units, seed):
    model = call_student(
        build_vgg,
        widths=widths,
        dense_units=dense_units,
        seed=seed,
        label=f"`build_vgg(widths={widths}, dense_units={dense_units})`",
        check_mutation=False,
    )
    x = np.random.default_rng(seed).random((2, 28, 28, 1)).astype(np.float32)
    return keras_model_copy(model, x, label=f"build_vgg(widths={widths})"), model


@check
def check_build_vgg(build_vgg) -> None:
    """Visible: the notebook's sizes; layer kinds and order, widths, logits out."""
    expect_callable(build_vgg, "build_vgg")
    copy, _ = _build(build_vgg, (16, 32), 128, 0)
    check_architecture(copy, (16, 32), 128, "build_vgg(widths=(16, 32), dense_units=128)")


@check
def check_build_vgg_hidden(build_vgg) -> None:
    """Hidden: other widths and block counts; the seed makes the weights reproducible."""
    expect_callable(build_vgg, "build_vgg")
    for widths, dense in (((8,), 16), ((4, 8, 12), 32)):
        copy, _ = _build(build_vgg, widths, dense, 1)
        check_architecture(copy, widths, dense, f"build_vgg(widths={widths}, dense_units={dense})")
    a, _ = _build(build_vgg, (4, 8), 16, 3)
    b, _ = _build(build_vgg, (4, 8), 16, 3)
    if not all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights(), strict=True)):
        fail(
            "build_vgg: two models built with the same seed have different weights: seed the "
            "initialisers (keras.utils.set_random_seed(seed) before building)"
        )


def _check_accuracy(model) -> None:
    x, y = mnist_test()
    x = x.transpose(0, 2, 3, 1)  # NHWC for Keras
    copy = keras_model_copy(model, x[:2], label="your Keras model")
    kinds = _structure(copy)
    if "BatchNormalization" not in kinds or "Conv2D" not in kinds:
        fail(
            f"your Keras model: expected the VGG-style network of build_vgg, got the layers "
            f"{' -> '.join(kinds)}"
        )
    logits = np.asarray(copy.predict(x, batch_size=1000, verbose=0))
    if not np.isfinite(logits).all():
        fail("your Keras model: its outputs contain NaN or inf on the test images")
    acc = float(np.mean(logits.argmax(axis=1) == y))
    if not acc >= ACCURACY_THRESHOLD:
        fail(
            f"your Keras model: test accuracy {acc:.2%} is below the required "
            f"{ACCURACY_THRESHOLD:.1%}: check build_vgg's test, then train for the given "
            f"epochs with Adam (lr 1e-3 ... 3e-3) and batch size 128"
        )


@check
def check_vgg_accuracy(model) -> None:
    """Visible: the trained model, rebuilt here from its weights, reaches >= 99.2 %."""
    _check_accuracy(model)


@check
def check_vgg_accuracy_hidden(model) -> None:
    """Hidden: the same evaluation (the points come from the weights only)."""
    _check_accuracy(model)


seal(__name__)
