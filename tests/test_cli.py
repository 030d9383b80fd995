"""The `course` CLI and the pieces behind it, without running a grading kernel.

End-to-end grading of the hostile catalogue is in test_pipeline.py (slow).
"""

from __future__ import annotations

import copy
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.utils import determine_grade

from course_utils import cli
from course_utils.instructor import audit, collect, limits, submissions
from course_utils.instructor.autograde import Report, StudentRun
from course_utils.instructor.course import Course, CourseError, find_root, nbgrader_env
from course_utils.instructor.execute import KERNEL_DIED, NOT_EXECUTED, mark_dead_kernel

from conftest import REPO

# nbgrader.api's own SQLAlchemy autoflush chatter when it creates submissions
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")

RELEASED = REPO / "notebooks" / "00_welcome" / "welcome.ipynb"
PY = sys.executable


@pytest.fixture
def course_root(tmp_path) -> Path:
    """A course folder with the repo's config and the released welcome notebook."""
    root = tmp_path / "course"
    (root / "notebooks" / "00_welcome").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copy(RELEASED, root / "notebooks" / "00_welcome")
    shutil.copytree(REPO / "solutions" / "00_welcome", root / "solutions" / "00_welcome")
    return root


def released_json() -> dict:
    return json.loads(RELEASED.read_text())


