"""The Jupyter server configuration of the two labs (read by ``student_config.py`` /
``instructor_config.py``, which the launcher passes as ``--config``).

Both labs
- offer the course kernel only ("Python 3 (nn-course)", not ipykernel's "Python 3");
- validate out of process (``course_utils.lab.server`` replaces nbgrader's
  ``validate_assignment`` server extension).

The student's lab has nbgrader's student side only: the Validate button, and the
Assignment List (with the Nbgrader menu, which then lists it) only when the course has an
nbgrader exchange. No Formgrader, no Create Assignment panel, no Courses list, and their
server extensions are off, so nothing in the lab can regenerate or delete a notebook.

The instructor's lab has Formgrader and Create Assignment; Formgrader does not dump its
configuration (with the server's token) on the Manage Assignments page.
"""

from __future__ import annotations

import os

KERNEL = "nn-course"
NBGRADER_SERVER = "nbgrader.server_extensions."
NBGRADER_LAB = "@jupyter/nbgrader:"
INSTRUCTOR_PLUGINS = ["formgrader", "create-assignment"]
EXCHANGE_PLUGINS = ["assignment-list", "course-list"]


def exchange_in_use(course_root: str) -> bool:
    """Whether the course at ``course_root`` has an nbgrader exchange a student can reach:
    a course id and an existing exchange folder (``Exchange.root``, nbgrader's default
    ``/usr/local/share/nbgrader/exchange``), as nbgrader's own Formgrader decides it."""
    from nbgrader.apps import NbGrader
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default.exchange import Exchange

    here = os.getcwd()
    try:
        os.chdir(course_root)
        app = NbGrader()
        app.log.setLevel("ERROR")
        app.load_config_file()
    finally:
        os.chdir(here)
    if not CourseDirectory(config=app.config).course_id:
        return False
    return os.path.isdir(Exchange(config=app.config).root)


def configure(c, role: str) -> None:
    """Fill the traitlets config ``c`` for a ``role`` ("student" or "instructor") lab."""
    if role not in ("student", "instructor"):
        raise ValueError(f"role: expected 'student' or 'instructor', got {role!r}")
    course_root = os.environ.get("COURSE_ROOT") or os.getcwd()
    exchange = exchange_in_use(course_root)

    c.KernelSpecManager.ensure_native_kernel = False
    c.KernelSpecManager.allowed_kernelspecs = {KERNEL}
    c.MultiKernelManager.default_kernel_name = KERNEL

    student = role == "student"
    extensions = {
        "course_utils.lab.server": True,
        NBGRADER_SERVER + "validate_assignment": False,  # replaced, see course_utils.lab.server
        NBGRADER_SERVER + "formgrader": not student,
        NBGRADER_SERVER + "assignment_list": exchange,
        NBGRADER_SERVER + "course_list": exchange,
    }
    c.ServerApp.jpserver_extensions = extensions
    disabled = [] if exchange else list(EXCHANGE_PLUGINS)
    if student:
        disabled += INSTRUCTOR_PLUGINS
        if not exchange:
            disabled.append("menu")
    c.CourseLab.role = role
    c.CourseLab.course_root = course_root
    c.CourseLab.exchange_in_use = exchange
    c.CourseLab.disabled_labextensions = sorted({NBGRADER_LAB + p for p in disabled})
    # Formgrader shows its whole configuration, the server token included, unless told not to.
    c.FormgradeExtension.debug = False
