"""`nbgrader generate_assignment` reproduces the committed student notebooks exactly.

notebooks/ is generated from solutions/ and never edited by hand; this test regenerates
every assignment into a temporary folder and fails on any difference.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

ASSIGNMENTS = sorted(p.name for p in (REPO / "solutions").iterdir() if p.is_dir())
BIN = Path(sys.executable).parent


def nbgrader_env(home: Path) -> dict[str, str]:
    """The environment an instructor's shell would have: venv bin on PATH (alembic)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(home)
    return env


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release")
    db = out / "gradebook.db"
    for assignment in ASSIGNMENTS:
        subprocess.run(
            [
                BIN / "nbgrader",
                "generate_assignment",
                assignment,
                "--force",
                f"--CourseDirectory.release_directory={out}",
                f"--CourseDirectory.db_url=sqlite:///{db}",
            ],
            cwd=REPO,
            env=nbgrader_env(out),
            check=True,
            capture_output=True,
            text=True,
        )
    return out


def _files(root: Path) -> set[str]:
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and ".ipynb_checkpoints" not in p.parts
    }


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_release_matches_generated(regenerated, assignment):
    committed, generated = REPO / "notebooks" / assignment, regenerated / assignment
    assert _files(committed) == _files(generated), "files differ: run `make release`"
    for name in _files(generated):
        assert (committed / name).read_bytes() == (generated / name).read_bytes(), (
            f"notebooks/{assignment}/{name} differs from what nbgrader generates from "
            f"solutions/{assignment}: run `make release` and commit the result"
        )


def test_every_assignment_is_released():
    released = sorted(p.name for p in (REPO / "notebooks").iterdir() if p.is_dir())
    assert released == ASSIGNMENTS


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_contains_no_solutions_or_hidden_tests(assignment):
    for nb in (REPO / "notebooks" / assignment).glob("*.ipynb"):
        text = nb.read_text()
        for marker in ["BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "_hidden("]:
            assert marker not in text, f"{nb.name} leaks {marker!r}"
