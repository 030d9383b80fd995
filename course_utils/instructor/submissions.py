"""Find a student's notebooks in a submission folder, whatever the LMS did to their names.

Used by ``course collect`` (to file submissions under the released names) and by
``course autograde`` (to decide what to grade before starting any kernel).

Decisions:
- a notebook under its released name is used as is;
- a notebook under another name (``welcome (1).ipynb``, ``Welcome-alice.ipynb``) is
  MATCHED to the released notebook whose nbgrader cell ids (``grade_id``) it carries
  (most shared ids wins; a notebook that shares none is ignored). The ids identify the
  notebook far better than a file name, and a student should not get 0 because an LMS
  renamed a file. A single-notebook assignment also accepts a lone unreadable notebook
  (so that it is graded 0 and reported as such instead of "missing");
- a match under another name is reported as "renamed", except for the names the caller
  says are expected (``own_names``: ``course collect --from`` passes the documented
  ``<student>.ipynb`` layout, where the file is named after the student by design);
- a file that is not valid JSON is reported and graded 0;
- an expected notebook that is still unmatched is reported missing and graded 0.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SKIP_PARTS = {".ipynb_checkpoints", "__MACOSX"}


@dataclass
class Resolution:
    """What a submission folder holds for one assignment."""

    notebooks: dict[str, Path] = field(default_factory=dict)  # released name -> file
    renamed: dict[str, Path] = field(default_factory=dict)  # released name -> other-named file
    invalid: dict[str, str] = field(default_factory=dict)  # released name -> reason
    missing: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def grade_ids(nb_json: dict) -> set[str]:
    """The nbgrader ``grade_id``s of a notebook's cells."""
    ids = set()
    for cell in nb_json.get("cells", []) if isinstance(nb_json, dict) else []:
        meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
        nbg = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
        if isinstance(nbg, dict) and isinstance(nbg.get("grade_id"), str):
            ids.add(nbg["grade_id"])
    return ids


def read_notebook_json(path: Path) -> tuple[dict | None, str | None]:
    """``(json, None)`` for a readable notebook, ``(None, reason)`` otherwise."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        return None, "invalid JSON (not UTF-8 text)"
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON ({exc.msg} at line {exc.lineno})"
    except RecursionError:
        return None, "invalid notebook (nested too deeply to read)"
    except OSError as exc:
        return None, f"unreadable ({exc.strerror})"
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        return None, "invalid notebook (no list of cells)"
    return data, None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _utf8(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text)


def replace_lone_surrogates(data: Any) -> bool:
    """Replace, in place, characters that UTF-8 cannot encode (lone surrogates such as
    ``\\ud800``, valid in JSON escapes) with U+FFFD; True if there were any.

    nbgrader writes notebooks as UTF-8 and would fail on them, for that student only but
    with nothing graded. Iterative: the notebook may be nested deeply.
    """
    fixed = False
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key in list(node):
                value = node[key]
                if isinstance(key, str) and _utf8(key) != key:
                    del node[key]
                    key = _utf8(key)
                    node[key] = value
                    fixed = True
                if isinstance(value, str):
                    if _utf8(value) != value:
                        node[key], fixed = _utf8(value), True
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                if isinstance(value, str):
                    if _utf8(value) != value:
                        node[i], fixed = _utf8(value), True
                elif isinstance(value, dict | list):
                    stack.append(value)
    return fixed


def notebook_files(folder: Path) -> list[Path]:
    """``*.ipynb`` files directly in ``folder`` (no checkpoints, no symlinks)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.ipynb") if p.is_file() and not p.is_symlink())


