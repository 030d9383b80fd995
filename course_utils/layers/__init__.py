"""Layers: the functional tier (``*_forward`` / ``*_backward``) and ``Layer`` classes.

Dense layers and activations live in ``core``, ``Sequential`` in ``container``; the
convolution, pooling and normalisation layers in ``conv``, ``pooling``, ``normalization``.
"""

from course_utils.layers.base import Layer
from course_utils.layers.container import Sequential
from course_utils.layers.core import (
    ELU,
    Dropout,
    Flatten,
    LeakyReLU,
    Linear,
    Matmul,
    PReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)

__all__ = [
    "ELU",
    "Dropout",
    "Flatten",
    "Layer",
    "LeakyReLU",
    "Linear",
    "Matmul",
    "PReLU",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
]

# The conv helper's modules; guarded until they exist (made plain once they do).
try:
    from course_utils.layers.conv import Conv2D, Conv2DNaive

    __all__ += ["Conv2D", "Conv2DNaive"]
except ImportError:  # pragma: no cover - transitional
    pass
try:
    from course_utils.layers.pooling import AvgPool2D, MaxPool2D

    __all__ += ["AvgPool2D", "MaxPool2D"]
except ImportError:  # pragma: no cover - transitional
    pass
try:
    from course_utils.layers.normalization import BatchNorm

    __all__ += ["BatchNorm"]
except ImportError:  # pragma: no cover - transitional
    pass
