"""The trusted core of the grading machinery: captured references, guard, seal, markers.

Student code runs in the same Python process as the checks, *after* this module was
imported by the notebook's locked setup cell. This module therefore

- captures, at import time, the references the checks rely on (``AssertionError``,
  ``print``, the NumPy functions used to compare) and a snapshot of the namespaces they
  live in (types and built-in functions of ``builtins``, ``numpy``, ``numpy.linalg``,
  ``numpy.random``, ``hmac``/``hashlib``, ``course_utils.gradcheck``, the grading modules
  themselves and every sealed ``grader_tests`` module). ``Guard.restore()`` puts every
  snapshotted entry back; each check calls it when it starts, after every call into
  student code and before printing its success line, so ``numpy.allclose = lambda *a,
  **k: True`` or ``builtins.AssertionError = ...`` done in an answer cell has no effect
  on a check (and the kernel stays restored afterwards);
- reads the grading key from ``COURSE_GRADER_KEY`` ONCE, removes it from ``os.environ``
  and scrubs its bytes from the process's initial environment block (so
  ``/proc/self/environ`` no longer shows it), and keeps it only inside a closure;
- prints, on success, exactly one line ``✔ <check_name> passed`` followed, when a key is
  present, by `` [<token>]`` with
  ``token = hmac.new(key, check_name.encode(), "sha256").hexdigest()[:16]``, which an
  out-of-kernel audit (``verify_markers``) compares with the notebook's saved outputs.

Residual risk, honestly: this is tamper-*resistance*, not isolation. Code in the same
process can still, with deliberate effort, reach the key (it is in memory: a closure cell,
and the parent process's environment if the key was set when that process started), rewrite
a function's ``__code__`` or closure cells, or replay a marker it captured earlier in the
same run. Mitigations that belong to the pipeline: generate a fresh random key per
autograde run, set it in the launching process's ``os.environ`` at run time (not on the
command line or in the parent's start-up environment), require each marker in the output of
the test cell that calls that check, and, for real isolation, grade every submission in its
own container with no network.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import hashlib
import hmac
import inspect
import io
import logging
import os
import re
import sys
import types
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import numpy.linalg
import numpy.random

__all__ = [
    "AssertionError_",
    "Guard",
    "GUARD",
    "call_student",
    "check",
    "checks_called_in",
    "expect_callable",
    "expected_marker",
    "fail",
    "find_markers",
    "protect",
    "quiet",
    "registered_checks",
    "seal",
    "verify_markers",
]

KEY_ENV = "COURSE_GRADER_KEY"
MARK = "✔"

# ---------------------------------------------------------------------------------------
# Captured references (taken when the locked setup cell imports grader_tests)
# ---------------------------------------------------------------------------------------
AssertionError_ = builtins.AssertionError
_print = builtins.print
_Exception = builtins.Exception
_hmac_new = hmac.new
_sha256 = hashlib.sha256

#: The NumPy functions the comparison code uses, captured at import.
NP = types.SimpleNamespace(
    abs=np.abs,
    all=np.all,
    array=np.array,
    errstate=np.errstate,
    float64=np.float64,
    isfinite=np.isfinite,
    isinf=np.isinf,
    isnan=np.isnan,
    median=np.median,
    ndarray=np.ndarray,
    nonzero=np.nonzero,
    unravel_index=np.unravel_index,
    where=np.where,
    zeros=np.zeros,
    generic=np.generic,
    bool_=np.bool_,
    integer=np.integer,
    floating=np.floating,
)


# ---------------------------------------------------------------------------------------
# Guard: snapshots of namespaces, restored on demand
# ---------------------------------------------------------------------------------------
def _public_entries(ns: dict, only: Callable[[Any], bool] | None = None) -> dict:
    return {
        k: v
        for k, v in ns.items()
        if not (k.startswith("__") and k.endswith("__")) and (only is None or only(v))
    }


def _is_builtin_thing(v: Any) -> bool:
    return isinstance(v, type | types.BuiltinFunctionType)


class Guard:
    """Snapshots of namespace dicts; ``restore()`` rebinds every entry that changed."""

    def __init__(self) -> None:
        self._saved: list[tuple[dict, dict]] = []

    def protect_dict(self, ns: dict, only: Callable[[Any], bool] | None = None) -> None:
        for existing, _ in self._saved:
            if existing is ns:
                return
        self._saved.append((ns, _public_entries(ns, only)))

    def restore(self) -> list[str]:
        """Undo rebinding/deletion of every protected entry; return what was repaired."""
        repaired = []
        missing = object()
        for ns, saved in self._saved:
            for key, value in saved.items():
                if ns.get(key, missing) is not value:
                    ns[key] = value
                    repaired.append(key)
        return repaired


GUARD = Guard()
GUARD.protect_dict(vars(builtins), only=_is_builtin_thing)
# Not ``warnings``: ``catch_warnings`` legitimately rebinds ``warnings.filters``.
for _mod in (np, numpy.linalg, numpy.random, hmac, hashlib):
    GUARD.protect_dict(vars(_mod))
GUARD.protect_dict(vars(NP))


def protect(*modules: types.ModuleType) -> None:
    """Snapshot ``modules`` so checks undo later rebinding of their attributes.

    Call it in a ``grader_tests`` module for every library whose functions serve as the
    expected answer (e.g. ``protect(tf, tf.nn, tf.math)`` so a student cannot replace
    ``tf.nn.softmax`` with their own function before it is used as the reference).
    """
    for mod in modules:
        GUARD.protect_dict(vars(mod))


@contextlib.contextmanager
def quiet():
    """Silence everything a check could leak to stderr: warnings, NumPy FP errors, logging.

    Also redirects ``sys.stderr`` (Python-level writes by student code) into a buffer
    that is dropped: nbgrader gives 0 points to a test cell with stderr output.
    """
    previous_disable = logging.root.manager.disable
    with (
        warnings.catch_warnings(),
        NP.errstate(all="ignore"),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        logging.disable(logging.CRITICAL)
        try:
            yield
        finally:
            logging.disable(previous_disable)


# ---------------------------------------------------------------------------------------
# Sealed modules
# ---------------------------------------------------------------------------------------
class SealedModule(types.ModuleType):
    """A module whose attributes cannot be rebound or deleted (checks are read-only)."""

    def __setattr__(self, name: str, value: Any) -> None:
        full = f"{self.__name__}.{name}"
        # The import system binds a freshly imported submodule on its parent package.
        if isinstance(value, types.ModuleType) and sys.modules.get(full) is value:
            types.ModuleType.__setattr__(self, name, value)
            return
        raise AttributeError(
            f"{self.__name__} is read-only: checks cannot be replaced or changed "
            f"(tried to set {name!r}). Call the check on your own function instead."
        )

    def __delattr__(self, name: str) -> None:
        raise AttributeError(
            f"{self.__name__} is read-only: checks cannot be deleted (tried to delete {name!r})"
        )


def seal(module_name: str) -> types.ModuleType:
    """Make ``sys.modules[module_name]`` read-only and snapshot it for the guard.

    Put ``seal(__name__)`` as the LAST line of every ``grader_tests`` module.
    """
    module = sys.modules[module_name]
    GUARD.protect_dict(vars(module))
    if not isinstance(module, SealedModule):
        module.__class__ = SealedModule
    return module


# ---------------------------------------------------------------------------------------
# The grading key and success markers
# ---------------------------------------------------------------------------------------
def _scrub_initial_environment(name: str) -> None:
    """Overwrite the value of ``name`` in the C environment block (Linux /proc/self/environ)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.getenv.restype = ctypes.c_void_p
        libc.getenv.argtypes = [ctypes.c_char_p]
        ptr = libc.getenv(name.encode())
        if ptr:
            length = len(ctypes.string_at(ptr))
            ctypes.memset(ptr, ord("0"), length)
    except Exception:  # best effort: not every platform has a libc with getenv
        pass


