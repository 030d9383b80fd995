"""A student's TensorFlow function as a graph: what it runs, evaluated by the grader itself.

``tf.function(fn).get_concrete_function(*specs)`` turns the student's function into a
graph of TensorFlow operations. That graph is what the function RUNS, so it settles the
"do not use the built-in" rules whatever the source text looks like
(``operator.attrgetter("nn.softmax")(tf)`` and ``tf.raw_ops.Softmax`` both show up as a
``Softmax`` node). When the student's code runs in a sandboxed kernel, the kernel traces
the function (``trace_to_wire``) and sends the serialized ``GraphDef``: the grader checks
its operation types against an allow-list of pure math and array operations (no file,
logging or Python-callback ops: the graph runs in the grader's process) and evaluates it
itself (``TracedFunction``), so the values, and the ``tf.GradientTape`` gradients of the
checks, are computed outside the student's process.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["TracedFunction", "allowed_ops", "graph_op_types", "trace_to_wire"]


def _tf():
    from course_utils.environment import import_tensorflow

    return import_tensorflow()


# ---------------------------------------------------------------------------------------
# Kernel side: trace and serialize
# ---------------------------------------------------------------------------------------
def _structure(value: Any, names: list[str]) -> Any:
    tf = _tf()
    if isinstance(value, tf.Tensor):
        names.append(value.name)
        return {"t": len(names) - 1}
    if isinstance(value, tuple | list):
        return {"u" if isinstance(value, tuple) else "l": [_structure(v, names) for v in value]}
    if isinstance(value, dict):
        return {"d": [[str(k), _structure(v, names)] for k, v in value.items()]}
    if value is None or isinstance(value, bool | int | float | str):
        return {"c": value}
    raise TypeError(f"a traced function returned a {type(value).__name__}")


def trace_to_wire(fn: Any, specs: Sequence[tuple[list, str]]) -> dict:
    """Trace ``fn`` for inputs ``specs`` (``(shape, dtype name)`` each); a wire-ready dict."""
    tf = _tf()
    tensor_specs = [tf.TensorSpec(list(shape), tf.as_dtype(dtype)) for shape, dtype in specs]
    fn = getattr(fn, "python_function", fn)  # a @tf.function: trace the Python function
    # No AutoGraph: it would rewrite float() as a float32 cast and print() as tf.print, so
    # the graph would not compute what the function computes when run eagerly.
    concrete = tf.function(fn, autograph=False).get_concrete_function(*tensor_specs)
    n = len(tensor_specs)
    captures = []
    for placeholder, value in zip(concrete.inputs[n:], concrete.captured_inputs, strict=True):
        if value.dtype == tf.resource:
            raise TypeError(
                "the function reads a tf.Variable (or another resource) from outside: "
                "pass every input as an argument"
            )
        captures.append([placeholder.name, np.asarray(value.numpy())])
    names: list[str] = []
    structure = _structure(concrete.structured_outputs, names)
    return {
        "graph": _inlined_graph_def(concrete).SerializeToString(),
        "inputs": [t.name for t in concrete.inputs[:n]],
        "captures": captures,
        "outputs": names,
        "structure": structure,
    }


def _inlined_graph_def(concrete: Any) -> Any:
    """The graph with nested functions (helpers decorated with tf.function) inlined.

    A graph that still calls library functions imports fine, but TensorFlow cannot take
    the gradient of such a call after the import; grappler's function inlining (the step
    TensorFlow itself uses when freezing a function) removes the calls.
    """
    try:
        from tensorflow.python.framework.convert_to_constants import (
            _run_inline_graph_optimization,
        )

        return _run_inline_graph_optimization(
            concrete, lower_control_flow=False, aggressive_inlining=True
        )
    except Exception:  # noqa: BLE001  (private API: fall back to the plain graph)
        return concrete.graph.as_graph_def()


# ---------------------------------------------------------------------------------------
# Grader side: inspect and evaluate
# ---------------------------------------------------------------------------------------
@functools.cache
def allowed_ops() -> frozenset[str]:
    """Operation types a student's graph may contain: pure math, array, nn and control flow."""
    _tf()
    from tensorflow.python.ops import (
        gen_array_ops,
        gen_bitwise_ops,
        gen_control_flow_ops,
        gen_functional_ops,
        gen_linalg_ops,
        gen_math_ops,
        gen_nn_ops,
        gen_special_math_ops,
    )

    tf = _tf()
    raw = set(dir(tf.raw_ops))
    names = set()
    for module in (
        gen_array_ops,
        gen_bitwise_ops,
        gen_control_flow_ops,
        gen_functional_ops,
        gen_linalg_ops,
        gen_math_ops,
        gen_nn_ops,
        gen_special_math_ops,
    ):
        names |= {n for n in dir(module) if n in raw and n[:1].isupper()}
    # ImmutableConst maps a file into memory; RemoteCall runs a function on another device.
    return frozenset(names - {"ImmutableConst", "RemoteCall"})


