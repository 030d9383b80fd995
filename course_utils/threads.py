"""How many BLAS threads course_utils' heavy calls use, and one setting to override it.

NumPy's matrix products run on OpenBLAS, which by default uses one thread per core and
keeps its threads spinning between calls. On a quiet machine two threads make the
course's products (an MNIST MLP layer, an im2col convolution) about twice as fast. On a
machine whose cores are already busy (a shared JupyterHub node, a parallel autograde)
the spinning threads lose their cores to other processes and wait for each other: the
same products become 2 to 30 times *slower* than on one thread, a whole MLP epoch about
5 times slower. TensorFlow's thread pool degrades gracefully instead.

The policy (``COURSE_BLAS_THREADS=auto``, the default): a block of work whose largest
matrix product has fewer than ``MIN_MACS_FOR_THREADS`` multiply-accumulates (MACs,
M * K * N for an (M, K) @ (K, N) product) runs on one BLAS thread; larger products keep
the caller's setting (by default one thread per core). ``fit`` runs each epoch on one
thread; a layer inside it with a product above the threshold gets the caller's setting
back for that call.

Why a size and not the machine's load: the thread count changes the result. OpenBLAS
splits some products differently with 1 and 2 threads, e.g. (128, 784) @ (784, 256) in
float32 differs in the last bits, so a policy that looked at the load would make the same
seeds give different numbers on a busy and a quiet machine. A size threshold keeps every
product's thread count, hence every number, the same from run to run; below the
threshold it is also the same on every machine (one thread).

How the threshold was measured (``python benchmarks/blas_threshold.py``, 2-core AMD Zen 5,
OpenBLAS 0.3.31 SkylakeX kernels, float32; time on the default 2 threads over time on 1):
on a quiet machine (load 0.6) threads pay off from about 2e6 MACs (ratio 0.5-0.7). With
one CPU burner per core, square products from 2e6 to 5e8 MACs were 1.4 to 31 times slower
on 2 threads (the course's own products, 2.6e7 and 2.3e8 MACs: 0.7 to 18 times), broke
even at 1.1e9 (1.08) and won above it (0.74 at 4.1e9, 0.67 at 8.6e9). Below 1e9 one
thread therefore costs at most 2x on a quiet machine and saves up to 30x on a busy one.

The override, read at every call: ``COURSE_BLAS_THREADS``

- ``auto`` (or unset, or empty): the policy above;
- a positive int ``N``: every heavy call runs on N BLAS threads;
- ``keep``: course_utils leaves BLAS alone (whatever the caller set, or OpenBLAS' default).

Whatever it chose, a call restores the caller's BLAS thread count when it returns or
raises. Like threadpoolctl, whose library handles it reuses, this changes a setting of
the whole process: do not run course_utils training from several Python threads at once.

Example:
    >>> from course_utils.threads import blas_threads_for
    >>> with blas_threads_for(x.shape[0] * w.shape[0] * w.shape[1]):
    ...     out = x @ w
"""

from __future__ import annotations

import os
import threading
from typing import Any

__all__ = [
    "ENV_VAR",
    "MIN_MACS_FOR_THREADS",
    "blas_setting",
    "blas_threads_for",
    "choose_threads",
    "current_blas_threads",
]

ENV_VAR = "COURSE_BLAS_THREADS"
# Measured with benchmarks/blas_threshold.py, see the module docstring.
MIN_MACS_FOR_THREADS = 1e9
# OpenBLAS runs a GEMM with M*N*K <= 65536 * GEMM_MULTITHREAD_THRESHOLD (4) on one thread
# by itself (interface/gemm.c), so for these the policy has nothing to switch.
_OPENBLAS_SERIAL_MACS = 65536 * 4

_lock = threading.Lock()
_blas_libs: list[Any] | None = None  # threadpoolctl's controllers of the loaded BLAS libraries
_caller: list[int] | None = None  # the thread counts found at the outermost active block
_active: list[int] | None = None  # the thread counts set by the innermost active block
_depth = 0  # how many blas_threads_for blocks are active


def blas_setting() -> str | int:
    """The value of ``COURSE_BLAS_THREADS``: ``"auto"``, ``"keep"`` or a positive int.

    Raises:
        ValueError: for anything else, naming the variable, what it accepts and its value.
    """
    raw = os.environ.get(ENV_VAR, "")
    return _parse(raw)


