"""Start nbgrader the way the ``nbgrader`` console script does, after two preparations.

``python -m course_utils.instructor.launch [--memory-mb M] [--fsize-mb F] -- ARGS...`` is
``nbgrader ARGS...`` except that, before nbgrader is imported, it

1. applies resource limits to itself, so that the grading kernel nbgrader starts inherits
   them: ``RLIMIT_DATA`` (private writable memory: heap, anonymous mmaps, thread stacks)
   caps what student code can allocate without counting the gigabytes of shared-library
   mappings TensorFlow brings (``RLIMIT_AS`` would have to be set far higher to let
   TensorFlow import at all), ``RLIMIT_AS`` at the cap + 4 GiB as a backstop against
   shared anonymous mappings that ``RLIMIT_DATA`` does not count, ``RLIMIT_FSIZE`` on any
   file written, and no core dumps;
2. reads the run's grading key from the first line of stdin and puts it into
   ``os.environ``: the kernel inherits it (and the grading module scrubs it on import),
   but it never appears in this process's start-up environment (``/proc/<pid>/environ``),
   which student code could otherwise read through ``os.getppid()``.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys

KEY_ENV = "COURSE_GRADER_KEY"
MIB = 2**20
AS_MARGIN_MB = 4096


def _cap(limit: int, value: int) -> None:
    soft, hard = resource.getrlimit(limit)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(limit, (value, hard if hard != resource.RLIM_INFINITY else value))


def apply_limits(memory_mb: int | None, fsize_mb: int | None) -> None:
    """Cap this process (and everything it starts) as described in the module docstring."""
    if memory_mb:
        _cap(resource.RLIMIT_DATA, memory_mb * MIB)
        _cap(resource.RLIMIT_AS, (memory_mb + AS_MARGIN_MB) * MIB)
    if fsize_mb:
        _cap(resource.RLIMIT_FSIZE, fsize_mb * MIB)
    _cap(resource.RLIMIT_CORE, 0)


def key_from_stdin() -> None:
    """Read the grading key from stdin's first line into os.environ; stdin becomes /dev/null."""
    key = sys.stdin.readline().strip()
    if key:
        os.environ[KEY_ENV] = key
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.instructor.launch")
    parser.add_argument("--memory-mb", type=int, default=0)
    parser.add_argument("--fsize-mb", type=int, default=0)
    parser.add_argument("--key-from-stdin", action="store_true")
    parser.add_argument("nbgrader_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    rest = args.nbgrader_args[1:] if args.nbgrader_args[:1] == ["--"] else args.nbgrader_args

    if args.key_from_stdin:
        key_from_stdin()
    apply_limits(args.memory_mb, args.fsize_mb)

    from nbgrader.apps.nbgraderapp import main as nbgrader_main

    sys.argv = ["nbgrader", *rest]
    return nbgrader_main() or 0


if __name__ == "__main__":
    sys.exit(main())
