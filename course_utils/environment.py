"""Checks that a notebook runs where the course expects it to (used by 00_welcome)."""

from __future__ import annotations

import os
import re
import sys
import tempfile
from types import ModuleType

KERNEL_NAME = "nn-course"

# One line TensorFlow/absl writes straight to file descriptor 2 while it starts, whatever
# TF_CPP_MIN_LOG_LEVEL says (TF 2.21 logs before absl is initialised). nbgrader_config.py
# uses the same pattern for its IgnorePattern.
TF_LOG_LINE = (
    r"(?:[IWEF]\d{4} \d\d:\d\d:[\d.]+\s+\d+ [\w./-]+:\d+\] [^\n]*"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called[^\n]*"
    r"|To enable the following instructions:[^\n]*"
    r"|oneDNN custom operations are on[^\n]*)"
)


def check_course_kernel(kernel_name: str = KERNEL_NAME) -> str:
    """Confirm this Python is the one behind the course's Jupyter kernel.

    Returns:
        A one-line confirmation naming the kernel and the interpreter.

    Raises:
        RuntimeError: the kernel is not registered, or this notebook runs on another
            interpreter (for example the system Python's "Python 3" kernel), with the fix.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        raise RuntimeError(
            f"The Jupyter kernel {kernel_name!r} is not registered. Run `make lab` from the "
            "course folder (it registers the kernel), or with conda: "
            f"`python -m ipykernel install --sys-prefix --name {kernel_name}`."
        ) from None
    kernel_python = spec.argv[0]
    if not _same_file(kernel_python, sys.executable):
        raise RuntimeError(
            f"This notebook runs on {sys.executable}, but the course kernel {kernel_name!r} "
            f"uses {kernel_python}. Choose 'Kernel > Change Kernel… > {spec.display_name}' "
            "in JupyterLab."
        )
    return f"kernel {kernel_name!r} OK: {sys.executable}"


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def import_tensorflow() -> ModuleType:
    """Import TensorFlow (and Keras) without its start-up log lines on stderr.

    TensorFlow writes a few informational lines straight to file descriptor 2 while it
    loads; in JupyterLab they show up as an alarming red box. This captures fd 2 during
    the import and passes on every line that is not such a log line, so genuine errors and
    warnings still appear.

    Returns:
        The ``tensorflow`` module.
    """
    global _TF_READY
    if _TF_READY:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    with tempfile.TemporaryFile() as captured:
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            import keras  # noqa: F401  (Keras logs on import too)
            import tensorflow as tf

            # The runtime logs its oneDNN and CUDA lines when it first runs an operation.
            tf.constant([1.0]) + 1.0
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        text = captured.read().decode(errors="replace")
    leftover = [
        line for line in text.splitlines() if line.strip() and not re.fullmatch(TF_LOG_LINE, line)
    ]
    if leftover:
        print("\n".join(leftover), file=sys.stderr)
    _TF_READY = True
    return tf


#: Set once TensorFlow was imported AND ran its first operation under the capture (the
#: runtime logs on its first operation, also when another module imported it earlier).
_TF_READY = False