def _graph_def(data: bytes) -> Any:
    tf = _tf()
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(data)
    return graph_def


def graph_op_types(graph_def: Any) -> set[str]:
    """Every operation type in ``graph_def``, including the bodies of its functions."""
    ops = {node.op for node in graph_def.node}
    for function in graph_def.library.function:
        ops |= {node.op for node in function.node_def}
    return ops


def _rebuild(structure: Any, tensors: list) -> Any:
    if not isinstance(structure, dict) or len(structure) != 1:
        raise ValueError("malformed output structure")
    ((kind, value),) = structure.items()
    if kind == "t":
        return tensors[int(value)]
    if kind in ("u", "l"):
        items = [_rebuild(v, tensors) for v in value]
        return tuple(items) if kind == "u" else items
    if kind == "d":
        return {str(k): _rebuild(v, tensors) for k, v in value}
    if kind == "c":
        return value
    raise ValueError("malformed output structure")


class UnsafeGraph(Exception):
    """The graph holds operations the grader will not run."""


class TracedFunction:
    """A traced student function (``trace_to_wire``'s dict), evaluated in this process."""

    def __init__(self, wire: dict, specs: Sequence[tuple[list, str]]):
        tf = _tf()
        # Run the graph as written: grappler's arithmetic rewrites (e.g. (1 - p) + eps ->
        # (1 + eps) - p) change float32 results, and the function ran eagerly in the kernel.
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
        self.graph_def = _graph_def(wire["graph"])
        self.op_types = graph_op_types(self.graph_def)
        unsafe = sorted(self.op_types - allowed_ops())
        if unsafe:
            raise UnsafeGraph(
                f"your function uses operations that are not plain TensorFlow maths: "
                f"{', '.join(unsafe)}"
            )
        inputs, outputs = list(wire["inputs"]), list(wire["outputs"])
        captures = {name: tf.constant(value) for name, value in wire["captures"]}
        graph_def, structure = self.graph_def, wire["structure"]
        tensor_specs = [tf.TensorSpec(list(shape), tf.as_dtype(dtype)) for shape, dtype in specs]

        def body(*args):
            mapping = dict(zip(inputs, args, strict=True))
            mapping.update(captures)
            results = tf.graph_util.import_graph_def(
                graph_def, input_map=mapping, return_elements=outputs, name="student"
            )
            return list(results)

        self._function = tf.compat.v1.wrap_function(body, tensor_specs) if outputs else None
        self._structure = structure

    def __call__(self, *args: Any) -> Any:
        tensors = self._function(*args) if self._function is not None else []
        return _rebuild(self._structure, list(tensors))


def traced_op_types(fn: Any, args: Sequence[Any]) -> set[str]:
    """The operation types ``fn`` runs on inputs shaped like ``args`` (TensorFlow tensors).

    For a proxy of a student function the kernel's trace is reused (``remote``); locally
    the function is traced here the same way.
    """
    from .remote import RemoteCallable, current_link

    specs = tuple((tuple(int(d) for d in a.shape), a.dtype.name) for a in args)
    if isinstance(fn, RemoteCallable):
        return set(current_link().traced(fn, specs).op_types)
    return graph_op_types(_graph_def(trace_to_wire(fn, specs)["graph"]))
