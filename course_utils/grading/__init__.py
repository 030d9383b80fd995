"""Grading machinery shared by every ``grader_tests`` module (see DESIGN.md "Grading").

A check is a function decorated with ``@check`` that builds inputs, calls the student's
object through ``call_student`` and compares with ``assert_close`` /
``assert_*_gradients`` / ``check_stable`` / ``forbid_calls``. On success it prints exactly
one line, ``✔ <check_name> passed``; on failure it raises the genuine ``AssertionError``
with a message a student can act on. Nothing is ever written to stderr.

The same check runs in the student's kernel (visible checks while they work) and, at
grading time, in the grader process against proxies of the student's objects (``remote``,
``kernel_server``, ``wire``): see ``_core`` for what that means for writing a check.
Wrong values are explained by their structure (``diagnose``: a named factor such as N or
(N−1)/N, a transpose, a part of the expected value missing or scaled alone, a multiple of
the parameter, per-row/column offsets, the wrong axis, float32 precision); NumPy's and
TensorFlow's shape errors by what their shapes say (``error_text``: element-wise versus
matrix product); a failing hidden check says whether its visible twin passes (``visible``);
a stated initial weight scale is tested statistically (``init_scale``). A check of a task
that composes the student's earlier tasks runs it with reference answers of those in place
(``substitute``, ``stand_ins``), so that each test cell scores its own task. In IPython a
failing check is drawn as the test cell's line and the wrapped message, without the
grader's frames (``shown_failure``).
"""

from course_utils import gradcheck as _gradcheck

from . import stand_ins as _stand_ins  # noqa: F401  (imported to be sealed below)
from ._core import (
    GUARD,
    MARK,
    SealedModule,
    call_student,
    check,
    checks_called_in,
    class_of,
    describe_value,
    expect_callable,
    fail,
    instance_of,
    is_class,
    protect,
    quiet,
    registered_checks,
    seal,
    suspicious_lines,
    type_name,
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
from .inspection import (
    find_forbidden_calls,
    forbid_calls,
    forbid_library,
    library_names,
    resolve_dotted,
)
from .models import keras_model_copy
from .remote import (
    assign_student_array,
    is_remote,
    perturbed_results,
    reference,
    set_student_value,
    student_rng,
)
from .stability import (
    EXTREME_LOGITS,
    EXTREME_TARGETS,
    check_stable,
    confidently_wrong_rows,
    underflow_explanation,
)
from .substitute import substituted, substituted_attributes
from .tfgraph import traced_op_types

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
    "assign_student_array",
    "call_student",
    "check",
    "check_stable",
    "checks_called_in",
    "class_of",
    "confidently_wrong_rows",
    "describe_value",
    "diagnose_gradient",
    "explain_difference",
    "explain_error_text",
    "expect_callable",
    "fail",
    "find_forbidden_calls",
    "forbid_calls",
    "forbid_library",
    "instance_of",
    "is_class",
    "is_remote",
    "keras_model_copy",
    "library_names",
    "name_factor",
    "protect",
    "perturbed_results",
    "quiet",
    "reference",
    "registered_checks",
    "resolve_dotted",
    "seal",
    "set_student_value",
    "student_rng",
    "substituted",
    "substituted_attributes",
    "suspicious_lines",
    "to_array",
    "traced_op_types",
    "underflow_explanation",
    "value_hints",
    "type_name",
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
    "course_utils.grading.remote",
    "course_utils.grading.models",
    "course_utils.grading.tfgraph",
    "course_utils.grading.substitute",
    "course_utils.grading.stand_ins",
    "course_utils.grading",
):
    seal(_name)
