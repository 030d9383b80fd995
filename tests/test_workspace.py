"""The student workspace (`make lab`): made from the release, never changed by a new one."""

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils.lab.workspace import MANIFEST, sync_workspace

from conftest import REPO

DAY1, DAY2, DAY3 = "2026-12-01", "2026-12-02", "2026-12-03"


def _checksums(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


@pytest.fixture
def release(tmp_path) -> Path:
    """A copy of the course's real release directory, to edit as a new release would."""
    out = tmp_path / "notebooks"
    shutil.copytree(REPO / "notebooks", out, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return out


def _student_works_in(workspace: Path) -> dict[str, bytes]:
    """A student answers in two notebooks and adds a file of their own."""
    edits = {
        "00_welcome/welcome.ipynb": b'{"the student": "answered 00"}',
        "03_backprop/three_layer_net.ipynb": b'{"the student": "answered 03"}',
        "00_welcome/notes.txt": b"my notes",
    }
    for rel, data in edits.items():
        (workspace / rel).write_bytes(data)
    return edits


def test_first_run_copies_the_whole_release(release, tmp_path):
    workspace = tmp_path / "workspace"
    report = sync_workspace(release, workspace, today=DAY1)
    assert _checksums(workspace) == _checksums(release)
    assert sorted(report.added) == sorted(_checksums(release))
    assert not report.updates and not report.restored


def test_a_new_release_never_changes_a_students_file(release, tmp_path):
    workspace = tmp_path / "workspace"
    sync_workspace(release, workspace, today=DAY1)
    _student_works_in(workspace)
    before = _checksums(workspace)

    # The instructor fixes 00 and 03, adds a notebook to 01 and a new assignment (git pull).
    for rel in ["00_welcome/welcome.ipynb", "03_backprop/three_layer_net.ipynb"]:
        (release / rel).write_bytes((release / rel).read_bytes() + b"\n")
    (release / "01_tf_basics" / "extra.ipynb").write_bytes(b'{"new": 1}')
    (release / "08_next").mkdir()
    (release / "08_next" / "next.ipynb").write_bytes(b'{"new": 5}')
    report = sync_workspace(release, workspace, today=DAY2)
    after = _checksums(workspace)

    changed = {rel for rel in before if after.get(rel) != before[rel]}
    assert not changed, f"a new release changed the student's files {sorted(changed)}"
    assert sorted(report.added) == ["01_tf_basics/extra.ipynb", "08_next/next.ipynb"]
    # each updated notebook arrives once, beside the student's, under a name that says so
    assert report.updates == [
        ("00_welcome/welcome.ipynb", f"00_welcome/welcome (updated {DAY2}).ipynb"),
        (
            "03_backprop/three_layer_net.ipynb",
            f"03_backprop/three_layer_net (updated {DAY2}).ipynb",
        ),
    ]
    for mine, new in report.updates:
        assert after[new] == _checksums(release)[mine]
    assert set(after) == set(before) | {new for _, new in report.updates} | set(report.added)

    # Running again with nothing new released changes nothing and delivers nothing twice.
    again = sync_workspace(release, workspace, today=DAY3)
    assert not (again.added or again.updates or again.restored)
    assert _checksums(workspace) == after


def test_a_second_update_on_the_same_day_gets_its_own_name(release, tmp_path):
    workspace = tmp_path / "workspace"
    sync_workspace(release, workspace, today=DAY1)
    nb = release / "00_welcome" / "welcome.ipynb"
    for n in range(2):
        nb.write_bytes(nb.read_bytes() + b" ")
        report = sync_workspace(release, workspace, today=DAY2)
        suffix = f"updated {DAY2}" if n == 0 else f"updated {DAY2}, 2"
        assert report.updates == [
            ("00_welcome/welcome.ipynb", f"00_welcome/welcome ({suffix}).ipynb")
        ]


def test_a_deleted_notebook_comes_back_and_an_unknown_file_is_kept(release, tmp_path):
    workspace = tmp_path / "workspace"
    sync_workspace(release, workspace, today=DAY1)
    (workspace / "01_tf_basics" / "tf_basics.ipynb").unlink()
    report = sync_workspace(release, workspace, today=DAY2)
    assert report.restored == ["01_tf_basics/tf_basics.ipynb"]

    # A workspace made by hand (no manifest): the student's same-named file stays as it is.
    other = tmp_path / "by-hand"
    (other / "00_welcome").mkdir(parents=True)
    (other / "00_welcome" / "welcome.ipynb").write_bytes(b"mine")
    report = sync_workspace(release, other, today=DAY2)
    assert (other / "00_welcome" / "welcome.ipynb").read_bytes() == b"mine"
    assert report.updates == [
        ("00_welcome/welcome.ipynb", f"00_welcome/welcome (updated {DAY2}).ipynb")
    ]


def test_bad_arguments_are_named(release, tmp_path):
    with pytest.raises(ValueError, match="release_dir: expected a folder"):
        sync_workspace(tmp_path / "missing", tmp_path / "w")
    with pytest.raises(ValueError, match="workspace: expected a folder apart from the release"):
        sync_workspace(release, release / "00_welcome" / "work")
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / MANIFEST).write_text("not json")
    with pytest.raises(ValueError, match="workspace manifest .*expected the JSON"):
        sync_workspace(release, workspace)


def test_the_launcher_refreshes_the_workspace_without_touching_answers(tmp_path):
    """`python -m course_utils.lab student` (what `make lab` runs) syncs the workspace before
    it starts JupyterLab; `--sync-only` stops there."""
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", course)
    shutil.copytree(REPO / "notebooks", course / "notebooks")
    workspace = tmp_path / "ws"
    sync_workspace(course / "notebooks", workspace, today=DAY1)
    _student_works_in(workspace)
    before = _checksums(workspace)
    (course / "notebooks" / "00_welcome" / "welcome.ipynb").write_bytes(b'{"fixed": true}')
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "course_utils.lab",
            "student",
            "--course-root",
            str(course),
            "--workspace",
            str(workspace),
            "--sync-only",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert "updated by the instructor: 00_welcome/welcome (updated " in run.stdout
    after = _checksums(workspace)
    assert all(after[rel] == digest for rel, digest in before.items())
    manifest = json.loads((workspace / MANIFEST).read_text())
    assert len(manifest["files"]["00_welcome/welcome.ipynb"]["delivered"]) == 2
