"""Test doubles that checks hand to student code (they run wherever the student's code runs).

A check that grades how student code DRIVES an object (a training loop calling
``forward``/``backward``, updating ``params``) gives it one of these instead of a real
model: they record every call, so the check can read back (as copies) what happened. They
live in ``course_utils`` because at grading time the student's code runs in its own
sandboxed kernel, which must be able to import them (``grading.reference``); they are no
task's answer.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BackwardRecorder",
    "CallRecorder",
    "RecordingNet",
    "TrainingRecorder",
    "length",
    "loader_epochs",
    "loader_peak_bytes",
    "make_rng",
    "optimizer_trajectory",
]


class BackwardRecorder:
    """Gives a student's autodiff nodes ``_backward`` functions that record their calls.

    ``install(node, children, local, name)`` sets ``node._backward`` to: append ``name`` to
    ``calls``, then ``child.grad += d * node.grad`` for each child and local derivative
    ``d``, so a check can see the order in which a student's ``backward`` visits a graph
    whose derivatives it knows exactly.
    """

    def __init__(self):
        self.calls: list[str] = []

    def install(self, node, children, local, name: str) -> None:
        def _backward():
            self.calls.append(name)
            for child, d in zip(children, local, strict=True):
                child.grad += d * node.grad

        node._backward = _backward


class CallRecorder:
    """Replaces ``obj.<name>`` (e.g. a student net's ``loss``) and records every call.

    Each record is ``(*args, params_before, result)``: copies of the positional arguments,
    a copy of ``obj.params`` (if any) before the call, and what the original returned.
    With ``replacement``, calls go to it instead of the original (a reference ``loss``,
    so that a check of ``train`` does not depend on the student's ``loss``).
    """

    def __init__(self, obj, name: str, replacement=None):
        self.obj = obj
        self.original = replacement if replacement is not None else getattr(obj, name)
        self.records: list[tuple] = []
        setattr(obj, name, self)

    def __call__(self, *args, **kwargs):
        params = getattr(self.obj, "params", None)
        before = {k: np.array(v, copy=True) for k, v in (params or {}).items()}
        result = self.original(*args, **kwargs)
        self.records.append((*(np.array(a, copy=True) for a in args), before, result))
        return result


class TrainingRecorder:
    """Subclasses of a loader and an optimiser class that log how a training loop uses them.

    Hand ``recorder.DataLoader`` and ``recorder.Adam`` to student code in place of the two
    classes; ``events()`` is then, in order, ``("loader", batch_size)`` for each loader made
    and ``("step", lr)`` for each ``step`` call, with the optimiser's ``lr`` at that step.
    """

    def __init__(self, DataLoader, Adam):
        log: list[tuple] = []

        class RecordedLoader(DataLoader):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                log.append(("loader", self.batch_size))

        class RecordedAdam(Adam):
            def step(self, grads):
                log.append(("step", float(self.lr)))
                return super().step(grads)

        self._log = log
        self.DataLoader, self.Adam = RecordedLoader, RecordedAdam

    def events(self) -> list[tuple]:
        return list(self._log)


def make_rng(seed: int) -> np.random.Generator:
    """A generator that lives where it is made: handed to student code again and again, it
    advances as the student's code draws from it (``grading.student_rng``)."""
    return np.random.default_rng(seed)


class RecordingNet:
    """A linear softmax classifier that records how ``train_epoch`` drives it.

    ``x[:, 0]`` carries the row id (id / N), so each forward call tells which samples form
    the mini-batch; parameters are snapshotted at every forward call and the gradients
    stored by every backward call, so each update can be compared with -lr * grad.
    """

    def __init__(self, X: np.ndarray, c: int, rng: np.random.Generator):
        n, d = X.shape
        self._n = n
        self.params = {"w": rng.standard_normal((d, c)) * 0.5, "b": rng.standard_normal(c)}
        self.grads: dict = {}
        self.originals = dict(self.params)
        self.calls: list[str] = []
        self.batches: list[np.ndarray] = []
        self.log_probs: list[np.ndarray] = []
        self.params_at_forward: list[dict] = []
        self.grads_at_backward: list[dict] = []
        self._x = None
        self._s = None

    def replaced_params(self) -> list[str]:
        """Names whose array in ``params`` is no longer the original object."""
        return [k for k, v in self.originals.items() if self.params.get(k) is not v]

    def forward(self, x):
        x = np.asarray(x, dtype=np.float64)
        self.calls.append("forward")
        self.batches.append(np.rint(x[:, 0] * self._n).astype(int))
        self.params_at_forward.append({k: np.array(v, copy=True) for k, v in self.params.items()})
        z = x @ self.params["w"] + self.params["b"]
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        self._x, self._s = x, np.exp(logp)
        self.log_probs.append(logp.copy())
        return logp

    def backward(self, dout):
        dout = np.asarray(dout, dtype=np.float64)
        self.calls.append("backward")
        dz = dout - self._s * dout.sum(axis=1, keepdims=True)
        self.grads["w"] = self._x.T @ dz
        self.grads["b"] = dz.sum(axis=0)
        self.grads_at_backward.append({k: v.copy() for k, v in self.grads.items()})
        return dz @ self.params["w"].T


def loader_epochs(loader, num_epochs: int) -> list:
    """``num_epochs`` passes over a student's loader: per epoch, the list of its batches
    (copies of ``(X_batch, y_batch)``). Each pass is one ``iter(loader)``, as a training
    loop's ``for X_batch, y_batch in loader`` does."""
    return [
        [tuple(np.array(part, copy=True) for part in batch) for batch in loader]
        for _ in range(num_epochs)
    ]


def loader_peak_bytes(loader) -> int:
    """Bytes allocated at most at once while a loader yields the batches AFTER its first.

    A loader that copies the whole dataset for every batch (``X[perm][i:j]``) allocates
    ``X.nbytes`` again and again; one that permutes indices allocates about a batch. A copy
    made once per epoch, before the first batch, is not counted.
    """
    import tracemalloc

    iterator = iter(loader)
    next(iterator, None)
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for _ in iterator:
            pass
        return int(tracemalloc.get_traced_memory()[1] - base)
    finally:
        if not tracing:
            tracemalloc.stop()


def length(obj) -> int:
    """``len(obj)`` where ``obj`` lives (a student's ``__len__`` runs in its kernel)."""
    return len(obj)


def optimizer_trajectory(Optimizer, params, grads, kwargs) -> list:
    """Drive a student's optimiser as a training loop does: ``opt = Optimizer(params,
    **kwargs)``, then ``opt.step(g)`` for each list ``g`` of ``grads``. Returns, after each
    step, copies of the arrays that were handed to it (a layer keeps reading THOSE arrays,
    so an optimiser must update them in place)."""
    params = [np.array(p, copy=True) for p in params]
    optimizer = Optimizer(params, **kwargs)
    out = []
    for step in grads:
        optimizer.step([np.array(g, copy=True) for g in step])
        out.append([p.copy() for p in params])
    return out
