"""The wire format between the grader and a student's kernel: values copied, never pickled.

Both ends of ``remote`` (grader) and ``kernel_server`` (inside the sandboxed kernel) use
it. A message is a JSON document plus binary buffers (array bytes), framed as::

    u32 json_length | u32 buffer_count | json | (u64 length | bytes) * buffer_count

Decoding never runs code of the sender: JSON is parsed by the standard library, arrays are
rebuilt with ``np.frombuffer`` from a dtype string restricted to plain numbers, booleans
and fixed-width strings, and nothing is unpickled. Sizes and nesting depth are bounded, so
a hostile kernel can make a reply wrong, slow or refused, but cannot make the grader run
its code or run out of memory.

A value is encoded as JSON scalars (``None``, bools, ints, floats, strings) or a tagged
object ``{"$": tag, ...}``:

=========== =========================================================================
tag         value
=========== =========================================================================
list/tuple  ``v``: the items
dict        ``v``: ``[key, value]`` pairs (any encodable keys)
set         ``v``: the items (``frozen`` true for a frozenset)
nd          numpy array: ``dtype``, ``shape``, ``b`` (buffer index)
np          numpy scalar: ``dtype``, ``b``
tf          a TensorFlow eager tensor, by value: ``v`` (an ``nd``)
complex     ``re``, ``im``
bytes       ``b``
slice       ``v``: start, stop, step;  ``ellipsis``: ``...``;  ``range``: ``v``
dtype       a NumPy dtype (``v``: its ``str``), or its scalar type (``scalar_type``)
builtin     ``int``, ``float``, ``bool``... the type itself;  ``tfdtype``: ``tf.float32``...
rng         a ``np.random.Generator``, by value: ``v`` its bit generator's state
ref         an object that stays where it lives: ``id`` plus a description
import      ``module``, ``name``: a course_utils object the receiver imports itself
exc         an exception: ``type``, ``mro`` (class names), ``msg``, ``tb``
=========== =========================================================================
"""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Callable
from typing import Any

import numpy as np

#: Largest JSON document and largest total of buffers in one message (bytes).
MAX_JSON = 64 * 2**20
MAX_BUFFERS = 1024 * 2**20
MAX_DEPTH = 48
MAX_ITEMS = 1_000_000
#: dtype kinds that travel by value: bool, ints, floats, complex, bytes and str.
VALUE_KINDS = "biufcSU"

_HEADER = struct.Struct("!II")
_LENGTH = struct.Struct("!Q")


class WireError(RuntimeError):
    """A message that could not be sent, received or decoded."""


# ---------------------------------------------------------------------------------------
# Framing
# ---------------------------------------------------------------------------------------
def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 22))
        if not chunk:
            raise WireError("the connection was closed")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def send_message(sock: socket.socket, doc: Any, buffers: list[bytes]) -> None:
    data = json.dumps(doc, ensure_ascii=True, allow_nan=True).encode("ascii")
    if len(data) > MAX_JSON:
        raise WireError(f"message too large ({len(data)} bytes of JSON)")
    parts = [_HEADER.pack(len(data), len(buffers)), data]
    for buf in buffers:
        parts += [_LENGTH.pack(len(buf)), buf]
    sock.sendall(b"".join(parts))


def recv_message(sock: socket.socket) -> tuple[Any, list[bytes]]:
    size, count = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    if size > MAX_JSON or count > MAX_ITEMS:
        raise WireError(f"message too large ({size} bytes of JSON, {count} buffers)")
    raw = _recv_exact(sock, size)
    buffers, total = [], 0
    for _ in range(count):
        (length,) = _LENGTH.unpack(_recv_exact(sock, _LENGTH.size))
        total += length
        if total > MAX_BUFFERS:
            raise WireError(f"message too large (more than {MAX_BUFFERS} bytes of data)")
        buffers.append(_recv_exact(sock, length))
    try:
        doc = json.loads(raw.decode("ascii"))
    except (ValueError, RecursionError) as exc:
        raise WireError(f"undecodable message ({type(exc).__name__})") from None
    return doc, buffers


# ---------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------
def _is_value_dtype(dtype: np.dtype) -> bool:
    return dtype.kind in VALUE_KINDS and not dtype.fields and not dtype.subdtype


