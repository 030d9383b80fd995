"""The student workspace: the released notebooks, copied once, never overwritten.

Students work in a folder of their own (``workspace/`` by default), not in nbgrader's
release directory (``notebooks/``): the instructor's tools regenerate the release
directory wholesale, and a student's answers must never be in its way.

:func:`sync_workspace` brings a workspace up to date with a release:

- a released file the workspace has never had is copied in (new assignments, new notebooks,
  the first run);
- a file the workspace already has is never written to, whatever it holds;
- when the release of a file changes (a fix after ``git pull``), the new version arrives
  BESIDE the student's, as ``tf_basics (updated 2026-12-02).ipynb``, once per new version;
- a file the student deleted comes back, as the release has it now (delete a notebook and
  run ``make lab`` again for a fresh copy).

What was delivered is remembered in ``.course-release.json`` at the top of the workspace
(hidden in JupyterLab): for each released file, the checksums of the versions delivered.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = ".course-release.json"
MANIFEST_VERSION = 1
SKIPPED_PARTS = {".ipynb_checkpoints", "__pycache__"}


@dataclass
class SyncReport:
    """What :func:`sync_workspace` did, as paths relative to the workspace."""

    added: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    updates: list[tuple[str, str]] = field(default_factory=list)  # (student's file, new copy)

    def lines(self) -> list[str]:
        out = [f"  new: {p}" for p in self.added]
        out += [f"  restored (you had deleted it): {p}" for p in self.restored]
        out += [
            f"  updated by the instructor: {new}\n"
            f"      (your {mine} is unchanged; move your answers over or keep working in it)"
            for mine, new in self.updates
        ]
        return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def released_files(release_dir: Path) -> list[str]:
    """Every regular file of the release, relative, in sorted order."""
    found = []
    for path in Path(release_dir).rglob("*"):
        rel = path.relative_to(release_dir)
        if SKIPPED_PARTS & set(rel.parts) or path.is_symlink() or not path.is_file():
            continue
        found.append(rel.as_posix())
    return sorted(found)


def _load_manifest(workspace: Path) -> dict:
    path = workspace / MANIFEST
    if not path.exists():
        return {"version": MANIFEST_VERSION, "files": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(
            f"workspace manifest {path}: expected the JSON this tool writes, could not read it "
            f"({err}); move it aside and run again (no file of yours is touched either way)"
        ) from err
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        raise ValueError(
            f"workspace manifest {path}: expected an object with 'files', got {type(data).__name__}"
        )
    return data


def _write_new(path: Path, data: bytes) -> None:
    """Create ``path`` with ``data``; fail rather than replace anything already there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as f:  # "x": never overwrite, even in a race
        f.write(data)


def _beside(target: Path, today: str) -> Path:
    """A free name next to ``target`` that says what it is."""
    stem, suffix = target.stem, target.suffix
    for n in range(1, 1000):
        tag = f"updated {today}" if n == 1 else f"updated {today}, {n}"
        candidate = target.with_name(f"{stem} ({tag}){suffix}")
        if not candidate.exists():
            return candidate
    raise RuntimeError(f"no free name beside {target}")


def sync_workspace(
    release_dir: str | os.PathLike, workspace: str | os.PathLike, today: str | None = None
) -> SyncReport:
    """Copy what is new in ``release_dir`` into ``workspace``; never change an existing file.

    Args:
        release_dir: nbgrader's release directory (``notebooks/``), one folder per assignment.
        workspace: the student's folder; created if missing. Must not be inside
            ``release_dir`` nor contain it.
        today: the date used in the name of an updated copy (ISO ``YYYY-MM-DD``); defaults
            to today's date.

    Returns:
        A :class:`SyncReport` of the files added, restored and delivered beside.
    """
    release, work = Path(release_dir).resolve(), Path(workspace).resolve()
    if not release.is_dir():
        raise ValueError(f"release_dir: expected a folder of released assignments, got {release}")
    if work == release or work.is_relative_to(release) or release.is_relative_to(work):
        raise ValueError(
            f"workspace: expected a folder apart from the release directory {release}, got {work}"
        )
    today = today or _dt.date.today().isoformat()
    work.mkdir(parents=True, exist_ok=True)
    manifest = _load_manifest(work)
    files: dict = manifest["files"]
    report = SyncReport()

    for rel in released_files(release):
        source, target = release / rel, work / rel
        digest = _sha256(source)
        entry = files.get(rel)
        if target.exists() or target.is_symlink():
            if entry is None:
                # The student has a file of that name we never delivered (or the manifest
                # was lost): theirs stays; the release's arrives beside it unless identical.
                entry = files[rel] = {"delivered": []}
                if target.is_file() and _sha256(target) == digest:
                    entry["delivered"].append(digest)
                    continue
            if digest in entry["delivered"]:
                continue
            new = _beside(target, today)
            _write_new(new, source.read_bytes())
            report.updates.append((rel, new.relative_to(work).as_posix()))
        else:
            _write_new(target, source.read_bytes())
            (report.restored if entry else report.added).append(rel)
            entry = files.setdefault(rel, {"delivered": []})
        if digest not in entry["delivered"]:
            entry["delivered"].append(digest)

    tmp = work / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, work / MANIFEST)
    return report
