"""The feedback pages and Formgrader's submission view: maths offline, messages wrapped.

nbgrader renders both pages with nbconvert's HTMLExporter, through its templates
``feedback`` and ``formgrade``. Their ``<head>`` calls the ``mathjax()`` macro of
nbconvert's ``mathjax.html.j2``, which loads MathJax 2 from a CDN: offline, every formula
stays raw LaTeX, in the feedback a student reads and in the written answers an instructor
grades. And a failing check's message sits in a ``<pre>`` that does not wrap: one line a few
thousand pixels wide.

``nbgrader_config.py`` puts this package's ``templates/`` before nbgrader's own
(``HTML_TEMPLATE_DIRS``); there ``feedback/mathjax.html.j2`` and
``formgrade/mathjax.html.j2`` define a ``mathjax()`` that emits ``page_head()``: MathJax 3
(``tex-svg-full.js`` of the ``django-static-mathjax`` wheel, which is only MathJax's own
files) inlined in the page, so it works from a file opened anywhere, with no network and no
server, and a style that wraps the outputs' preformatted text. SVG output needs no font
files. Inline ``$...$`` and display ``$$...$$`` are typeset as in JupyterLab; code and
outputs (``<pre>``, ``<code>``) never are.
"""

from __future__ import annotations

import functools
import json
import os
from importlib import metadata
from pathlib import Path

import markupsafe

__all__ = [
    "HTML_TEMPLATE_DIRS",
    "MATHJAX_CONFIG",
    "PAGE_FILTERS",
    "WRAP_CSS",
    "mathjax_path",
    "page_head",
]

TEMPLATES = Path(__file__).resolve().parent / "templates"
MATHJAX_DIST = "django-static-mathjax"
MATHJAX_FILE = "mathjax/static/mathjax/es5/tex-svg-full.js"

#: MathJax 3's configuration: the delimiters of Jupyter's Markdown.
MATHJAX_CONFIG = {
    "tex": {
        "inlineMath": [["$", "$"], ["\\(", "\\)"]],
        "displayMath": [["$$", "$$"], ["\\[", "\\]"]],
        "processEscapes": True,
        "processEnvironments": True,
        "tags": "ams",
    },
    "svg": {"fontCache": "global"},
}

#: Outputs (tracebacks, printed text) wrap at the page's width instead of running off it:
#: between words (Bootstrap's ``pre`` breaks anywhere), inside a word only if it is too long.
WRAP_CSS = """div.output_subarea pre, div.output_area pre {
  white-space: pre-wrap;
  word-break: normal;
  overflow-wrap: anywhere;
}"""


def _nbgrader_templates() -> str:
    import nbgrader  # where GenerateFeedback finds them (nbgrader/converters/generate_feedback.py)

    return os.path.join(os.path.dirname(nbgrader.__file__), "server_extensions", "formgrader",
                        "templates")  # fmt: skip


#: ``HTMLExporter.extra_template_basedirs``: this package's overrides, then nbgrader's own
#: templates (nbgrader adds those only when the option is not set).
HTML_TEMPLATE_DIRS = [str(TEMPLATES), _nbgrader_templates()]


def mathjax_path() -> Path:
    """The MathJax 3 component file that the pages inline."""
    try:
        dist = metadata.distribution(MATHJAX_DIST)
    except metadata.PackageNotFoundError:
        raise RuntimeError(
            f"{MATHJAX_DIST} is not installed (it ships the MathJax files that feedback "
            "pages and Formgrader use offline): run `make setup`, or "
            f"`pip install {MATHJAX_DIST}`"
        ) from None
    path = Path(str(dist.locate_file(MATHJAX_FILE)))
    if not path.is_file():
        raise RuntimeError(f"{MATHJAX_DIST} {dist.version} has no {MATHJAX_FILE}")
    return path


@functools.lru_cache(maxsize=1)
def _mathjax_script() -> str:
    code = mathjax_path().read_text(encoding="utf-8")
    # Inside <script>, only "</script" could end the element early; in JavaScript "<\/" is "</".
    return code.replace("</script", "<\\/script")


def page_head(_value: object = None) -> markupsafe.Markup:
    """The ``<head>`` additions of a feedback or Formgrader page (a Jinja filter)."""
    config = json.dumps(MATHJAX_CONFIG)
    return markupsafe.Markup(
        f"<style>\n{WRAP_CSS}\n</style>\n"
        f"<script>window.MathJax = {config};</script>\n"
        f"<script>\n{_mathjax_script()}\n</script>"
    )


#: ``HTMLExporter.filters``: the templates call ``page_head`` as a filter.
PAGE_FILTERS = {"course_page_head": f"{__name__}.page_head"}
