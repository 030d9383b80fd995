"""The course folder as nbgrader sees it, and running nbgrader the way an instructor does."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CONFIG_NAME = "nbgrader_config.py"
#: Environment variables never passed to nbgrader: ipykernel turns off fd-level output
#: capture when PYTEST_CURRENT_TEST is set (C-level stderr would then escape grading).
DROPPED_ENV = ("PYTEST_CURRENT_TEST",)
BIN = Path(sys.executable).parent


class CourseError(RuntimeError):
    """A problem with the course set-up (not with a student's submission)."""


def find_root(start: Path | None = None) -> Path:
    """The nearest folder, from ``start`` (default: cwd) upwards, holding nbgrader_config.py."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    raise CourseError(
        f"no {CONFIG_NAME} in {here} or any parent folder: run `course` from the course "
        "folder or pass --root"
    )


def nbgrader_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of an instructor's shell: the env's bin/ first on PATH (alembic)."""
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.update(extra or {})
    return env


def nbgrader_command() -> list[str]:
    """``nbgrader`` through ``launch``, which silences nbgrader's internal noise."""
    return [sys.executable, "-m", "course_utils.instructor.launch", "--"]


@dataclass
class Course:
    """Paths and settings of a course folder, read from its nbgrader_config.py."""

    root: Path

    def __post_init__(self) -> None:
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config.loader import PyFileConfigLoader

        self.root = Path(self.root).resolve()
        if not (self.root / CONFIG_NAME).is_file():
            raise CourseError(f"{self.root} has no {CONFIG_NAME}")
        self.config = PyFileConfigLoader(CONFIG_NAME, path=str(self.root)).load_config()
        self.coursedir = CourseDirectory(config=self.config)
        if Path(self.coursedir.root).resolve() != self.root:
            # the config pins another root: follow the folder we were given
            self.coursedir.root = str(self.root)

    # --- folders ----------------------------------------------------------------------
    def step_dir(self, step: str) -> Path:
        """``root/<folder of step>``; ``step`` is e.g. "source", "release", "submitted"."""
        return Path(
            self.coursedir.format_path(getattr(self.coursedir, f"{step}_directory"), ".", ".")
        ).resolve()

    @property
    def db_url(self) -> str:
        return self.coursedir.db_url

    @property
    def course_id(self) -> str:
        return self.coursedir.course_id

    def assignments(self) -> list[str]:
        """Assignment ids: folders of the source directory holding at least one notebook."""
        source = self.step_dir("source")
        if not source.is_dir():
            return []
        return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))

    def notebook_names(self, assignment: str) -> list[str]:
        """Notebook ids (file stems) of an assignment, from the gradebook or the source."""
        from nbgrader.api import Gradebook, MissingEntry

        try:
            with Gradebook(self.db_url, self.course_id) as gb:
                names = [nb.name for nb in gb.find_assignment(assignment).notebooks]
                if names:
                    return sorted(names)
        except MissingEntry:
            pass
        return sorted(p.stem for p in (self.step_dir("source") / assignment).glob("*.ipynb"))

    def setting(self, section: str, name: str, default):
        """A value from the config file, e.g. ``setting("Execute", "timeout", 30)``."""
        value = self.config.get(section, {}).get(name)
        return default if value is None or type(value).__name__ == "LazyConfigValue" else value

    # --- running nbgrader -------------------------------------------------------------
    def nbgrader(
        self, *args: str, capture: bool = False, check: bool = True, env: dict | None = None
    ) -> subprocess.CompletedProcess:
        """Run ``nbgrader ARGS`` from the course root with the instructor environment."""
        proc = subprocess.run(
            [*nbgrader_command(), *args],
            cwd=self.root,
            env=nbgrader_env(env),
            capture_output=capture,
            text=True,
            check=False,
        )
        if check and proc.returncode != 0:
            tail = (proc.stdout or "")[-2000:] + (proc.stderr or "")[-2000:] if capture else ""
            raise CourseError(f"nbgrader {' '.join(args)} failed (exit {proc.returncode})\n{tail}")
        return proc
