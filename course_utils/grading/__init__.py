"""Grading machinery shared by every ``grader_tests`` module (see DESIGN.md "Grading").

A check is a function decorated with ``@check`` that builds inputs, calls the student's
object through ``call_student`` and compares with ``assert_close`` /
``assert_*_gradients`` / ``check_stable`` / ``forbid_calls``. On success it prints exactly
one line, ``✔ <check_name> passed`` (plus `` [<token>]`` when ``COURSE_GRADER_KEY`` was set
at import); on failure it raises the genuine ``AssertionError`` with a message a student
can act on. Nothing is ever written to stderr.

Wrong values are explained by their structure (``diagnose``: a named factor such as N or
(N−1)/N, a transpose, a part of the expected value missing or scaled alone, a multiple of
the parameter, per-row/column offsets, the wrong axis, float32 precision); NumPy's and
TensorFlow's shape errors by what their shapes say (``error_text``: element-wise versus
matrix product); a failing hidden check says whether its visible twin passes (``visible``);
a stated initial weight scale is tested statistically (``init_scale``).

Importing this package captures the references the checks rely on; see ``_core`` for the
tamper-resistance protocol (guard, sealed modules, keyed markers) and its residual risk.
"""

from course_utils import gradcheck as _gradcheck

from ._core import (
    GUARD,
    MARK,
    SealedModule,
    call_student,
    check,
    checks_called_in,
    describe_value,
    expect_callable,
    expected_marker,
    fail,
    find_markers,
    protect,
    quiet,
    registered_checks,
    seal,
    suspicious_lines,
    verify_markers,
)
from .compare import assert_close, assert_scalar, to_array, value_hints
from .diagnose import explain_difference, name_factor
from .error_text import explain_error_text
from .gradients import (
    assert_function_gradients,
    assert_gradient,
    assert_layer_gradients,
    assert_numerical_gradient,
    diagnose_gradient,
)
from .init_scale import assert_init_scale
from .inspection import find_forbidden_calls, forbid_calls, resolve_dotted
from .stability import (
    EXTREME_LOGITS,
    EXTREME_TARGETS,
    check_stable,
    confidently_wrong_rows,
    underflow_explanation,
)

__all__ = [
    "EXTREME_LOGITS",
    "EXTREME_TARGETS",
    "GUARD",
    "MARK",
    "SealedModule",
    "assert_close",
    "assert_function_gradients",
    "assert_gradient",
    "assert_init_scale",
    "assert_layer_gradients",
    "assert_numerical_gradient",
    "assert_scalar",
    "call_student",
    "check",
    "check_stable",
    "checks_called_in",
    "confidently_wrong_rows",
    "describe_value",
    "diagnose_gradient",
    "explain_difference",
    "explain_error_text",
    "expect_callable",
    "expected_marker",
    "fail",
    "find_forbidden_calls",
    "find_markers",
    "forbid_calls",
    "name_factor",
    "protect",
    "quiet",
    "registered_checks",
    "resolve_dotted",
    "seal",
    "suspicious_lines",
    "to_array",
    "underflow_explanation",
    "value_hints",
    "verify_markers",
]

protect(_gradcheck)
for _name in (
    "course_utils.grading._core",
    "course_utils.grading.compare",
    "course_utils.grading.diagnose",
    "course_utils.grading.error_text",
    "course_utils.grading.visible",
    "course_utils.grading.gradients",
    "course_utils.grading.init_scale",
    "course_utils.grading.inspection",
    "course_utils.grading.stability",
    "course_utils.grading",
):
    seal(_name)
