"""The grader's side of the grading link: student objects as proxies, values as copies.

At grading time a test cell's checks run in the grader process, never in the student's
kernel. The names the cell uses (``accuracy``, ``Matmul``, ``net``) are looked up in the
kernel over ``KernelLink`` (see ``kernel_server``) and arrive as ``Remote`` proxies: an
attribute read, an item read or a call on a proxy is a request to the kernel, and what
comes back is either a copy of plain data (numbers, strings, NumPy arrays, TensorFlow
tensors, lists/tuples/dicts of them) or another proxy. So a check reads like a local one
(``call_student(layer.forward, x)``, ``layer.grads["w"]``), with two rules:

- values are COPIES: changing ``layer.params["w"]`` here changes nothing in the kernel;
  use ``course_utils.grading.assign_student_array`` to write into a student's array;
- objects the grader sends to student code are data, proxies, or course_utils references
  (``reference("course_utils.layers", "Linear")``), never grader functions.

A TensorFlow function called with tensors is not run in the kernel: the kernel traces it
(``tfgraph``) and the grader runs the graph, so GradientTape works as it does locally.
Exceptions raised by student code come back as local exceptions of the same built-in
family (a ``ValueError`` stays a ``ValueError``) with the same message. A kernel that stops
answering raises ``KernelLost`` (a BaseException: no check can catch it by accident).
"""

from __future__ import annotations

import builtins
import socket
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from .wire import Decoder, Encoder, WireError, recv_message, send_message

__all__ = [
    "KernelLink",
    "KernelLost",
    "Remote",
    "RemoteCallable",
    "StudentException",
    "assign_student_array",
    "current_link",
    "is_remote",
    "perturbed_results",
    "reference",
    "remote_description",
    "set_student_value",
    "student_rng",
]


class KernelLost(BaseException):
    """The kernel stopped answering (interrupted at the cell timeout, died, or hung up)."""


class StudentException(Exception):
    """Mixed into every exception mirrored from the kernel (``remote_mro`` and traceback)."""

    remote_type = "Exception"
    remote_mro: tuple[str, ...] = ()
    remote_traceback = ""
    remote_message = ""

    def __str__(self) -> str:
        return self.remote_message


_MIRRORS: dict[tuple[str, ...], type] = {}


def _mirror_class(mro: Sequence[str], name: str) -> type:
    """A local exception class named ``name`` deriving from the first built-in in ``mro``."""
    key = (name, *mro)
    if key not in _MIRRORS:
        base: type = Exception
        for cls_name in mro:
            candidate = getattr(builtins, cls_name, None)
            if isinstance(candidate, type) and issubclass(candidate, BaseException):
                base = candidate
                break
        bases = (base,) if issubclass(base, StudentException) else (StudentException, base)
        if not issubclass(base, Exception):  # SystemExit, KeyboardInterrupt: keep their family
            bases = (base,)
        cls = type(name, bases, {"__str__": StudentException.__str__})
        _MIRRORS[key] = cls
    return _MIRRORS[key]


def mirror_exception(doc: dict) -> BaseException:
    mro = tuple(str(x) for x in doc.get("mro", ()) if isinstance(x, str))
    name = str(doc.get("type", "Exception"))[:80] or "Exception"
    cls = _mirror_class(mro, name)
    exc = cls.__new__(cls)
    message = str(doc.get("msg", ""))
    exc.args = (message,)
    exc.remote_type, exc.remote_mro = name, mro
    exc.remote_message = message
    exc.remote_traceback = str(doc.get("tb", ""))
    return exc


def _tf_constant(value: np.ndarray) -> Any:
    from course_utils.environment import import_tensorflow

    return import_tensorflow().constant(value)


_CURRENT = threading.local()


def current_link() -> KernelLink | None:
    """The link of the test cell being graded in this thread (None in a local check)."""
    return getattr(_CURRENT, "link", None)


