"""Diagnoses of a wrong standardisation, shared by 04_iris (``standardize(X_train, X_test)``)
and 07_tuning (``standardize(train, *others)``); not checks themselves.

Every function takes the arrays in float64 (the student's results and the inputs) and a
``names`` pair: how the messages call the training array and the other arrays (iris:
``("X_train", "X_test")``; 07: ``("train", "others")``). A diagnosis is returned only
when the student's values equal, within the check's tolerance, what the named slip
computes on these very inputs.
"""

from __future__ import annotations

import numpy as np

from course_utils.grading import seal


def std_reference(train, others, ddof=0, stats_from=None) -> list:
    """``[(a - mean) / std for a in (train, *others)]``, the statistics per feature of
    ``stats_from`` (default ``train``); a feature of std 0 is divided by 1."""
    source = train if stats_from is None else stats_from
    mean = source.mean(axis=0)
    std = source.std(axis=0, ddof=ddof)
    std = np.where(std > 0, std, 1.0)
    return [(a - mean) / std for a in (train, *others)]


def close(a, b, rtol, atol) -> bool:
    return a.shape == b.shape and bool(
        np.all(np.isfinite(a)) and np.all(np.abs(a - b) <= atol + rtol * np.abs(b))
    )


def train_diagnosis(got_tr, got_other, X_train, others, rtol, atol, names) -> str:
    """Name the likely bug behind a wrong standardised training array ('' if unknown).

    ``got_other``: the student's result for ``others[0]`` (None if there is none), which
    must fit the same slip when the slip predicts it."""
    train_name, others_name = names
    word, leaked = (("test", "the test set") if others_name == "X_test"
                    else ("others", "the other arrays (validation, test)"))  # fmt: skip
    both = np.concatenate([X_train, *others])
    tr_mean, tr_std = X_train.mean(axis=0), X_train.std(axis=0)
    safe = np.where(tr_std > 0, tr_std, 1.0)
    first = others[0] if others else X_train
    with np.errstate(all="ignore"):
        candidates = [
            (
                (std_reference(X_train, others[:1], stats_from=both) + [None])[:2],
                f"the statistics come from train AND {word} together: that leaks {leaked} "
                f"into preprocessing. Compute mean and std on {train_name} only",
            ),
            (
                (
                    (X_train - X_train.mean(axis=1, keepdims=True))
                    / X_train.std(axis=1, keepdims=True),
                    None,
                ),
                "these are statistics per SAMPLE (axis=1); standardise each FEATURE, i.e. "
                "reduce over the rows with axis=0",
            ),
            (
                (
                    (X_train - X_train.mean()) / X_train.std(),
                    (first - X_train.mean()) / X_train.std(),
                ),
                "one mean and one std for the whole matrix: compute them per feature "
                "(axis=0), one value per column",
            ),
            (
                (X_train - tr_mean, first - tr_mean),
                "you subtracted the mean but did not divide by the standard deviation",
            ),
            (
                ((X_train - tr_mean) / np.where(tr_std > 0, tr_std**2, 1.0), None),
                "you divided by the variance; divide by the standard deviation (np.std)",
            ),
            (
                (X_train / safe, first / safe),
                "you divided by the standard deviation but did not subtract the mean",
            ),
        ]
    for predicted, why in candidates:
        exp_tr, exp_te = predicted[0], (predicted[1] if others else None)
        if exp_tr is not None and close(got_tr, exp_tr, rtol, atol):
            if exp_te is None or got_other is None or close(got_other, exp_te, rtol, atol):
                return why
    return ""


def other_diagnosis(got, X_train, X_other, others, rtol, atol, names) -> str:
    """Name the likely bug behind a wrong standardised other array (the training one is
    right): its own statistics, or those of everything together ('' if neither)."""
    train_name, other_name = names
    own = std_reference(X_other, [])[0] if len(X_other) > 0 else None
    with np.errstate(all="ignore"):
        both = std_reference(X_train, [X_other], stats_from=np.concatenate([X_train, *others]))[1]
    if own is not None and close(got, own, rtol, atol):
        return (
            f"you standardised {other_name} with its OWN mean and std. The test set stands "
            f"for future data: reuse the statistics computed on {train_name}."
        )
    if close(got, both, rtol, atol):
        return f"the test statistics leak in: compute mean and std on {train_name} only."
    return ""


def nonfinite_message(arr, X_train, name, label, train_name) -> str:
    """The failure message for nan/inf in a result, naming a feature constant on the
    training set when that is where they are."""
    col = int(np.flatnonzero(~np.all(np.isfinite(arr), axis=0))[0])
    const = np.ptp(X_train[:, col]) == 0
    return f"{label}: `{name}` contains nan/inf in column {col}" + (
        "; that feature is constant on the training set (std 0). The task says: "
        "divide such a feature by 1 instead, e.g. `std = np.where(std > 0, std, 1.0)`"
        if const
        else ": a division by a zero standard deviation? Compute one mean and "
        f"std per feature (axis=0) on {train_name}"
    )


seal(__name__)
