"""``course``: the instructor's commands, one per step of the nbgrader workflow.

Run it from the course folder (the one with ``nbgrader_config.py``) or pass ``--root``.
Every command runs nbgrader's own command line with the environment's ``bin/`` first on
PATH; see ``course COMMAND --help`` and the README's "Instructor workflow".
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from course_utils.instructor.collect import (
    CANVAS_PATTERN,
    MOODLE_PATTERN,
    collect_folder,
    collect_zip,
)
from course_utils.instructor.course import Course, CourseError, find_root, nbgrader_env
from course_utils.instructor.limits import DEFAULT_MEMORY_MB, DEFAULT_WALL_SECONDS

DESCRIPTION = """\
The instructor workflow of the course (nbgrader underneath):

  course release [ASSIGNMENT...]          solutions/ -> notebooks/ (all assignments by default)
  course collect A --from DIR             DIR/alice.ipynb or DIR/alice/*.ipynb -> submitted/
  course collect A --zip LMS.zip          an LMS download (Canvas names by default, --pattern)
  course autograde A [--jobs N]           grade every submission in parallel; prints a table
  course feedback A                       feedback/<student>/A/*.html
  course export [--to grades.csv]         one row per student per assignment
        [--per-task]                      ... and grades_tasks_<A>.csv: points per graded cell

Students never lose a grade to a broken or hostile neighbour: each submission runs in its
own scratch course, its kernel in a bubblewrap sandbox (no network, no other files) with a
memory cap, a wall clock and a per-cell timeout; every test cell's checks run in the
grader, outside the student's kernel; results are merged into gradebook.db one at a time;
kernels that die keep the points earned before the crash.
Exit status: 0 unless the set-up itself failed (1) or the command line is wrong (2).
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="course",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--root",
        type=Path,
        help="course folder (default: the nearest folder upwards with nbgrader_config.py)",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("release", help="regenerate student notebooks from solutions/")
    r.add_argument("assignments", nargs="*", metavar="ASSIGNMENT")

    c = sub.add_parser(
        "collect",
        help="file submissions under submitted/<student>/<assignment>/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Unknown, renamed or missing notebooks are reported, "
        "never fatal.\n\nDefault --pattern (Canvas bulk download, "
        "'<login>[_late]_<userid>_<subid>_<file>[-N].ipynb'):\n  "
        + CANVAS_PATTERN
        + "\n--pattern moodle (Moodle 'Download all submissions', student id = participant "
        "id):\n  " + MOODLE_PATTERN,
    )
    c.add_argument("assignment", metavar="ASSIGNMENT")
    src = c.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--from",
        dest="folder",
        type=Path,
        help="folder with <student>.ipynb files or <student>/ folders",
    )
    src.add_argument("--zip", type=Path, help="LMS zip download (nbgrader zip_collect)")
    c.add_argument(
        "--pattern",
        default="canvas",
        help="canvas (default), moodle, or a regex with (?P<student_id>...) and "
        "(?P<file_id>...) groups matched against each extracted file's full path (--zip only)",
    )

    a = sub.add_parser(
        "autograde",
        help="grade all submissions in parallel and audit them",
        description="Grade every submitted/<student>/<ASSIGNMENT>/ in parallel and print "
        "student, score, max, problems. Arguments after `--` go to nbgrader autograde "
        "(e.g. -- --Execute.timeout=60).",
    )
    a.add_argument("assignment", metavar="ASSIGNMENT")
    a.add_argument("--jobs", "-j", type=int, default=2, help="parallel workers (default 2)")
    a.add_argument("--student", nargs="+", metavar="S", help="only these students")
    a.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_WALL_SECONDS,
        help="wall-clock limit per submission in seconds (default %(default)s; 0 = none)",
    )
    a.add_argument(
        "--cell-timeout",
        type=int,
        help="per-cell limit in seconds (default: Execute.timeout of nbgrader_config.py)",
    )
    a.add_argument(
        "--memory",
        type=int,
        default=DEFAULT_MEMORY_MB,
        help="memory cap per grading process in MiB (RLIMIT_DATA; default %(default)s; 0 = none)",
    )
    a.add_argument(
        "--keep-work",
        action="store_true",
        help="keep the scratch folders under .course_work/ for debugging",
    )
    a.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="grade on the workers of a dask.distributed scheduler (e.g. tcp://host:8786) "
        "instead of --jobs local processes",
    )
    a.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        default=None,
        help="no progress bar (default: one on a terminal)",
    )
    a.add_argument(
        "--no-sandbox",
        dest="sandbox",
        action="store_false",
        help="run students' kernels without bubblewrap (no isolation: every row says "
        "'unsandboxed'); the checks still run outside the kernel",
    )

    f = sub.add_parser("feedback", help="generate feedback HTML (feedback/<student>/...)")
    f.add_argument("assignment", metavar="ASSIGNMENT")
    f.add_argument("--student", nargs="+", metavar="S", help="only these students")

    e = sub.add_parser(
        "export",
        help="export grades to CSV (missing submissions count 0)",
        description="nbgrader export: one row per student per assignment, a missing "
        "submission counting 0. --per-task also writes, next to it, <stem>_tasks_<A>.csv per "
        "assignment: one row per student, one column per graded cell "
        "('<notebook>/<grade_id> (max P)') with its points, then raw_score and max_score; a "
        "'status' column says graded / needs grading / not autograded / no submission, and "
        "a cell without a score is empty, never 0.",
    )
    e.add_argument(
        "--to",
        type=Path,
        default=Path("grades.csv"),
        help="output CSV (default grades.csv in the course folder)",
    )
    e.add_argument(
        "--per-task",
        action="store_true",
        help="also write <stem>_tasks_<ASSIGNMENT>.csv: points per student and graded cell",
    )
    return p


def cmd_release(course: Course, args) -> int:
    names = args.assignments or course.assignments()
    if not names:
        raise CourseError(f"no assignments in {course.step_dir('source')}")
    for name in names:
        print(f"== release {name}", flush=True)
        course.nbgrader("generate_assignment", name, "--force")
    return 0


def cmd_collect(course: Course, args) -> int:
    if args.folder is not None:
        report = collect_folder(course, args.assignment, args.folder.resolve())
    else:
        report = collect_zip(course, args.assignment, args.zip.resolve(), args.pattern)
    for line in report.lines():
        print(line)
    print(
        f"collected {len(report.students)} submission(s) into "
        f"{course.step_dir('submitted')}/*/{args.assignment}/"
    )
    return 0


