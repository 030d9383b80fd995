"""The Layer base class every course_utils layer derives from.

A layer keeps what ``backward`` needs in a private cache filled by ``forward``;
parameters and their gradients live in dicts keyed by the same names, so optimisers
can walk ``params``/``grads`` without knowing the layer type.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Layer:
    """Base class: ``forward(x) -> out``, ``backward(dout) -> dx``.

    Attributes:
        params: name -> parameter array (updated in place by optimisers).
        grads: name -> gradient array of the same shape, filled by ``backward``.
        training: True in training mode (Dropout, BatchNorm behave differently).
    """

    def __init__(self, name: str | None = None):
        self.name = name or type(self).__name__.lower()
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.training = True
        self._cache: Any = None

    # --- the two methods subclasses implement -------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # --- shared behaviour ---------------------------------------------------------
    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def _pop_cache(self) -> Any:
        """Return the forward cache, or raise if ``backward`` comes before ``forward``."""
        if self._cache is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward called before forward: "
                "run forward(x) first so the layer has the values it needs"
            )
        return self._cache

    def zero_grad(self) -> None:
        for key, value in self.params.items():
            self.grads[key] = np.zeros_like(value)

    def train(self) -> Layer:
        self.training = True
        return self

    def eval(self) -> Layer:
        self.training = False
        return self

    def num_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of one sample's output given one sample's input shape (for ``summary``)."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}

    def __repr__(self) -> str:
        cfg = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({cfg})"
