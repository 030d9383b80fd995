"""Checks that a notebook runs where the course expects it to (used by 00_welcome)."""

from __future__ import annotations

import os
import sys

KERNEL_NAME = "nn-course"


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
