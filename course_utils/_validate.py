"""Argument validation shared by every public entry point.

Errors name the argument, what was expected and what came, e.g.
``ValueError: x: expected shape (N, 784), got (32, 28, 28)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# A dimension spec is an int (exact size) or a str (a symbolic name such as "N").
Dim = int | str


def _fmt_shape(spec: Sequence[Dim]) -> str:
    inner = ", ".join(str(d) for d in spec)
    return f"({inner},)" if len(spec) == 1 else f"({inner})"


def as_array(
    x,
    name: str,
    shape: Sequence[Dim] | None = None,
    ndim: int | Sequence[int] | None = None,
    dtype_kind: str | None = "fc",
    dims: dict[str, int] | None = None,
) -> np.ndarray:
    """Convert ``x`` to an ndarray and check it, raising ValueError that names ``name``.

    Args:
        x: array-like (NumPy array, list, or anything with ``__array__`` such as a tf.Tensor).
        name: the argument name used in error messages.
        shape: expected shape; ints must match exactly, strings are symbolic sizes that
            must agree with each other and with ``dims``.
        ndim: expected number of dimensions (an int or a collection of allowed ints).
        dtype_kind: allowed ``dtype.kind`` letters ("f" float, "i"/"u" int, "b" bool,
            "c" complex); ``None`` skips the check.
        dims: already-known symbolic sizes, updated in place with the ones found here so
            several arguments can be checked for agreement.

    Returns:
        The array (not copied when ``x`` already is one).
    """
    try:
        arr = np.asarray(x)
    except Exception as exc:  # e.g. ragged lists
        raise ValueError(f"{name}: expected an array, got {type(x).__name__} ({exc})") from None
    if arr.dtype == object:
        raise ValueError(f"{name}: expected a numeric array, got dtype object")
    if dtype_kind is not None and arr.dtype.kind not in dtype_kind:
        raise ValueError(
            f"{name}: expected dtype kind in {dtype_kind!r} "
            f"({_kind_names(dtype_kind)}), got {arr.dtype}"
        )
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise ValueError(f"{name}: expected {want} dimensions, got shape {arr.shape}")
    if shape is not None:
        check_shape(arr.shape, shape, name, dims)
    return arr


def check_shape(
    actual: tuple[int, ...], spec: Sequence[Dim], name: str, dims: dict[str, int] | None = None
) -> None:
    """Raise ValueError unless ``actual`` matches ``spec`` (ints exact, strings consistent)."""
    dims = {} if dims is None else dims
    if len(actual) != len(spec):
        raise ValueError(f"{name}: expected shape {_fmt_shape(spec)}, got {tuple(actual)}")
    for got, want in zip(actual, spec, strict=True):
        if isinstance(want, int):
            ok = got == want
        elif want in dims:
            ok = got == dims[want]
        else:
            dims[want] = got
            ok = True
        if not ok:
            known = ", ".join(f"{k}={v}" for k, v in dims.items() if k in spec)
            where = f" with {known}" if known else ""
            raise ValueError(
                f"{name}: expected shape {_fmt_shape(spec)}{where}, got {tuple(actual)}"
            )


def check_positive_int(value, name: str) -> int:
    """Return ``value`` if it is a positive int, else raise ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{name}: expected a positive int, got {value!r}")
    return int(value)


def check_probability(value, name: str, *, inclusive_one: bool = False) -> float:
    """Return ``value`` as float if it lies in [0, 1) (or [0, 1]), else raise ValueError."""
    v = float(value)
    ok = 0.0 <= v <= 1.0 if inclusive_one else 0.0 <= v < 1.0
    if not ok:
        interval = "[0, 1]" if inclusive_one else "[0, 1)"
        raise ValueError(f"{name}: expected a number in {interval}, got {value!r}")
    return v


def _kind_names(kinds: str) -> str:
    names = {"f": "float", "i": "int", "u": "unsigned int", "b": "bool", "c": "complex"}
    return "/".join(names.get(k, k) for k in kinds)
