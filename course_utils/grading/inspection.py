"""``forbid_calls``: fail when a student's function (or class) uses a forbidden callable.

The check resolves names the way Python will when the function runs, and compares the
resolved OBJECTS with the forbidden ones, so aliasing does not help::

    import tensorflow as tf2; tf2.nn.softmax(x)          # module alias
    from tensorflow.nn import softmax as s; s(x)         # imported under another name
    from tensorflow import nn; nn.softmax(x)             # submodule alias
    getattr(tf.nn, "softmax")(x); tf.nn.__dict__["softmax"]
    sm = tf.nn.softmax   # in another cell, then sm(x) inside the function
    def f(x, sm=tf.nn.softmax): ...                      # default argument
    TABLE = {"f": tf.nn.softmax}; TABLE["f"](x)          # container

Sources: ``inspect.getsource`` (works for notebook cells, IPython registers them in
``linecache``) parsed with ``ast``; names resolve through the function's closure, its
globals and builtins; imports inside the function are followed. Helper functions and
classes the student defined are scanned too (``max_depth`` levels). Referring to the
forbidden object at all counts, called or not. Dynamic lookups the scan cannot follow
(``eval``, ``exec``, ``__import__``, ``importlib.import_module``, ``globals()``,
``sys.modules[...]``, ``getattr`` on a module with a computed name) are rejected too.
When the source is unavailable or does not match the bytecode, the bytecode's names are
resolved instead.
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib
import inspect
import sys
import textwrap
import types
from collections.abc import Iterable
from typing import Any

from ._core import _LIBRARY_PREFIXES, fail
from .remote import current_link, is_remote, remote_description

__all__ = ["find_forbidden_calls", "forbid_calls"]

MODULE_ALIASES = {
    "tf": "tensorflow",
    "np": "numpy",
    "keras": "keras",
    "F": "course_utils.functional",
}
_MISSING = object()


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except Exception:
        return _MISSING


def resolve_dotted(dotted: str) -> Any:
    """Import/getattr ``dotted`` (``tf.nn.softmax`` -> the object); ``_MISSING`` if impossible."""
    parts = dotted.split(".")
    parts[0] = MODULE_ALIASES.get(parts[0], parts[0])
    parts = ".".join(parts).split(".")
    obj = _import(parts[0])
    for i in range(1, len(parts)):
        if obj is _MISSING:
            return _MISSING
        nxt = getattr(obj, parts[i], _MISSING)
        if nxt is _MISSING:
            nxt = _import(".".join(parts[: i + 1]))
        obj = nxt
    return obj


def _canonical(dotted: str) -> str:
    head, _, rest = dotted.partition(".")
    head = MODULE_ALIASES.get(head, head)
    return f"{head}.{rest}" if rest else head


def _unwrapped(obj: Any) -> list[Any]:
    """``obj`` and what it wraps (decorators' __wrapped__, partial.func, __func__)."""
    seen: list[Any] = []
    while obj is not None and not any(obj is s for s in seen) and len(seen) < 10:
        seen.append(obj)
        if isinstance(obj, functools.partial):
            obj = obj.func
        elif isinstance(obj, types.MethodType | staticmethod | classmethod):
            obj = obj.__func__
        else:
            try:
                obj = inspect.getattr_static(obj, "__wrapped__", None)
            except Exception:
                obj = None
    return seen


class _Forbidden:
    def __init__(self, names: Iterable[Any]):
        self.objects: list[tuple[Any, str]] = []
        self.strings: dict[str, str] = {}
        for item in names:
            if isinstance(item, str):
                label = item
                self.strings[_canonical(item)] = label
                obj = resolve_dotted(item)
            else:
                obj = item
                label = f"{getattr(item, '__module__', '?')}.{getattr(item, '__qualname__', item)}"
            if obj is not _MISSING:
                for o in _unwrapped(obj):
                    self.objects.append((o, label))

    def match(self, obj: Any) -> str | None:
        if obj is _MISSING:
            return None
        for candidate in _unwrapped(obj):
            for forbidden, label in self.objects:
                if candidate is forbidden:
                    return label
        if isinstance(obj, type):
            for forbidden, label in self.objects:
                if (
                    isinstance(forbidden, type)
                    and obj is not forbidden
                    and issubclass(obj, forbidden)
                ):
                    return f"{label} (your class derives from it)"
        return None

    def match_string(self, dotted: str) -> str | None:
        return self.strings.get(_canonical(dotted))


def _is_library(obj: Any) -> bool:
    module = getattr(obj, "__module__", None) or ""
    top = module.split(".")[0]
    if top in _LIBRARY_PREFIXES or top in sys.stdlib_module_names:
        return True
    code = getattr(obj, "__code__", None)
    filename = getattr(code, "co_filename", "") if code else ""
    return bool(filename) and filename.startswith((sys.prefix, sys.base_prefix))


def _user_defined(obj: Any) -> bool:
    """A function or class written by the student (notebook or own module), not a library's."""
    if isinstance(obj, types.MethodType):
        obj = obj.__func__
    if isinstance(obj, types.FunctionType | type):
        return not _is_library(obj)
    return False


class _Scanner:
    def __init__(self, forbidden: _Forbidden, max_depth: int):
        self.forbidden = forbidden
        self.max_depth = max_depth
        self.visited: list[Any] = []
        self.violations: list[str] = []

    # -- entry points --------------------------------------------------------------------
    def scan(self, obj: Any, depth: int, via: str) -> None:
        """Scan a function/class, or what a decorator (``tf.function``) or instance wraps."""
        targets = [o for o in _unwrapped(obj) if isinstance(o, types.FunctionType | type)]
        if not targets and _user_defined(type(obj)):
            targets = [type(obj)]  # an instance of the student's class
        for target in targets:
            self._scan_one(target, depth, via)

    def _scan_one(self, obj: Any, depth: int, via: str) -> None:
        if any(obj is v for v in self.visited) or depth > self.max_depth:
            return
        self.visited.append(obj)
        if isinstance(obj, type):
            self._scan_class(obj, depth, via)
        elif isinstance(obj, types.FunctionType):
            self._scan_function(obj, depth, via)

    def _scan_class(self, cls: type, depth: int, via: str) -> None:
        label = self.forbidden.match(cls)
        if label:
            self._add(via, f"class `{cls.__name__}` is {label}")
            return
        for klass in cls.__mro__:
            if klass is object or (klass is not cls and not _user_defined(klass)):
                continue
            for attr, value in vars(klass).items():
                for fn in self._functions_of(value):
                    self.scan(fn, depth, f"{via}, method `{klass.__name__}.{attr}`")

    @staticmethod
    def _functions_of(value: Any) -> list[Any]:
        if isinstance(value, staticmethod | classmethod):
            return [value.__func__]
        if isinstance(value, property):
            return [f for f in (value.fget, value.fset, value.fdel) if f is not None]
        if isinstance(value, types.FunctionType):
            return [value]
        return []

    def _add(self, via: str, text: str) -> None:
        message = f"{via}: {text}"
        if message not in self.violations:
            self.violations.append(message)

    # -- resolution ----------------------------------------------------------------------
    def _check_object(self, obj: Any, via: str, what: str, depth: int) -> None:
        label = self.forbidden.match(obj)
        if label:
            self._add(via, f"{what} is {label}")
            return
        if isinstance(obj, dict | list | tuple | set | frozenset):
            items = obj.values() if isinstance(obj, dict) else obj
            for item in list(items)[:1000]:
                item_label = self.forbidden.match(item)
                if item_label:
                    self._add(via, f"{what} contains {item_label}")
                    return
            return
        own = [o for o in _unwrapped(obj) if _user_defined(o)]
        if own:
            name = getattr(own[0], "__name__", "?")
            self.scan(own[0], depth + 1, f"{via} -> your helper `{name}`")

    def _scan_function(self, fn: types.FunctionType, depth: int, via: str) -> None:
        for default in list(fn.__defaults__ or ()) + list((fn.__kwdefaults__ or {}).values()):
            self._check_object(default, via, "a default argument", depth)
        env = dict(fn.__globals__)
        code = fn.__code__
        for name, cell in zip(code.co_freevars, fn.__closure__ or (), strict=False):
            try:
                env[name] = cell.cell_contents
            except ValueError:
                pass
        scanned_source = False
        try:
            lines, _start = inspect.getsourcelines(fn)
            tree = ast.parse(textwrap.dedent("".join(lines)))
        except (OSError, TypeError, SyntaxError, IndentationError):
            tree = None
        if tree is not None:
            source_names = self._scan_tree(tree, lines, env, via, depth)
            scanned_source = not (_code_names(code) - source_names)
        if not scanned_source:
            self._scan_bytecode(code, env, via, depth)

    def _lookup(self, name: str, env: dict) -> Any:
        if name in env:
            return env[name]
        return getattr(builtins, name, _MISSING)

    @staticmethod
    def _getattr(obj: Any, attr: str) -> Any:
        if isinstance(obj, types.ModuleType):
            try:
                return getattr(obj, attr, _MISSING)
            except Exception:
                return _MISSING
        try:
            return inspect.getattr_static(obj, attr, _MISSING)
        except Exception:
            return _MISSING

    def _scan_tree(self, tree: ast.AST, lines, env: dict, via: str, depth: int) -> set[str]:
        env = dict(env)
        local_names: set[str] = set()
        seen_names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.arg):
                local_names.add(node.arg)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
                local_names.add(node.id)
        for node in ast.walk(tree):
            line = getattr(node, "lineno", 1)
            text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
            where = f"{via} (line {line}: `{text}`)"
            if isinstance(node, ast.Import | ast.ImportFrom):
                self._scan_import(node, env, where, depth)
                if isinstance(node, ast.ImportFrom) and node.module:
                    seen_names.update([node.module, *node.module.split(".")])
                for alias in node.names:
                    local_names.discard((alias.asname or alias.name).split(".")[0])
                    seen_names.update(alias.name.split("."))
                    seen_names.add(alias.asname or alias.name)
                continue
            if isinstance(node, ast.Name):
                seen_names.add(node.id)
            elif isinstance(node, ast.Attribute):
                seen_names.add(node.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                seen_names.add(node.value)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                seen_names.add(node.name)
            elif isinstance(node, ast.Global | ast.Nonlocal):
                seen_names.update(node.names)
            chain = _chain(node)
            if chain is None:
                self._check_dynamic(node, env, local_names, where)
                continue
            if chain[0] in local_names:
                continue
            self._check_chain(chain, env, where, depth)
        return seen_names

    def _scan_import(self, node: ast.AST, env: dict, where: str, depth: int) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    obj = resolve_dotted(alias.name)
                    env[alias.asname] = obj
                else:
                    obj = resolve_dotted(alias.name)
                    env[alias.name.split(".")[0]] = _import(alias.name.split(".")[0])
                self._check_object(obj, where, f"`{alias.name}`", depth)
        elif node.module and node.level == 0:
            for alias in node.names:
                obj = resolve_dotted(f"{node.module}.{alias.name}")
                env[alias.asname or alias.name] = obj
                dotted = f"{node.module}.{alias.name}"
                label = self.forbidden.match_string(dotted)
                if label and obj is _MISSING:
                    self._add(where, f"`{dotted}` is {label}")
                self._check_object(obj, where, f"`{dotted}`", depth)

    def _check_chain(self, chain: list[str], env: dict, where: str, depth: int) -> None:
        obj = self._lookup(chain[0], env)
        for i in range(len(chain)):
            if i > 0:
                obj = self._getattr(obj, chain[i]) if obj is not _MISSING else _MISSING
            shown = ".".join(chain[: i + 1])
            if obj is _MISSING:
                label = self._string_match(chain, i, env)
                if label:
                    self._add(where, f"`{shown}` is {label}")
                return
            label = self.forbidden.match(obj)
            if label:
                self._add(where, f"`{shown}` is {label}")
                return
        self._check_object(obj, where, f"`{'.'.join(chain)}`", depth)

    def _string_match(self, chain: list[str], i: int, env: dict) -> str | None:
        dotted = ".".join(chain[: i + 1])
        head = self._lookup(chain[0], env)
        if isinstance(head, types.ModuleType):
            dotted = ".".join([head.__name__] + chain[1 : i + 1])
        return self.forbidden.match_string(dotted)

    def _check_dynamic(self, node: ast.AST, env: dict, local_names: set[str], where: str):
        if isinstance(node, ast.Call):
            func = _chain(node.func)
            if func and func[0] not in local_names:
                target = self._lookup(func[0], env)
                for attr in func[1:]:
                    target = self._getattr(target, attr)
                if any(target is t for t in _dynamic_builtins()):
                    self._add(
                        where,
                        f"dynamic code/lookup `{'.'.join(func)}(...)` cannot be "
                        f"checked and is not allowed here",
                    )
                elif target is getattr and len(node.args) >= 2:
                    first = _chain(node.args[0])
                    obj = _MISSING
                    if first and first[0] not in local_names:
                        obj = self._lookup(first[0], env)
                        for attr in first[1:]:
                            obj = self._getattr(obj, attr)
                    if isinstance(obj, types.ModuleType):
                        self._add(
                            where,
                            "getattr on a module with a computed name cannot be "
                            "checked and is not allowed here",
                        )
        elif isinstance(node, ast.Subscript):
            base = _chain(node.value)
            if base and base[0] not in local_names:
                obj = self._lookup(base[0], env)
                for attr in base[1:]:
                    obj = self._getattr(obj, attr)
                if obj is sys.modules or (base[-1] == "__dict__"):
                    self._add(
                        where,
                        f"dynamic lookup `{'.'.join(base)}[...]` cannot be "
                        f"checked and is not allowed here",
                    )

    def _scan_bytecode(self, code: types.CodeType, env: dict, via: str, depth: int) -> None:
        for name in sorted(_code_names(code)):
            obj = self._lookup(name, env)
            if obj is _MISSING:
                continue
            if any(obj is t for t in _dynamic_builtins()):
                self._add(f"{via} (compiled code)", f"uses `{name}`, which is not allowed here")
            self._check_object(obj, f"{via} (compiled code)", f"`{name}`", depth)


def _dynamic_builtins() -> tuple:
    return (eval, exec, compile, __import__, globals, vars, importlib.import_module)


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _chain(node: ast.AST) -> list[str] | None:
    """``tf.nn.softmax`` / ``getattr(tf.nn, "softmax")`` / ``m.__dict__["f"]`` -> parts."""
    parts: list[str] = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Name):
            parts.append(node.id)
            return parts[::-1]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            parts.append(node.args[1].value)
            node = node.args[0]
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "__dict__"
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            parts.append(node.slice.value)
            node = node.value.value
        else:
            return None


