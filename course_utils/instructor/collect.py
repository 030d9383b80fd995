"""``course collect``: file students' notebooks under ``submitted/<student>/<assignment>/``.

Two sources:

- a folder with one entry per student: ``alice.ipynb`` (a single-notebook assignment) or
  ``alice/`` holding the notebooks (and any other files, ``timestamp.txt`` included);
- an LMS zip download, through ``nbgrader zip_collect`` with
  ``FileNameCollector.named_regexp`` = ``--pattern``. The default, ``CANVAS_PATTERN``,
  reads Canvas's bulk-download names ``<login>[_late]_<userid>_<subid>_<file>[-N].ipynb``
  (``-N`` is how Canvas marks a resubmission); the pattern is matched against the full
  path of each extracted file, so start it with ``.*``. ``--pattern moodle``
  (``MOODLE_PATTERN``) reads Moodle's "Download all submissions" folders
  ``<Full Name>_<participant id>_assignsubmission_file_/<file>.ipynb`` (the participant id
  becomes the student id).

Afterwards every collected folder is normalised with ``submissions.resolve``: a notebook
under another name is renamed to the released name its cells identify (an unreadable
lone notebook of a single-notebook assignment too); invalid JSON, missing and extra
notebooks are reported. A rename is reported only when the student's file really had
another name: ``alice.ipynb`` of the ``--from`` layout is named after the student by
design and is filed as ``welcome.ipynb`` without a note. Nothing here is fatal for one
student.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from . import submissions
from .course import Course, CourseError

MOODLE_PATTERN = r".*/[^/]*_(?P<student_id>\d+)_assignsubmission_file_/(?P<file_id>[^/]+\.ipynb)$"
CANVAS_PATTERN = (
    r".*/(?P<student_id>[A-Za-z0-9][A-Za-z0-9.\-]*?)_(?:late_)?\d+_\d+_"
    r"(?P<file_id>[^/]+?)(?:-\d+)?\.ipynb$"
)
#: ``--pattern`` shortcuts.
PATTERNS = {"canvas": CANVAS_PATTERN, "moodle": MOODLE_PATTERN}
_BAD_ID = re.compile(r"[^A-Za-z0-9_.@\-]")


@dataclass
class CollectReport:
    students: dict[str, list[str]] = field(default_factory=dict)  # student -> problems
    ignored: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{s}: {'; '.join(p) if p else 'ok'}" for s, p in sorted(self.students.items())]
        out += [f"ignored: {x}" for x in self.ignored]
        return out


def clean_id(name: str) -> str:
    return _BAD_ID.sub("_", name.strip()).strip("._") or "unnamed"


def _expected(course: Course, assignment: str) -> dict[str, set[str]]:
    released = course.step_dir("release") / assignment
    folder = released if any(released.glob("*.ipynb")) else course.step_dir("source") / assignment
    found = submissions.expected_notebooks(folder)
    if not found:
        raise CourseError(f"assignment {assignment!r} has no notebooks in {folder}")
    return found


def normalise(
    folder: Path, expected: dict[str, set[str]], own_names: Collection[str] = ()
) -> list[str]:
    """Rename matched notebooks in ``folder`` to their released names; return the problems.

    ``own_names``: file names that are the expected layout, not a rename (``resolve``).
    """
    res = submissions.resolve(folder, expected, own_names)
    for name, path in res.renamed.items():
        path.rename(folder / f"{name}.ipynb")
    return res.problems


def _copy_tree(src: Path, dest: Path) -> None:
    for f in src.rglob("*"):
        rel = f.relative_to(src)
        if f.is_symlink() or not f.is_file() or set(rel.parts) & submissions.SKIP_PARTS:
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dest / rel)


def collect_folder(course: Course, assignment: str, source: Path) -> CollectReport:
    """Collect from a folder of ``<student>.ipynb`` files and/or ``<student>/`` folders."""
    expected = _expected(course, assignment)
    if not source.is_dir():
        raise CourseError(f"{source} is not a folder")
    report = CollectReport()
    entries: dict[str, list[Path]] = {}
    for entry in sorted(source.iterdir()):
        if entry.name.startswith(".") or entry.is_symlink():
            continue
        if entry.is_dir() or entry.suffix == ".ipynb":
            entries.setdefault(clean_id(entry.stem if entry.is_file() else entry.name), []).append(
                entry
            )
        else:
            report.ignored.append(entry.name)
    submitted = course.step_dir("submitted")
    for student, items in entries.items():
        problems = []
        dest = submitted / student / assignment
        if dest.exists():
            shutil.rmtree(dest)
            problems.append("replaced an earlier submission")
        dest.mkdir(parents=True)
        own_names = {item.name for item in items if item.is_file()}
        for item in items:
            if item.name not in (student, f"{student}.ipynb"):
                problems.append(f"student id {student!r} taken from {item.name!r}")
            if item.is_dir():
                _copy_tree(item, dest)
            else:
                shutil.copy2(item, dest / item.name)
        problems += normalise(dest, expected, own_names)
        report.students[student] = problems
    return report


def collect_zip(
    course: Course, assignment: str, archive: Path, pattern: str = CANVAS_PATTERN
) -> CollectReport:
    """Collect an LMS zip download with ``nbgrader zip_collect``.

    ``pattern`` is a regex or a key of ``PATTERNS`` ("canvas", "moodle").
    """
    pattern = PATTERNS.get(pattern, pattern)
    if "(?P<student_id>" not in pattern or "(?P<file_id>" not in pattern:
        raise CourseError(f"--pattern needs (?P<student_id>...) and (?P<file_id>...): {pattern}")
    expected = _expected(course, assignment)
    if not archive.is_file():
        raise CourseError(f"{archive} does not exist")
    downloaded = course.root / "downloaded" / assignment
    inbox = downloaded / "archive"
    if inbox.exists():
        shutil.rmtree(inbox)
    inbox.mkdir(parents=True)
    shutil.copy2(archive, inbox / archive.name)
    submitted = course.step_dir("submitted")
    before = {p.parent.name: p.stat().st_mtime_ns for p in submitted.glob(f"*/{assignment}")}
    proc = course.nbgrader(
        "zip_collect",
        assignment,
        "--force",
        f"--FileNameCollectorPlugin.named_regexp={pattern}",
        capture=True,
        check=True,
    )
    report = CollectReport()
    log = (proc.stdout or "") + (proc.stderr or "")
    for line in log.splitlines():
        m = re.search(r"Skipped submission with no match information provided: (.+)$", line)
        if m:
            report.ignored.append(f"{Path(m.group(1)).name} (name does not match --pattern)")
    for folder in sorted(submitted.glob(f"*/{assignment}")):
        student = folder.parent.name
        if before.get(student) == folder.stat().st_mtime_ns:
            continue  # not touched by this collection
        report.students[student] = normalise(folder, expected)
    return report
