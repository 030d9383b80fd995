"""A notebook's opening cells write nothing to stderr, in a real course kernel.

JupyterLab shows any stderr output as a red box, and a student's first sight of a notebook
should not be one. The opening cells are the code cells before the first graded cell (the
locked setup cell, and the environment or TensorFlow cells that follow it in some
notebooks). Each notebook's opening cells run in a fresh ``nn-course`` kernel, as in the
student's lab: TensorFlow loads, its C++ runtime logs to file descriptor 2, and ipykernel
forwards fd 2 to the cell (except while ``PYTEST_CURRENT_TEST`` is set, which is why it is
dropped from the kernel's environment). The released notebooks have the same opening
cells as their solutions (checked here), so each runs once.
"""

from __future__ import annotations

import os
import time

import nbformat
import pytest

from conftest import REPO, mnist_available

KERNEL = "nn-course"
SOLUTIONS = sorted((REPO / "solutions").glob("*/*.ipynb"))


def _id(path) -> str:
    return f"{path.parent.name}/{path.name}"


def opening_cells(path) -> list:
    """The code cells before the notebook's first answer or test cell."""
    cells = []
    for cell in nbformat.read(path, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") or meta.get("grade"):
            break
        if cell.cell_type == "code":
            cells.append(cell)
    return cells


@pytest.mark.parametrize("solution", SOLUTIONS, ids=_id)
def test_released_notebook_opens_with_the_same_cells(solution):
    released = REPO / "notebooks" / solution.parent.name / solution.name
    assert [c.source for c in opening_cells(released)] == [
        c.source for c in opening_cells(solution)
    ]


def run_in_course_kernel(cells: list, cwd) -> tuple[list, float]:
    """Execute ``cells`` in a fresh course kernel; (their outputs, seconds taken)."""
    nbclient = pytest.importorskip("nbclient")
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        pytest.fail(f"the {KERNEL!r} kernel is not registered: run `make setup` first")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c.source) for c in cells])
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    client = nbclient.NotebookClient(
        nb,
        timeout=300,
        kernel_name=KERNEL,
        allow_errors=True,
        resources={"metadata": {"path": str(cwd)}},
    )
    t0 = time.monotonic()
    client.execute(env=env)
    return [cell.outputs for cell in nb.cells], time.monotonic() - t0


@pytest.mark.parametrize("solution", SOLUTIONS, ids=_id)
def test_opening_cells_write_nothing_to_stderr(solution):
    cells = opening_cells(solution)
    if any("load_mnist" in c.source for c in cells) and not mnist_available():
        pytest.skip("MNIST is not available (set COURSE_DATA_DIR)")
    outputs, seconds = run_in_course_kernel(cells, solution.parent)
    print(f"[timing] {_id(solution)}: {len(cells)} opening cells in {seconds:.1f} s")
    problems = [
        f"cell {i + 1} ({cells[i].source.splitlines()[0]!r}): "
        + (out.text if out.output_type == "stream" else f"{out.ename}: {out.evalue}")
        for i, cell_outputs in enumerate(outputs)
        for out in cell_outputs
        if out.get("name") == "stderr" or out.output_type == "error"
    ]
    assert not problems, "\n".join(problems)
