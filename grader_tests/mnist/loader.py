"""Task 1 of 05_mnist: ``DataLoader(X, y, batch_size, shuffle=True, seed=None, drop_last=False)``.

The checks build ``X`` whose first column is the row number (the "sample id" of the
messages) and ``y`` equal to the sample id, so that every batch says which samples it
holds and whether its ``X`` and ``y`` rows still belong together.
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
    to_array,
)

from ._common import DOUBLES, forbid_library

_HINT = "index X and y with the same slice of a permutation: `idx = order[i:i + batch_size]`"


def _data(n: int, d: int, rng, dtype=np.float64, one_hot: bool = False):
    X = rng.standard_normal((n, d)).astype(dtype)
    X[:, 0] = np.arange(n)
    y = np.arange(n, dtype=np.int64)
    if one_hot:  # y as (N, 2): the id and the id again, so pairing stays visible
        y = np.stack([y, y], axis=1)
    return X, y


def _make(DataLoader, X, y, label, **kwargs):
    return call_student(DataLoader, X, y, label=label, **kwargs)


def _epochs(loader, n: int, label: str) -> list:
    got = call_student(reference(DOUBLES, "loader_epochs"), loader, n, label=f"iterating {label}")
    return got


def _ids(epoch, X, y, label: str, e: int) -> list[np.ndarray]:
    """Per batch, the sample ids of its X rows; fails on rows not from X or unpaired y."""
    out = []
    for i, batch in enumerate(epoch):
        if not isinstance(batch, tuple | list) or len(batch) != 2:
            fail(
                f"{label}: batch {i} of epoch {e} is {describe_value(batch)}; each batch must be "
                f"a pair `(X_batch, y_batch)` (yield X[idx], y[idx])"
            )
        xb = to_array(batch[0], f"X_batch {i}")
        yb = to_array(batch[1], f"y_batch {i}")
        if xb.ndim != 2 or xb.shape[1] != X.shape[1]:
            fail(
                f"{label}: X_batch {i} of epoch {e} has shape {xb.shape}; batches of X must keep "
                f"its rows whole, shape (batch, {X.shape[1]}) (did you swap X and y?)"
            )
        if len(yb) != len(xb):
            fail(
                f"{label}: batch {i} of epoch {e} has {len(xb)} rows of X but {len(yb)} labels: "
                f"{_HINT}"
            )
        raw = xb[:, 0].astype(np.float64)
        ids = np.clip(np.rint(raw), 0, len(X) - 1).astype(np.int64)
        if not (np.all(np.abs(raw - ids) < 1e-6) and np.all(xb == X[ids])):
            fail(
                f"{label}: X_batch {i} of epoch {e} holds rows that are not rows of X: a batch "
                f"must be rows of X, unchanged (X[idx])"
            )
        yid = yb if yb.ndim == 1 else yb[:, 0]
        if not np.array_equal(yid, y[ids] if y.ndim == 1 else y[ids, 0]):
            bad = int(np.flatnonzero(yid != (y[ids] if y.ndim == 1 else y[ids, 0]))[0])
            msg = (
                f"{label}: X and y no longer line up: row {bad} of X_batch {i} (epoch {e}) is "
                f"sample {int(ids[bad])} but its label belongs to sample {int(yid[bad])}"
            )
            if np.all(np.diff(yid) == 1):
                msg += (
                    "; the labels come in the original order while the X rows are shuffled: "
                    "shuffle y with the same indices as X"
                )
            fail(f"{msg}. Hint: {_HINT}")
        out.append(ids)
    return out


def _check_epoch(ids: list[np.ndarray], n, batch_size, drop_last, label, e) -> np.ndarray:
    sizes = [len(b) for b in ids]
    full, rest = divmod(n, batch_size)
    want = [batch_size] * full + ([rest] if rest and not drop_last else [])
    every = np.concatenate(ids) if ids else np.zeros(0, np.int64)
    uniq, counts = np.unique(every, return_counts=True)
    if (counts > 1).any():
        k = int(uniq[counts > 1][0])
        fail(
            f"{label}: sample {k} appears {int(counts[counts > 1][0])} times in epoch {e} "
            f"({int((counts - 1).sum())} repeats in all): every sample must appear exactly once "
            f"per epoch. Drawing indices with replacement (rng.integers, rng.choice without "
            f"replace=False) repeats some and skips others; use rng.permutation(N)"
        )
    if sizes != want:
        if drop_last and rest and sizes == want + [rest]:
            fail(
                f"{label}: with drop_last=True the last, partial batch of {rest} samples must "
                f"be left out; your epoch {e} has batch sizes {sizes[:3]}...{sizes[-2:]}"
            )
        if not drop_last and rest and sizes == want[:-1]:
            fail(
                f"{label}: the last, partial batch of {rest} samples is missing from epoch {e} "
                f"(N = {n}, batch_size = {batch_size}): keep it unless drop_last=True "
                f"(range(0, N, batch_size) covers it; N // batch_size batches do not)"
            )
        fail(
            f"{label}: epoch {e} has batch sizes {sizes}; for N = {n} and batch_size = "
            f"{batch_size} (drop_last={drop_last}) expected {want}"
        )
    expected_ids = n if not drop_last else full * batch_size
    if len(uniq) != expected_ids:
        fail(f"{label}: epoch {e} visits {len(uniq)} different samples, expected {expected_ids}")
    return every


def _check_len(loader, n, batch_size, drop_last, label) -> None:
    got = call_student(
        reference("course_utils.grading.doubles", "length"), loader, label=f"len({label})"
    )
    full, rest = divmod(n, batch_size)
    want = full + (1 if rest and not drop_last else 0)
    if got != want:
        why = ""
        if got == full + (1 if rest else 0) and drop_last:
            why = " (with drop_last=True the partial batch does not count)"
        elif got == full and rest:
            why = " (the last, partial batch counts too: round up, -(-N // batch_size))"
        elif isinstance(got, float):
            why = " (len must be an int: use // rather than /)"
        fail(
            f"len({label}) is {got!r}, expected {want} batches for N = {n}, batch_size = "
            f"{batch_size}, drop_last={drop_last}{why}"
        )


def _case(DataLoader, n, d, batch_size, seed, rng, *, drop_last=False, dtype=np.float64,
          one_hot=False, epochs=3) -> None:  # fmt: skip
    X, y = _data(n, d, rng, dtype, one_hot)
    label = f"DataLoader(X, y, batch_size={batch_size}, seed={seed}" + (
        ", drop_last=True)" if drop_last else ")"
    )
    label += f" (N = {n})"
    loader = _make(DataLoader, X, y, label, batch_size=batch_size, seed=seed, drop_last=drop_last)
    _check_len(loader, n, batch_size, drop_last, label)
    runs = _epochs(loader, epochs, label)
    if len(runs[0]) == 0:
        if n < batch_size and not drop_last:
            fail(
                f"{label}: iterating the loader gave no batches: with N = {n} < batch_size, "
                f"the last, partial batch of {n} samples is missing, and it is the only one "
                f"(keep it unless drop_last=True)"
            )
        fail(f"{label}: iterating the loader gave no batches (does __iter__ yield?)")
    orders = []
    for e, epoch in enumerate(runs, start=1):
        ids = _ids(epoch, X, y, label, e)
        orders.append(_check_epoch(ids, n, batch_size, drop_last, label, e))
    first = orders[0]
    if n >= 8 and not drop_last and np.array_equal(first, np.arange(n)):
        fail(
            f"{label}: shuffle=True (the default) but epoch 1 visits the samples in their "
            f"original order 0, 1, 2, ...: draw a permutation for every epoch"
        )
    if n >= 8 and all(np.array_equal(o, first) for o in orders[1:]):
        fail(
            f"{label}: all {epochs} epochs visit the samples in the SAME order: a loader must "
            f"reshuffle at the start of every epoch. Draw `order = self.rng.permutation(N)` in "
            f"__iter__ (each epoch), from a generator made ONCE in __init__ from the seed; "
            f"permuting once in __init__, or re-creating the generator in __iter__, repeats "
            f"one order"
        )
    again = _epochs(_make(DataLoader, X, y, label, batch_size=batch_size, seed=seed,
                          drop_last=drop_last), epochs, label)  # fmt: skip
    again_orders = [np.concatenate([b[0][:, 0] for b in ep]).astype(np.int64) for ep in again]
    if any(not np.array_equal(a, b) for a, b in zip(orders, again_orders, strict=True)):
        fail(
            f"{label}: two loaders made with seed={seed} give different batches: the order "
            f"must be reproducible. Make the generator from the seed in __init__, "
            f"`self.rng = np.random.default_rng(seed)`, and draw every permutation from it "
            f"(not from np.random.shuffle / np.random.permutation, the global generator)"
        )
    other = _epochs(_make(DataLoader, X, y, label, batch_size=batch_size, seed=seed + 1,
                          drop_last=drop_last), 1, label)  # fmt: skip
    other_order = np.concatenate([b[0][:, 0] for b in other[0]]).astype(np.int64)
    if n >= 8 and np.array_equal(other_order, first):
        fail(f"{label}: seed={seed} and seed={seed + 1} give the same order: the seed is ignored")


def _check_no_shuffle(DataLoader, n, batch_size, rng) -> None:
    X, y = _data(n, 3, rng)
    label = f"DataLoader(X, y, batch_size={batch_size}, shuffle=False) (N = {n})"
    loader = _make(DataLoader, X, y, label, batch_size=batch_size, shuffle=False)
    for e, epoch in enumerate(_epochs(loader, 2, label), start=1):
        ids = np.concatenate(_ids(epoch, X, y, label, e))
        if not np.array_equal(ids, np.arange(n)):
            fail(
                f"{label}: with shuffle=False the batches must follow the original order "
                f"0, 1, 2, ..., got samples {ids[:8].tolist()}... in epoch {e}"
            )


def _check_bad_arguments(DataLoader, rng) -> None:
    X, y = _data(10, 3, rng)
    cases = [
        ((X, y), {"batch_size": 0}, "batch_size=0"),
        ((X, y), {"batch_size": -4}, "batch_size=-4"),
        ((X, y), {"batch_size": 2.5}, "batch_size=2.5"),
        ((X, y[:7]), {"batch_size": 4}, "len(X) = 10 but len(y) = 7"),
    ]
    for args, kwargs, what in cases:
        try:
            call_student(DataLoader, *args, label="DataLoader", **kwargs)
        except AssertionError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValueError):
                continue
            if cause is None:
                raise
            fail(
                f"DataLoader with {what} raised {type(cause).__name__} ({str(cause)[:120]}); "
                f"refuse bad arguments in __init__ with a ValueError that names the argument"
            )
        else:
            fail(
                f"DataLoader with {what} was accepted: refuse it in __init__ with a ValueError "
                f'naming the argument (e.g. `raise ValueError(f"batch_size: expected a positive '
                f'int, got {{batch_size!r}}")`); a bad batch size otherwise loops forever or '
                f"yields empty batches, and unequal X and y silently drop samples"
            )


def _check_copies(DataLoader, rng) -> None:
    X, y = _data(6000, 40, rng)
    label = "DataLoader(X, y, batch_size=50, seed=0) (N = 6000, X of 1.9 MB)"
    loader = _make(DataLoader, X, y, label, batch_size=50, seed=0)
    peak = call_student(reference(DOUBLES, "loader_peak_bytes"), loader, label=f"iterating {label}")
    if peak > X.nbytes // 2:
        fail(
            f"{label}: while yielding its batches the loader allocates {peak / 1e6:.1f} MB at "
            f"once, as much as the whole dataset ({X.nbytes / 1e6:.1f} MB): it copies all of X "
            f"for each batch (X[order][i:j], or np.take of the whole array). Slice the "
            f"permutation instead, `idx = order[i:i + batch_size]`, and return X[idx], y[idx]"
        )


def _preamble(DataLoader) -> None:
    expect_callable(DataLoader, "DataLoader", kind="class")
    forbid_library(DataLoader, "DataLoader", "write the loader with rng.permutation and slicing")


def visible(DataLoader) -> None:
    """The visible cases (also run to say which earlier task a trained network blames)."""
    _preamble(DataLoader)
    rng = np.random.default_rng(5)
    _case(DataLoader, 103, 3, 32, 0, rng)
    _case(DataLoader, 103, 3, 32, 0, rng, drop_last=True)
    _check_no_shuffle(DataLoader, 20, 6, rng)
    _check_bad_arguments(DataLoader, rng)
    _check_copies(DataLoader, rng)


@check
def check_data_loader(DataLoader) -> None:
    """Visible: N = 103, batches of 32, 3 epochs; drop_last; shuffle=False; bad arguments;
    no copy of the whole dataset per batch."""
    visible(DataLoader)


@check
def check_data_loader_hidden(DataLoader) -> None:
    """Hidden: random sizes and seeds, N a multiple of the batch size, batch size 1 and > N,
    float32 X, (N, 2) targets."""
    _preamble(DataLoader)
    rng = np.random.default_rng(int(np.random.SeedSequence().entropy % 2**32))
    n, b = int(rng.integers(40, 300)), int(rng.integers(3, 17))
    n += 1 if n % b == 0 else 0  # a partial last batch
    _case(DataLoader, n, int(rng.integers(2, 6)), b, int(rng.integers(100)), rng)
    _case(DataLoader, 96, 4, 16, 7, rng)  # N a multiple of the batch size
    _case(DataLoader, 96, 4, 16, 7, rng, drop_last=True)
    _case(DataLoader, 100, 3, 7, 2, rng, drop_last=True)
    _case(DataLoader, 9, 2, 1, 3, rng)  # batch size 1
    _case(DataLoader, 10, 2, 25, 1, rng)  # one partial batch
    _case(DataLoader, 57, 3, 8, 11, rng, dtype=np.float32, one_hot=True)
    _check_no_shuffle(DataLoader, 33, 10, rng)


seal(__name__)