def gid(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


# --- command line --------------------------------------------------------------------------
def test_help_documents_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ["release", "collect", "autograde", "feedback", "export"]:
        assert f"course {command}" in out
    assert "--per-task" in out and "grades_tasks_<A>.csv" in out


def test_export_help_explains_the_per_task_csv(capsys):
    with pytest.raises(SystemExit):
        cli.main(["export", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--per-task" in out and "never 0" in out and "no submission" in out


def test_collect_help_shows_default_pattern(capsys):
    with pytest.raises(SystemExit):
        cli.main(["collect", "--help"])
    assert "(?P<student_id>" in capsys.readouterr().out


def test_console_script_is_installed():
    proc = subprocess.run(
        [str(Path(PY).parent / "course"), "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and "autograde" in proc.stdout


def test_outside_a_course_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["export"]) == 1
    assert "nbgrader_config.py" in capsys.readouterr().err


def test_course_reads_the_config(course_root):
    course = Course(find_root(course_root / "notebooks"))
    assert course.root == course_root.resolve()
    assert course.step_dir("source") == course_root / "solutions"
    assert course.step_dir("release") == course_root / "notebooks"
    assert course.assignments() == ["00_welcome"]
    assert course.setting("Execute", "timeout", 30) == 300
    assert course.db_url == f"sqlite:///{course_root.resolve()}/gradebook.db"


def test_nbgrader_env_is_the_instructor_shell(monkeypatch):
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "x")
    env = nbgrader_env()
    assert "PYTEST_CURRENT_TEST" not in env
    assert env["PATH"].split(os.pathsep)[0] == str(Path(PY).parent)
    assert (Path(env["PATH"].split(os.pathsep)[0]) / "alembic").exists()


def test_report_table_lists_every_student():
    rows = [
        StudentRun("bob", Path("."), problems=["timeout in cell 3"]),
        StudentRun("al", Path(".")),
    ]
    rows[0].score, rows[0].max_score, rows[1].score, rows[1].max_score = 0, 2, 2, 2
    rows[1].run = limits.RunResult(0, 12.4, peak_memory_mb=850.3)
    report = Report("a", rows, 1.0, absent=[f"s{i:02d}" for i in range(12)])
    table = report.table().splitlines()
    assert table[0].split() == ["student", "score", "max", "time", "memory", "problems"]
    assert table[2].split()[:5] == ["bob", "0", "2", "-", "-"] and "timeout in cell 3" in table[2]
    assert table[3].split() == ["al", "2", "2", "12", "s", "850", "MB", "-"]
    line = report.absent_line()
    assert line.startswith("no submission from 12 student(s) of the roster: s00, s01")
    assert line.endswith("s09, ...") and Report("a", rows, 1.0).absent_line() == ""


# --- which file is which notebook ----------------------------------------------------------
EXPECTED = {"welcome": submissions.grade_ids(released_json())}


def write_nb(path: Path, data: dict | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
    return path


def test_resolve_exact_name(tmp_path):
    write_nb(tmp_path / "welcome.ipynb", released_json())
    res = submissions.resolve(tmp_path, EXPECTED)
    assert res.notebooks == {"welcome": tmp_path / "welcome.ipynb"}
    assert res.problems == [] and res.missing == []


def test_resolve_matches_a_renamed_notebook_by_its_cells(tmp_path):
    write_nb(tmp_path / "Welcome (1).ipynb", released_json())
    write_nb(tmp_path / "scratch.ipynb", {"cells": [], "metadata": {}})
    res = submissions.resolve(tmp_path, EXPECTED)
    assert res.notebooks == {"welcome": tmp_path / "Welcome (1).ipynb"}
    assert any("renamed" in p for p in res.problems)
    assert any("ignored extra notebook scratch.ipynb" in p for p in res.problems)


def test_resolve_reports_invalid_json_and_missing(tmp_path):
    write_nb(tmp_path / "a" / "welcome.ipynb", b'{"cells": [')
    res = submissions.resolve(tmp_path / "a", EXPECTED)
    assert res.notebooks == {} and "invalid JSON" in res.invalid["welcome"]
    (tmp_path / "b").mkdir()
    res = submissions.resolve(tmp_path / "b", EXPECTED)
    assert res.missing == ["welcome"] and res.problems == ["notebook missing: welcome.ipynb"]


def test_resolve_takes_a_lone_unreadable_file_as_the_notebook(tmp_path):
    write_nb(tmp_path / "alice.ipynb", b"\x89PNG not a notebook")
    res = submissions.resolve(tmp_path, EXPECTED)
    assert res.missing == [] and "invalid JSON" in res.invalid["welcome"]


def test_a_notebook_nested_100000_levels_deep_is_invalid_not_a_crash(tmp_path):
    write_nb(tmp_path / "welcome.ipynb", b'{"cells": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    res = submissions.resolve(tmp_path, EXPECTED)
    assert res.notebooks == {} and "nested too deeply" in res.invalid["welcome"]


def test_lone_surrogates_are_replaced_everywhere_in_a_notebook():
    data = {"cells": [{"source": ["ok", "bad \ud800 char"], "metadata": {"\udfff": 1}}]}
    assert submissions.replace_lone_surrogates(data)
    text = json.dumps(data, ensure_ascii=False)
    text.encode("utf-8")  # would raise UnicodeEncodeError before
    assert "bad \ufffd char" in text and "ok" in text
    assert not submissions.replace_lone_surrogates({"cells": [{"source": "fine é"}]})


def test_resolve_two_renamed_notebooks_go_to_the_right_names(tmp_path):
    def nb(*ids):
        return {
            "cells": [
                {"cell_type": "code", "metadata": {"nbgrader": {"grade_id": i}}, "source": ""}
                for i in ids
            ]
        }

    expected = {"part1": {"a", "b"}, "part2": {"c", "d"}}
    write_nb(tmp_path / "x.ipynb", nb("c", "d"))
    write_nb(tmp_path / "y.ipynb", nb("a", "b"))
    res = submissions.resolve(tmp_path, expected)
    assert res.notebooks == {"part1": tmp_path / "y.ipynb", "part2": tmp_path / "x.ipynb"}


def test_deleted_test_cell_is_restored_where_it_was():
    rel = released_json()
    sub = copy.deepcopy(rel)
    k = next(i for i, c in enumerate(sub["cells"]) if gid(c) == "test_accuracy")
    del sub["cells"][k]
    assert submissions.restore_missing_grade_cells(sub, rel) == ["test_accuracy"]
    assert [gid(c) for c in sub["cells"]] == [gid(c) for c in rel["cells"]]
    assert sub["cells"][k]["source"] == rel["cells"][k]["source"]
    assert submissions.restore_missing_grade_cells(sub, rel) == []  # idempotent


# --- collect -----------------------------------------------------------------------------
def test_collect_folder(course_root, tmp_path):
    inbox = tmp_path / "inbox"
    write_nb(inbox / "alice.ipynb", released_json())
    write_nb(inbox / "bob" / "welcome (1).ipynb", released_json())
    (inbox / "bob" / "timestamp.txt").write_text("2030-01-01 10:00:00 UTC\n")
    write_nb(inbox / "carol.ipynb", b"{oops")
    (inbox / "dave").mkdir()
    (inbox / "dave" / "notes.txt").write_text("no notebook\n")
    (inbox / "README.md").write_text("LMS export\n")
    write_nb(inbox / "Eve Smith.ipynb", released_json())

    report = collect.collect_folder(Course(course_root), "00_welcome", inbox)
    sub = course_root / "submitted"
    assert sorted(report.students) == ["Eve_Smith", "alice", "bob", "carol", "dave"]
    # the documented <student>.ipynb layout is not a rename: nothing to report
    assert report.students["alice"] == []
    assert report.students["Eve_Smith"] == ["student id 'Eve_Smith' taken from 'Eve Smith.ipynb'"]
    assert report.students["carol"] == [
        "welcome.ipynb: invalid JSON (Expecting property name enclosed in double quotes at line 1)"
    ]
    # ... and autograde, resolving the collected folders again, has nothing to add
    for student in ["alice", "carol", "Eve_Smith"]:
        folder = sub / student / "00_welcome"
        assert [p.name for p in folder.glob("*.ipynb")] == ["welcome.ipynb"], student
        res = submissions.resolve(folder, EXPECTED)
        assert [p for p in res.problems if "invalid JSON" not in p] == [], student
    assert (sub / "alice" / "00_welcome" / "welcome.ipynb").is_file()
    assert (sub / "bob" / "00_welcome" / "welcome.ipynb").is_file()
    assert (sub / "bob" / "00_welcome" / "timestamp.txt").is_file()
    assert any("renamed" in p for p in report.students["bob"])
    assert any("invalid JSON" in p for p in report.students["carol"])
    assert report.students["dave"] == ["notebook missing: welcome.ipynb"]
    assert any("Eve Smith.ipynb" in p for p in report.students["Eve_Smith"])
    assert report.ignored == ["README.md"]

    # collecting again replaces, and says so
    report = collect.collect_folder(Course(course_root), "00_welcome", inbox)
    assert "replaced an earlier submission" in report.students["alice"]


def test_collect_zip_with_the_default_canvas_pattern(course_root, tmp_path):
    archive = tmp_path / "submissions.zip"
    nb = json.dumps(released_json())
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("smithjane_1234_567890_welcome.ipynb", nb)
        z.writestr("doejohn_late_2345_678901_welcome-1.ipynb", nb)
        z.writestr("leeann_3456_789012_Welcome-copy.ipynb", nb)  # renamed by the student
        z.writestr("random_notes.txt", "not a submission")
    report = collect.collect_zip(Course(course_root), "00_welcome", archive)
    sub = course_root / "submitted"
    for student in ["smithjane", "doejohn", "leeann"]:
        assert (sub / student / "00_welcome" / "welcome.ipynb").is_file(), report.lines()
    assert any("renamed" in p for p in report.students["leeann"])
    assert sorted(report.students) == ["doejohn", "leeann", "smithjane"]


@pytest.mark.parametrize(
    ("preset", "path", "student", "file_id"),
    [
        ("canvas", "/x/extracted/a/smithjane_1234_567890_welcome.ipynb", "smithjane", "welcome"),
        ("canvas", "/x/e/doejohn_late_2345_678901_welcome-1.ipynb", "doejohn", "welcome"),
        (
            "moodle",
            "/x/e/m/Jane Doe_123456_assignsubmission_file_/welcome.ipynb",
            "123456",
            "welcome.ipynb",
        ),
    ],
)
def test_lms_patterns(preset, path, student, file_id):
    m = re.match(collect.PATTERNS[preset], path)
    assert m and (m.group("student_id"), m.group("file_id")) == (student, file_id)


def test_zip_pattern_must_name_the_groups(course_root, tmp_path):
    (tmp_path / "a.zip").write_bytes(b"")
    with pytest.raises(CourseError, match="student_id"):
        collect.collect_zip(Course(course_root), "00_welcome", tmp_path / "a.zip", r".*\.ipynb")


# --- limits ------------------------------------------------------------------------------
def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


SPAWNER = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a child in a session of its own (like a Jupyter kernel) and a double-forked daemon
    kid = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                           start_new_session=True)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(600)
        os._exit(0)
    with open(sys.argv[1], "w") as fh:
        fh.write(f"{kid.pid}\\n")
    time.sleep(600)
    """
)


def test_wall_clock_kills_the_whole_tree_and_escaped_daemons(tmp_path):
    pids = tmp_path / "pids"
    before = set(int(p.name) for p in Path("/proc").glob("[0-9]*"))
    result = limits.run_limited(
        [PY, "-c", SPAWNER, str(pids)],
        cwd=tmp_path,
        env=dict(os.environ),
        log_path=tmp_path / "log",
        wall_seconds=3,
    )
    assert result.timed_out and result.returncode is None and result.seconds < 15
    kid = int(pids.read_text())
    time.sleep(0.2)
    assert not _alive(kid)
    # no process started by the run survives (the daemon carried the tag)
    new = set(int(p.name) for p in Path("/proc").glob("[0-9]*")) - before
    for pid in new:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        assert b"time.sleep(600)" not in cmd or not _alive(pid), cmd


def test_normal_exit_code_and_log(tmp_path):
    result = limits.run_limited(
        [PY, "-c", "import sys; print('hello'); sys.exit(3)"],
        cwd=tmp_path,
        env=dict(os.environ),
        log_path=tmp_path / "log",
        wall_seconds=30,
    )
    assert result.returncode == 3 and not result.timed_out
    assert (tmp_path / "log").read_text().strip() == "hello"


HOG_CHILD = (
    "import mmap, time\n"
    "m = mmap.mmap(-1, 600 * 2**20)  # shared anonymous memory: RLIMIT_DATA ignores it\n"
    "for i in range(0, len(m), 4096):\n"
    "    m[i] = 1\n"
    "time.sleep(60)\n"
)
HOG = (
    "import subprocess, sys\n"
    f"child = subprocess.Popen([sys.executable, '-c', {HOG_CHILD!r}])\n"
    "print('child exit', child.wait(), flush=True)\n"
)


def test_memory_watchdog_kills_the_descendants_not_the_grader(tmp_path):
    result = limits.run_limited(
        [PY, "-c", HOG],
        cwd=tmp_path,
        env=dict(os.environ),
        log_path=tmp_path / "log",
        wall_seconds=60,
        memory_budget_mb=300,
    )
    assert result.memory_killed and not result.timed_out
    assert result.returncode == 0, (tmp_path / "log").read_text()
    assert f"child exit {-signal.SIGKILL}" in (tmp_path / "log").read_text()


def test_memory_cap_applies_to_the_launched_process():
    code = textwrap.dedent(
        """
        import resource
        from course_utils.instructor.launch import apply_limits
        apply_limits(400, 10)
        print(resource.getrlimit(resource.RLIMIT_DATA)[0] // 2**20,
              resource.getrlimit(resource.RLIMIT_CORE)[0])
        try:
            x = bytearray(800 * 2**20)
        except MemoryError:
            print("MemoryError")
        """
    )
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["400", "0", "MemoryError"]


def test_a_launched_worker_dies_with_its_parent(tmp_path):
    """Kill the process that started the worker: the worker follows (PR_SET_PDEATHSIG)."""
    pidfile = tmp_path / "worker.pid"
    starter = textwrap.dedent(
        f"""
        import subprocess, sys, time
        code = (
            "import os, time; from course_utils.instructor.launch import die_with_parent; "
            "die_with_parent(); open({str(pidfile)!r}, 'w').write(str(os.getpid())); "
            "time.sleep(60)"
        )
        subprocess.Popen([sys.executable, "-c", code])
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([PY, "-c", starter])
    for _ in range(200):
        if pidfile.exists() and pidfile.read_text():
            break
        time.sleep(0.05)
    worker = int(pidfile.read_text())
    parent.kill()
    parent.wait()
    for _ in range(100):
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(worker, 9)
    pytest.fail("the worker outlived its parent")


# --- a dead kernel keeps earlier points ----------------------------------------------------
def graded_nb() -> nbformat.NotebookNode:
    def cell(src, **nbg):
        c = nbformat.v4.new_code_cell(src)
        if nbg:
            c.metadata["nbgrader"] = {
                "schema_version": 3,
                "solution": False,
                "locked": True,
                "grade": False,
                **nbg,
            }
        return c

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        cell("x = 1"),
        cell("assert x == 1", grade=True, grade_id="t1", points=1),
        cell("import os; os._exit(1)"),
        cell("print(2)"),
        cell("assert x == 1", grade=True, grade_id="t2", points=1),
    ]
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="ok\n")]
    return nb


def test_mark_dead_kernel_zeroes_what_did_not_run():
    nb = graded_nb()
    mark_dead_kernel(nb, 2, "Kernel died")
    assert determine_grade(nb.cells[1])[0] == 1  # ran before the crash: kept
    assert nb.cells[2].outputs[-1].ename == KERNEL_DIED
    assert nb.cells[3].outputs == []  # ungraded cells are left alone
    assert nb.cells[4].outputs[0].ename == NOT_EXECUTED
    assert determine_grade(nb.cells[4])[0] == 0  # without the mark it would be FULL points
    assert audit.execution_problems(nb) == ["kernel died in cell 3"]


def test_mark_dead_kernel_before_the_first_cell():
    nb = graded_nb()
    nb.cells[1].outputs = []
    mark_dead_kernel(nb, None, "Kernel died")
    assert determine_grade(nb.cells[1])[0] == 0 and determine_grade(nb.cells[4])[0] == 0


# --- audit -------------------------------------------------------------------------------
def audit_source(tmp_path) -> Path:
    src = nbformat.v4.new_notebook()
    ans = nbformat.v4.new_code_cell("def f(): pass")
    ans.metadata["nbgrader"] = {
        "grade_id": "ans",
        "solution": True,
        "grade": False,
        "locked": False,
        "schema_version": 3,
    }
    test = nbformat.v4.new_code_cell(
        "check_f(f)\n### BEGIN HIDDEN TESTS\nmod.check_f_hidden(f)\n### END HIDDEN TESTS"
    )
    test.metadata["nbgrader"] = {
        "grade_id": "test_f",
        "grade": True,
        "points": 2,
        "solution": False,
        "locked": True,
        "schema_version": 3,
    }
    src.cells = [ans, test]
    nbformat.write(src, tmp_path / "src.ipynb")
    return tmp_path / "src.ipynb"


@pytest.mark.parametrize(
    ("verdicts", "why"),
    [
        ([{"grade_id": "test_f", "passed": True}], None),
        ([{"grade_id": "test_f", "passed": False}], "points without a passing verdict"),
        ([{"grade_id": "test_f", "passed": "yes"}], "points without a passing verdict"),
        ([], "no verdict from the grader"),
        ("not a list", "no verdict from the grader"),
    ],
)
def test_audit_zeroes_points_without_a_passing_verdict(tmp_path, verdicts, why):
    src = audit_source(tmp_path)
    path = tmp_path / "nb.verdicts.json"
    path.write_text(json.dumps(verdicts))
    findings = audit.audit_scores(src, audit.read_verdicts(path), {"test_f": 2.0})
    assert [f.why for f in findings] == ([] if why is None else [findings[0].why])
    if why:
        assert why in findings[0].why
    assert audit.audit_scores(src, audit.read_verdicts(path), {"test_f": 0.0}) == []
    assert audit.read_verdicts(tmp_path / "missing.json") == {}


@pytest.fixture
def alembic_on_path(monkeypatch):
    """nbgrader.api.Gradebook runs `alembic`: the instructor's PATH has the env's bin/."""
    monkeypatch.setenv("PATH", nbgrader_env()["PATH"])


def make_gradebook(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(url) as gb:
        gb.add_assignment("a")
        gb.add_notebook("nb", "a")
        gb.add_solution_cell("ans", "nb", "a")
        gb.add_grade_cell("test_f", "nb", "a", max_score=2, cell_type="code")
        gb.add_student("s")
        gb.add_submission("a", "s")
        gb.find_grade("test_f", "nb", "a", "s").auto_score = 2
        gb.db.commit()
    return url


def test_override_then_clear_keeps_the_instructors_own_comment(tmp_path, alembic_on_path):
    url = make_gradebook(tmp_path)
    src = audit_source(tmp_path)
    with Gradebook(url) as gb:
        gb.find_comment("ans", "nb", "a", "s").manual_comment = "Nice style."
        gb.db.commit()
        finding = audit.Finding("test_f", "points without a passing verdict")
        audit.apply_override(gb, "a", "s", "nb", src, finding)
        assert gb.find_submission("a", "s").score == 0
        text = gb.find_comment("ans", "nb", "a", "s").manual_comment
        assert text.startswith("Nice style.\n") and "without a passing verdict" in text
        audit.clear_audit_overrides(gb, "a", "s")
        assert gb.find_grade("test_f", "nb", "a", "s").manual_score is None
        assert gb.find_submission("a", "s").score == 2
        assert gb.find_comment("ans", "nb", "a", "s").manual_comment == "Nice style."


def test_clear_keeps_scores_the_instructor_set(tmp_path, alembic_on_path):
    url = make_gradebook(tmp_path)
    with Gradebook(url) as gb:
        gb.find_grade("test_f", "nb", "a", "s").manual_score = 1.5
        gb.db.commit()
        audit.clear_audit_overrides(gb, "a", "s")
        assert gb.find_grade("test_f", "nb", "a", "s").manual_score == 1.5


def test_course_error_is_exported():
    assert issubclass(CourseError, RuntimeError)


# --- feedback: the hidden checks' messages, not their source --------------------------------
TEST_SOURCE = (
    "# Test: accuracy (2 points)\n"
    "from grader_tests import welcome\n"
    "\n"
    "welcome.check_accuracy(accuracy)\n"
    "### BEGIN HIDDEN TESTS\n"
    "welcome.check_accuracy_hidden(accuracy)\n"
    "### END HIDDEN TESTS"
)
HIDDEN_CALL = "check_accuracy_hidden(accuracy)"
HIDDEN_MESSAGE = "AssertionError: check_accuracy_hidden: expected 0.461538, got 0.857143"
# What IPython (a kernel running the test cell, as plain nbgrader does) puts in an error's
# traceback: one entry per frame, ANSI colours; the cell's frame lists its neighbouring
# lines (the hidden one included), then a frame inside the grader, then a student function.
IPYTHON_TRACEBACK = [
    "\x1b[91m-------------------------------------------------------------------\x1b[39m",
    "\x1b[91mAssertionError\x1b[39m                   Traceback (most recent call last)",
    "\x1b[96mCell\x1b[39m\x1b[96m \x1b[39m\x1b[32mIn[3]\x1b[39m\x1b[32m, line 6\x1b[39m\n"
    "\x1b[92m      4\x1b[39m welcome\x1b[38;5;204m.\x1b[39mcheck_accuracy(accuracy)\n"
    "\x1b[92m      5\x1b[39m \x1b[38;5;245m### BEGIN HIDDEN TESTS\x1b[39m\n"
    "\x1b[92m----> \x1b[39m\x1b[92m6\x1b[39m welcome\x1b[38;5;204m.\x1b[39m"
    "check_accuracy_hidden(accuracy)\n"
    "\x1b[92m      7\x1b[39m \x1b[38;5;245m### END HIDDEN TESTS\x1b[39m\n",
    "\x1b[96mFile \x1b[39m\x1b[32m/srv/nn/course_utils/grading/_core.py:598\x1b[39m, in "
    "\x1b[36mwrapper\x1b[39m\x1b[94m(*args, **kwargs)\x1b[39m\n"
    "\x1b[92m--> \x1b[39m\x1b[92m598\x1b[39m     raise AssertionError_(note) from exc\n",
    "\x1b[96mFile \x1b[39m\x1b[32m/srv/nn/grader_tests/welcome.py:80\x1b[39m, in "
    "\x1b[36mcheck_accuracy_hidden\x1b[39m\x1b[94m(accuracy)\x1b[39m\n"
    "\x1b[92m---> \x1b[39m\x1b[92m80\x1b[39m     got = accuracy(secret_scores, secret_y)\n",
    "\x1b[96mCell\x1b[39m\x1b[96m \x1b[39m\x1b[32mIn[2]\x1b[39m\x1b[32m, line 2\x1b[39m, in "
    "\x1b[36maccuracy\x1b[39m\x1b[94m(scores, y)\x1b[39m\n"
    "\x1b[92m----> \x1b[39m\x1b[92m2\x1b[39m     return my_own_line / 7\n",
    f"\x1b[91mAssertionError\x1b[39m: {HIDDEN_MESSAGE.split(': ', 1)[1]}",
]


def _plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def feedback_nb(traceback: list[str]) -> nbformat.NotebookNode:
    """An autograded notebook: answer, a test cell with hidden tests and an error, a student
    cell that happens to contain the delimiters."""
    nb = nbformat.v4.new_notebook()
    answer = nbformat.v4.new_code_cell("def accuracy(scores, y):\n    return 0.5")
    answer.metadata["nbgrader"] = {"grade_id": "accuracy", "solution": True, "grade": False}
    test = nbformat.v4.new_code_cell(TEST_SOURCE)
    test.metadata["nbgrader"] = {
        "grade_id": "test_accuracy",
        "grade": True,
        "solution": False,
        "locked": True,
        "points": 2,
    }
    test.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="✔ check_accuracy passed\n"),
        nbformat.v4.new_output(
            "error",
            ename="AssertionError",
            evalue=HIDDEN_MESSAGE.split(": ", 1)[1],
            traceback=traceback,
        ),
    ]
    mine = nbformat.v4.new_code_cell("### BEGIN HIDDEN TESTS\nprint('my own notes')")
    nb.cells = [answer, test, mine]
    return nb


