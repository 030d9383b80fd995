"""SafeOutputs, as nbgrader's Autograde calls it (``preprocessor(nb, resources)``)."""

from __future__ import annotations

import nbformat

from course_utils.instructor.execute import SafeOutputs

SCRIPT = "<script>document.title='pwned'</script><img src=x onerror=\"alert(1)\">"


def _notebook():
    code = nbformat.v4.new_code_cell("show()")
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": SCRIPT, "text/plain": "x"}),
        nbformat.v4.new_output("display_data", data={"application/javascript": "alert(1)"}),
    ]
    notes = nbformat.v4.new_markdown_cell("My notes " + SCRIPT)
    locked = nbformat.v4.new_markdown_cell("Course text <b>kept</b> " + SCRIPT)
    locked.metadata["nbgrader"] = {"locked": True, "grade": False, "solution": False,
                                   "grade_id": "intro", "schema_version": 3}  # fmt: skip
    return nbformat.v4.new_notebook(cells=[code, notes, locked])


def test_scripts_and_handlers_are_inert_when_nbgrader_runs_it():
    nb, _ = SafeOutputs()(_notebook(), {})
    text = nbformat.writes(nb)
    code, notes, locked = nb.cells
    html = code.outputs[0]["data"]["text/html"]
    assert "<script" not in html and "<img src=x onerror" not in html  # escaped or dropped
    assert all("application/javascript" not in o.get("data", {}) for o in code.outputs)
    assert "<script" not in notes.source and "<img src=x onerror" not in notes.source
    assert locked.source == _notebook().cells[2].source  # the instructor's own cells stay
    assert text.count("<script>") == 1
