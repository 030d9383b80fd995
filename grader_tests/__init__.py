"""Checks called by the notebooks' test cells: one module (or package) per assignment.

Each graded task has ``check_<task>`` (visible in the student notebook) and
``check_<task>_hidden`` (between ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``).
Every check is a ``course_utils.grading.check``: on success it prints exactly one line
``✔ <check_name> passed``, on failure it raises ``AssertionError`` with a message the
student can act on.

A check runs in two places with the same code and must give the same verdict and message
in both (the self-tests in ``tests/grader`` run every catalogue both ways):

- in the student's kernel, on the real objects (while they work, and ``nbgrader
  validate``);
- at grading time in the grader process, against PROXIES of the student's objects in a
  sandboxed kernel (``course_utils.grading.remote``): the points come from here.

Rules for writing a check, so that it means the same in both places:

1. Reach student code only through ``call_student(fn, *args)`` (or a plain call or
   attribute read on the object the check was given). Arguments are copied to the
   student's side; results come back as COPIES when they are data (numbers, strings,
   NumPy arrays, TensorFlow tensors, lists/tuples/dicts/sets of them) and as proxies
   otherwise (instances, functions, classes). Python operators (``a + b``, ``a * 3.0``,
   ``-a``, comparisons) work on proxies.
2. Never rely on writing into a value read from a student object: ``net.params["w"][...]
   = w`` changes the copy only. Use ``assign_student_array(net, [("attr", "params"),
   ("item", "w")], w)``. Gradient checks (``assert_layer_gradients``...) already do this.
3. Do not test student objects with ``isinstance``/``type(obj)``: use ``type_name(obj)``
   for messages and ``expect_callable`` for "is it the student's own function/class".
4. Objects handed TO student code are data, proxies, or course_utils objects obtained
   with ``reference("course_utils.layers", "Linear")`` (the real class locally, the same
   class imported in the student's kernel remotely): never a function defined in a
   grader_tests module (it cannot cross, and references must stay out of the student's
   reach).
5. Grade a trained model from its weights, evaluated here: ``keras_model_copy(model, x)``
   for Keras, the parameter arrays and the task's reference forward pass for NumPy
   models. Never trust predictions the student's process computed for test data.
6. A TensorFlow function called with tensors is traced in the student's kernel and its
   graph runs here; ``traced_op_types(fn, tensors)`` lists the operations it runs (forbid
   built-ins by operation type, not only by name).
7. ``forbid_calls`` / ``find_forbidden_calls`` work on proxies (the kernel's scan plus the
   grader's own reading of the notebook's source).
8. A test cell scores its own task. When task k uses the student's earlier answers (a net
   built from their layers, a training loop calling their loss, a graph of their
   ``Value``s), run the student's task k with the course's reference answers of those in
   place: ``substituted(fn_or_class, {"Matmul": reference("course_utils.grading.stand_ins",
   "Matmul")})`` binds the notebook names the student's code looks up for the duration of
   the block, ``substituted_attributes`` a method of a student class; add the reference
   answer to ``course_utils.grading.stand_ins`` with the notebook's exact interface. Run
   ``forbid_calls`` outside such a block. When a result of the composition alone is graded
   (a trained network's accuracy), say in the message which earlier task fails its check.
   ``tests/grader/test_cascade.py`` breaks each earlier task in turn and asserts that every
   later task keeps its points.

Every module here ends with ``seal(__name__)``: in the student's kernel, its checks
cannot be replaced or deleted.

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