class KernelLink:
    """Requests to one student's kernel over a connected unix socket."""

    def __init__(
        self, sock: socket.socket, sources: Sequence[str] = (), trusted: Sequence[bool] = ()
    ):
        self.sock = sock
        #: The notebook's code cells other than tests, for static checks (``forbid_calls``),
        #: and per cell whether it is the instructor's (locked, restored by nbgrader).
        self.sources = list(sources)
        self.trusted = list(trusted)
        self._proxies: dict[int, Remote] = {}
        self._traces: dict[tuple, Any] = {}

    def __enter__(self) -> KernelLink:
        _CURRENT.link = self
        return self

    def __exit__(self, *exc) -> None:
        _CURRENT.link = None

    # --- values ---------------------------------------------------------------------
    def _ref(self, value: Any) -> dict:
        if isinstance(value, Remote) and object.__getattribute__(value, "_link") is self:
            return {"$": "ref", "id": object.__getattribute__(value, "_id")}
        raise WireError(
            f"cannot send a {type(value).__name__} from the grader to student code "
            "(only data, student objects and course_utils references)"
        )

    def _proxy(self, doc: dict) -> Remote:
        key = doc.get("id")
        if type(key) is not int:
            raise WireError("malformed reference")
        proxy = self._proxies.get(key)
        if proxy is None:
            cls = RemoteCallable if doc.get("callable") else Remote
            proxy = cls.__new__(cls)
            for name, value in (("_link", self), ("_id", key), ("_desc", doc)):
                object.__setattr__(proxy, name, value)
            self._proxies[key] = proxy
        return proxy

    # --- requests -------------------------------------------------------------------
    def request(self, op: str, **args: Any) -> Any:
        enc = Encoder(self._ref)
        doc = {"op": op, "args": {k: enc.encode(v) for k, v in args.items()}}
        try:
            send_message(self.sock, doc, enc.buffers)
            reply, buffers = recv_message(self.sock)
        except (OSError, WireError) as exc:
            raise KernelLost(f"the kernel stopped answering the grader ({exc})") from None
        if not isinstance(reply, dict) or not ({"ok", "error"} & set(reply)):
            raise KernelLost("the kernel sent a malformed reply")
        dec = Decoder(buffers, self._proxy, mirror_exception, None, _tf_constant)
        try:
            if "error" in reply:
                error = dec.decode(reply["error"])
                if not isinstance(error, BaseException):
                    raise WireError("malformed error")
                raise error
            return dec.decode(reply["ok"])
        except WireError as exc:
            raise KernelLost(f"the kernel sent an unreadable reply ({exc})") from None

    def close(self) -> None:
        try:
            send_message(self.sock, {"op": "bye", "args": {}}, [])
            recv_message(self.sock)
        except (OSError, WireError):
            pass

    def lookup(self, name: str) -> Any:
        return self.request("lookup", name=name)

    def traced(self, fn: RemoteCallable, specs: tuple) -> Any:
        """The kernel's trace of ``fn`` for ``specs`` as a local ``TracedFunction`` (cached)."""
        from .tfgraph import TracedFunction

        key = (object.__getattribute__(fn, "_id"), specs)
        if key not in self._traces:
            try:
                wire = self.request("trace", obj=fn, specs=[list(s) for s in specs])
                self._traces[key] = TracedFunction(wire, specs)
            except StudentException as exc:  # cannot be traced: remember, do not retry
                self._traces[key] = exc
        if isinstance(self._traces[key], BaseException):
            raise self._traces[key]
        return self._traces[key]


# ---------------------------------------------------------------------------------------
# Proxies
# ---------------------------------------------------------------------------------------
_DESCRIBED = {"__name__": "name", "__qualname__": "name", "__module__": "module"}


