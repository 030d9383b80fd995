"""What a saved notebook shows after it is reopened, and what its instructions name.

- No dead widgets. JupyterLab saves a widget's output (``application/vnd.jupyter.widget-view
  +json``: a pointer to a model) but not, by default, the model: after reopening, the cell
  shows "Error displaying widget: model not found". So no committed notebook holds a widget
  view whose model is not saved with it, and no notebook's code makes a widget (tqdm.auto,
  tqdm.notebook, ipywidgets): progress is plain text. ``course_utils.train.fit`` replaces
  its own bar by a text line (tests/test_train.py).
- Menu names are JupyterLab 4's, and 00_welcome says that Run All stops at the first
  unfinished task and what to do then.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from conftest import REPO

NOTEBOOKS = sorted((REPO / "solutions").glob("*/*.ipynb")) + sorted(
    (REPO / "notebooks").glob("*/*.ipynb")
)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
MAKES_WIDGETS = re.compile(
    r"^\s*(?:from|import)\s+(?:tqdm\.(?:auto|notebook|autonotebook)|ipywidgets)\b"
    r"|\btqdm\.(?:auto|notebook)\.|\bnotebook_tqdm\b|\btqdm_notebook\b",
    re.M,
)
#: JupyterLab 4's menu entries (labels of @jupyterlab/notebook-extension and mainmenu).
JUPYTERLAB_4_MENU = {
    "Kernel": {"Restart Kernel…", "Restart Kernel and Run All Cells…",
               "Restart Kernel and Clear Outputs of All Cells…", "Interrupt Kernel",
               "Change Kernel…"},
    "Run": {"Run All Cells", "Run Selected Cell and All Below", "Run All Above Selected Cell",
            "Run Selected Cell"},
}  # fmt: skip


def _id(path) -> str:
    return str(path.relative_to(REPO))


def dead_widgets(nb) -> list[str]:
    """Widget views in ``nb``'s outputs whose model is not in the notebook's saved state."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    dead = []
    for number, cell in enumerate(nb.cells, start=1):
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is not None and view.get("model_id") not in state:
                dead.append(f"cell {number}: widget {view.get('model_id')}")
    return dead


def test_dead_widgets_are_found():
    """The check itself: a saved widget view without its model is reported."""
    nb = nbformat.v4.new_notebook()
    view = {WIDGET_VIEW: {"model_id": "abc", "version_major": 2, "version_minor": 0},
            "text/plain": "  0%|          | 0/25"}  # fmt: skip
    nb.cells.append(nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output(
        "display_data", data=view)]))  # fmt: skip
    assert dead_widgets(nb) == ["cell 1: widget abc"]
    nb.metadata["widgets"] = {WIDGET_STATE: {"state": {"abc": {}}}}
    assert dead_widgets(nb) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_no_dead_widget_in_saved_outputs(path):
    assert dead_widgets(nbformat.read(path, as_version=4)) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_no_code_makes_a_widget(path):
    nb = nbformat.read(path, as_version=4)
    found = [
        f"cell {number}: {m.group(0).strip()}"
        for number, cell in enumerate(nb.cells, start=1)
        if cell.cell_type == "code"
        for m in MAKES_WIDGETS.finditer(cell.source)
    ]
    assert not found, f"widgets do not survive save and reopen; print text progress: {found}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_menu_entries_are_jupyterlab_4s(path):
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
    named = re.findall(r"\b(Kernel|Run)\s*(?:→|->|>)\s*([^*\n]+?)(?:\*|\.?\n|\)|$)", text)
    for menu, entry in named:
        assert entry.strip() in JUPYTERLAB_4_MENU[menu], (
            f"'{menu} → {entry.strip()}' is not in JupyterLab 4's {menu} menu: "
            f"{sorted(JUPYTERLAB_4_MENU[menu])}"
        )


def test_welcome_explains_that_run_all_stops_at_the_first_unfinished_task():
    for tree in ("solutions", "notebooks"):
        nb = nbformat.read(REPO / tree / "00_welcome" / "welcome.ipynb", as_version=4)
        text = " ".join(" ".join(c.source.split()) for c in nb.cells if c.cell_type == "markdown")
        assert "Run All Cells" in text and "stops at the first" in text, tree
        assert "NotImplementedError" in text and "Run Selected Cell and All Below" in text, tree