def _make_signer() -> Callable[[str], str | None]:
    raw = os.environ.get(KEY_ENV)
    if raw is not None:
        _scrub_initial_environment(KEY_ENV)
        os.environ.pop(KEY_ENV, None)
    key = raw.encode() if raw else None

    def sign(check_name: str) -> str | None:
        if key is None:
            return None
        return _hmac_new(key, check_name.encode(), _sha256).hexdigest()[:16]

    return sign


_sign = _make_signer()
del _make_signer


def expected_marker(check_name: str, key: str | bytes | None) -> str:
    """The exact success line a passing ``check_name`` prints when graded with ``key``."""
    if not key:
        return f"{MARK} {check_name} passed"
    if isinstance(key, str):
        key = key.encode()
    token = hmac.new(key, check_name.encode(), hashlib.sha256).hexdigest()[:16]
    return f"{MARK} {check_name} passed [{token}]"


_MARKER_RE = re.compile(rf"{MARK} ([A-Za-z_][A-Za-z0-9_.]*) passed(?: \[([0-9a-f]{{16}})\])?")


def find_markers(text: str) -> set[str]:
    """Every success marker line found in ``text`` (as ``expected_marker`` spells them)."""
    return {m.group(0) for m in _MARKER_RE.finditer(text)}


def verify_markers(
    output_text: str, check_names: Iterable[str], key: str | bytes | None
) -> list[str]:
    """Names from ``check_names`` whose correctly keyed marker is NOT in ``output_text``."""
    found = find_markers(output_text)
    return [name for name in check_names if expected_marker(name, key) not in found]