_parsed: dict[str, str | int] = {}


def _parse(raw: str) -> str | int:
    if raw in _parsed:
        return _parsed[raw]
    value = raw.strip().lower()
    if value in ("", "auto"):
        result: str | int = "auto"
    elif value == "keep":
        result = "keep"
    elif value.isdigit() and int(value) > 0:
        result = int(value)
    else:
        raise ValueError(
            f"{ENV_VAR}: expected 'auto', 'keep' or a positive number of BLAS threads such "
            f"as 1, got {raw!r}; unset it to let course_utils choose"
        )
    _parsed[raw] = result
    return result


def choose_threads(macs: float | None, setting: str | int | None = None) -> int | None:
    """The BLAS thread count for a block of work, or None to leave BLAS as the caller set it.

    Args:
        macs: multiply-accumulates of the block's largest matrix product (M * K * N), or
            None for a block of many products of unknown but course-sized shapes (a
            training epoch): it gets one thread and products inside it choose their own.
        setting: ``"auto"``, ``"keep"`` or an int; default: ``COURSE_BLAS_THREADS``.

    Returns:
        1, N, or None (keep the caller's setting).
    """
    if setting is None:
        setting = blas_setting()
    if setting == "keep":
        return None
    if isinstance(setting, int):
        return setting
    if macs is not None and macs >= MIN_MACS_FOR_THREADS:
        return None
    return 1


def _libs() -> list[Any]:
    """threadpoolctl's BLAS controllers, found once (scanning the loaded libraries costs ms)."""
    global _blas_libs
    if _blas_libs is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl is a dependency
            _blas_libs = []
        else:
            import numpy  # noqa: F401  (its BLAS must be loaded before the scan)

            _blas_libs = list(ThreadpoolController().select(user_api="blas").lib_controllers)
    return _blas_libs


def current_blas_threads() -> int | None:
    """The thread count NumPy's BLAS uses right now (None if no BLAS library was found)."""
    libs = _libs()
    return max(lib.get_num_threads() for lib in libs) if libs else None


class blas_threads_for:  # noqa: N801  (used like a function: ``with blas_threads_for(macs):``)
    """Context manager: run the block with the BLAS thread count ``choose_threads(macs)``.

    The caller's thread counts are restored on exit, also when the block raises. Nested
    blocks (a layer inside ``fit``) choose for themselves; "keep the caller's setting"
    then means the setting found at the outermost block. Switching costs a few
    microseconds, so the layers skip it for products OpenBLAS runs on one thread anyway.

    Args:
        macs: multiply-accumulates of the block's largest matrix product, or None for a
            training epoch (see ``choose_threads``).
    """

    __slots__ = ("_macs", "_saved")

    def __init__(self, macs: float | None = None):
        self._macs = macs
        self._saved: list[int] | None = None

    def __enter__(self) -> blas_threads_for:
        global _active, _caller, _depth
        setting = _parse(os.environ.get(ENV_VAR, ""))  # a bad value raises before any change
        self._saved = None
        if setting == "keep":
            return self
        if self._macs is not None and self._macs <= _OPENBLAS_SERIAL_MACS:
            return self  # OpenBLAS uses one thread for these by itself: nothing to switch
        libs = _libs()
        if not libs:
            return self
        want = choose_threads(self._macs, setting)
        with _lock:
            if _depth == 0:  # the caller's live setting (they may have used threadpoolctl)
                _caller = _active = [lib.get_num_threads() for lib in libs]
            target = _caller if want is None else [want] * len(libs)
            self._saved = _active
            if target != _active:
                for lib, n in zip(libs, target, strict=True):
                    lib.set_num_threads(n)
                _active = target
            _depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        global _active, _caller, _depth
        if self._saved is None:
            return
        with _lock:
            if _active != self._saved:
                for lib, n in zip(_libs(), self._saved, strict=True):
                    lib.set_num_threads(n)
                _active = self._saved
            _depth -= 1
            if _depth == 0:
                _caller = _active = None
        self._saved = None

    def __repr__(self) -> str:
        return f"blas_threads_for(macs={self._macs!r})"
