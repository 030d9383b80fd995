"""The student's side of the grading link: runs inside the (sandboxed) kernel, trusts nothing.

While nbgrader runs a test cell, the grader process runs that cell's checks itself and
reaches the student's functions and objects through this small server: the grader sends
the kernel one line of code, ``serve(path, globals())``, which connects to the grader's
unix socket at ``path`` and answers requests until the grader says ``bye``. Every answer
is a COPY of the value (see ``wire``) or a reference id for an object that stays here.

Nothing in this module is trusted by the grader: student code can replace it, and the
grader treats every answer as what the student's code computed. Its only job is to be
a faithful, quiet messenger for honest code: student stderr, warnings and floating-point
errors during a call are silenced, as ``course_utils.grading.quiet`` does in a local
check, and exceptions come back with their type, class hierarchy and message.

Requests (``op`` and its fields; ``ref`` fields hold reference ids):

- ``lookup name`` -> the notebook's global ``name``
- ``getattr obj name`` / ``setattr obj name value`` / ``getitem obj key`` /
  ``setitem obj key value`` / ``len obj`` / ``iter obj`` (a list) / ``bool obj`` /
  ``array obj`` (``np.asarray``) / ``repr obj``
- ``call obj args kwargs`` -> ``{"value", "mutated"}``: the result, and the new value of
  every positional array argument the call modified in place
- ``map obj calls select`` -> results of ``obj(*args)`` for each argument list
- ``perturb obj path changes fn args select`` -> for each ``(flat_index, value)`` in
  ``changes``: set that entry of the array at ``obj`` + ``path``, call ``fn(*args)``,
  restore the entry exactly; returns the results (numerical gradients w.r.t. parameters)
- ``assign obj path value`` -> ``array[...] = value`` in place; ``setpath obj path value``
  -> the last step of ``path`` set to ``value`` (``setattr`` or ``__setitem__``)
- ``rebind obj assign delete`` -> in the globals of the student's function or class ``obj``,
  bind each name of ``assign`` to its value and delete the names of ``delete`` (only plain
  identifiers); returns ``{"old", "missing"}`` so the same request undoes it
  (``substitute.substituted``: reference answers of earlier tasks for one check)
- ``isinstance obj cls`` -> ``isinstance(obj, cls)`` there (a student class)
- ``trace obj specs`` -> the TensorFlow graph of ``tf.function(obj)`` for those input specs
- ``scan obj names max_depth`` -> ``course_utils.grading.find_forbidden_calls`` here
- ``bye`` -> the server returns
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import operator
import socket
import traceback
import types
import warnings
from typing import Any

import numpy as np

from .wire import Decoder, Encoder, WireError, encode_exception, recv_message, send_message

_MAX_REPR = 300
_BINOPS = {
    "add",
    "sub",
    "mul",
    "truediv",
    "floordiv",
    "pow",
    "matmul",
    "mod",
    "lt",
    "le",
    "gt",
    "ge",
}


def serve(path: str, namespace: dict) -> None:
    """Answer the grader at the unix socket ``path`` until it says ``bye``."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    try:
        _Session(sock, namespace).loop()
    finally:
        sock.close()


