"""A throw-away course root for end-to-end grading runs (pipeline test and benchmark)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def isolated_env(root: Path) -> dict[str, str]:
    """The environment of an instructor's shell with private HOME and Jupyter folders.

    The ``nn-course`` kernel stays findable: it lives in the venv's share/jupyter, which is
    on Jupyter's default path whatever JUPYTER_DATA_DIR says.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    home = root.parent / f"{root.name}-home"
    for var, sub in [
        ("HOME", ""),
        ("JUPYTER_CONFIG_DIR", ".jupyter"),
        ("JUPYTER_DATA_DIR", ".local/share/jupyter"),
        ("JUPYTER_RUNTIME_DIR", ".local/share/jupyter/runtime"),
        ("MPLCONFIGDIR", ".config/matplotlib"),
    ]:
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / sub)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    shared = REPO.parent / "shared" / "data"
    if "COURSE_DATA_DIR" not in env and (shared / "mnist").is_dir():
        env["COURSE_DATA_DIR"] = str(shared)
    return env


def make_course(
    root: Path,
    assignment: str,
    *,
    cell_timeout: int | None = None,
    duedate: str | None = None,
    extra_config: str = "",
    lean: bool = False,
) -> dict[str, str]:
    """Copy the repo's nbgrader config and ``solutions/<assignment>`` into ``root``; release.

    Returns the environment to run ``course``/``nbgrader`` in.
    """
    root.mkdir(parents=True, exist_ok=True)
    config = (REPO / "nbgrader_config.py").read_text()
    if cell_timeout:
        config += f"\nc.Execute.timeout = {cell_timeout}  # test: keep infinite loops short\n"
    (root / "nbgrader_config.py").write_text(config + extra_config)
    shutil.copytree(REPO / "solutions" / assignment, root / "solutions" / assignment)
    if lean:
        for path in (root / "solutions" / assignment).glob("*.ipynb"):
            lean_notebook(path)
    env = isolated_env(root)
    if duedate:
        from nbgrader.api import Gradebook

        env_path = os.environ["PATH"]
        os.environ["PATH"] = env["PATH"]  # Gradebook runs `alembic`
        try:
            with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
                gb.update_or_create_assignment(assignment, duedate=duedate)
        finally:
            os.environ["PATH"] = env_path
    run(["course", "release", assignment], root, env)
    return env


def lean_notebook(path: Path) -> None:
    """Keep only the cells nbgrader knows (setup, answers, tests, texts) of a solution.

    The others (an environment check importing TensorFlow, plots) cost seconds per graded
    submission and are not what a grading-infrastructure test is about.
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if c.cell_type != "code" or "nbgrader" in c.metadata]
    nbformat.write(nb, path)


def run(cmd: list[str], cwd: Path, env: dict[str, str], **kw) -> subprocess.CompletedProcess:
    exe = BIN / cmd[0]
    proc = subprocess.run(
        [str(exe), *cmd[1:]], cwd=cwd, env=env, capture_output=True, text=True, **kw
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc
