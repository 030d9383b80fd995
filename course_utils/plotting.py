"""Plotting helpers that make a notebook read like the book.

Every function draws a complete figure (title, axis labels, legend where there are
several curves) and returns the ``matplotlib.figure.Figure``, so tests and notebooks can
inspect or save it. In Jupyter, write ``fig = plot_history(history)`` or end the line
with ``;``: a Figure that is the last value of a cell is otherwise shown twice (once by
the inline backend, once as the cell's result).

- :func:`plot_history`: train vs validation loss and accuracy per epoch.
- :func:`plot_image_grid`: images with labels, predictions and mistakes in red.
- :func:`plot_confusion_matrix` (and :func:`confusion_matrix`).
- :func:`plot_decision_boundary`: class regions of a 2-D classifier.
- :func:`plot_conv_filters`: the (F, C, HH, WW) filters of a conv layer.
- :func:`plot_function_fit`: a regression curve against the true function.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator
from numpy.typing import ArrayLike

from course_utils._validate import as_array, check_positive_int

__all__ = [
    "confusion_matrix",
    "plot_confusion_matrix",
    "plot_conv_filters",
    "plot_decision_boundary",
    "plot_function_fit",
    "plot_history",
    "plot_image_grid",
]

MISTAKE_COLOR = "tab:red"


# --- training curves --------------------------------------------------------------------
def _history_dict(history) -> dict[str, list[float]]:
    """A course ``History``, a Keras ``History`` or a plain dict -> {name: values}."""
    if hasattr(history, "as_dict"):
        d = history.as_dict()
    elif isinstance(getattr(history, "history", None), Mapping):  # keras.callbacks.History
        d = dict(history.history)
    elif isinstance(history, Mapping):
        d = dict(history)
    else:
        raise ValueError(
            f"history: expected a History, a Keras History or a dict of lists, "
            f"got {type(history).__name__}"
        )
    if "loss" not in d or len(d["loss"]) == 0:
        raise ValueError(f"history: expected a non-empty 'loss' record, got keys {sorted(d)}")
    return {k: list(np.asarray(v, dtype=float).ravel()) for k, v in d.items()}


def plot_history(history, title: str | None = None) -> Figure:
    """Loss (and accuracy, when recorded) per epoch, training vs validation.

    Args:
        history: ``train.History``, ``keras.callbacks.History`` or a dict with "loss" and
            optionally "val_loss", "accuracy", "val_accuracy" (per-epoch lists).
        title: optional figure title.

    Returns:
        The Figure: one Axes for the loss, a second one for the accuracy if present.
    """
    d = _history_dict(history)
    acc_key = next((k for k in ("accuracy", "acc") if k in d), None)
    panels = [("loss", "loss", "Loss")]
    if acc_key is not None:
        panels.append((acc_key, "accuracy", "Accuracy"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    epochs = d.get("epoch") or list(range(1, len(d["loss"]) + 1))
    for ax, (key, label, name) in zip(axes[0], panels, strict=True):
        scale = 100.0 if label == "accuracy" else 1.0
        ax.plot(epochs, np.asarray(d[key]) * scale, "o-", label="train")
        if f"val_{key}" in d:
            ax.plot(epochs, np.asarray(d[f"val_{key}"]) * scale, "s--", label="validation")
        ax.set_title(f"{name} per epoch")
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"{label} (%)" if scale == 100.0 else label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# --- images -----------------------------------------------------------------------------
def _as_images(images: ArrayLike, name: str = "images") -> np.ndarray:
    """(N, H, W), (N, H, W, 1|3), (N, 1|3, H, W) or flat square (N, D) -> (N, H, W[, 3])."""
    x = as_array(images, name, ndim=(2, 3, 4), dtype_kind="fiub")
    if x.ndim == 2:
        side = math.isqrt(x.shape[1])
        if side * side != x.shape[1]:
            raise ValueError(
                f"{name}: flat images need a square number of pixels (e.g. 784 = 28x28), "
                f"got shape {x.shape}"
            )
        x = x.reshape(len(x), side, side)
    elif x.ndim == 4:
        if x.shape[1] in (1, 3) and x.shape[-1] not in (1, 3):
            x = x.transpose(0, 2, 3, 1)
        if x.shape[-1] not in (1, 3):
            raise ValueError(f"{name}: expected 1 or 3 colour channels, got shape {x.shape}")
        if x.shape[-1] == 1:
            x = x[..., 0]
    if len(x) == 0:
        raise ValueError(f"{name}: expected at least one image, got shape {x.shape}")
    return x


def _labels(values, n: int, name: str) -> np.ndarray | None:
    if values is None:
        return None
    v = as_array(values, name, ndim=(1, 2), dtype_kind="fiub")
    if v.ndim == 2:  # one-hot rows or class scores
        v = np.argmax(v, axis=1)
    if len(v) != n:
        raise ValueError(f"{name}: expected {n} entries (one per image), got {len(v)}")
    return v


def plot_image_grid(
    images: ArrayLike,
    labels: ArrayLike | None = None,
    predictions: ArrayLike | None = None,
    ncols: int = 8,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
    cmap: str = "gray",
) -> Figure:
    """Images in a grid, each titled with its label and/or prediction.

    A wrong prediction gets a red title ("pred 3 / true 5") and a red frame.

    Args:
        images: (N, H, W), (N, H, W, C), (N, C, H, W) with C in {1, 3}, or (N, H*W) flat
            square images.
        labels: optional (N,) true classes (or (N, K) one-hot).
        predictions: optional (N,) predicted classes (or (N, K) scores: arg-max is taken).
        ncols: images per row.
        class_names: optional names indexed by class.
        title: optional figure title (default says how many predictions are wrong).
        cmap: colour map for single-channel images.

    Returns:
        The Figure; ``fig.axes`` has one Axes per image.
    """
    x = _as_images(images)
    n = len(x)
    ncols = min(check_positive_int(ncols, "ncols"), n)
    labels = _labels(labels, n, "labels")
    preds = _labels(predictions, n, "predictions")

    def name(c) -> str:
        return str(class_names[int(c)]) if class_names is not None else str(c)

    nrows = -(-n // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(1.4 * ncols, 1.7 * nrows + 0.4), squeeze=False, layout="constrained"
    )
    for ax in axes.flat[n:]:
        fig.delaxes(ax)
    mistakes = 0
    for i, ax in enumerate(axes.flat[:n]):
        ax.imshow(x[i], cmap=cmap if x[i].ndim == 2 else None)
        ax.set_xticks([])
        ax.set_yticks([])
        wrong = labels is not None and preds is not None and preds[i] != labels[i]
        mistakes += bool(wrong)
        if preds is not None and labels is not None:
            text = f"pred {name(preds[i])} / true {name(labels[i])}" if wrong else name(preds[i])
        elif preds is not None:
            text = f"pred {name(preds[i])}"
        elif labels is not None:
            text = name(labels[i])
        else:
            text = ""
        ax.set_title(text, fontsize=8, color=MISTAKE_COLOR if wrong else "black")
        if wrong:
            ax.add_patch(
                Rectangle((0, 0), 1, 1, transform=ax.transAxes, fill=False,
                          edgecolor=MISTAKE_COLOR, linewidth=3)
            )  # fmt: skip
    if title is None:
        title = f"{n} images"
        if labels is not None and preds is not None:
            title += f", {mistakes} misclassified (red)"
    fig.suptitle(title)
    return fig


# --- confusion matrix -------------------------------------------------------------------
def confusion_matrix(y: ArrayLike, y_pred: ArrayLike, num_classes: int | None = None) -> np.ndarray:
    """Counts ``M[i, j]`` of samples of true class i predicted as class j.

    Args:
        y: (N,) true classes (or (N, C) one-hot).
        y_pred: (N,) predicted classes (or (N, C) scores: arg-max is taken).
        num_classes: C (default: the width of (N, C) inputs, else 1 + the largest class).

    Returns:
        (C, C) int64 matrix; rows are true classes, columns predicted classes.
    """
    widths = [np.shape(a)[1] for a in (y, y_pred) if np.ndim(a) == 2]
    if num_classes is None and widths:
        num_classes = max(widths)  # (N, C) one-hot or scores fix C
    y = _labels(y, len(np.asarray(y)), "y")
    y_pred = _labels(y_pred, len(y), "y_pred")
    for arr, nm in ((y, "y"), (y_pred, "y_pred")):
        if arr.dtype.kind == "f" and not np.all(np.floor(arr) == arr):
            raise ValueError(f"{nm}: expected integer class labels, got fractions")
        if arr.size and arr.min() < 0:
            raise ValueError(f"{nm}: expected class labels >= 0, got {arr.min()}")
    y, y_pred = y.astype(np.int64), y_pred.astype(np.int64)
    seen = int(max(y.max(initial=-1), y_pred.max(initial=-1))) + 1
    if num_classes is None:
        num_classes = max(seen, 1)
    else:
        num_classes = check_positive_int(num_classes, "num_classes")
        if seen > num_classes:
            raise ValueError(f"num_classes: {num_classes} is too small for class {seen - 1}")
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (y, y_pred), 1)
    return m


def plot_confusion_matrix(
    y: ArrayLike,
    y_pred: ArrayLike,
    class_names: Sequence[str] | None = None,
    normalize: bool = False,
    title: str | None = None,
) -> Figure:
    """Heat map of the confusion matrix with the count (or row fraction) in each cell.

    Args:
        y: (N,) true classes (or one-hot).
        y_pred: (N,) predicted classes (or (N, C) scores).
        class_names: optional C names for the ticks.
        normalize: show each row as fractions of that true class (recall on the diagonal).
        title: optional title (default gives the accuracy).

    Returns:
        The Figure (one matrix Axes plus its colour bar).
    """
    num_classes = len(class_names) if class_names is not None else None
    m = confusion_matrix(y, y_pred, num_classes)
    C = len(m)
    shown = m / np.maximum(m.sum(axis=1, keepdims=True), 1) if normalize else m
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * C, 0.8 + 0.6 * C) if C > 4 else (4, 3.5))
    im = ax.imshow(shown, cmap="Blues", vmin=0)
    fig.colorbar(im, ax=ax, label="fraction of true class" if normalize else "count")
    names = [str(c) for c in (class_names if class_names is not None else range(C))]
    ax.set_xticks(range(C), names, rotation=45 if max(map(len, names)) > 2 else 0)
    ax.set_yticks(range(C), names)
    threshold = shown.max() / 2 if shown.size else 0
    for i in range(C):
        for j in range(C):
            text = f"{shown[i, j]:.2f}" if normalize else str(m[i, j])
            color = "white" if shown[i, j] > threshold else "black"
            ax.text(j, i, text, ha="center", va="center", color=color, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    acc = np.trace(m) / max(m.sum(), 1)
    ax.set_title(title if title is not None else f"Confusion matrix (accuracy {100 * acc:.2f}%)")
    fig.tight_layout()
    return fig


# --- 2-D classifiers --------------------------------------------------------------------
def plot_decision_boundary(
    predict_fn: Callable[[np.ndarray], np.ndarray],
    X: ArrayLike,
    y: ArrayLike,
    resolution: int = 200,
    margin: float = 0.5,
    title: str = "Decision boundary",
    xlabel: str = "$x_1$",
    ylabel: str = "$x_2$",
) -> Figure:
    """Class regions of a 2-D classifier with the data on top.

    Args:
        predict_fn: maps (M, 2) float points to (M,) classes or (M, C) scores
            (e.g. ``lambda P: predict(model, P)``).
        X: (N, 2) data points.
        y: (N,) classes of the points (or one-hot).
        resolution: grid points per axis.
        margin: space around the data, in data units.
        title, xlabel, ylabel: labels.

    Returns:
        The Figure (regions drawn with ``contourf``, points with ``scatter``).
    """
    if not callable(predict_fn):
        raise ValueError(f"predict_fn: expected a function (M, 2) -> classes, got {predict_fn!r}")
    X = as_array(X, "X", shape=("N", 2), dtype_kind="fiu")
    y = _labels(y, len(X), "y")
    resolution = check_positive_int(resolution, "resolution")
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    xx, yy = np.meshgrid(
        np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    )
    grid = np.column_stack([xx.ravel(), yy.ravel()]).astype(
        X.dtype if X.dtype.kind == "f" else np.float64
    )
    out = np.asarray(predict_fn(grid))
    if out.ndim == 2 and out.shape[1] > 1:
        out = np.argmax(out, axis=1)
    elif out.ndim == 2:  # a single score column: threshold at 0.5 if probabilities else 0
        out = (out[:, 0] > (0.5 if out.min() >= 0 and out.max() <= 1 else 0.0)).astype(int)
    if out.shape != (len(grid),):
        raise ValueError(
            f"predict_fn: expected ({len(grid)},) classes or ({len(grid)}, C) scores for "
            f"{len(grid)} points, got shape {out.shape}"
        )
    num_classes = int(max(out.max(), y.max())) + 1
    cmap = plt.get_cmap("tab10" if num_classes <= 10 else "tab20")
    levels = np.arange(num_classes + 1) - 0.5
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    ax.contourf(xx, yy, out.reshape(xx.shape), levels=levels, cmap=cmap, vmin=-0.5,
                vmax=cmap.N - 0.5, alpha=0.3)  # fmt: skip
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, vmin=-0.5, vmax=cmap.N - 0.5, s=15,
               edgecolors="k", linewidths=0.4)  # fmt: skip
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    fig.tight_layout()
    return fig


# --- conv filters -----------------------------------------------------------------------
def plot_conv_filters(
    w: ArrayLike, ncols: int = 8, title: str | None = None, cmap: str = "gray"
) -> Figure:
    """Show each filter of a conv layer as a small image.

    Filters with 3 input channels are shown in colour; otherwise the mean over the input
    channels is shown. Each filter is min-max scaled on its own.

    Args:
        w: (F, C, HH, WW) filter weights (the ``Conv2D`` layout).
        ncols: filters per row.
        title: optional title.
        cmap: colour map for single-channel views.

    Returns:
        The Figure; one Axes (with one image) per filter.
    """
    w = as_array(w, "w", shape=("F", "C", "HH", "WW"), dtype_kind="fiu").astype(np.float64)
    F, C = w.shape[:2]
    ncols = min(check_positive_int(ncols, "ncols"), F)
    imgs = w.transpose(0, 2, 3, 1) if C == 3 else w.mean(axis=1)
    lo = imgs.reshape(F, -1).min(axis=1).reshape((F,) + (1,) * (imgs.ndim - 1))
    hi = imgs.reshape(F, -1).max(axis=1).reshape((F,) + (1,) * (imgs.ndim - 1))
    imgs = (imgs - lo) / np.where(hi > lo, hi - lo, 1.0)
    nrows = -(-F // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.1 * ncols, 1.2 * nrows + 0.4), squeeze=False)
    for ax in axes.flat[F:]:
        fig.delaxes(ax)
    for f, ax in enumerate(axes.flat[:F]):
        ax.imshow(imgs[f], cmap=cmap if imgs[f].ndim == 2 else None, vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"filter {f}", fontsize=7)
    how = "RGB" if C == 3 else ("1 channel" if C == 1 else f"mean over {C} channels")
    fig.suptitle(title or f"{F} conv filters {w.shape[2]}x{w.shape[3]} ({how})")
    fig.tight_layout()
    return fig


# --- regression -------------------------------------------------------------------------
def plot_function_fit(
    x: ArrayLike,
    y_true: ArrayLike,
    y_pred: ArrayLike,
    x_train: ArrayLike | None = None,
    y_train: ArrayLike | None = None,
    title: str = "Function fit",
    xlabel: str = "x",
    ylabel: str = "y",
) -> Figure:
    """The true function, the model's prediction and (optionally) the training points.

    Args:
        x: (N,) or (N, 1) inputs, sorted or not (they are sorted for drawing).
        y_true: (N,) or (N, 1) true function values at ``x``.
        y_pred: (N,) or (N, 1) model outputs at ``x``.
        x_train, y_train: optional (M,) training samples, drawn as points.
        title, xlabel, ylabel: labels.

    Returns:
        The Figure (two lines, plus a scatter of the training data if given); the title
        ends with the mean squared error of ``y_pred``.
    """
    dims: dict[str, int] = {}
    x = _column(x, "x", dims)
    y_true = _column(y_true, "y_true", dims)
    y_pred = _column(y_pred, "y_pred", dims)
    order = np.argsort(x)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(x[order], y_true[order], "-", color="black", lw=1.5, label="true function")
    ax.plot(x[order], y_pred[order], "--", color="tab:orange", lw=2, label="model")
    if (x_train is None) != (y_train is None):
        raise ValueError("x_train/y_train: give both or neither")
    if x_train is not None:
        tdims: dict[str, int] = {}
        ax.scatter(_column(x_train, "x_train", tdims), _column(y_train, "y_train", tdims),
                   s=10, alpha=0.6, color="tab:blue", label="training data", zorder=3)  # fmt: skip
    mse = float(np.mean((y_pred - y_true) ** 2))
    ax.set_title(f"{title} (MSE {mse:.4g})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def _column(v: ArrayLike, name: str, dims: dict[str, int]) -> np.ndarray:
    a = as_array(v, name, ndim=(1, 2), dtype_kind="fiu")
    if a.ndim == 2:
        as_array(a, name, shape=("N", 1), dims=dims)
        a = a[:, 0]
    else:
        as_array(a, name, shape=("N",), dims=dims)
    return a.astype(np.float64)
