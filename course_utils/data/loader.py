"""A minimal mini-batch loader over in-memory arrays."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from course_utils._validate import as_array, check_positive_int


class DataLoader:
    """Iterate over ``(X_batch, y_batch)`` mini-batches; each ``iter()`` is one epoch.

    With ``shuffle=True`` every epoch visits the samples in a new random order; the
    order comes from a generator seeded once at construction, so two loaders built with
    the same ``seed`` produce the same sequence of epochs (``seed=None``: not
    reproducible). Every sample appears exactly once per epoch (the last batch may be
    smaller unless ``drop_last``).

    Example:
        >>> loader = DataLoader(X, y, batch_size=64, seed=0)
        >>> for epoch in range(num_epochs):
        ...     for X_batch, y_batch in loader:
        ...         ...

    Args:
        X: (N, ...) inputs (any numeric dtype).
        y: (N, ...) targets (class indices or one-hot / real values).
        batch_size: samples per batch, a positive int.
        shuffle: reshuffle at the start of every epoch.
        drop_last: skip the final batch if it has fewer than ``batch_size`` samples.
        seed: seed of the shuffling.

    Batches are copies when shuffling and views of ``X``/``y`` otherwise; do not modify
    them in place.
    """

    def __init__(
        self,
        X,
        y,
        batch_size: int,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int | None = None,
    ):
        self.X = as_array(X, "X", dtype_kind="fiub")
        self.y = as_array(y, "y", dtype_kind="fiub")
        if self.X.ndim < 1 or self.y.ndim < 1:
            bad = "X" if self.X.ndim < 1 else "y"
            raise ValueError(f"{bad}: expected at least 1 dimension (N, ...), got a scalar")
        if len(self.X) != len(self.y):
            raise ValueError(
                f"X and y: expected the same number of samples, got len(X) = {len(self.X)} "
                f"and len(y) = {len(self.y)}"
            )
        if len(self.X) == 0:
            raise ValueError("X: expected at least one sample, got 0")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        if drop_last and self.batch_size > len(self.X):
            raise ValueError(
                f"batch_size: {self.batch_size} is larger than the {len(self.X)} samples, so "
                "drop_last=True would give no batch at all"
            )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
            raise ValueError(f"seed: expected an int or None, got {seed!r}")
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    @property
    def num_samples(self) -> int:
        """N, the number of samples."""
        return len(self.X)

    def __len__(self) -> int:
        """Number of batches per epoch."""
        n, b = len(self.X), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        # The epoch's order is drawn here, when iter() is called, not at the first next().
        order = self._rng.permutation(len(self.X)) if self.shuffle else None
        return self._batches(order)

    def _batches(self, order: np.ndarray | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n, b = len(self.X), self.batch_size
        for i in range(len(self)):
            if order is None:
                sl = slice(i * b, min((i + 1) * b, n))
                yield self.X[sl], self.y[sl]
            else:
                idx = order[i * b : (i + 1) * b]
                yield self.X[idx], self.y[idx]

    def __repr__(self) -> str:
        return (
            f"DataLoader(N={len(self.X)}, batch_size={self.batch_size}, batches={len(self)}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, seed={self.seed})"
        )