def checks_called_in(source: str) -> list[str]:
    """Names of ``check_*`` functions called in a test cell's source, in order (no dups)."""
    names = re.findall(r"\b(check_[A-Za-z0-9_]+)\s*\(", source)
    return list(dict.fromkeys(names))


def _emit_success(check_name: str) -> None:
    token = _sign(check_name)
    line = f"{MARK} {check_name} passed" + (f" [{token}]" if token else "")
    _print(line, file=sys.stdout, flush=True)


# ---------------------------------------------------------------------------------------
# Failing, calling student code, the check decorator
# ---------------------------------------------------------------------------------------
def fail(message: str) -> None:
    """Raise the (captured, genuine) AssertionError with ``message``."""
    raise AssertionError_(message)


_LIBRARY_PREFIXES = (
    "course_utils",
    "grader_tests",
    "numpy",
    "tensorflow",
    "keras",
    "sklearn",
    "scipy",
    "torch",
    "jax",
)


def expect_callable(obj: Any, name: str, *, kind: str = "function") -> None:
    """Fail unless ``obj`` is the student's own Python function/class (not a library one)."""
    if obj is None or not callable(obj):
        fail(
            f"expected your {kind} `{name}`, got {type(obj).__name__} {obj!r:.60}; "
            f"did you run the cell that defines `{name}`?"
        )
    target = obj.func if isinstance(obj, functools.partial) else obj
    module = getattr(target, "__module__", None) or ""
    if (
        isinstance(target, types.BuiltinFunctionType | np.ufunc)
        or module.split(".")[0] in _LIBRARY_PREFIXES
    ):
        fail(f"`{name}` must be your own {kind}, not a library one ({module or 'builtin'})")