def hide(nb):
    from course_utils.instructor.feedback import HideGraderSource

    return HideGraderSource().preprocess(nb, {})[0]


@pytest.mark.parametrize(
    "traceback",
    [
        # the grader's own format (verdict.py): the failing line of the test cell
        [f"test cell, line 6: welcome.{HIDDEN_CALL}", HIDDEN_MESSAGE],
        IPYTHON_TRACEBACK,
    ],
    ids=["grader", "ipython"],
)
def test_feedback_hides_hidden_tests_and_grader_frames(traceback):
    from course_utils.instructor.feedback import GRADER_FRAMES, HIDDEN_PLACEHOLDER

    nb = hide(feedback_nb(traceback))
    test = nb.cells[1]
    assert test.source.splitlines() == [*TEST_SOURCE.splitlines()[:4], HIDDEN_PLACEHOLDER]
    shown = [_plain(t) for t in test.outputs[1].traceback]
    text = "\n".join(shown)
    assert HIDDEN_CALL not in text and "HIDDEN TESTS" not in text
    assert "test cell, line 5: (a hidden check)" in shown  # the placeholder's line
    assert shown[-1] == HIDDEN_MESSAGE  # the message is what the student reads
    assert test.outputs[0].text == "✔ check_accuracy passed\n"
    if traceback is IPYTHON_TRACEBACK:
        assert "course_utils/grading" not in text and "grader_tests" not in text
        assert shown.count(GRADER_FRAMES) == 1  # two frames, one line
        assert "my_own_line / 7" in text  # the student's own function is shown
    assert nb.cells[2].source.startswith("### BEGIN HIDDEN TESTS")  # the student's cell