def cmd_autograde(course: Course, args, passthrough: list[str]) -> int:
    from course_utils.instructor import autograde as ag  # heavy (nbgrader, numpy): lazily

    opts = ag.Options(
        jobs=max(1, args.jobs),
        students=args.student,
        wall_seconds=args.timeout or None,
        memory_mb=args.memory or None,
        cell_timeout=args.cell_timeout,
        nbgrader_args=passthrough,
        keep_work=args.keep_work,
        sandbox=args.sandbox,
        cluster=args.cluster,
        progress=args.progress,
    )
    report = ag.autograde(course, args.assignment, opts)
    print(report.table())
    if report.absent_line():
        print(report.absent_line())
    graded = sum(1 for r in report.rows if r.scratch is not None)
    where = f"on the cluster {opts.cluster}" if opts.cluster else f"with {opts.jobs} job(s)"
    print(
        f"\n{graded} submission(s) graded in {report.seconds:.0f} s {where}; "
        f"logs: {report.log_dir}"
    )
    if report.infrastructure_error:
        print(f"ERROR: {report.infrastructure_error}", file=sys.stderr)
        return 1
    return 0


def cmd_feedback(course: Course, args) -> int:
    from course_utils.instructor.feedback import HideGraderSource

    chosen = course.config.get("GenerateFeedback", {}).get("preprocessors") or []
    if not any(isinstance(p, type) and issubclass(p, HideGraderSource) for p in chosen):
        raise CourseError(
            f"{course.root / 'nbgrader_config.py'} does not set c.GenerateFeedback.preprocessors"
            " to course_utils.instructor.feedback.FEEDBACK_PREPROCESSORS: the feedback would "
            "show the hidden tests' source; add that line (see the repository's "
            "nbgrader_config.py)"
        )
    students = args.student or [None]
    for s in students:
        extra = ["--student", s] if s else []
        course.nbgrader("generate_feedback", args.assignment, "--force", *extra)
    print(f"feedback in {course.step_dir('feedback')}/*/{args.assignment}/")
    return 0


def cmd_export(course: Course, args) -> int:
    from nbgrader.api import Gradebook

    submitted = course.step_dir("submitted")
    with Gradebook(course.db_url, course.course_id) as gb:
        for folder in sorted(submitted.glob("*")) if submitted.is_dir() else []:
            if folder.is_dir():
                gb.update_or_create_student(folder.name)
    dest = args.to if args.to.is_absolute() else Path.cwd() / args.to
    course.nbgrader("export", f"--to={dest}")
    print(f"grades written to {dest}")
    if args.per_task:
        from course_utils.instructor.export import write_task_csvs

        for path in write_task_csvs(course, dest):
            print(f"points per task written to {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, passthrough = argv[:i], argv[i + 1 :]
    args = _parser().parse_args(argv)
    # nbgrader's Gradebook (used in this process too) runs `alembic` from PATH
    os.environ["PATH"] = nbgrader_env()["PATH"]
    try:
        course = Course(args.root or find_root())
        if args.command == "autograde":
            return cmd_autograde(course, args, passthrough)
        if passthrough:
            raise CourseError("arguments after `--` are only for `course autograde`")
        return {
            "release": cmd_release,
            "collect": cmd_collect,
            "feedback": cmd_feedback,
            "export": cmd_export,
        }[args.command](course, args)
    except CourseError as exc:
        print(f"course: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("course: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
