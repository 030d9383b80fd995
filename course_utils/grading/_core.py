"""The core of the grading machinery: calling student code, the check decorator, the guard.

A check runs in one of two places, with the same code and the same messages:

- **locally**, in the student's own kernel (the visible checks while a student works, and
  ``nbgrader validate``): the student's objects are the real ones;
- **at grading time**, in the grader process (``course_utils.instructor.execute``), which
  never runs student code: the student's objects are ``remote.Remote`` proxies into the
  sandboxed kernel, and every value comes back as a copy. The verdict of a test cell is
  whether its checks raised, decided in the grader; nothing the kernel prints counts.

Every call into student code goes through ``call_student`` (exceptions become messages,
arguments are checked for in-place changes), and ``check`` makes a function a check:
quiet (no stderr, no warnings), one success line ``✔ <name> passed``, the genuine
``AssertionError`` on failure.

For the local case this module also keeps checks meaningful when an answer cell
monkeypatches what they use (``numpy.allclose = lambda *a: True``, a rebound
``AssertionError``, a replaced check): it captures, when the setup cell imports grading,
the references the checks rely on and snapshots the namespaces they live in
(``builtins``, ``numpy``, ``numpy.linalg``, ``numpy.random``, the grading modules and every
sealed ``grader_tests`` module); ``GUARD.restore()`` undoes any change to them before a
check starts and after every call into student code, and ``seal`` makes ``grader_tests``
modules read-only. That protects a student from confusing results in their own kernel; it
is not what grades are based on (see ``course_utils/instructor/README.md``).
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import inspect
import io
import logging
import re
import sys
import types
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.linalg
import numpy.random

from .error_text import error_hint_line
from .remote import Remote, RemoteCallable, _is_tf_tensor, remote_description
from .shown_failure import attach as attach_short_traceback
from .visible import visible_case_note

__all__ = [
    "AssertionError_",
    "Guard",
    "GUARD",
    "call_student",
    "check",
    "checks_called_in",
    "expect_callable",
    "class_of",
    "fail",
    "is_class",
    "instance_of",
    "protect",
    "quiet",
    "registered_checks",
    "seal",
    "suspicious_lines",
    "type_name",
]

MARK = "✔"

# ---------------------------------------------------------------------------------------
# Captured references (taken when the locked setup cell imports grader_tests)
# ---------------------------------------------------------------------------------------
AssertionError_ = builtins.AssertionError
_print = builtins.print
_Exception = builtins.Exception

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
    """Snapshots of namespaces and functions; ``restore()`` undoes any change to them.

    Protected: namespace dicts (module globals: rebinding and deletion of entries),
    functions (``__code__``, defaults, closure cell contents) and classes (their methods).
    """

    __slots__ = ("_dicts", "_functions", "_classes")

    def __init__(self) -> None:
        self._dicts: list[tuple[dict, dict]] = []
        self._functions: list[tuple[types.FunctionType, tuple]] = []
        self._classes: list[tuple[type, dict]] = []

    def protect_dict(self, ns: dict, only: Callable[[Any], bool] | None = None) -> None:
        if not any(existing is ns for existing, _ in self._dicts):
            self._dicts.append((ns, _public_entries(ns, only)))

    def protect_function(self, fn: types.FunctionType) -> None:
        if not any(existing is fn for existing, _ in self._functions):
            self._functions.append((fn, _function_state(fn)))

    def protect_class(self, cls: type) -> None:
        if not any(existing is cls for existing, _ in self._classes):
            self._classes.append((cls, _public_entries(dict(vars(cls)))))
            for value in vars(cls).values():
                value = getattr(value, "__func__", value)
                if isinstance(value, types.FunctionType):
                    self.protect_function(value)

    def restore(self) -> list[str]:
        """Undo every change to what is protected; return the names repaired."""
        repaired = []
        missing = object()
        for ns, saved in self._dicts:
            for key, value in saved.items():
                if ns.get(key, missing) is not value:
                    ns[key] = value
                    repaired.append(key)
        for cls, saved in self._classes:
            for key, value in saved.items():
                if vars(cls).get(key, missing) is not value:
                    type.__setattr__(cls, key, value)
                    repaired.append(f"{cls.__name__}.{key}")
        for fn, state in self._functions:
            if _function_state(fn) != state:
                code, defaults, kwdefaults, cells = (
                    x.obj if isinstance(x, _Identity) else x for x in state
                )
                fn.__code__, fn.__defaults__, fn.__kwdefaults__ = code, defaults, kwdefaults
                for cell, content in zip(fn.__closure__ or (), cells, strict=False):
                    if content.obj is not _EMPTY:
                        cell.cell_contents = content.obj
                repaired.append(fn.__qualname__)
        return repaired


_EMPTY = object()


class _Identity:
    """Compare by identity inside tuples (``==`` on student objects could run their code)."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identity) and other.obj is self.obj

    __hash__ = None