def test_feedback_keeps_visible_lines_with_their_shown_number():
    source = TEST_SOURCE + "\nwelcome.check_accuracy_again(accuracy)"
    nb = feedback_nb(["test cell, line 8: welcome.check_accuracy_again(accuracy)", "E: x"])
    nb.cells[1].source = source
    nb = hide(nb)
    assert nb.cells[1].source.splitlines()[5] == "welcome.check_accuracy_again(accuracy)"
    assert nb.cells[1].outputs[1].traceback[0] == (
        "test cell, line 6: welcome.check_accuracy_again(accuracy)"
    )


def _gradebook_for(course: Course, notebook: Path, student: str) -> None:
    """The gradebook entries generate_feedback reads, as a release and autograde make them."""
    nb = nbformat.read(notebook, 4)
    with Gradebook(course.db_url, course.course_id) as gb:
        gb.update_or_create_assignment("00_welcome")
        gb.add_notebook(notebook.stem, "00_welcome")
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade"):
                gb.add_grade_cell(
                    meta["grade_id"],
                    notebook.stem,
                    "00_welcome",
                    max_score=meta["points"],
                    cell_type=cell.cell_type,
                )
            if meta.get("solution"):
                gb.add_solution_cell(meta["grade_id"], notebook.stem, "00_welcome")
        gb.add_student(student)
        gb.add_submission("00_welcome", student)


