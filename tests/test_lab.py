"""The two labs over HTTP: `make lab` (the student's) and `make instructor`.

The student's lab serves the workspace with the course kernel and nbgrader's student side
only; the instructor's serves the course root with Formgrader. What a browser shows of
both is tests/test_browser.py's business.
"""

import json
import re
import urllib.error
import urllib.request

import pytest

from labs import get

pytestmark = pytest.mark.slow

NBGRADER_INSTRUCTOR_PLUGINS = {
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
}


def _status(url: str) -> int:
    try:
        return get(url)[0]
    except urllib.error.HTTPError as err:
        return err.code


def _page_config(lab, route: str = "/lab") -> dict:
    _, page = get(lab.url(route))
    return json.loads(re.search(rb'id="jupyter-config-data"[^>]*>(.*?)</script>', page, re.S)[1])


def test_lab_page_is_served(student_lab, instructor_lab):
    for lab in (student_lab, instructor_lab):
        status, body = get(lab.url("/lab"))
        assert status == 200 and b"JupyterLab" in body
    print(
        f"\n[timing] make lab answered after {student_lab.started_in:.1f} s, "
        f"make instructor after {instructor_lab.started_in:.1f} s"
    )


def test_student_lab_serves_the_workspace_not_the_release(student_lab):
    _, body = get(student_lab.url("/api/contents"))
    names = {item["name"] for item in json.loads(body)["content"]}
    assert {"00_welcome", "04_iris"} <= names
    assert not {"solutions", "notebooks", "nbgrader_config.py"} & names
    assert student_lab.root.name == "workspace" and (student_lab.root / "00_welcome").is_dir()


def test_only_the_course_kernel_is_offered(student_lab, instructor_lab):
    for lab in (student_lab, instructor_lab):
        _, body = get(lab.url("/api/kernelspecs"))
        specs = json.loads(body)
        assert set(specs["kernelspecs"]) == {"nn-course"}, "ipykernel's python3 is offered"
        assert specs["default"] == "nn-course"
        spec = specs["kernelspecs"]["nn-course"]["spec"]
        assert spec["display_name"] == "Python 3 (nn-course)"
        assert spec["env"]["TF_CPP_MIN_LOG_LEVEL"] == "3"


def test_student_lab_has_no_instructor_tools(student_lab):
    # Formgrader's server side is gone: nothing in the lab can regenerate a release.
    assert _status(student_lab.url("/formgrader/api/assignments")) == 404
    assert _status(student_lab.url("/formgrader")) == 404
    # no exchange in this course: no Assignment List / Courses (they would show errors)
    assert _status(student_lab.url("/assignments", course_id="")) == 404
    for route in ("/lab", "/tree"):  # JupyterLab, and Notebook 7 (its "Notebook" button)
        disabled = set(_page_config(student_lab, route)["disabledExtensions"])
        assert NBGRADER_INSTRUCTOR_PLUGINS | {"@jupyter/nbgrader:menu"} <= disabled, route
        assert "@jupyter/nbgrader:validate-assignment" not in disabled
    loaded = {e["name"] for e in _page_config(student_lab)["federated_extensions"]}
    assert "@jupyter/nbgrader" in loaded  # the Validate button lives there


def test_validate_is_served_in_both_labs(student_lab, instructor_lab):
    for lab in (student_lab, instructor_lab):
        status, body = get(lab.url("/nbgrader_version", version="0.9.6"))
        assert json.loads(body) == {"success": True}
        # a path outside the served folder is refused before anything runs
        request = urllib.request.Request(
            lab.url("/assignments/validate", path="../../etc/passwd"), method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=30)
        assert err.value.code == 403


def test_instructor_lab_has_formgrader_at_the_course_root(instructor_lab):
    _, body = get(instructor_lab.url("/formgrader/api/assignments"))
    names = sorted(a["name"] for a in json.loads(body))
    expected = sorted(p.name for p in (instructor_lab.course_root / "solutions").iterdir())
    assert names == expected
    disabled = set(_page_config(instructor_lab)["disabledExtensions"])
    assert not NBGRADER_INSTRUCTOR_PLUGINS & disabled
    assert "@jupyter/nbgrader:menu" not in disabled


def test_formgrader_shows_no_exchange_warning_and_no_token(instructor_lab):
    status, page = get(instructor_lab.url("/formgrader/manage_assignments"))
    assert status == 200
    assert b"warning-exchange" not in page, "exchange warning in a course without an exchange"
    assert instructor_lab.token.encode() not in page, "Formgrader shows the server token"
    assert b"Current configuration" not in page


def test_lab_does_not_ask_to_fetch_news(student_lab):
    # Classrooms are often offline; the news pop-up is noise for students.
    plugin = "@jupyterlab/apputils-extension:notification"
    _, body = get(student_lab.url(f"/lab/api/settings/{plugin}"))
    # overrides.json replaces the schema defaults the front end starts from
    defaults = json.loads(body)["schema"]["properties"]
    assert defaults["fetchNews"]["default"] == "false"
    assert defaults["checkForUpdates"]["default"] is False