def find_forbidden_calls(obj: Any, names: Iterable[Any], max_depth: int = 2) -> list[str]:
    """Every use of a forbidden callable in ``obj`` (a function or class), as messages.

    Args:
        obj: the student's function or class.
        names: forbidden callables as dotted names ("tf.nn.softmax", "tensorflow.nn.softmax",
            "course_utils.functional.softmax"; "tf"/"np" aliases are understood) or objects.
        max_depth: how many levels of the student's own helper functions to follow.
    """
    if is_remote(obj):
        return _remote_findings(obj, names, max_depth)
    forbidden = _Forbidden(names)
    scanner = _Scanner(forbidden, max_depth)
    label = getattr(obj, "__name__", type(obj).__name__)
    scanner.scan(obj, 0, f"`{label}`")
    return scanner.violations


def _dotted(item: Any) -> str:
    if isinstance(item, str):
        return item
    return f"{getattr(item, '__module__', '?')}.{getattr(item, '__qualname__', item)}"


def _remote_findings(obj: Any, names: Iterable[Any], max_depth: int) -> list[str]:
    """The scan of a student's object in its own kernel, plus the grader's static scan.

    The kernel runs this same scanner on the live object (same messages as a local check),
    but its answer is only what the student's process says; ``static_scan`` reads the
    notebook's own source text in the grader and cannot be talked out of what it sees.
    """
    from .static_scan import static_findings

    dotted = [_dotted(n) for n in names]
    link = current_link()
    found = obj._request("scan", names=dotted, max_depth=max_depth)
    if not isinstance(found, list) or not all(isinstance(f, str) for f in found):
        fail("the grader could not inspect your code in the kernel (an unreadable answer)")
    if found:
        return found[:50]
    sources, trusted = (link.sources, link.trusted) if link is not None else ([], [])
    name = remote_description(obj).get("name", "")
    return static_findings(sources, name, dotted, max_depth, trusted)


