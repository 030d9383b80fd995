"""Layers: the functional tier (``*_forward`` / ``*_backward``) and ``Layer`` classes.

Dense layers and activations live in ``core``, ``Sequential`` in ``container``; the
convolution, pooling and normalisation layers in ``conv``, ``pooling``, ``normalization``.
"""

from course_utils.layers.base import Layer
from course_utils.layers.container import Sequential
from course_utils.layers.conv import Conv2D, Conv2DNaive
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
from course_utils.layers.normalization import BatchNorm
from course_utils.layers.pooling import AvgPool2D, MaxPool2D

__all__ = [
    "ELU",
    "AvgPool2D",
    "BatchNorm",
    "Conv2D",
    "Conv2DNaive",
    "Dropout",
    "Flatten",
    "Layer",
    "LeakyReLU",
    "Linear",
    "Matmul",
    "MaxPool2D",
    "PReLU",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
]
