"""What the two labs' Jupyter configuration switches on and off (course_utils/lab/config.py)."""

import pytest
from traitlets.config import Config

from course_utils.lab.config import KERNEL, configure, exchange_in_use

from conftest import REPO

NBG = "nbgrader.server_extensions."
LAB = "@jupyter/nbgrader:"


def _course(tmp_path, exchange_root=None):
    config = (REPO / "nbgrader_config.py").read_text()
    if exchange_root is not None:
        config += f"\nc.Exchange.root = {str(exchange_root)!r}\n"
    (tmp_path / "nbgrader_config.py").write_text(config)
    return tmp_path


def _configured(monkeypatch, course, role):
    monkeypatch.setenv("COURSE_ROOT", str(course))
    c = Config()
    configure(c, role)
    return c


def test_student_lab_without_an_exchange_has_validate_only(tmp_path, monkeypatch):
    course = _course(tmp_path, exchange_root=tmp_path / "no-such-exchange")
    assert not exchange_in_use(str(course))
    c = _configured(monkeypatch, course, "student")
    ext = c.ServerApp.jpserver_extensions
    assert ext["course_utils.lab.server"] and not ext[NBG + "validate_assignment"]
    assert not any(ext[NBG + e] for e in ("formgrader", "assignment_list", "course_list"))
    hidden = set(c.CourseLab.disabled_labextensions)
    assert hidden == {LAB + p for p in ("formgrader", "create-assignment", "menu",
                                        "assignment-list", "course-list")}  # fmt: skip
    assert c.KernelSpecManager.allowed_kernelspecs == {KERNEL}
    assert c.KernelSpecManager.ensure_native_kernel is False


def test_student_lab_with_an_exchange_gets_the_assignment_list(tmp_path, monkeypatch):
    (tmp_path / "exchange").mkdir()
    course = _course(tmp_path, exchange_root=tmp_path / "exchange")
    assert exchange_in_use(str(course))
    c = _configured(monkeypatch, course, "student")
    ext = c.ServerApp.jpserver_extensions
    assert ext[NBG + "assignment_list"] and ext[NBG + "course_list"] and not ext[NBG + "formgrader"]
    # the Nbgrader menu then lists only what is loaded: Assignment List and Courses
    assert set(c.CourseLab.disabled_labextensions) == {
        LAB + "formgrader",
        LAB + "create-assignment",
    }


def test_instructor_lab_has_formgrader_and_no_token_dump(tmp_path, monkeypatch):
    course = _course(tmp_path, exchange_root=tmp_path / "no-such-exchange")
    c = _configured(monkeypatch, course, "instructor")
    assert c.ServerApp.jpserver_extensions[NBG + "formgrader"]
    assert set(c.CourseLab.disabled_labextensions) == {LAB + "assignment-list", LAB + "course-list"}
    assert c.FormgradeExtension.debug is False
    assert c.KernelSpecManager.allowed_kernelspecs == {KERNEL}


def test_a_wrong_role_is_named():
    with pytest.raises(ValueError, match="role: expected 'student' or 'instructor', got 'ta'"):
        configure(Config(), "ta")
