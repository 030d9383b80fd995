"""Read NumPy's and TensorFlow's shape errors: element-wise versus matrix product.

``explain_error_text(type_name, message)`` turns the text of an exception raised by student
code ("shapes (5,4) and (5,4) not aligned", "operands could not be broadcast together with
shapes (5,4) (4,3)", TensorFlow's "Matrix size-incompatible" / "Incompatible shapes") into
one sentence about the structure of the mistake, judged from the shapes in the text:

- a matrix product of two arrays of the SAME shape: the element-wise product was meant;
- a matrix product whose operands share their first (or last) size: one is transposed;
- an element-wise operation on shapes that fit a matrix product: ``@`` was meant;
- an element-wise operation on (A, B) and (B, A): one operand is transposed;
- a per-row vector (N,) against (N, M): broadcasting aligns the LAST axes.

It works on the type name and the message only (what crosses a process boundary).
"""

from __future__ import annotations

import re

__all__ = ["error_hint_line", "explain_error_text"]

_DOT = re.compile(r"shapes \(([\d, ]*)\) and \(([\d, ]*)\) not aligned")
_MATMUL = re.compile(
    r"matmul: Input operand 1 has a mismatch in its core dimension 0.*"
    r"\(size (\d+) is different from (\d+)\)"
)
_BROADCAST = re.compile(r"operands could not be broadcast together with (?:remapped )?shapes")
_TF_MATMUL = re.compile(r"Matrix size-incompatible: In\[0\]: \[([\d,]*)\], In\[1\]: \[([\d,]*)\]")
_TF_BROADCAST = re.compile(r"Incompatible shapes: \[([\d,]*)\] vs\. \[([\d,]*)\]")

_ELEMENTWISE = (
    "to multiply entry by entry (element-wise, e.g. a derivative such as a * (1 - a) applied "
    "to a gradient), use `*`, not `@` / np.dot / tf.matmul"
)


def _shape(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.split(r"[,\s]+", text.strip()) if p)


def _matmul_sentence(a: tuple[int, ...], b: tuple[int, ...]) -> str:
    shown = f"{a} @ {b}"
    if a == b:
        return (
            f"a matrix product of two arrays of the same shape ({shown}): a matrix "
            f"product needs the inner sizes to agree; {_ELEMENTWISE}"
        )
    if len(a) == len(b) == 2 and a[0] == b[0]:
        return (
            f"the matrix product {shown} does not fit, but {a[::-1]} @ {b} would: the first "
            f"operand should be transposed (e.g. x.T @ dout for a weight gradient)"
        )
    if len(a) == len(b) == 2 and a[1] == b[1]:
        return (
            f"the matrix product {shown} does not fit, but {a} @ {b[::-1]} would: the second "
            f"operand should be transposed (e.g. dout @ w.T)"
        )
    return (
        f"the inner sizes of the matrix product {shown} differ: (m, k) @ (k, n) needs the "
        f"same k; check the order of the operands and which one is transposed. If you meant "
        f"an element-wise product, use `*`"
    )


def _broadcast_sentence(shapes: list[tuple[int, ...]]) -> str:
    a, b = shapes[0], shapes[1]
    shown = f"{a} and {b}"
    if len(a) == len(b) == 2 and a == b[::-1]:
        return (
            f"an element-wise operation (*, +, -, /) on {shown}: one operand is transposed "
            f"(.T), or a matrix product `@` was meant"
        )
    if len(a) == len(b) == 2 and a[1] == b[0]:
        return (
            f"an element-wise operation (*, +, -, /) on {shown}; these shapes fit a matrix "
            f"product {a} @ {b}: did you mean `@` (or np.dot / tf.matmul)?"
        )
    if len(a) == len(b) == 2 and a[0] == b[1]:
        return (
            f"an element-wise operation (*, +, -, /) on {shown}; these shapes fit a matrix "
            f"product {b} @ {a}: did you mean `@`, with the operands in that order?"
        )
    for vec, mat in ((a, b), (b, a)):
        if len(vec) == 1 and len(mat) == 2 and vec[0] == mat[0] != mat[1]:
            return (
                f"an element-wise operation on {shown}: broadcasting lines up the LAST axes, "
                f"so a per-row vector of shape {vec} must be a column {(vec[0], 1)} to "
                f"combine with {mat}: v[:, None], or keepdims=True in the reduction"
            )
    return (
        f"an element-wise operation (*, +, -, /) on {shown}: element-wise operations need "
        f"equal shapes, or axes of size 1 that broadcast"
    )


def explain_error_text(type_name: str, message: str) -> str | None:
    """One sentence on what a NumPy/TensorFlow shape error says about the code, or None."""
    if type_name not in ("ValueError", "InvalidArgumentError", "IndexError"):
        return None
    m = _DOT.search(message) or _TF_MATMUL.search(message)
    if m:
        return _matmul_sentence(_shape(m.group(1)), _shape(m.group(2)))
    m = _MATMUL.search(message)
    if m:
        got, wanted = int(m.group(1)), int(m.group(2))
        return (
            f"the inner sizes of a matrix product (@) differ ({wanted} vs {got}): "
            f"(m, k) @ (k, n) needs the same k. If both operands have the same shape, "
            f"{_ELEMENTWISE}; otherwise check the order of the operands and the transposes"
        )
    m = _TF_BROADCAST.search(message)
    if m:
        return _broadcast_sentence([_shape(m.group(1)), _shape(m.group(2))])
    if _BROADCAST.search(message):
        text = message.split("[original->remapped]:")[0]
        shapes = [_shape(s) for s in re.findall(r"\(([\d,\s]*)\)", text)]
        shapes = [s for s in shapes if s]
        if len(shapes) >= 2:
            return _broadcast_sentence(shapes)
    return None


def error_hint_line(type_name: str, message: str) -> str:
    """``"\\nHint: <sentence>"`` for a recognised shape error, else ``""``."""
    sentence = explain_error_text(type_name, message)
    return f"\nHint: {sentence}" if sentence else ""