def library_names(names: Iterable[Any], tf_names: Iterable[str]) -> list:
    """``names``, plus ``tf_names`` (dotted TensorFlow/Keras names) only when TensorFlow is
    already imported: resolving them would import it inside a test cell."""
    return list(names) + (list(tf_names) if "tensorflow" in sys.modules else [])


def forbid_library(
    obj: Any, names: Iterable[Any], what: str, hint: str,
    lib: str = "a library implementation of this task",
) -> None:  # fmt: skip
    """Fail with "<what> must not use <lib>, but it does: <where> Hint: <hint>" if ``obj``
    uses any of ``names`` (the task's answers in a library, which it is to rebuild)."""
    violations = find_forbidden_calls(obj, names)
    if violations:
        shown = "\n  ".join(violations[:5])
        fail(f"{what} must not use {lib}, but it does:\n  {shown}\nHint: {hint}")


def forbid_calls(
    obj: Any, names: Iterable[Any], *, hint: str | None = None, max_depth: int = 2
) -> None:
    """Fail if ``obj`` (a function, or a class: all its methods) uses any of ``names``.

    Args:
        obj: the student's function or class.
        names: the forbidden callables (dotted names or the objects themselves).
        hint: what to do instead, e.g. "write it with tf.exp and tf.reduce_sum".
        max_depth: levels of the student's helper functions to follow.
    """
    names = list(names)
    violations = find_forbidden_calls(obj, names, max_depth=max_depth)
    if violations:
        shown = "\n  ".join(violations[:5])
        label = getattr(obj, "__name__", None) or "your code"
        forbidden = ", ".join(
            n if isinstance(n, str) else getattr(n, "__name__", "?") for n in names
        )
        msg = f"`{label}` must not use {forbidden}, but it does:\n  {shown}"
        if hint:
            msg += f"\nHint: {hint}"
        fail(msg)