class Encoder:
    """Encode one message's values; objects that are not data go through ``make_ref``."""

    def __init__(self, make_ref: Callable[[Any], dict], *, rngs_by_value: bool = True):
        self.make_ref = make_ref
        self.rngs_by_value = rngs_by_value  # False: generators stay where they live (refs)
        self.buffers: list[bytes] = []

    def _buffer(self, data: bytes) -> int:
        self.buffers.append(data)
        return len(self.buffers) - 1

    def encode(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise WireError(f"value nested more than {MAX_DEPTH} levels deep")
        t = type(value)
        if value is None or t in (bool, int, float, str):
            return value
        if t in (list, tuple):
            return {"$": t.__name__, "v": [self.encode(v, depth + 1) for v in value]}
        if t is dict:
            return {
                "$": "dict",
                "v": [
                    [self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()
                ],
            }
        if t in (set, frozenset):
            return {
                "$": "set",
                "frozen": t is frozenset,
                "v": [self.encode(v, depth + 1) for v in value],
            }
        if isinstance(value, np.ndarray) and _is_value_dtype(value.dtype):
            arr = value if value.flags.c_contiguous else value.copy(order="C")
            arr = arr.view(np.ndarray)
            return {
                "$": "nd",
                "dtype": arr.dtype.str,
                "shape": list(arr.shape),
                "b": self._buffer(arr.tobytes()),
            }
        if isinstance(value, np.generic) and _is_value_dtype(value.dtype):
            return {"$": "np", "dtype": value.dtype.str, "b": self._buffer(value.tobytes())}
        if t is complex:
            return {"$": "complex", "re": value.real, "im": value.imag}
        if t is bytes:
            return {"$": "bytes", "b": self._buffer(value)}
        if t is slice:
            return {
                "$": "slice",
                "v": [self.encode(x, depth + 1) for x in (value.start, value.stop, value.step)],
            }
        if value is Ellipsis:
            return {"$": "ellipsis"}
        if t is range:
            return {"$": "range", "v": [value.start, value.stop, value.step]}
        if isinstance(value, np.dtype) and _is_value_dtype(value):
            return {"$": "dtype", "v": value.str, "scalar_type": False}
        if isinstance(value, type) and issubclass(value, np.generic):
            dtype = np.dtype(value)
            if _is_value_dtype(dtype) and dtype.type is value:
                return {"$": "dtype", "v": dtype.str, "scalar_type": True}
        if isinstance(value, type) and any(value is b for b in _BUILTIN_TYPES.values()):
            return {"$": "builtin", "v": value.__name__}
        if type(value).__name__ == "DType" and (type(value).__module__ or "").startswith(
            "tensorflow"
        ):
            return {"$": "tfdtype", "v": value.name}
        if isinstance(value, np.random.Generator) and self.rngs_by_value:
            state = value.bit_generator.state
            if state.get("bit_generator") in _BIT_GENERATORS:
                return {"$": "rng", "v": self.encode(state, depth + 1)}
        if isinstance(value, BaseException):
            return encode_exception(value)
        if isinstance(value, ImportSpec):
            return {"$": "import", "module": value.module, "name": value.name}
        tensor = _eager_tensor_value(value)
        if tensor is not None:
            return {"$": "tf", "v": self.encode(tensor, depth + 1)}
        return self.make_ref(value)


_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")
_BUILTIN_TYPES = {t.__name__: t for t in (int, float, bool, complex, str, bytes, list, tuple, dict)}


def _eager_tensor_value(value: Any) -> np.ndarray | None:
    """The numpy value of a TensorFlow EagerTensor (not a Variable), else None."""
    module = type(value).__module__ or ""
    if not module.startswith("tensorflow") or type(value).__name__ != "EagerTensor":
        return None
    try:
        arr = value.numpy()
    except Exception:  # noqa: BLE001  (a tensor that cannot be read stays a reference)
        return None
    return arr if isinstance(arr, np.ndarray) and _is_value_dtype(arr.dtype) else None


class ImportSpec:
    """``module.name``, imported by the receiving side (a course_utils reference)."""

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __repr__(self) -> str:
        return f"{self.module}.{self.name}"


def encode_exception(exc: BaseException, tb: str = "") -> dict:
    mro = [c.__name__ for c in type(exc).__mro__]
    try:
        msg = str(exc)
    except Exception:  # noqa: BLE001  (a student's __str__ may itself raise)
        msg = f"<{type(exc).__name__} whose message could not be read>"
    return {
        "$": "exc",
        "type": type(exc).__name__,
        "module": type(exc).__module__,
        "mro": mro[:20],
        "msg": msg[:20000],
        "tb": tb[:20000],
    }


class Decoder:
    """Decode one message's values; ``ref`` and ``exc`` objects go through the callbacks."""

    def __init__(
        self,
        buffers: list[bytes],
        on_ref: Callable[[dict], Any],
        on_exc: Callable[[dict], Any],
        on_import: Callable[[dict], Any] | None = None,
        tensor: Callable[[np.ndarray], Any] | None = None,
    ):
        self.buffers = buffers
        self.on_ref, self.on_exc, self.on_import = on_ref, on_exc, on_import
        self.tensor = tensor
        self.items = 0

    def _buf(self, doc: dict) -> bytes:
        index = doc.get("b")
        if type(index) is not int or not 0 <= index < len(self.buffers):
            raise WireError("bad buffer index")
        return self.buffers[index]

    def _count(self, n: int) -> None:
        self.items += n
        if self.items > MAX_ITEMS:
            raise WireError(f"more than {MAX_ITEMS} items in one message")

    def decode(self, doc: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise WireError(f"value nested more than {MAX_DEPTH} levels deep")
        if doc is None or type(doc) in (bool, int, float, str):
            return doc
        if type(doc) is not dict or type(doc.get("$")) is not str:
            raise WireError(f"malformed value of type {type(doc).__name__}")
        tag = doc["$"]
        items = doc.get("v")
        if tag in ("list", "tuple", "set"):
            if type(items) is not list:
                raise WireError(f"malformed {tag}")
            self._count(len(items))
            values = [self.decode(v, depth + 1) for v in items]
            if tag == "set":
                return frozenset(values) if doc.get("frozen") else set(values)
            return values if tag == "list" else tuple(values)
        if tag == "dict":
            if type(items) is not list or not all(type(p) is list and len(p) == 2 for p in items):
                raise WireError("malformed dict")
            self._count(len(items))
            return {self.decode(k, depth + 1): self.decode(v, depth + 1) for k, v in items}
        if tag == "nd":
            return _array(doc, self._buf(doc))
        if tag == "np":
            arr = _array({"dtype": doc.get("dtype"), "shape": []}, self._buf(doc))
            return arr[()]
        if tag == "tf":
            value = self.decode(items, depth + 1)
            return self.tensor(value) if self.tensor else value
        if tag == "complex":
            return complex(float(doc["re"]), float(doc["im"]))
        if tag == "bytes":
            return bytes(self._buf(doc))
        if tag == "slice":
            parts = [self.decode(v, depth + 1) for v in items or []]
            if len(parts) != 3:
                raise WireError("malformed slice")
            return slice(*parts)
        if tag == "ellipsis":
            return Ellipsis
        if tag == "range":
            if type(items) is not list or len(items) != 3 or not all(type(i) is int for i in items):
                raise WireError("malformed range")
            return range(*items)
        if tag == "dtype":
            try:
                dtype = np.dtype(str(doc.get("v")))
            except TypeError:
                raise WireError("unknown dtype") from None
            if not _is_value_dtype(dtype):
                raise WireError(f"dtype {dtype} cannot travel by value")
            return dtype.type if doc.get("scalar_type") else dtype
        if tag == "rng":
            state = self.decode(items, depth + 1)
            name = state.get("bit_generator") if isinstance(state, dict) else None
            if name not in _BIT_GENERATORS:
                raise WireError("unknown random generator")
            bit_generator = getattr(np.random, name)()
            try:
                bit_generator.state = state
            except (TypeError, ValueError, KeyError) as exc:
                raise WireError(f"bad random generator state ({exc})") from None
            return np.random.Generator(bit_generator)
        if tag == "builtin":
            if doc.get("v") not in _BUILTIN_TYPES:
                raise WireError("unknown built-in type")
            return _BUILTIN_TYPES[doc["v"]]
        if tag == "tfdtype":
            from course_utils.environment import import_tensorflow

            return import_tensorflow().as_dtype(str(doc.get("v")))
        if tag == "ref":
            return self.on_ref(doc)
        if tag == "exc":
            return self.on_exc(doc)
        if tag == "import" and self.on_import is not None:
            return self.on_import(doc)
        raise WireError(f"unknown value tag {tag!r}")


def _array(doc: dict, data: bytes) -> np.ndarray:
    dtype_str, shape = doc.get("dtype"), doc.get("shape")
    if type(dtype_str) is not str or type(shape) is not list:
        raise WireError("malformed array")
    try:
        dtype = np.dtype(dtype_str)
    except TypeError:
        raise WireError(f"unknown dtype {dtype_str[:40]!r}") from None
    if not _is_value_dtype(dtype) or not all(type(d) is int and d >= 0 for d in shape):
        raise WireError(f"array of dtype {dtype} cannot travel by value")
    count = 1
    for d in shape:
        count *= d
    if count * dtype.itemsize != len(data):
        raise WireError("array size does not match its data")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()
