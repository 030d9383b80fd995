"""Jupyter server config of the student's lab (``make lab``); see course_utils/lab/config.py."""

from course_utils.lab.config import configure

configure(c, "student")  # noqa: F821  (c is injected by traitlets)
