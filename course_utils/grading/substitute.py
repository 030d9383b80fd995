"""Run a student's task with reference answers of the EARLIER tasks in place (isolation).

A test cell scores its own task. When the student's task k uses their earlier answers
(``TwoLayerNet.__init__`` builds ``Matmul(w1)``, ``train_epoch`` calls ``cross_entropy``,
``std_value`` works on ``Value``s), the check runs it with course stand-ins
(``grading.stand_ins``) bound to those names, and puts the student's own objects back
afterwards, whatever happened::

    with substituted(TwoLayerNet, {"Matmul": reference("course_utils.grading.stand_ins",
                                                        "Matmul")}):
        ...  # the student's TwoLayerNet, built from the reference Matmul

``substituted(obj, names)`` rebinds names in the namespace the student's code looks its
globals up in (``globals_of(obj)``: the notebook's namespace for a notebook-defined
function or class). ``substituted_attributes(obj, names)`` sets attributes of a student
object or class (``Value.__mul__``). Locally both act on the real objects; against a
student's kernel they are one request each way (``rebind`` and ``setattr`` in
``kernel_server``): the values sent are data, student objects or course_utils references,
never grader code.
"""

from __future__ import annotations

import contextlib
import sys
import types
from collections.abc import Iterator, Mapping
from typing import Any

from ._core import fail
from .remote import Remote

_LIBRARIES = ("course_utils", "grader_tests", "numpy", "tensorflow", "keras", "builtins")

__all__ = ["globals_of", "rebind_globals", "substituted", "substituted_attributes"]


def globals_of(obj: Any) -> dict:
    """The globals dict the student's ``obj`` (function, method or class) looks names up in."""
    target = getattr(obj, "__func__", obj)
    if isinstance(target, types.FunctionType):
        return target.__globals__
    if isinstance(target, type):
        for value in vars(target).values():  # its own methods, not a library base class's
            value = getattr(value, "__func__", value)
            if isinstance(value, types.FunctionType):
                return value.__globals__
        module = sys.modules.get(target.__module__)
        if module is not None and not target.__module__.startswith(_LIBRARIES):
            return vars(module)
    raise TypeError(
        f"obj: expected a Python function or a class with Python methods, got {type(obj).__name__}"
    )


def _check_names(names) -> None:
    for name in names:
        if not (isinstance(name, str) and name.isidentifier()) or name.startswith("__"):
            raise ValueError(f"names: expected plain identifiers, got {name!r}")


def rebind_globals(obj: Any, assign: Mapping[str, Any], delete=()) -> dict:
    """Set ``assign`` and delete ``delete`` in ``globals_of(obj)``; return what was there.

    The result is ``{"old": {name: previous value}, "missing": [names not defined]}`` for
    the names of ``assign``, so that ``rebind_globals(obj, result["old"],
    result["missing"])`` undoes the change.
    """
    _check_names([*assign, *delete])
    ns = globals_of(obj)
    old = {name: ns[name] for name in assign if name in ns}
    missing = [name for name in assign if name not in ns]
    for name in delete:
        ns.pop(name, None)
    ns.update(assign)
    return {"old": old, "missing": missing}


def _rebind(obj: Any, assign: Mapping[str, Any], delete=()) -> dict:
    try:
        if isinstance(obj, Remote):
            return obj._request("rebind", assign=dict(assign), delete=list(delete))
        return rebind_globals(obj, assign, delete)
    except TypeError as exc:  # not a notebook-defined function or class
        name = getattr(obj, "__name__", None) or "your object"
        fail(
            f"`{name}` is checked with the course's answers of the earlier tasks in place "
            f"({', '.join(assign)}), but it is not a function or class defined in the "
            f"notebook ({exc}): keep the given skeleton"
        )


@contextlib.contextmanager
def substituted(obj: Any, names: Mapping[str, Any]) -> Iterator[None]:
    """Within the block, the student's code of ``obj`` sees ``names`` as its globals."""
    saved = _rebind(obj, names)
    try:
        yield
    finally:
        _rebind(obj, saved["old"], saved["missing"])


@contextlib.contextmanager
def substituted_attributes(obj: Any, names: Mapping[str, Any]) -> Iterator[None]:
    """Within the block, ``obj.<name>`` is ``names[name]``; the old values are put back.

    Meant for a student's class (``Value.__mul__``). An inherited attribute is put back on
    the class itself afterwards, which changes nothing its instances see.
    """
    remote = isinstance(obj, Remote)

    def get(name):
        return obj._request("getattr", name=name) if remote else getattr(obj, name)

    def put(name, value):
        if remote:
            obj._request("setattr", name=name, value=value)
        else:
            setattr(obj, name, value)

    saved = {name: get(name) for name in names}
    try:
        for name, value in names.items():
            put(name, value)
        yield
    finally:
        for name, value in saved.items():
            put(name, value)