def resolve(
    folder: Path, expected: dict[str, set[str]], own_names: Collection[str] = ()
) -> Resolution:
    """Map the notebooks in ``folder`` to the released names.

    Args:
        folder: a student's submission folder for one assignment.
        expected: released notebook name (file stem) -> its set of grade ids.
        own_names: file names (``alice.ipynb``) whose mapping to a released name is the
            expected layout, not a rename: matched like any other, without a "renamed" note.
    """
    res = Resolution()
    files = notebook_files(folder)
    by_name = {p.stem: p for p in files}
    unknown: list[tuple[Path, dict | None, str | None]] = []
    for path in files:
        if path.stem in expected:
            data, reason = read_notebook_json(path)
            if reason:
                res.invalid[path.stem] = reason
            else:
                res.notebooks[path.stem] = path
        else:
            data, reason = read_notebook_json(path)
            unknown.append((path, data, reason))

    wanted = [n for n in expected if n not in by_name]
    for path, data, _reason in unknown:
        if data is None:
            continue
        ids = grade_ids(data)
        scored = sorted(
            ((len(ids & expected[n]), n) for n in wanted if n not in res.notebooks),
            reverse=True,
        )
        if scored and scored[0][0] > 0:
            name = scored[0][1]
            res.notebooks[name] = res.renamed[name] = path
            if path.name not in own_names:
                res.problems.append(f"renamed: {path.name} graded as {name}.ipynb")
    still = [n for n in wanted if n not in res.notebooks]
    leftovers = [u for u in unknown if u[0] not in res.notebooks.values()]
    if len(expected) == 1 and still and len(leftovers) == 1 and leftovers[0][2]:
        path, _, reason = leftovers[0]
        res.invalid[still[0]] = reason
        res.renamed[still[0]] = path
        if path.name not in own_names:
            res.problems.append(f"renamed: {path.name} taken as {still[0]}.ipynb")
        leftovers = []
        still = []
    for path, _, _ in leftovers:
        res.problems.append(f"ignored extra notebook {path.name}")
    for name, reason in sorted(res.invalid.items()):
        res.problems.append(f"{name}.ipynb: {reason}")
    res.missing = [n for n in still if n not in res.invalid]
    for name in res.missing:
        res.problems.append(f"notebook missing: {name}.ipynb")
    return res


def restore_missing_grade_cells(sub: dict, released: dict) -> list[str]:
    """Put back, in ``sub``, every graded cell of ``released`` that the student deleted.

    nbgrader's own ``OverwriteCells.add_missing_cells`` (0.9.6) raises ``KeyError`` when the
    cell just above the deleted one is a locked cell that is neither graded nor an answer
    (e.g. a read-only markdown cell), and the whole notebook then fails to grade. The cell
    is re-inserted before the nearest LATER cell (in the released order) that the
    submission still has, else after the nearest earlier one, else at the end; nbgrader
    then restores its full source (hidden tests included) from the gradebook because it is
    locked. Returns the grade ids put back.
    """
    import copy
    import uuid

    def gid(cell):
        nbg = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell, dict) else {}
        return nbg.get("grade_id") if isinstance(nbg, dict) else None

    cells = sub["cells"]
    ids = {c.get("id") for c in cells if isinstance(c, dict)}
    rel_cells = released.get("cells", [])
    restored = []

    def position(k: int) -> int:
        here = [gid(c) for c in cells]
        for later in rel_cells[k + 1 :]:
            if gid(later) is not None and gid(later) in here:
                return here.index(gid(later))
        for earlier in reversed(rel_cells[:k]):
            if gid(earlier) is not None and gid(earlier) in here:
                return here.index(gid(earlier)) + 1
        return len(cells)

    for k, cell in enumerate(rel_cells):
        nbg = cell.get("metadata", {}).get("nbgrader", {})
        if not nbg.get("grade") or gid(cell) in {gid(c) for c in cells}:
            continue
        new = copy.deepcopy(cell)
        if "id" in new and new["id"] in ids:
            new["id"] = uuid.uuid4().hex[:8]
        cells.insert(position(k), new)
        restored.append(gid(cell))
    return restored


def expected_notebooks(release_or_source: Path) -> dict[str, set[str]]:
    """Released notebook name -> grade ids, read from an assignment folder."""
    out = {}
    for path in sorted(release_or_source.glob("*.ipynb")):
        data, _ = read_notebook_json(path)
        out[path.stem] = grade_ids(data or {})
    return out
