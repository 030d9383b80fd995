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
2. asks the kernel (Linux ``PR_SET_PDEATHSIG``) to kill it with SIGKILL when its parent,
   the ``course autograde`` process, dies: a killed instructor run leaves no worker (and,
   through bubblewrap's ``--die-with-parent``, no kernel) behind.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import resource
import sys
import warnings

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


def die_with_parent() -> None:
    """SIGKILL this process when its parent dies (Linux; a no-op elsewhere)."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        if os.getppid() == 1:  # the parent died before the call: follow it now
            os._exit(1)
    except (OSError, AttributeError):
        pass


class _KnownNoise(logging.Filter):
    """nbgrader messages that say nothing an instructor can act on."""

    # OverwriteCells restores a locked cell's attributes and says so, for every test
    # cell whose hidden tests the release removed.
    PATTERNS = (
        re.compile(r"Attribute '\w+' for cell .* has changed!"),
        # re-grading replaces the earlier autograded copy, as asked (--force)
        re.compile(r"^Removing existing assignment: "),
    )

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(p.search(message) for p in self.PATTERNS)


def quiet_known_noise() -> None:
    """Silence warnings nbgrader's internals emit on every submission (SQLAlchemy's
    "not in session" notes from nbgrader.api, the checksum notes above)."""
    warnings.filterwarnings("ignore", message=r".* not in session, add operation along .*")
    logging.getLogger("AutogradeApp").addFilter(_KnownNoise())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.instructor.launch")
    parser.add_argument("--memory-mb", type=int, default=0)
    parser.add_argument("--fsize-mb", type=int, default=0)
    parser.add_argument("nbgrader_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    rest = args.nbgrader_args[1:] if args.nbgrader_args[:1] == ["--"] else args.nbgrader_args

    die_with_parent()
    apply_limits(args.memory_mb, args.fsize_mb)
    # ``python -m`` puts the working directory (the scratch course) first on sys.path:
    # nothing in it is meant to be imported.
    here = {"", os.getcwd()}
    sys.path[:] = [p for p in sys.path if p not in here]

    quiet_known_noise()
    from nbgrader.apps.nbgraderapp import main as nbgrader_main

    sys.argv = ["nbgrader", *rest]
    return nbgrader_main() or 0


if __name__ == "__main__":
    sys.exit(main())
