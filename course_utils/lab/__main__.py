"""``python -m course_utils.lab student|instructor [OPTIONS] [-- JUPYTER-LAB-OPTIONS]``.

student     brings the student workspace up to date with the release (new notebooks in,
            nothing of the student's changed, see course_utils/lab/workspace.py) and opens
            JupyterLab on it, with the course kernel and nbgrader's student side only.
instructor  opens JupyterLab at the course root with Formgrader and Create Assignment.

Both run from the course root (the folder with nbgrader_config.py), so that Validate and
Formgrader read the course's nbgrader configuration.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
from pathlib import Path

from course_utils.lab.workspace import sync_workspace

HERE = Path(__file__).resolve().parent


def release_directory(course_root: Path) -> Path:
    """nbgrader's release directory of the course (``CourseDirectory.release_directory``).

    Read from the assignment in ``nbgrader_config.py`` when it is a plain string (executing
    the config costs seconds: the course's imports nbconvert); executed otherwise."""
    config_file = course_root / "nbgrader_config.py"
    for node in ast.walk(ast.parse(config_file.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and ast.unparse(node.targets[0]) == "c.CourseDirectory.release_directory"
        ):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                return course_root / node.value.value
            break
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(config_file.name, path=str(course_root)).load_config()
    return course_root / config.CourseDirectory.get("release_directory", "release")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.lab", description=__doc__)
    parser.add_argument("role", choices=["student", "instructor"])
    parser.add_argument(
        "--course-root", default=".", help="the course folder (with nbgrader_config.py)"
    )
    parser.add_argument(
        "--workspace",
        default=None,
        help="student: the folder the student works in (default: COURSE_ROOT/workspace)",
    )
    parser.add_argument(
        "--sync-only",
        action="store_true",
        help="student: bring the workspace up to date with the release, then exit",
    )
    argv = sys.argv[1:] if argv is None else list(argv)
    ours, rest = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    )
    args = parser.parse_args(ours)

    root = Path(args.course_root).resolve()
    if not (root / "nbgrader_config.py").is_file():
        parser.error(f"--course-root: expected a folder with nbgrader_config.py, got {root}")
    if args.role == "student":
        workspace = Path(args.workspace or root / "workspace").resolve()
        release = release_directory(root)
        fresh = not workspace.exists()
        try:
            report = sync_workspace(release, workspace)
        except ValueError as err:
            parser.error(str(err))
        print(f"[course] {'created' if fresh else 'up to date:'} your workspace {workspace}")
        for line in report.lines():
            print(line)
        lab_root = workspace
        if args.sync_only:
            return 0
    else:
        lab_root = root

    # The env's bin/ first (nbgrader calls alembic); the course root for Validate/Formgrader.
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    os.environ["COURSE_ROOT"] = str(root)
    os.environ.pop("PYTEST_CURRENT_TEST", None)
    os.chdir(root)
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--config={HERE / f'{args.role}_config.py'}",
        f"--ServerApp.root_dir={lab_root}",
        *rest,
    ]
    sys.stdout.flush()
    os.execv(sys.executable, command)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
