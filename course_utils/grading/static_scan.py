"""The grader's own reading of a notebook's source text for forbidden calls.

When a check runs against a student's kernel, ``find_forbidden_calls`` asks the kernel to
scan the live function (the same scan as a local check) but cannot trust the answer. This
module is the part it can trust: it never runs student code, it reads the text of the
notebook's student-editable code cells with ``ast``. Starting from the definition of the
function or class being graded (its last ``def``/``class``/assignment in notebook order),
it follows the names it uses to the notebook's imports (resolved in the grader, for a few
well-known libraries only) and to the notebook's other top-level definitions (the
student's helpers, ``max_depth`` levels), and reports:

- a dotted name that resolves to a forbidden object (``tf2.nn.softmax`` after
  ``import tensorflow as tf2``, ``softmax`` after ``from tensorflow.nn import softmax``,
  ``getattr(tf.nn, "softmax")``), or lies inside a forbidden module;
- dynamic code or lookups it cannot follow (``eval``, ``exec``, ``__import__``,
  ``importlib``, ``getattr`` on a module with a computed name, ``operator.attrgetter``,
  ``sys.modules[...]``, ``pickle.loads``): not allowed in graded code.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
from typing import Any

from .inspection import _MISSING, _chain, _Forbidden, resolve_dotted

__all__ = ["static_findings"]

#: Libraries whose names the grader resolves (imports) while reading student source.
RESOLVED_ROOTS = {"tensorflow", "keras", "numpy", "course_utils", "scipy", "sklearn"}
_DYNAMIC_NAMES = {"eval", "exec", "compile", "__import__", "globals", "vars", "locals"}
_DYNAMIC_DOTTED = (
    "importlib",
    "operator.attrgetter",
    "operator.methodcaller",
    "pickle.loads",
    "marshal.loads",
    "sys.modules",
    "builtins",
    "types.FunctionType",
    "types.CodeType",
)
_MAGIC = re.compile(r"^\s*[%!]")
#: Calls that return a module: ``tf = import_tensorflow()`` reads as ``import tensorflow as tf``.
MODULE_RETURNING = {"course_utils.environment.import_tensorflow": "tensorflow"}


def _parse(source: str) -> ast.Module | None:
    text = "\n".join("pass" if _MAGIC.match(line) else line for line in source.splitlines())
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


class _Notebook:
    """Imports and top-level definitions of the notebook's code cells, in order."""

    def __init__(self, sources: Sequence[str], trusted: Sequence[bool] = ()):
        self.imports: dict[str, str] = {}  # local name -> dotted target
        self.definitions: dict[str, tuple[ast.AST, list[str]]] = {}  # name -> (node, lines)
        #: Names whose last definition is the instructor's (a locked cell): not followed.
        self.trusted: set[str] = set()
        flags = list(trusted) + [False] * (len(sources) - len(trusted))
        for source, is_trusted in zip(sources, flags, strict=True):
            tree = _parse(source)
            if tree is None:
                continue
            lines = source.splitlines()
            before = dict(self.definitions)
            for node in tree.body:
                self._top_level(node, lines)
            changed = {k for k, v in self.definitions.items() if before.get(k) is not v}
            self.trusted = (self.trusted | changed) if is_trusted else (self.trusted - changed)

    def _top_level(self, node: ast.AST, lines: list[str]) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.imports[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    self.imports[root] = root
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                self.imports[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            self.definitions[node.name] = (node, lines)
            self.imports.pop(node.name, None)
        elif self._module_alias(node):
            return
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        self.definitions[name.id] = (node, lines)
                        self.imports.pop(name.id, None)
        elif isinstance(node, ast.If | ast.With | ast.Try | ast.For | ast.While):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    self._top_level(child, lines)

    def _module_alias(self, node: ast.AST) -> bool:
        """``name = f()`` for an ``f`` of MODULE_RETURNING: record ``name`` as that module."""
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            return False
        target, call = node.targets[0], node.value
        if not (isinstance(target, ast.Name) and isinstance(call, ast.Call)) or call.args:
            return False
        func = _chain(call.func)
        head = self.imports.get(func[0]) if func else None
        module = MODULE_RETURNING.get(".".join([head, *func[1:]])) if head else None
        if module is None:
            return False
        self.imports[target.id] = module
        self.definitions.pop(target.id, None)
        return True


class _StaticScanner:
    def __init__(self, notebook: _Notebook, forbidden: _Forbidden, max_depth: int):
        self.nb, self.forbidden, self.max_depth = notebook, forbidden, max_depth
        self.visited: set[str] = set()
        self.findings: list[str] = []

    def _add(self, text: str) -> None:
        if text not in self.findings:
            self.findings.append(text)

    def scan(self, name: str, depth: int, via: str) -> None:
        if name in self.visited or depth > self.max_depth or name not in self.nb.definitions:
            return
        if name in self.nb.trusted and depth > 0:  # the course's own set-up, e.g. its data
            return
        self.visited.add(name)
        node, lines = self.nb.definitions[name]
        local = {a.arg for a in ast.walk(node) if isinstance(a, ast.arg)}
        local |= {
            n.id
            for n in ast.walk(node)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id != name
        }
        for child in ast.walk(node):
            line = getattr(child, "lineno", 0)
            text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
            where = f"{via} (line {line}: `{text}`)"
            self._dynamic(child, local, where)
            chain = _chain(child)
            if chain is None or chain[0] in local:
                continue
            self._chain(chain, where, depth)
            if chain[0] in self.nb.definitions and chain[0] != name:
                self.scan(chain[0], depth + 1, f"{via} -> `{chain[0]}`")

    def _dotted(self, chain: list[str]) -> str | None:
        head = self.nb.imports.get(chain[0])
        if head is None:
            return None
        return ".".join([head, *chain[1:]])

    def _chain(self, chain: list[str], where: str, depth: int) -> None:
        dotted = self._dotted(chain)
        if dotted is None:
            return
        parts = dotted.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            label = self.forbidden.match_string(prefix)
            if label is None and parts[0] in RESOLVED_ROOTS:
                obj = resolve_dotted(prefix)
                label = self.forbidden.match(obj) if obj is not _MISSING else None
            if label:
                self._add(f"{where}: `{'.'.join(chain)}` is {label}")
                return

    def _dynamic(self, node: ast.AST, local: set[str], where: str) -> None:
        target = None
        if isinstance(node, ast.Call):
            target = _chain(node.func)
            if target == ["getattr"] and len(node.args) >= 2:
                obj = _chain(node.args[0])
                name = node.args[1]
                if obj and obj[0] not in local and self._dotted(obj):
                    if isinstance(name, ast.Constant) and isinstance(name.value, str):
                        self._chain([*obj, name.value], where, 0)
                    else:
                        self._add(
                            f"{where}: getattr on a module with a computed name cannot be "
                            "checked and is not allowed here"
                        )
                return
        elif isinstance(node, ast.Subscript | ast.Attribute):
            target = _chain(node.value if isinstance(node, ast.Subscript) else node)
        if not target or target[0] in local:
            return
        dotted = self._dotted(target) or ".".join(target)
        called_builtin = (
            isinstance(node, ast.Call)
            and len(target) == 1
            and target[0] in _DYNAMIC_NAMES
            and target[0] not in self.nb.definitions
        )
        module_dict = target[-1] == "__dict__" and self._dotted(target[:-1]) is not None
        if (
            called_builtin
            or module_dict
            or any(dotted == d or dotted.startswith(d + ".") for d in _DYNAMIC_DOTTED)
        ):
            self._add(
                f"{where}: dynamic code/lookup `{'.'.join(target)}` cannot be checked and "
                "is not allowed here"
            )


def static_findings(
    sources: Sequence[str],
    name: str,
    forbidden: Iterable[Any],
    max_depth: int = 2,
    trusted: Sequence[bool] = (),
) -> list[str]:
    """Forbidden or unverifiable uses in the definition of ``name`` (and its helpers).

    Args:
        sources: the notebook's student-editable code cells, in order.
        name: the graded function's or class's name (a method's ``Class.method`` counts
            as its class).
        forbidden: dotted names, as for ``find_forbidden_calls``.
        max_depth: levels of the student's own top-level helpers to follow.
        trusted: per source, whether it is the instructor's (a locked cell nbgrader
            restores): what it defines is not followed, what it imports still counts.
    """
    notebook = _Notebook(sources, trusted)
    scanner = _StaticScanner(notebook, _Forbidden(forbidden), max_depth)
    top = name.split(".")[0]
    scanner.scan(top, 0, f"`{top}`")
    return scanner.findings[:50]