def _function_state(fn: types.FunctionType) -> tuple:
    cells = []
    for cell in fn.__closure__ or ():
        try:
            cells.append(_Identity(cell.cell_contents))
        except ValueError:
            cells.append(_Identity(_EMPTY))
    return (
        _Identity(fn.__code__),
        _Identity(fn.__defaults__),
        _Identity(fn.__kwdefaults__),
        tuple(cells),
    )


GUARD = Guard()
GUARD.protect_dict(vars(builtins), only=_is_builtin_thing)
# Not ``warnings``: ``catch_warnings`` legitimately rebinds ``warnings.filters``.
for _mod in (np, numpy.linalg, numpy.random):
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

    Put ``seal(__name__)`` as the LAST line of every ``grader_tests`` module. The module's
    globals, its functions (code, defaults, closures) and its classes are snapshotted.
    """
    module = sys.modules[module_name]
    GUARD.protect_dict(vars(module))
    for value in list(vars(module).values()):
        if isinstance(value, types.FunctionType):
            GUARD.protect_function(value)
            inner = getattr(value, "__wrapped__", None)
            if isinstance(inner, types.FunctionType):
                GUARD.protect_function(inner)
        elif isinstance(value, type) and getattr(value, "__module__", None) == module_name:
            GUARD.protect_class(value)
    if not isinstance(module, SealedModule):
        module.__class__ = SealedModule
    return module


# ---------------------------------------------------------------------------------------
# Success lines and test-cell sources
# ---------------------------------------------------------------------------------------
def _emit(check_name: str) -> None:
    _print(f"{MARK} {check_name} passed", file=sys.stdout, flush=True)


def checks_called_in(source: str) -> list[str]:
    """Names of ``check_*`` functions called in a test cell's source, in order (no dups)."""
    names = re.findall(r"\b(check_[A-Za-z0-9_]+)\s*\(", source)
    return list(dict.fromkeys(names))


_SUSPICIOUS = [
    (r"\bgrader_tests\b|course_utils\.grading|import grading\b", "refers to the grading code"),
    (
        r"__closure__|cell_contents|__code__|__globals__|__wrapped__|__kwdefaults__|__defaults__",
        "rewrites or inspects function internals",
    ),
    (r"\bsys\.modules\b|importlib\.reload", "manipulates loaded modules"),
    (
        r"_getframe|f_locals|f_globals|f_back|inspect\.stack|currentframe|tb_frame",
        "inspects stack frames",
    ),
    (r"\bgc\.get_(referents|referrers|objects)|\bctypes\b", "walks or pokes process memory"),
    (r"/proc/|\benviron\b|getenv|COURSE_GRADER_KEY", "reads the process environment"),
    (r"\bbuiltins\b|__builtins__", "touches builtins"),
    (
        r"set_custom_exc|excepthook|showtraceback|sys\.exit|os\._exit|\bsignal\.",
        "hooks exception handling or exits the kernel",
    ),
    (r"redirect_stdout|sys\.stdout\s*=|sys\.stderr\s*=", "redirects output"),
    (r"\b(np|numpy)\.[A-Za-z_.]+\s*=(?!=)", "rebinds a NumPy function"),
    (r"\bhmac\b|hashlib", "computes hashes"),
]


def suspicious_lines(source: str) -> list[str]:
    """Lines of an answer cell that look like tampering, for MANUAL review by the grader.

    A cheap static lint for the pipeline (``course autograde`` can list these per
    submission); legitimate code rarely needs any of them, but a hit is a reason to look,
    not proof. Returns ``"line N: <reason>: <code>"`` strings.
    """
    hits = []
    for number, line in enumerate(source.splitlines(), start=1):
        code = line.split("#", 1)[0]
        for pattern, reason in _SUSPICIOUS:
            if re.search(pattern, code):
                hits.append(f"line {number}: {reason}: {line.strip()}")
    return hits


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


def type_name(v: Any, *, qualified: bool = False) -> str:
    """The class name of ``v``, also for a proxy of a student object (its kernel-side type).

    ``qualified``: ``module.QualName`` (plain ``name`` for built-in types).
    """
    if isinstance(v, Remote):
        desc = remote_description(v)
        if qualified and desc.get("mro_qualified"):
            name = str(desc["mro_qualified"][0])
            return name.removeprefix("builtins.")
        return desc.get("type", "object")
    cls = type(v)
    if qualified and cls.__module__ != "builtins":
        return f"{cls.__module__}.{cls.__qualname__}"
    return cls.__name__


def is_class(obj: Any) -> bool:
    """``isinstance(obj, type)``, also for a proxy of a class in the student's kernel."""
    if isinstance(obj, Remote):
        return remote_description(obj).get("kind") == "class"
    return isinstance(obj, type)


def class_of(obj: Any) -> Any:
    """``type(obj)``: the class itself, or a proxy of it for a proxied instance."""
    if isinstance(obj, Remote):
        return object.__getattribute__(obj, "_request")("getattr", name="__class__")
    return type(obj)