def _arg_names(fn: Callable, n: int) -> list[str]:
    try:
        params = [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    return [params[i] if i < len(params) else f"argument {i + 1}" for i in range(n)]


def describe_value(v: Any) -> str:
    """Short description of an argument: shape and dtype for arrays, repr otherwise."""
    if isinstance(v, np.ndarray):
        return f"shape {v.shape} {v.dtype}"
    shape = getattr(v, "shape", None)
    if shape is not None and hasattr(v, "dtype"):
        return f"{type(v).__name__} of shape {tuple(shape)} {getattr(v.dtype, 'name', v.dtype)}"
    return f"{type(v).__name__} {v!r:.40}"


def _first_difference(before: np.ndarray, after: np.ndarray) -> str:
    if before.shape != after.shape:
        return f"its shape changed from {before.shape} to {after.shape}"
    if before.dtype.kind in "fc":
        same = (before == after) | (NP.isnan(before) & NP.isnan(after))
    else:
        same = before == after
    bad = NP.nonzero(~same.reshape(-1))[0]
    idx = tuple(int(i) for i in NP.unravel_index(int(bad[0]), before.shape))
    return (
        f"{len(bad)} entr{'y' if len(bad) == 1 else 'ies'} changed, e.g. index {idx} "
        f"was {before[idx].item()!r}, now {after[idx].item()!r}"
    )


def _explain_exception(exc: BaseException, label: str, names, args) -> str:
    called = ", ".join(f"{n}: {describe_value(a)}" for n, a in zip(names, args, strict=False))
    if isinstance(exc, NotImplementedError):
        return (
            f"{label} is not implemented yet (it raised NotImplementedError): replace the "
            f"`raise NotImplementedError` line with your code"
        )
    return f"{label} raised {type(exc).__name__}: {exc}  (called with {called})"


def call_student(
    fn: Callable,
    *args: Any,
    label: str | None = None,
    check_mutation: bool = True,
    hint: Callable[[BaseException], str | None] | str | None = None,
    **kwargs: Any,
) -> Any:
    """Call student code quietly; turn its exceptions and in-place mutations into failures.

    Array arguments are copied first and compared afterwards: a function that modifies
    its input (``scores -= scores.max()``) fails with the argument's name and the first
    changed entry. An exception from student code becomes an AssertionError (chained to
    the original) naming the call and the argument shapes; ``hint`` adds a sentence.
    The guard is restored after the call, whatever the student code did.
    """
    label = label or f"`{getattr(fn, '__name__', 'your function')}`"
    names = _arg_names(fn, len(args))
    before = [NP.array(a, copy=True) if isinstance(a, np.ndarray) else None for a in args]
    try:
        with quiet():
            result = fn(*args, **kwargs)
    except _Exception as exc:
        GUARD.restore()
        message = _explain_exception(exc, label, names, args)
        extra = hint(exc) if callable(hint) else hint
        if extra:
            message += f"\nHint: {extra}"
        raise AssertionError_(message) from exc
    GUARD.restore()
    if check_mutation:
        for name, arg, copy in zip(names, args, before, strict=True):
            if copy is None:
                continue
            if arg.shape != copy.shape or not _same(arg, copy):
                fail(
                    f"{label} modified its argument `{name}` in place "
                    f"({_first_difference(copy, arg)}). Work on a copy instead, e.g. "
                    f"`{name} = {name} - ...` rather than `{name} -= ...`, or "
                    f"`{name}.copy()` before assigning into it."
                )
    return result


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype.kind in "fc":
        return bool(((a == b) | (NP.isnan(a) & NP.isnan(b))).all())
    return bool((a == b).all())


_REGISTRY: dict[str, Callable] = {}


def registered_checks() -> dict[str, Callable]:
    """Check name -> check function, for every check defined with ``@check``."""
    return dict(_REGISTRY)


def check(func: Callable | None = None, *, name: str | None = None):
    """Decorator for a grader check: quiet, guarded, one success line, failures propagate.

    The wrapped check returns None. It restores the guard first (undoing monkeypatches of
    numpy/builtins/sealed modules), runs with warnings/FP errors/stderr silenced, and
    prints ``✔ <name> passed`` (plus the token) only if nothing was raised. It catches
    nothing: an AssertionError from a helper reaches the test cell with its message
    prefixed by the check name.
    """

    def decorate(f: Callable) -> Callable:
        check_name = name or f.__name__

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> None:
            GUARD.restore()
            try:
                with quiet():
                    f(*args, **kwargs)
            except AssertionError_ as exc:
                GUARD.restore()
                raise AssertionError_(f"{check_name}: {exc}") from exc.__cause__
            GUARD.restore()
            _emit_success(check_name)

        wrapper.check_name = check_name
        _REGISTRY[check_name] = wrapper
        return wrapper

    return decorate(func) if func is not None else decorate
