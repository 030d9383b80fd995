"""The feedback page shows what the hidden checks said, never their source.

nbgrader's ``generate_feedback`` renders the autograded notebook as it is, and there the
test cells hold their full source, hidden tests included (nbgrader#917), and an error's
traceback can show frames from inside the grader (``grader_tests``, ``course_utils.grading``).
``HideGraderSource`` runs in ``GenerateFeedback``, after ``GetGrades``, on the copy that
becomes the HTML page; the autograded notebook (Formgrader, the instructor) keeps
everything. In the page:

- a test cell's ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` region (the
  delimiters of ``ClearHiddenTests``, whose configuration applies) becomes one comment line,
  ``HIDDEN_PLACEHOLDER``;
- a test cell's error names its line in the source as shown: ``test cell, line 4:
  welcome.check_accuracy(accuracy)`` for a visible check, ``test cell, line 5: (a hidden
  check)`` for a hidden one (the grader's own format, ``verdict.py``, and IPython's
  ``Cell In[3], line 6`` frame, with its lines of source, of a cell run in a kernel);
- in every code cell, a traceback frame whose file is in one of ``grader_packages`` is
  dropped (consecutive ones become one line, ``GRADER_FRAMES``).

The checks' messages (``✔ check_x_hidden passed``, the failure and its hint) are kept: they
are what the student should read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests, GetGrades
from traitlets import List, Unicode

__all__ = ["FEEDBACK_PREPROCESSORS", "HideGraderSource", "ShownSource", "hide_hidden_region"]

HIDDEN_PLACEHOLDER = "# (hidden checks: their source is not shown, their results are below)"
GRADER_FRAMES = "(frames inside the course's grader are not shown)"

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: ``verdict.py``'s line for the test cell's statement that failed.
_GRADER_LINE = re.compile(r"\Atest cell, line (\d+): ")
#: The first line of IPython's frame for the top level of the cell that ran (IPython 8.6+:
#: ``Cell In[3], line 6``; 8.0-8.5: ``Input In [3], in <cell line: 6>()``). A function
#: defined in a cell has ``..., in accuracy(scores, y)`` after it and is not matched.
_CELL_FRAME = re.compile(
    r"\A\s*(?:Cell In\s*\[\d*\], line (\d+)|Input In \[\d*\], in <cell line: (\d+)>\(\))\s*\Z"
)
#: A frame's file: IPython's ``File /path/x.py:12, in f`` or Python's ``File "/path", line 12``.
_FILE_FRAME = re.compile(r'\A\s*File (?:"([^"]+)", line \d+|(\S+?):\d+, in )')


def _plain(text: str) -> str:
    return _ANSI.sub("", text)


@dataclass
class ShownSource:
    """A test cell's source as the feedback shows it."""

    source: str
    line: dict[int, int]  # line number in the real source (1-based) -> shown line number
    hidden: set[int]  # real line numbers inside a hidden region (delimiters included)


def hide_hidden_region(source: str, begin: str, end: str) -> ShownSource:
    """``source`` with each hidden region replaced by ``HIDDEN_PLACEHOLDER``.

    A line of a hidden region is shown as the placeholder's line. A region without its end
    runs to the end of the cell (nothing of it is shown).
    """
    shown: list[str] = []
    line: dict[int, int] = {}
    hidden: set[int] = set()
    in_region = False
    for number, text in enumerate(source.split("\n"), start=1):
        if not in_region and begin in text:
            in_region = True
            shown.append(HIDDEN_PLACEHOLDER)
            hidden.add(number)
        elif in_region:
            hidden.add(number)
            in_region = end not in text
        else:
            shown.append(text)
        line[number] = len(shown)
    return ShownSource("\n".join(shown), line, hidden)


class HideGraderSource(ClearHiddenTests):
    """Feedback-page preprocessor: hidden tests and the grader's frames out, messages in."""

    grader_packages = List(
        Unicode(),
        ["grader_tests", "course_utils.grading", "course_utils.instructor"],
        help="packages whose traceback frames are not shown in feedback",
    ).tag(config=True)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code":
            return cell, resources
        is_test = utils.is_grade(cell) and not utils.is_solution(cell)
        original = cell.source.split("\n")
        shown = None
        if is_test and self.begin_test_delimeter in cell.source:
            shown = hide_hidden_region(
                cell.source, self.begin_test_delimeter, self.end_test_delimeter
            )
            cell.source = shown.source
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = self._traceback(output.get("traceback", []), original, shown)
        return cell, resources

    def _in_grader(self, path: str) -> bool:
        parts = re.split(r"[/\\]", re.sub(r"\.py$", "", path))
        for package in self.grader_packages:
            names = package.split(".")
            if any(parts[i : i + len(names)] == names for i in range(len(parts))):
                return True
        return False

    @staticmethod
    def _cell_line(number: int, original: list[str], shown: ShownSource) -> str:
        if number not in shown.line:
            return "test cell"  # a line it cannot place: nothing about the source
        if number in shown.hidden:
            return f"test cell, line {shown.line[number]}: (a hidden check)"
        return f"test cell, line {shown.line[number]}: {original[number - 1].strip()}"

    def _traceback(
        self, entries: list[str], original: list[str], shown: ShownSource | None
    ) -> list[str]:
        out: list[str] = []
        for entry in entries:
            plain = _plain(str(entry))
            frame = _FILE_FRAME.match(plain)
            if frame and self._in_grader(frame.group(1) or frame.group(2)):
                if not out or out[-1] != GRADER_FRAMES:
                    out.append(GRADER_FRAMES)
                continue
            if shown is not None:
                own = _GRADER_LINE.match(plain)
                cell = _CELL_FRAME.match(plain.split("\n", 1)[0])
                if own:
                    entry = self._cell_line(int(own.group(1)), original, shown)
                elif cell:
                    entry = self._cell_line(int(cell.group(1) or cell.group(2)), original, shown)
            out.append(entry)
        return out


#: ``GenerateFeedback.preprocessors`` of the course (``nbgrader_config.py``).
FEEDBACK_PREPROCESSORS = [GetGrades, CSSHTMLHeaderPreprocessor, HideGraderSource]
