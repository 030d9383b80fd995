"""`nbgrader validate --invert` on every released notebook: every test cell FAILS on the
blank student version, so no test passes by accident.

One `nbgrader validate` process per notebook (about 13 s each, TensorFlow imported): not
marked slow, so that pytest-xdist spreads them over the unit tests' workers.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from submissions.course import BIN, isolated_env

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "notebook",
    sorted((REPO / "notebooks").glob("*/*.ipynb")),
    ids=lambda p: f"{p.parent.name}/{p.stem}",
)
def test_validate_invert_on_released_notebook(tmp_path, notebook):
    """Every test cell FAILS on the blank student version (no test passes by accident)."""
    env = isolated_env(tmp_path / "home")
    proc = subprocess.run(
        [str(BIN / "nbgrader"), "validate", "--invert", str(notebook)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Success! The notebook does not pass any tests." in proc.stdout, proc.stdout[-2000:]