def test_course_feedback_page_has_no_hidden_source(course_root, alembic_on_path):
    """`course feedback` (nbgrader generate_feedback with the course config) on an
    autograded notebook that holds the hidden tests and an IPython traceback."""
    course = Course(course_root)
    source = course_root / "solutions" / "00_welcome" / "welcome.ipynb"
    _gradebook_for(course, source, "bob")
    nb = nbformat.read(source, 4)
    test = next(c for c in nb.cells if gid(c) == "test_accuracy")
    assert HIDDEN_CALL in test.source
    test.outputs = feedback_nb(IPYTHON_TRACEBACK).cells[1].outputs
    autograded = course_root / "autograded" / "bob" / "00_welcome" / "welcome.ipynb"
    autograded.parent.mkdir(parents=True)
    nbformat.write(nb, autograded)
    before = autograded.read_bytes()

    assert cli.main(["--root", str(course_root), "feedback", "00_welcome"]) == 0
    page = (course_root / "feedback" / "bob" / "00_welcome" / "welcome.html").read_text()
    import html as html_lib

    text = html_lib.unescape(re.sub(r"<[^>]+>", "", page))
    assert "✔ check_accuracy passed" in text and HIDDEN_MESSAGE.split(": ", 1)[1] in text
    assert HIDDEN_CALL not in text and "BEGIN HIDDEN TESTS" not in text
    assert "course_utils/grading" not in text and "grader_tests/welcome.py" not in text
    assert autograded.read_bytes() == before  # the instructor's copy keeps everything


