"""Trained models the grader evaluates itself: copies rebuilt from their weights.

A check that grades a model (its accuracy on MNIST, its structure, its forward pass)
must not ask the student's process for predictions: a kernel can read the test labels as
easily as the grader can. It copies the model instead, by value, and evaluates the copy:

- ``keras_model_copy(model, x)``: ``model.to_json()`` and ``model.get_weights()`` from the
  student's model (built first, in the student's process, by calling it on ``x``), and a
  new model rebuilt here with Keras' safe deserialization (standard layers only; a custom
  or ``Lambda`` layer is refused, since rebuilding it would mean running student code);
- for NumPy models, read the parameter arrays (``net.params``: copies) and compute the
  forward pass with the task's reference.

Both work the same on a local model (a check in the student's own kernel), so a verdict
does not depend on where the check runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._core import call_student, fail, type_name
from .remote import Remote, remote_description

__all__ = ["keras_model_copy"]


def _keras():
    from course_utils.environment import import_tensorflow

    import_tensorflow()
    import keras

    return keras


def _is_keras_model(model: Any, keras) -> bool:
    if isinstance(model, Remote):
        return "Model" in remote_description(model).get("mro", [])
    return isinstance(model, keras.Model)


def keras_model_copy(model: Any, x: np.ndarray | None = None, *, label: str = "your model") -> Any:
    """A Keras model rebuilt here from ``model``'s architecture and weights.

    Args:
        model: the student's ``keras.Model`` (or a proxy of it).
        x: an input batch to build the model with first (in the student's process), so its
            weights exist and are the ones the student's code initialised; None if built.
        label: how messages name the model.
    """
    keras = _keras()
    if not _is_keras_model(model, keras):
        fail(
            f"{label}: expected a keras.Model (e.g. keras.Sequential([...])), got "
            f"{type_name(model)}"
        )
    if x is not None:
        call_student(model, x, label=f"{label}: calling the model on x of shape {x.shape}")
    config = call_student(model.to_json, label=f"{label}.to_json()")
    weights = call_student(model.get_weights, label=f"{label}.get_weights()")
    if not isinstance(config, str) or not isinstance(weights, list):
        fail(f"{label}: its architecture and weights could not be read")
    try:
        copy = keras.models.model_from_json(config)
    except Exception as exc:  # noqa: BLE001  (whatever Keras refuses to rebuild)
        fail(
            f"{label} could not be rebuilt from its configuration ({type(exc).__name__}: "
            f"{str(exc)[:200]}): use the standard keras.layers (no Lambda or custom layers)"
        )
    if x is not None:
        copy(np.asarray(x))
    try:
        copy.set_weights([np.asarray(w) for w in weights])
    except Exception as exc:  # noqa: BLE001
        fail(f"{label}: its weights do not fit its own architecture ({exc})")
    return copy
