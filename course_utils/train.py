"""A small training loop: ``fit``, ``evaluate``, ``predict``, ``History``, ``EarlyStopping``.

``fit`` runs mini-batch training of any model with ``forward``/``backward``/``params``/
``grads`` (a ``Sequential`` of course_utils layers) under any loss ``(y_hat, y) ->
(loss, dy_hat)`` and any optimiser with ``step()``/``zero_grad()``.

Output is made for notebooks that are graded or tested (nbgrader, nbval): everything goes
to ``sys.stdout`` (tqdm's default is stderr, and nbgrader gives 0 points to a test cell
that writes to stderr). ``verbose=1`` shows a ``tqdm.auto`` bar over the batches while an
epoch runs, removes it when the epoch ends and prints one compact line per epoch (in
Jupyter the bar is a widget that ends up replaced by a one-line summary, so the saved
notebook holds that summary and the epoch lines); ``verbose=2`` prints only the lines;
``verbose=0`` prints nothing.

BLAS threads: ``fit`` (per epoch), ``evaluate`` and ``predict`` run NumPy's matrix products
on one BLAS thread, which is faster for course-sized products on a busy machine and never
much slower on a quiet one; a layer whose products exceed ``threads.MIN_MACS_FOR_THREADS``
gets the caller's setting back. ``COURSE_BLAS_THREADS=N`` or ``keep`` overrides this, and the
caller's BLAS setting is restored afterwards (see ``course_utils.threads``).

Example:
    >>> loader = DataLoader(X_train, y_train, batch_size=128, seed=0)
    >>> history = fit(model, softmax_cross_entropy, Adam(model, lr=1e-3), loader,
    ...               val_data=(X_test, y_test), num_epochs=10,
    ...               callbacks=[EarlyStopping(patience=2)])
    epoch  1/10  loss 0.2412  acc 92.86%  val_loss 0.1190  val_acc 96.39%  lr 1.0e-03  2.1s
    ...
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

import numpy as np
from numpy.typing import ArrayLike, NDArray

with warnings.catch_warnings():  # no "IProgress not found" on stderr without ipywidgets
    warnings.simplefilter("ignore")
    from tqdm.auto import tqdm

from course_utils._validate import as_array, check_positive_int
from course_utils.layers.container import accepts_input_grad
from course_utils.threads import blas_threads_for

__all__ = ["Callback", "EarlyStopping", "History", "accuracy", "evaluate", "fit", "predict"]

LossFn = Callable[[NDArray, NDArray], tuple[float, NDArray]]


# --- metrics ----------------------------------------------------------------------------
def accuracy(y_hat: ArrayLike, y: ArrayLike) -> float:
    """Fraction of rows whose arg-max matches the target class.

    Args:
        y_hat: (N, C) scores, logits or probabilities, C >= 2.
        y: (N,) integer class labels, or (N, C) one-hot / probability rows.

    Returns:
        The accuracy in [0, 1].
    """
    y_hat = as_array(y_hat, "y_hat", dtype_kind="f")
    if y_hat.ndim != 2 or y_hat.shape[1] < 2:
        raise ValueError(
            f"y_hat: accuracy expects (N, C) class scores with C >= 2, got shape {y_hat.shape}; "
            "for regression pass metrics=() to fit, for a single sigmoid output pass your "
            "own metric function"
        )
    y = as_array(y, "y", ndim=(1, 2), dtype_kind="fiub")
    if y.shape[0] != y_hat.shape[0]:
        raise ValueError(f"y: expected {y_hat.shape[0]} targets (the rows of y_hat), got {y.shape}")
    if y.ndim == 2:
        if y.shape != y_hat.shape:
            raise ValueError(f"y: expected one-hot targets of shape {y_hat.shape}, got {y.shape}")
        labels = np.argmax(y, axis=1)
    else:
        if y.dtype.kind == "f" and not np.all(np.floor(y) == y):
            raise ValueError("y: (N,) targets must be integer class labels, got fractions")
        labels = y
    if y_hat.shape[0] == 0:
        return float("nan")
    return float(np.mean(np.argmax(y_hat, axis=1) == labels))


def _is_classification(y_hat: np.ndarray, y: np.ndarray) -> bool:
    if y_hat.ndim != 2 or y_hat.shape[1] < 2:
        return False
    if y.ndim == 1:
        return y.dtype.kind in "iub" or bool(np.all(np.floor(y) == y))
    return y.shape == y_hat.shape


# --- history ----------------------------------------------------------------------------
class History:
    """Per-epoch records of a ``fit`` run.

    Attributes:
        history: ordered dict name -> list of per-epoch values: ``loss``, one entry per
            metric (``accuracy``), ``val_loss`` / ``val_accuracy`` with ``val_data``,
            ``lr`` (the learning rate at the epoch's first step) and ``epoch_time``
            (seconds). Each name is also an attribute: ``history.val_loss``.
        epoch: the epoch numbers, 1-based.
        stopped_epoch: the epoch after which training stopped early, or None.
        stop_reason: why it stopped early ("EarlyStopping ...", "loss is nan"), or None.
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.stopped_epoch: int | None = None
        self.stop_reason: str | None = None

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def as_dict(self) -> dict[str, list[float]]:
        """A copy: ``{"epoch": [...], "loss": [...], ...}``."""
        return {"epoch": list(self.epoch), **{k: list(v) for k, v in self.history.items()}}

    def __getattr__(self, name: str) -> list[float]:
        history = self.__dict__.get("history", {})
        if name in history:
            return history[name]
        raise AttributeError(f"History has no record {name!r}; it has {list(history)}")

    def __getitem__(self, name: str) -> list[float]:
        return self.history[name]

    def __len__(self) -> int:
        return len(self.epoch)

    def __repr__(self) -> str:
        last = {k: round(v[-1], 4) for k, v in self.history.items() if v}
        return f"History(epochs={len(self)}, last={last})"


# --- callbacks --------------------------------------------------------------------------
class Callback:
    """Base class: override any of the hooks. ``on_epoch_end`` returns True to stop."""

    def on_train_begin(self, model, optimizer, history: History) -> None:
        """Called once before the first epoch."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> bool | None:
        """Called after each epoch (1-based) with that epoch's logs; True stops training."""
        return None

    def on_train_end(self) -> None:
        """Called once after the last epoch (also after an early stop)."""


class EarlyStopping(Callback):
    """Stop when a monitored quantity has stopped improving, as Keras' ``EarlyStopping``.

    An epoch improves on the best so far if ``value < best - min_delta`` (``mode="min"``)
    or ``value > best + min_delta`` (``"max"``). Training stops after ``patience`` epochs
    in a row without improvement. With ``restore_best=True`` the parameters (and any
    ``running_*`` statistics, e.g. batch norm) of the best epoch are copied back into the
    model when training ends, whether or not it stopped early.

    Args:
        monitor: a key of the epoch logs: "val_loss" (default), "val_accuracy", "loss", ...
        patience: epochs without improvement to tolerate, an int >= 0.
        min_delta: smallest change that counts as an improvement, >= 0.
        mode: "min", "max" or "auto" (max for names containing "acc", else min).
        restore_best: restore the best epoch's weights at the end.

    Attributes:
        best: best monitored value; best_epoch: its epoch (1-based);
        stopped_epoch: epoch after which it stopped, or None.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best: bool = True,
    ):
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"monitor: expected a log name such as 'val_loss', got {monitor!r}")
        if isinstance(patience, bool) or not isinstance(patience, int | np.integer) or patience < 0:
            raise ValueError(f"patience: expected an int >= 0, got {patience!r}")
        if not isinstance(min_delta, int | float) or not min_delta >= 0:
            raise ValueError(f"min_delta: expected a number >= 0, got {min_delta!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode: expected 'auto', 'min' or 'max', got {mode!r}")
        self.monitor = monitor
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.mode = ("max" if "acc" in monitor else "min") if mode == "auto" else mode
        self.restore_best = bool(restore_best)
        self.model = None

    def on_train_begin(self, model, optimizer, history: History) -> None:
        self.model = model
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.best_weights: dict[str, Any] | None = None
        self.stopped_epoch: int | None = None
        self.wait = 0

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> bool:
        if self.monitor not in logs:
            raise ValueError(
                f"monitor: EarlyStopping watches {self.monitor!r} but the epoch logs only have "
                f"{sorted(logs)} (val_* needs fit(..., val_data=(X_val, y_val)))"
            )
        value = logs[self.monitor]
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self.best_weights = _snapshot(self.model)
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def on_train_end(self) -> None:
        if self.restore_best and self.best_weights is not None:
            _restore(self.model, self.best_weights)

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, "
            f"min_delta={self.min_delta}, mode={self.mode!r}, restore_best={self.restore_best})"
        )


def _layers(model) -> Iterable:
    yield model
    for layer in getattr(model, "layers", ()):
        yield from _layers(layer)


def _snapshot(model) -> dict[str, Any]:
    """Copies of the parameters and of every layer's ``running_*`` arrays."""
    buffers = [
        {k: v.copy() for k, v in vars(layer).items() if k.startswith("running_")}
        for layer in _layers(model)
    ]
    return {"params": {k: v.copy() for k, v in model.params.items()}, "buffers": buffers}


def _restore(model, snap: dict[str, Any]) -> None:
    for key, value in model.params.items():
        value[...] = snap["params"][key]
    for layer, buffers in zip(_layers(model), snap["buffers"], strict=False):
        for key, value in buffers.items():
            setattr(layer, key, value.copy())


# --- evaluation -------------------------------------------------------------------------
def _check_model(model) -> None:
    missing = [a for a in ("forward", "backward", "params", "grads") if not hasattr(model, a)]
    if missing:
        raise ValueError(
            f"model: expected a Layer/Sequential with forward, backward, params and grads; "
            f"{type(model).__name__} has no {', '.join(missing)}"
        )


def _set_mode(model, training: bool) -> None:
    if training and hasattr(model, "train"):
        model.train()
    elif not training and hasattr(model, "eval"):
        model.eval()


def predict(model, X: ArrayLike, batch_size: int = 256) -> NDArray:
    """Model outputs for all of ``X``, in evaluation mode, ``batch_size`` rows at a time.

    The model's previous mode (training or evaluation) is restored afterwards.

    Args:
        model: a Layer with ``forward`` (and ``train``/``eval``).
        X: (N, ...) inputs.
        batch_size: rows per forward pass, a positive int.

    Returns:
        (N, ...) outputs, concatenated.
    """
    if not hasattr(model, "forward"):
        raise ValueError(f"model: expected an object with forward(x), got {type(model).__name__}")
    X = as_array(X, "X", dtype_kind="fiub")
    if X.ndim < 1 or len(X) == 0:
        raise ValueError(f"X: expected at least one sample (N, ...), got shape {X.shape}")
    batch_size = check_positive_int(batch_size, "batch_size")
    was_training = getattr(model, "training", True)
    _set_mode(model, False)
    try:
        with blas_threads_for(None):  # one BLAS thread; see course_utils.threads
            outs = [model.forward(X[i : i + batch_size]) for i in range(0, len(X), batch_size)]
    finally:
        _set_mode(model, was_training)
    return outs[0] if len(outs) == 1 else np.concatenate(outs, axis=0)


def evaluate(
    model, loss: LossFn, X: ArrayLike, y: ArrayLike, batch_size: int = 256
) -> tuple[float, float]:
    """Mean loss and accuracy over ``(X, y)`` in evaluation mode.

    Args:
        model: a Layer with ``forward``.
        loss: ``(y_hat, y) -> (loss, dy_hat)`` returning the batch mean.
        X: (N, ...) inputs.
        y: (N,) labels, (N, C) one-hot rows, or regression targets.
        batch_size: rows per forward pass.

    Returns:
        ``(loss, acc)``: the loss averaged over all N samples, and the accuracy in [0, 1]
        (``nan`` when the targets are not classes, e.g. regression).
    """
    if not callable(loss):
        raise ValueError(f"loss: expected a function (y_hat, y) -> (loss, dy_hat), got {loss!r}")
    y = as_array(y, "y", dtype_kind="fiub")
    with blas_threads_for(None):  # one block for the forward passes and the loss
        y_hat = predict(model, X, batch_size)
        if y.ndim < 1 or len(y) != len(y_hat):
            raise ValueError(f"y: expected {len(y_hat)} targets (one per row of X), got {y.shape}")
        acc = accuracy(y_hat, y) if _is_classification(y_hat, y) else float("nan")
        return _mean_loss(loss, y_hat, y, batch_size), acc


def _mean_loss(loss: LossFn, y_hat: np.ndarray, y: np.ndarray, batch_size: int) -> float:
    """The batch-mean loss averaged over all rows, computed ``batch_size`` rows at a time."""
    total = 0.0
    for i in range(0, len(y), batch_size):
        batch_loss, _ = loss(y_hat[i : i + batch_size], y[i : i + batch_size])
        total += float(batch_loss) * len(y[i : i + batch_size])
    return total / len(y)


# --- fit --------------------------------------------------------------------------------
def _check_metrics(metrics) -> list[tuple[str, Callable]]:
    if isinstance(metrics, str | bytes) or not isinstance(metrics, Sequence):
        raise ValueError(f"metrics: expected a tuple such as ('accuracy',) or (), got {metrics!r}")
    out = []
    for m in metrics:
        if m in ("accuracy", "acc"):
            out.append(("accuracy", accuracy))
        elif callable(m):
            out.append((getattr(m, "__name__", "metric"), m))
        else:
            raise ValueError(
                f"metrics: unknown metric {m!r}; use 'accuracy' or a function (y_hat, y) -> float"
            )
    return out


def _check_val_data(val_data):
    if val_data is None:
        return None
    if not isinstance(val_data, tuple | list) or len(val_data) != 2:
        raise ValueError(
            f"val_data: expected a tuple (X_val, y_val), got {type(val_data).__name__}"
        )
    X_val = as_array(val_data[0], "val_data[0]", dtype_kind="fiub")
    y_val = as_array(val_data[1], "val_data[1]", dtype_kind="fiub")
    if X_val.ndim < 1 or y_val.ndim < 1 or len(X_val) != len(y_val) or len(X_val) == 0:
        raise ValueError(
            f"val_data: expected X_val and y_val with the same number N >= 1 of rows, got "
            f"shapes {X_val.shape} and {y_val.shape}"
        )
    return X_val, y_val


def _format_line(epoch: int, num_epochs: int, logs: dict[str, float]) -> str:
    width = len(str(num_epochs))
    parts = [f"epoch {epoch:>{width}}/{num_epochs}"]
    for key, value in logs.items():
        if key == "lr":
            parts.append(f"lr {value:.1e}")
        elif key == "epoch_time":
            parts.append(f"{value:.1f}s")
        elif key.endswith("accuracy"):
            parts.append(f"{key.replace('accuracy', 'acc')} {100 * value:.2f}%")
        else:
            parts.append(f"{key} {value:.4f}")
    return "  ".join(parts)


def fit(
    model,
    loss: LossFn,
    optimizer,
    train_loader: Iterable,
    val_data: tuple[ArrayLike, ArrayLike] | None = None,
    num_epochs: int = 10,
    schedule: Callable[[int], float] | None = None,
    callbacks: Sequence[Callback] = (),
    verbose: bool | int = True,
    metrics: Sequence[str | Callable] = ("accuracy",),
    file: TextIO | None = None,
) -> History:
    """Train ``model`` with mini-batches: forward, loss, backward, ``optimizer.step()``.

    Per batch: ``optimizer.zero_grad()``; ``y_hat = model.forward(X_batch)``;
    ``l, dy_hat = loss(y_hat, y_batch)``; ``model.backward(dy_hat)``; ``optimizer.step()``.
    If the model's ``backward`` takes ``input_grad`` (``Sequential`` does), fit passes
    ``input_grad=False``: the gradient with respect to the data is never used, so the
    first layer need not compute it. The model is in training mode for the epoch and in
    evaluation mode for ``val_data``. Training metrics are averages over the epoch's
    batches (weighted by batch size), computed on the fly like Keras does.

    Args:
        model: a Layer/Sequential with forward, backward, params, grads, train, eval.
        loss: ``(y_hat, y) -> (mean loss, dy_hat)``, e.g. ``losses.softmax_cross_entropy``.
        optimizer: e.g. ``optim.Adam(model, lr=1e-3)``; must have ``step()``.
        train_loader: iterable of ``(X_batch, y_batch)``, re-iterated every epoch
            (a ``data.DataLoader``).
        val_data: optional ``(X_val, y_val)`` evaluated after every epoch.
        num_epochs: maximum number of epochs, a positive int.
        schedule: optional per-epoch schedule ``schedule(epoch) -> lr`` (epoch 0-based),
            which sets ``optimizer.lr`` at the start of each epoch; for per-step
            schedules give the optimiser a ``schedule=`` instead (not both).
        callbacks: e.g. ``[EarlyStopping(patience=3)]``.
        verbose: 0/False silent; 1/True progress bar plus one line per epoch; 2 one line
            per epoch only.
        metrics: "accuracy" and/or functions ``(y_hat, y) -> float``; () for regression.
        file: where progress goes (default: ``sys.stdout`` at call time; never stderr).

    Returns:
        A :class:`History`.
    """
    _check_model(model)
    if not callable(loss):
        raise ValueError(f"loss: expected a function (y_hat, y) -> (loss, dy_hat), got {loss!r}")
    if not hasattr(optimizer, "step"):
        raise ValueError(
            f"optimizer: expected an object with step(), got {type(optimizer).__name__}"
        )
    if isinstance(train_loader, np.ndarray | tuple) or not hasattr(train_loader, "__iter__"):
        raise ValueError(
            "train_loader: expected an iterable of (X_batch, y_batch) such as "
            f"DataLoader(X, y, batch_size), got {type(train_loader).__name__}"
        )
    val = _check_val_data(val_data)
    num_epochs = check_positive_int(num_epochs, "num_epochs")
    if schedule is not None:
        if not callable(schedule):
            raise ValueError(f"schedule: expected a callable epoch -> lr, got {schedule!r}")
        if getattr(optimizer, "schedule", None) is not None:
            raise ValueError(
                "schedule: the optimizer already follows a per-step schedule; use one or the other"
            )
    callbacks = list(callbacks)
    for i, cb in enumerate(callbacks):
        if not all(hasattr(cb, h) for h in ("on_train_begin", "on_epoch_end", "on_train_end")):
            raise ValueError(f"callbacks[{i}]: expected a Callback, got {type(cb).__name__}")
    if isinstance(verbose, bool):
        verbose = int(verbose)
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose: expected 0, 1, 2 or a bool, got {verbose!r}")
    metric_fns = _check_metrics(metrics)
    out = sys.stdout if file is None else file
    eval_batch = max(getattr(train_loader, "batch_size", 256) or 256, 256)

    history = History()
    progress = _Progress(train_loader, out) if verbose == 1 else None
    fit_start = time.perf_counter()
    for cb in callbacks:
        cb.on_train_begin(model, optimizer, history)
    try:
        for epoch in range(1, num_epochs + 1):
            if schedule is not None:
                optimizer.lr = schedule(epoch - 1)
            lr = float(getattr(optimizer, "lr", float("nan")))
            start = time.perf_counter()
            if progress is not None:
                progress.start_epoch(f"epoch {epoch}/{num_epochs}")
            # One switch of the BLAS thread count per epoch, not one per layer call.
            with blas_threads_for(None):
                logs = _train_one_epoch(model, loss, optimizer, train_loader, metric_fns, progress)
                if val is not None:
                    y_hat_val = predict(model, val[0], eval_batch)
                    logs["val_loss"] = _mean_loss(loss, y_hat_val, val[1], eval_batch)
                    for name, fn in metric_fns:
                        logs[f"val_{name}"] = float(fn(y_hat_val, val[1]))
            logs["lr"] = lr
            logs["epoch_time"] = time.perf_counter() - start
            history.append(epoch, logs)
            if verbose:
                print(_format_line(epoch, num_epochs, logs), file=out, flush=True)
            if not math.isfinite(logs["loss"]):
                history.stopped_epoch, history.stop_reason = epoch, f"loss is {logs['loss']}"
                if verbose:
                    print(f"stopped: the training loss is {logs['loss']} (try a lower lr)",
                          file=out, flush=True)  # fmt: skip
                break
            stop = [cb for cb in callbacks if cb.on_epoch_end(epoch, dict(logs))]
            if stop:
                history.stopped_epoch = epoch
                history.stop_reason = f"{type(stop[0]).__name__} after epoch {epoch}"
                if verbose:
                    print(f"stopped early: {history.stop_reason}", file=out, flush=True)
                break
    finally:
        for cb in callbacks:
            cb.on_train_end()
        if progress is not None:
            progress.close(_summary(history, time.perf_counter() - fit_start))
    return history


def _summary(history: History, seconds: float) -> str:
    text = f"trained {len(history)} epoch{'s' if len(history) != 1 else ''} in {seconds:.1f}s"
    for key in ("val_accuracy", "val_loss", "accuracy", "loss"):
        if history.history.get(key):
            value = history.history[key][-1]
            shown = f"{100 * value:.2f}%" if key.endswith("accuracy") else f"{value:.4f}"
            text += f"; last {key} {shown}"
            break
    if history.stop_reason:
        text += f" (stopped: {history.stop_reason})"
    return text


class _Progress:
    """A tqdm.auto bar over the batches of each epoch, written to ``file`` (stdout).

    In a terminal (or a log) each epoch gets a bar that is erased when the epoch ends
    (``leave=False``), leaving the epoch lines that ``fit`` prints. In Jupyter, tqdm.auto
    gives a widget; a widget's saved output would show a stale "0%" bar per epoch, so one
    widget is shown through a display handle, reused for every epoch and, at the end,
    replaced by a one-line text summary: the saved notebook keeps that line plus one line
    per epoch.
    """

    def __init__(self, loader, file: TextIO):
        self.total = len(loader) if hasattr(loader, "__len__") else None
        self.file = file
        self.bar = None
        self.handle = None
        self.widget = file is sys.stdout and any(
            c.__module__ == "tqdm.notebook" for c in tqdm.__mro__
        )

    def start_epoch(self, desc: str) -> None:
        if self.widget:
            if self.bar is None:
                from IPython.display import display

                self.bar = tqdm(total=self.total, desc=desc, unit="batch", display=False)
                self.handle = display(self.bar.container, display_id=True)
            else:
                self.bar.reset(total=self.total)
                self.bar.set_description(desc)
            return
        self.bar = tqdm(
            total=self.total, desc=desc, leave=False, file=self.file, unit="batch", mininterval=0.5
        )

    def update(self, seen: int, loss_sum: float) -> None:
        self.bar.update(1)
        if self.bar.n % 20 == 0:
            self.bar.set_postfix(loss=f"{loss_sum / seen:.4f}", refresh=False)

    def end_epoch(self) -> None:
        if not self.widget and self.bar is not None:
            self.bar.close()
            self.bar = None

    def close(self, summary: str) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.handle is not None:
            self.handle.update({"text/plain": summary}, raw=True)


def _train_one_epoch(model, loss, optimizer, loader, metric_fns, progress: _Progress | None):
    _set_mode(model, True)
    # Nothing needs the gradient with respect to the data: let the first layer skip it.
    backward_kwargs = {"input_grad": False} if accepts_input_grad(model) else {}
    sums = {"loss": 0.0, **{name: 0.0 for name, _ in metric_fns}}
    seen = 0
    try:
        for X_batch, y_batch in loader:
            if hasattr(optimizer, "zero_grad"):
                optimizer.zero_grad()
            y_hat = model.forward(X_batch)
            batch_loss, dy_hat = loss(y_hat, y_batch)
            model.backward(dy_hat, **backward_kwargs)
            optimizer.step()
            n = len(X_batch)
            seen += n
            sums["loss"] += float(batch_loss) * n
            for name, fn in metric_fns:
                sums[name] += float(fn(y_hat, y_batch)) * n
            if progress is not None:
                progress.update(seen, sums["loss"])
    finally:
        if progress is not None:
            progress.end_epoch()
    if seen == 0:
        raise ValueError("train_loader: produced no batches")
    return {k: v / seen for k, v in sums.items()}
