"""nbgrader configuration for the course (read when nbgrader runs from the repository root)."""

import os

from course_utils.environment import TF_LOG_LINE
from course_utils.instructor.feedback import FEEDBACK_PREPROCESSORS
from course_utils.instructor.pages import HTML_TEMPLATE_DIRS, PAGE_FILTERS

c = get_config()  # noqa: F821  (injected by traitlets)

HERE = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = HERE
c.CourseDirectory.course_id = "nn-from-scratch"
c.CourseDirectory.source_directory = "solutions"  # instructor source of truth
c.CourseDirectory.release_directory = "notebooks"  # generated student versions (committed)

# The grading kernel: the course environment registered by `make lab` / `make test`.
c.ExecutePreprocessor.kernel_name = "nn-course"
# Per-cell limit while autograding (nbgrader's default is 30 s, too short for training
# cells). Notebooks shorten training when NBGRADER_EXECUTION is set; 300 s is the ceiling.
c.Execute.timeout = 300
c.Execute.interrupt_on_timeout = True

# TensorFlow/absl write log lines straight to fd 2; nbgrader scores a test cell 0 for ANY
# stderr output. Drop a stderr output only when EVERY line of it is such a log line, so a
# genuine error message is never hidden.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = rf"\A(?:{TF_LOG_LINE}\n?)+\Z"

# Students sometimes delete locked grade cells; put them back instead of "needs manual
# grading" forever (nbgrader#1682).
c.OverwriteCells.add_missing_cells = True

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Feedback pages show the hidden checks' messages, not their source: the hidden test regions
# and the grader's traceback frames are left out of the HTML (the autograded notebook keeps
# them). nbgrader alone shows both (nbgrader#917).
c.GenerateFeedback.preprocessors = FEEDBACK_PREPROCESSORS

# Feedback pages and Formgrader: MathJax 3 inlined from an installed package instead of a
# CDN (formulas are typeset offline), and failure messages wrapped at the page's width
# (course_utils/instructor/pages.py). Both pages use these templates (nbgrader's own after
# the course's overrides).
c.HTMLExporter.extra_template_basedirs = HTML_TEMPLATE_DIRS
c.HTMLExporter.filters = PAGE_FILTERS