class Remote:
    """An object that lives in the student's kernel (see the module docstring)."""

    __slots__ = ("_link", "_id", "_desc")

    def _request(self, op: str, **args: Any) -> Any:
        return object.__getattribute__(self, "_link").request(op, obj=self, **args)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            desc = object.__getattribute__(self, "_desc")
            if name in _DESCRIBED and desc.get("kind") != "instance":
                return desc.get(_DESCRIBED[name])
            raise AttributeError(name)
        return self._request("getattr", name=name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._request("setattr", name=name, value=value)

    def __getitem__(self, key: Any) -> Any:
        return self._request("getitem", key=key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._request("setitem", key=key, value=value)

    def __len__(self) -> int:
        n = self._request("len")
        if type(n) is not int or n < 0:
            raise TypeError("len() of a student object returned a non-integer")
        return n

    def __iter__(self):
        return iter(self._request("iter"))

    def __bool__(self) -> bool:
        return bool(self._request("bool") is True)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        value = self._request("array")
        if not isinstance(value, np.ndarray):
            raise TypeError("the student object could not be converted to an array")
        return value.astype(dtype) if dtype is not None else value

    def numpy(self) -> np.ndarray:
        return self.__array__()

    def __repr__(self) -> str:
        return str(object.__getattribute__(self, "_desc").get("repr", "<student object>"))

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def _binop(self, name: str, other: Any, reflected: bool = False) -> Any:
        left, right = (other, self) if reflected else (self, other)
        return object.__getattribute__(self, "_link").request(
            "binop", name=name, left=left, right=right
        )

    def __neg__(self):
        return object.__getattribute__(self, "_link").request("unop", name="neg", value=self)


def _forward(name: str):
    def op(self, other):
        return self._binop(name, other)

    def rop(self, other):
        return self._binop(name, other, reflected=True)

    return op, rop


for _name in ("add", "sub", "mul", "truediv", "floordiv", "pow", "matmul", "mod"):
    _op, _rop = _forward(_name)
    setattr(Remote, f"__{_name}__", _op)
    setattr(Remote, f"__r{_name}__", _rop)
for _name in ("lt", "le", "gt", "ge"):
    setattr(Remote, f"__{_name}__", _forward(_name)[0])
del _name, _op, _rop


class RemoteCallable(Remote):
    """A function, class or other callable living in the student's kernel."""

    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs and args and all(_is_tf_tensor(a) for a in args):
            return self._traced_call(args)
        return self.call(args, kwargs)["value"]

    def call(self, args: Sequence[Any], kwargs: dict | None = None) -> dict:
        """``{"value": result, "mutated": {arg index: new value}}`` of one call."""
        return self._request("call", args=tuple(args), kwargs=dict(kwargs or {}))

    def map(self, calls: Sequence[Sequence[Any]], select: int | None = None) -> list:
        """``[self(*args)[select] for args in calls]`` in one request."""
        return self._request("map", calls=[tuple(c) for c in calls], select=select)

    def _traced_call(self, args: Sequence[Any]) -> Any:
        """Run the kernel's graph of this function here; eagerly there if it has none.

        A function that cannot be traced (it calls ``.numpy()``, NumPy...) runs in the
        kernel and its result comes back as a constant: values can be checked, but no
        gradient flows back to the inputs, exactly as when the computation leaves
        TensorFlow in a local check.
        """
        from .tfgraph import UnsafeGraph

        link = object.__getattribute__(self, "_link")
        specs = tuple((tuple(int(d) for d in a.shape), a.dtype.name) for a in args)
        try:
            traced = link.traced(self, specs)
        except StudentException:
            return self.call(args)["value"]
        except UnsafeGraph as exc:
            raise NotTraceable(str(exc)) from None
        return traced(*args)


class NotTraceable(Exception):
    """A student's TensorFlow function that cannot be turned into a safe graph."""


def _is_tf_tensor(value: Any) -> bool:
    module = type(value).__module__ or ""
    return module.startswith("tensorflow") and hasattr(value, "dtype") and hasattr(value, "shape")


def is_remote(obj: Any) -> bool:
    """Whether ``obj`` is a proxy for an object in a student's kernel."""
    return isinstance(obj, Remote)


def remote_description(obj: Remote) -> dict:
    """What the kernel said about ``obj`` (kind, name, module, type, mro, params, repr)."""
    return dict(object.__getattribute__(obj, "_desc"))


def reference(module: str, name: str) -> Any:
    """A course_utils object to hand to (or build for) student code.

    Locally it is the object itself; against a student's kernel it is a proxy of the same
    object imported THERE, so the student's code receives a real class or function.
    """
    if not module.startswith("course_utils"):
        raise ValueError(f"module: expected a course_utils module, got {module!r}")
    link = current_link()
    if link is not None:
        return link.request("reference", module=module, name=name)
    import importlib

    return getattr(importlib.import_module(module), name)


def student_rng(seed: int) -> Any:
    """A ``np.random.Generator`` that advances across calls into student code.

    A generator passed to student code is otherwise a COPY on the student's side: two calls
    with the same ``rng`` object see the same state there. When a check needs the student
    to draw from one generator call after call (a new permutation every epoch), make it
    with this: locally a plain generator, remotely one that lives in the student's kernel.
    """
    if current_link() is None:
        return np.random.default_rng(seed)
    return reference("course_utils.grading.doubles", "make_rng")(seed)


def _resolve(obj: Any, path: Sequence[tuple[str, Any]]) -> Any:
    for kind, key in path:
        obj = getattr(obj, key) if kind == "attr" else obj[key]
    return obj


def set_student_value(obj: Any, path: Sequence[tuple[str, Any]], value: Any) -> None:
    """``<obj><path> = value``: replace an attribute or item of a student object.

    ``path`` as for ``assign_student_array``; its last step is the one set, e.g.
    ``[("attr", "params"), ("item", "W1")]`` for ``net.params["W1"] = value``.
    """
    if not path:
        raise ValueError("path: expected at least one step, got none")
    if isinstance(obj, Remote):
        obj._request("setpath", path=[list(step) for step in path], value=value)
        return
    kind, key = path[-1]
    parent = _resolve(obj, path[:-1])
    if kind == "attr":
        setattr(parent, key, value)
    else:
        parent[key] = value


def perturbed_results(
    obj: Any,
    path: Sequence[tuple[str, Any]],
    changes: Sequence[tuple[int, float]],
    fn: Any,
    args: Sequence[Any] = (),
    select: int | None = None,
) -> list:
    """``fn(*args)`` (or its item ``select``) with one entry of a student's array changed.

    For each ``(flat_index, value)`` of ``changes``, the entry of the array at
    ``<obj><path>`` is set to ``value`` in place, ``fn(*args)`` is called, and the entry is
    restored to its exact old value: the numerical gradient of a student's function with
    respect to parameters it reads from its own object. One request to a student's kernel.
    """
    if isinstance(obj, Remote):
        return obj._request(
            "perturb",
            path=[list(step) for step in path],
            changes=[[int(i), float(v)] for i, v in changes],
            fn=fn,
            args=tuple(args),
            select=select,
        )
    array = _resolve(obj, path)
    results = []
    for flat, value in changes:
        index = np.unravel_index(int(flat), array.shape) if array.ndim else ()
        old = array[index].copy()
        try:
            array[index] = value
            result = fn(*args)
            results.append(result if select is None else result[select])
        finally:
            array[index] = old
    return results


def assign_student_array(obj: Any, path: Sequence[tuple[str, Any]], value: Any) -> None:
    """``<obj><path>[...] = value`` in place, on the student's own array.

    ``path`` is a sequence of ``("attr", name)`` / ``("item", key)`` steps, e.g.
    ``[("attr", "params"), ("item", "w1")]`` for ``net.params["w1"]``. Locally the same
    assignment (so a check reads the same whether or not the object is a proxy).
    """
    if isinstance(obj, Remote):
        obj._request("assign", path=[list(step) for step in path], value=value)
        return
    target = _resolve(obj, path)
    if not isinstance(target, np.ndarray):
        raise TypeError(f"expected an array at the end of {list(path)}, got {type(target)}")
    target[...] = value