def test_course_feedback_refuses_a_config_that_would_show_hidden_tests(course_root, capsys):
    config = course_root / "nbgrader_config.py"
    line = "c.GenerateFeedback.preprocessors = FEEDBACK_PREPROCESSORS"
    assert line in config.read_text()
    config.write_text(config.read_text().replace(line, ""))
    assert cli.main(["--root", str(course_root), "feedback", "00_welcome"]) == 1
    assert "GenerateFeedback.preprocessors" in capsys.readouterr().err


# --- export: points per task ---------------------------------------------------------------
def test_export_per_task_tells_absent_and_ungraded_from_zero(course_root, alembic_on_path):
    """One gradebook, every kind of row: full, zero, partly graded, extra credit, a folder
    not autograded yet, a roster student without a submission."""
    source = course_root / "solutions" / "02_x" / "part.ipynb"
    nb = nbformat.v4.new_notebook()
    for name in ["test_b", "test_a", "essay"]:  # not alphabetical: the notebook's order wins
        cell = nbformat.v4.new_code_cell("pass")
        cell.metadata["nbgrader"] = {"grade_id": name, "grade": True, "points": 2}
        nb.cells.append(cell)
    source.parent.mkdir(parents=True)
    nbformat.write(nb, source)
    course = Course(course_root)
    scores = {  # student -> (auto, manual, extra credit) per cell, None: no score
        "full": [(2, None, None), (2, None, None), (None, 2, None)],
        "zero": [(0, None, None), (0, None, None), (0, None, None)],
        "partly": [(1.5, None, None), (0, 1, None), (None, None, None)],
        "extra": [(2, None, 0.5), (2, None, None), (None, 1, None)],
    }
    with Gradebook(course.db_url, course.course_id) as gb:
        gb.add_assignment("02_x")
        gb.add_notebook("part", "02_x")
        for name in ["essay", "test_a", "test_b"]:  # another order in the gradebook
            gb.add_grade_cell(name, "part", "02_x", max_score=2, cell_type="code")
        for student, cells in scores.items():
            gb.add_student(student)
            gb.add_submission("02_x", student)
            order = ["test_b", "test_a", "essay"]
            for name, (auto, manual, extra) in zip(order, cells, strict=True):
                grade = gb.find_grade(name, "part", "02_x", student)
                grade.auto_score, grade.manual_score, grade.extra_credit = auto, manual, extra
        gb.add_student("absent")
        gb.db.commit()
    (course_root / "submitted" / "pending" / "02_x").mkdir(parents=True)
    dest = course_root / "out" / "grades.csv"
    dest.parent.mkdir()

    assert cli.main(["--root", str(course_root), "export", "--to", str(dest), "--per-task"]) == 0
    assert dest.is_file()  # nbgrader's own export is still written
    with open(dest.parent / "grades_tasks_02_x.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == [
        "student_id",
        "status",
        "part/test_b (max 2)",
        "part/test_a (max 2)",
        "part/essay (max 2)",
        "raw_score",
        "max_score",
    ]
    assert rows[1:] == [
        ["absent", "no submission", "", "", "", "", "6"],
        ["extra", "graded", "2.5", "2", "1", "5.5", "6"],
        ["full", "graded", "2", "2", "2", "6", "6"],
        ["partly", "needs grading", "1.5", "1", "", "2.5", "6"],
        ["pending", "not autograded", "", "", "", "", "6"],
        ["zero", "graded", "0", "0", "0", "0", "6"],
    ]
    assert not (dest.parent / "grades_tasks_00_welcome.csv").exists()  # not in the gradebook
