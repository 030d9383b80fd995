"""Checks called by the notebooks' test cells: one module per assignment.

Each graded task has ``check_<task>`` (visible in the student notebook) and
``check_<task>_hidden`` (between ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``).
Every check is a ``course_utils.grading.check``: on success it prints exactly one line
``✔ <check_name> passed`` (with a `` [<token>]`` when graded with ``COURSE_GRADER_KEY``), on
failure it raises ``AssertionError`` with a message the student can act on.

Importing this package (the notebook's locked setup cell does, before any answer cell)
imports ``course_utils.grading``, which captures the references the checks rely on. Every
module here ends with ``seal(__name__)``: its checks cannot be replaced or deleted.

Writing a new module ``grader_tests/<assignment>.py``::

    from course_utils.grading import assert_close, call_student, check, expect_callable, seal

    @check
    def check_softmax(softmax):
        expect_callable(softmax, "softmax")
        x = ...
        assert_close(call_student(softmax, x), reference(x), "softmax(x)")

    seal(__name__)
"""

from course_utils.grading import seal

seal(__name__)
