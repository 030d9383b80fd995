"""Jupyter server config of the instructor's lab (``make instructor``); see
course_utils/lab/config.py."""

from course_utils.lab.config import configure

configure(c, "instructor")  # noqa: F821  (c is injected by traitlets)