def instance_of(obj: Any, cls: Any) -> bool:
    """``isinstance(obj, cls)``, also for proxies.

    ``cls`` may be a library class (``tf.Variable``: a proxied object is judged by the class
    names its kernel reports) or the student's own class (a proxy: asked in the kernel).
    """
    if isinstance(cls, Remote):
        if not isinstance(obj, Remote):
            return False
        return object.__getattribute__(obj, "_request")("isinstance", cls=cls) is True
    if isinstance(obj, Remote):
        desc = remote_description(obj)
        if desc.get("kind") == "class":
            return False
        return f"{cls.__module__}.{cls.__qualname__}" in desc.get("mro_qualified", [])
    return isinstance(obj, cls)


def expect_callable(obj: Any, name: str, *, kind: str = "function") -> None:
    """Fail unless ``obj`` is the student's own Python function/class (not a library one)."""
    if isinstance(obj, Remote):
        desc = remote_description(obj)
        builtin, module = desc.get("kind") == "builtin", str(desc.get("module") or "")
        if desc.get("is_partial"):
            builtin, module = False, ""  # as locally: a partial of the student's function
        callable_ = bool(desc.get("callable"))
    else:
        target = obj.func if isinstance(obj, functools.partial) else obj
        module = getattr(target, "__module__", None) or ""
        builtin = isinstance(target, types.BuiltinFunctionType | np.ufunc)
        callable_ = obj is not None and callable(obj)
    if not callable_:
        fail(
            f"expected your {kind} `{name}`, got {type_name(obj)} {obj!r:.60}; "
            f"did you run the cell that defines `{name}`?"
        )
    if builtin or module.split(".")[0] in _LIBRARY_PREFIXES:
        fail(f"`{name}` must be your own {kind}, not a library one ({module or 'builtin'})")


def _arg_names(fn: Callable, n: int) -> list[str]:
    if isinstance(fn, Remote):
        params = [str(p) for p in remote_description(fn).get("params", [])]
    else:
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
    if isinstance(v, Remote):
        return f"{type_name(v)} {v!r:.40}"
    if isinstance(v, type):
        return f"class {v.__name__}"
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
    kind = getattr(exc, "remote_type", None) or type(exc).__name__
    text = f"{label} raised {kind}: {exc}  (called with {called})"
    return text + error_hint_line(kind, str(exc))


def _run_student(fn: Callable, args: tuple, kwargs: dict, before: list) -> tuple[Any, dict]:
    """``(result, {index: new value of a positional array argument changed in place})``.

    ``before`` holds copies of the array arguments taken before the call (None for others).
    A proxied student function reports its own changes (its arguments were copies); a
    TensorFlow function called with tensors runs as a graph here (``remote``).
    """
    traced = bool(args) and not kwargs and all(_is_tf_tensor(a) for a in args)
    if isinstance(fn, RemoteCallable) and not traced:
        reply = fn.call(args, kwargs)
        return reply["value"], reply["mutated"]
    result = fn(*args, **kwargs)
    mutated = {
        i: arg
        for i, (arg, copy) in enumerate(zip(args, before, strict=True))
        if copy is not None and (arg.shape != copy.shape or not _same(arg, copy))
    }
    return result, mutated


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
    The guard is restored after the call, whatever the student code did. ``fn`` may be a
    proxy of a student function (``remote``): then the call runs in the student's kernel
    and the result is a copy.
    """
    label = label or f"`{getattr(fn, '__name__', None) or 'your function'}`"
    names = _arg_names(fn, len(args))
    before = [NP.array(a, copy=True) if isinstance(a, np.ndarray) else None for a in args]
    try:
        with quiet():
            result, mutated = _run_student(fn, args, kwargs, before)
    except _Exception as exc:
        GUARD.restore()
        message = _explain_exception(exc, label, names, args)
        extra = hint(exc) if callable(hint) else hint
        if extra:
            message += f"\nHint: {extra}"
        raise AssertionError_(message) from exc
    GUARD.restore()
    if check_mutation:
        for index, now in sorted(mutated.items()):
            name, copy = names[index], before[index]
            fail(
                f"{label} modified its argument `{name}` in place "
                f"({_first_difference(copy, NP.array(now))}). Work on a copy instead, e.g. "
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
        wrapper = _make_wrapper(f, name or f.__name__)
        _REGISTRY[wrapper.check_name] = wrapper
        return wrapper

    return decorate(func) if func is not None else decorate


def _make_wrapper(f: Callable, check_name: str) -> Callable:
    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        GUARD.restore()
        try:
            with quiet():
                f(*args, **kwargs)
        except AssertionError_ as exc:
            GUARD.restore()
            note = visible_case_note(f, check_name, args, kwargs)
            # In IPython the failure is drawn without these frames (``shown_failure``).
            failure = attach_short_traceback(AssertionError_(f"{check_name}: {exc}{note}"))
            raise failure from exc.__cause__
        GUARD.restore()
        _emit(check_name)

    wrapper.check_name = check_name
    return wrapper


GUARD.protect_function(_make_wrapper)
