"""When a hidden check fails, say whether the visible case still passes.

An answer fitted to the visible example (a hard-coded number, shape, index or seed) passes
the visible check and fails the hidden one, whose message then shows only the hidden
case's numbers. ``visible_case_note`` re-runs the visible twin of a failing
``check_<task>_hidden`` (the check ``check_<task>`` of the same sealed ``grader_tests``
module) on the same arguments and, if it passes, returns a hint line saying so. It only
reads the outcome (passed or raised), so it works the same whether student objects are
local or proxies in another process.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Callable

__all__ = ["visible_case_note"]

_SUFFIX = "_hidden"


def _visible_twin(hidden: Callable, check_name: str) -> Callable | None:
    """The undecorated visible check next to ``hidden`` in its own (sealed) module."""
    if not check_name.endswith(_SUFFIX):
        return None
    module = sys.modules.get(getattr(hidden, "__module__", "") or "")
    twin = getattr(module, check_name[: -len(_SUFFIX)], None) if module else None
    inner = getattr(twin, "__wrapped__", None)
    return inner if callable(inner) else None


def visible_case_note(hidden: Callable, check_name: str, args: tuple, kwargs: dict) -> str:
    """``"\\nHint: ..."`` when the visible twin of the failed hidden check passes, else ``""``."""
    from . import _core  # imported here: _core imports this module

    visible = _visible_twin(hidden, check_name)
    if visible is None:
        return ""
    visible_name = check_name[: -len(_SUFFIX)]
    try:
        with _core.quiet(), contextlib.redirect_stdout(io.StringIO()):
            visible(*args, **kwargs)
    except Exception:  # the visible case fails too (or cannot run): nothing to add
        return ""
    finally:
        _core.GUARD.restore()
    return (
        f"\nHint: the visible case ({visible_name}) passes with this code, but this different "
        f"input fails. If something is fitted to the visible example (hard-coded numbers, "
        f"shapes, indices or seeds), make it general; otherwise look at what differs here "
        f"(the case named above)."
    )