@contextlib.contextmanager
def _quiet():
    previous = logging.root.manager.disable
    with (
        warnings.catch_warnings(),
        np.errstate(all="ignore"),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        logging.disable(logging.CRITICAL)
        try:
            yield
        finally:
            logging.disable(previous)


def _safe_repr(obj: Any) -> str:
    try:
        text = repr(obj)
    except Exception:  # noqa: BLE001
        text = f"<{type(obj).__name__} object>"
    return text[:_MAX_REPR]


def _kind(obj: Any) -> str:
    if isinstance(obj, type):
        return "class"
    if isinstance(obj, types.ModuleType):
        return "module"
    if isinstance(obj, types.BuiltinFunctionType | np.ufunc):
        return "builtin"
    if isinstance(obj, types.FunctionType):
        return "function"
    if isinstance(obj, types.MethodType):
        return "method"
    return "callable" if callable(obj) else "instance"


def _param_names(obj: Any) -> list[str]:
    try:
        return [
            p.name
            for p in inspect.signature(obj).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ][:50]
    except (TypeError, ValueError):
        return []


def describe(obj: Any) -> dict:
    """What the grader may know about an object that stays here (all of it unverified)."""
    cls = obj if isinstance(obj, type) else type(obj)
    target = getattr(obj, "__func__", obj)
    return {
        "kind": _kind(obj),
        "callable": callable(obj),
        "name": str(getattr(target, "__qualname__", None) or getattr(target, "__name__", "")),
        "module": str(getattr(target, "__module__", None) or getattr(cls, "__module__", "")),
        "type": cls.__name__ if not isinstance(obj, type) else "type",
        "type_module": str(type(obj).__module__),
        "mro": [c.__name__ for c in getattr(cls, "__mro__", ())][:20],
        "mro_qualified": [f"{c.__module__}.{c.__qualname__}" for c in getattr(cls, "__mro__", ())][
            :40
        ],
        "params": _param_names(obj) if callable(obj) else [],
        "repr": _safe_repr(obj),
        "is_partial": type(obj).__name__ == "partial",
    }


def _student_traceback(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    lines = traceback.format_list(frames) + traceback.format_exception_only(exc)
    return "".join(lines)


class _Session:
    def __init__(self, sock: socket.socket, namespace: dict):
        self.sock = sock
        self.namespace = namespace
        self.objects: dict[int, Any] = {}

    # --- values -------------------------------------------------------------------
    def _ref(self, obj: Any) -> dict:
        key = id(obj)
        self.objects[key] = obj
        return {"$": "ref", "id": key, **describe(obj)}

    def _obj(self, doc: dict) -> Any:
        key = doc.get("id")
        if key not in self.objects:
            raise WireError("unknown reference")
        return self.objects[key]

    def _import(self, doc: dict) -> Any:
        module, name = str(doc.get("module")), str(doc.get("name"))
        if not module.startswith("course_utils"):
            raise WireError(f"refusing to import {module}")
        import importlib

        return getattr(importlib.import_module(module), name)

    @staticmethod
    def _tensor(value: np.ndarray) -> Any:
        import tensorflow as tf

        return tf.constant(value)

    def _reply(self, value: Any) -> None:
        enc = Encoder(self._ref, rngs_by_value=False)
        try:
            with _quiet():
                doc = enc.encode(value)
        except Exception as exc:  # noqa: BLE001  (e.g. a tensor that cannot be read)
            self._error(exc)
            return
        send_message(self.sock, {"ok": doc}, enc.buffers)

    def _error(self, exc: BaseException) -> None:
        send_message(self.sock, {"error": encode_exception(exc, _student_traceback(exc))}, [])

    # --- loop ---------------------------------------------------------------------
    def loop(self) -> None:
        while True:
            doc, buffers = recv_message(self.sock)
            if not isinstance(doc, dict) or not isinstance(doc.get("op"), str):
                raise WireError("malformed request")
            op = doc["op"]
            if op == "bye":
                send_message(self.sock, {"ok": None}, [])
                return
            handler = getattr(self, f"op_{op}", None)
            if handler is None:
                self._error(WireError(f"unknown request {op!r}"))
                continue
            dec = Decoder(
                buffers,
                self._obj,
                lambda d: WireError("exception as argument"),
                self._import,
                self._tensor,
            )
            try:
                with _quiet():
                    fields = {k: dec.decode(v) for k, v in doc.get("args", {}).items()}
                    result = handler(**fields)
            except Exception as exc:  # noqa: BLE001  (student code raised: report it)
                self._error(exc)
                continue
            self._reply(result)

    # --- requests -----------------------------------------------------------------
    def op_lookup(self, name: str) -> Any:
        if name not in self.namespace:
            raise NameError(f"name {name!r} is not defined")
        return self.namespace[name]

    def op_getattr(self, obj: Any, name: str) -> Any:
        return getattr(obj, name)

    def op_setattr(self, obj: Any, name: str, value: Any) -> None:
        setattr(obj, name, value)

    def op_getitem(self, obj: Any, key: Any) -> Any:
        return obj[key]

    def op_setitem(self, obj: Any, key: Any, value: Any) -> None:
        obj[key] = value

    def op_len(self, obj: Any) -> int:
        return len(obj)

    def op_iter(self, obj: Any) -> list:
        items = []
        for item in obj:
            items.append(item)
            if len(items) > 100_000:
                raise ValueError("more than 100000 items")
        return items

    def op_bool(self, obj: Any) -> bool:
        return bool(obj)

    def op_array(self, obj: Any) -> np.ndarray:
        return np.asarray(obj)

    def op_repr(self, obj: Any) -> str:
        return _safe_repr(obj)

    def op_call(self, obj: Any, args: tuple, kwargs: dict) -> dict:
        before = [np.array(a, copy=True) if isinstance(a, np.ndarray) else None for a in args]
        value = obj(*args, **kwargs)
        mutated = {}
        for i, (arg, copy) in enumerate(zip(args, before, strict=True)):
            if copy is not None and not _same(arg, copy):
                mutated[i] = np.array(arg, copy=True)
        return {"value": value, "mutated": mutated}

    def op_map(self, obj: Any, calls: list, select: int | None) -> list:
        return [_select(obj(*args), select) for args in calls]

    def op_perturb(
        self, obj: Any, path: list, changes: list, fn: Any, args: tuple, select: int | None
    ) -> list:
        array = _resolve(obj, path)
        if not isinstance(array, np.ndarray):
            raise TypeError(f"expected an array, got {type(array).__name__}")
        results = []
        for flat, value in changes:
            index = np.unravel_index(int(flat), array.shape) if array.ndim else ()
            old = array[index].copy()
            try:
                array[index] = value
                results.append(_select(fn(*args), select))
            finally:
                array[index] = old
        return results

    def op_assign(self, obj: Any, path: list, value: Any) -> None:
        array = _resolve(obj, path)
        if not isinstance(array, np.ndarray):
            raise TypeError(f"expected an array, got {type(array).__name__}")
        array[...] = value

    def op_binop(self, name: str, left: Any, right: Any) -> Any:
        if name not in _BINOPS:
            raise ValueError(f"unknown operator {name!r}")
        return getattr(operator, name)(left, right)

    def op_unop(self, name: str, value: Any) -> Any:
        if name != "neg":
            raise ValueError(f"unknown operator {name!r}")
        return -value

    def op_reference(self, module: str, name: str) -> Any:
        return self._import({"module": module, "name": name})

    def op_rebind(self, obj: Any, assign: dict, delete: list) -> dict:
        from .substitute import rebind_globals

        if not isinstance(assign, dict) or not isinstance(delete, list):
            raise TypeError("rebind: expected a dict of names to bind and a list to delete")
        return rebind_globals(obj, assign, delete)

    def op_isinstance(self, obj: Any, cls: Any) -> bool:
        return isinstance(obj, cls)

    def op_setpath(self, obj: Any, path: list, value: Any) -> None:
        if not path:
            raise ValueError("an empty path")
        kind, key = path[-1]
        parent = _resolve(obj, path[:-1])
        if kind == "attr":
            setattr(parent, key, value)
        else:
            parent[key] = value

    def op_trace(self, obj: Any, specs: list) -> dict:
        from .tfgraph import trace_to_wire

        return trace_to_wire(obj, specs)

    def op_scan(self, obj: Any, names: list, max_depth: int) -> list:
        from .inspection import find_forbidden_calls

        return find_forbidden_calls(obj, names, max_depth=max_depth)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "fc":
        return bool(((a == b) | (np.isnan(a) & np.isnan(b))).all())
    return bool((a == b).all())


def _select(value: Any, select: int | None) -> Any:
    return value if select is None else value[select]


def _resolve(obj: Any, path: list) -> Any:
    """Follow ``path`` from ``obj``: ``["attr", name]`` and ``["item", key]`` steps."""
    for kind, key in path:
        obj = getattr(obj, key) if kind == "attr" else obj[key]
    return obj
