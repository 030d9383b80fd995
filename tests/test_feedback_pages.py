"""Feedback pages and Formgrader's submission view typeset maths offline and wrap messages.

One throw-away course (00_welcome, lean) grades two students with ``course autograde``
and writes their feedback with ``course feedback``; Formgrader runs in a real Jupyter
server on a free loopback port at the course root. Both pages must load nothing from the
network (MathJax is inlined from the installed ``django-static-mathjax``), and, opened in
headless Chromium with no network, typeset every formula (``mjx-container`` with SVG, no
raw LaTeX left) and wrap every output's text at the page's width (no ``<pre>`` wider
than its box, no page wider than the window). Chromium is Debian's ``chromium``; without
it the browser half is skipped, loudly.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from labs import find_chromium
from submissions import welcome as W
from submissions.cluster import free_port
from submissions.course import BIN, make_course, run

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")]

#: A hidden check fails (one short line), a visible one fails with a long message (argmin).
WRONG = W.Case("wrong", 0, W.answer(W.WRONG), "the accuracy of the lowest score")
STUDENTS = ["partly", "wrong"]
TOKEN = "course-pages-test"
WINDOW = (1000, 800)
#: Appended to a copy of a page: once MathJax is done, write what the page looks like.
PROBE = """
<script>
window.addEventListener("load", () => {
  const report = () => {
    const pres = [...document.querySelectorAll("div.output_subarea pre")];
    const probe = document.createElement("div");
    probe.id = "course-probe";
    probe.textContent = JSON.stringify({
      mathjax: Boolean(window.MathJax && window.MathJax.version),
      formulas: document.querySelectorAll("mjx-container").length,
      svg: document.querySelectorAll("mjx-container svg").length,
      raw_latex: /\\$\\$|\\\\mathrm|\\\\frac/.test(document.body.innerText),
      pres: pres.length,
      wider_than_box: pres.filter((p) => p.scrollWidth > p.clientWidth + 1).length,
      longest_pre_line: Math.max(0, ...pres.map((p) => {
        const ruler = document.createElement("pre");
        ruler.style.cssText = "position:absolute;visibility:hidden;white-space:pre;";
        ruler.textContent = p.textContent;
        p.parentNode.appendChild(ruler);
        const width = ruler.scrollWidth;
        ruler.remove();
        return width;
      })),
      page_width: document.documentElement.scrollWidth,
      window_width: window.innerWidth,
    });
    document.body.appendChild(probe);
  };
  const startup = window.MathJax && window.MathJax.startup;
  if (startup && startup.promise) startup.promise.then(report, report); else report();
});
</script>
"""


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("pages") / "course"
    env = make_course(root, W.ASSIGNMENT, cell_timeout=40, lean=True)
    released = root / "notebooks" / W.ASSIGNMENT / f"{W.NOTEBOOK}.ipynb"
    for case in [*W.CASES, WRONG]:
        if case.student in STUDENTS:
            W.write_case(case, released, root)
    sandbox = [] if shutil.which("bwrap") else ["--no-sandbox"]
    run(["course", "autograde", W.ASSIGNMENT, "--jobs", "2", *sandbox], root, env, timeout=900)
    run(["course", "feedback", W.ASSIGNMENT], root, env, timeout=300)
    return root, env


@pytest.fixture(scope="module")
def formgrader_pages(course, tmp_path_factory) -> dict[str, str]:
    """Formgrader's submission page of each student, as the server sends it."""
    from nbgrader.api import Gradebook

    root, env = course
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "nn-from-scratch") as gb:
        ids = {s: gb.find_submission_notebook(W.NOTEBOOK, W.ASSIGNMENT, s).id for s in STUDENTS}
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with open(log, "w") as out:
        server = subprocess.Popen(
            [str(BIN / "jupyter"), "server", "--no-browser", f"--port={port}",
             "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
             f"--ServerApp.root_dir={root}", "--allow-root"],
            cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        pages = {}
        for student, sid in ids.items():
            url = f"http://127.0.0.1:{port}/formgrader/submissions/{sid}/?token={TOKEN}"
            pages[student] = _get(url, server, log)
        return pages
    finally:
        server.terminate()
        server.wait(timeout=30)


def _get(url: str, server: subprocess.Popen, log: Path, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                return response.read().decode()
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"no answer from {url}:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.5)


def feedback_pages(root: Path) -> dict[str, str]:
    return {
        s: (root / "feedback" / s / W.ASSIGNMENT / f"{W.NOTEBOOK}.html").read_text()
        for s in STUDENTS
    }


def assert_nothing_from_the_network(page: str) -> None:
    remote = re.findall(
        r"<(?:script|link|img)\b[^>]*\b(?:src|href)=[\"']?(?:https?:)?//[^>]*>", page
    )
    assert not remote, remote
    assert "cdnjs" not in page and "MathJax.Hub.Config" not in page
    assert "window.MathJax = " in page and 'VERSION="3.2.2"' in page  # MathJax 3, inline


def look_in_chromium(page: str, folder: Path, name: str) -> dict:
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("SKIPPED LOUDLY: no Chromium (apt-get install chromium) to look at the page")
    path = folder / f"{name}.html"
    path.write_text(page.replace("</body>", PROBE + "</body>"))
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--window-size={WINDOW[0]},{WINDOW[1]}", "--virtual-time-budget=30000",
         "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=180,
    ).stdout  # fmt: skip
    probe = re.search(r'<div id="course-probe">(.*?)</div>', dom)
    assert probe, f"the page never reported (MathJax did not finish?):\n{dom[-2000:]}"
    return json.loads(probe.group(1).replace("&quot;", '"'))


def formulas_in(root: Path, student: str) -> int:
    """How many formulas the autograded notebook's Markdown holds ($...$ or $$...$$)."""
    import nbformat

    path = root / "autograded" / student / W.ASSIGNMENT / f"{W.NOTEBOOK}.ipynb"
    text = "\n".join(
        c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"
    )
    return len(re.findall(r"\$\$.+?\$\$|\$[^$\n]+?\$", text, re.S))


def assert_typeset_and_wrapped(look: dict, formulas: int, student: str) -> None:
    assert look["mathjax"], look
    assert formulas >= 1 and look["formulas"] == formulas == look["svg"], (formulas, look)
    assert not look["raw_latex"], look
    assert look["pres"] >= 1 and look["wider_than_box"] == 0, look
    assert look["page_width"] <= look["window_width"], look
    if student == WRONG.student:  # its message, on one line, is wider than the window
        assert look["longest_pre_line"] > look["window_width"], look


def test_feedback_pages_load_nothing_from_the_network(course):
    root, _ = course
    for page in feedback_pages(root).values():
        assert_nothing_from_the_network(page)


def test_feedback_pages_typeset_maths_and_wrap_messages_offline(course, tmp_path):
    root, _ = course
    for student, page in feedback_pages(root).items():
        look = look_in_chromium(page, tmp_path, student)
        assert_typeset_and_wrapped(look, formulas_in(root, student), student)


def test_formgrader_pages_load_nothing_from_the_network(formgrader_pages):
    for page in formgrader_pages.values():
        assert_nothing_from_the_network(page)


def test_formgrader_pages_typeset_maths_and_wrap_messages(course, formgrader_pages, tmp_path):
    root, _ = course
    for student, page in formgrader_pages.items():
        look = look_in_chromium(page, tmp_path, f"formgrader-{student}")
        assert_typeset_and_wrapped(look, formulas_in(root, student), student)
