"""Count the "vague" failure messages of the grader catalogues (issue 15).

Runs every entry of ``tests/grader/wrong/*_wrong.py`` through each check that must reject
it and sorts the failure messages into

- vague: no ``Hint:`` line (the issue's definition);
- vague values: of those, the ones that report only numbers (entries differ, a gradient
  is wrong, expected X got Y) with no diagnosis at all.

Usage (from the repository root; TensorFlow tasks included, MNIST accuracy checks are not
in the catalogues)::

    .venv/bin/python tests/grader/count_vague.py [--list] [--no-visible-note] [--only a,b]

Not collected by pytest (the file name does not start with ``test_``).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).parent
ASSIGNMENTS = ("welcome", "tf_basics", "numpy_layers", "backprop", "iris")
#: A message ending on its numbers ("expected 0.12 (numerical), got -0.07") says nothing more.
_VALUES_ONLY = re.compile(r"got (?:[-+]?[0-9][0-9.e+-]*|nan|-?inf)\)?\s*$")


def _catalogue(assignment: str):
    spec = importlib.util.spec_from_file_location(
        f"{assignment}_wrong", HERE / "wrong" / f"{assignment}_wrong.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cases(assignment: str, cat) -> Iterator[tuple[str, str, tuple]]:
    """(entry name, check name, positional arguments of the check) for every wrong entry."""
    if assignment == "welcome":
        for name, (impl, _, checks) in cat.WRONG.items():
            yield from ((name, c, (impl,)) for c in checks)
    elif assignment == "tf_basics":
        for name, (_, impl, _, checks) in cat.WRONG.items():
            yield from ((name, c, (impl,)) for c in checks)
    elif assignment == "numpy_layers":
        for name, (_, impl, _, checks) in cat.WRONG.items():
            yield from ((name, c, (impl,)) for c in checks)
        tf_impls = cat.tf_catalogue()
        for name, (_, _, checks) in cat.TF_WRONG.items():
            for c in checks:
                extra = (tf_impls["TFTwoLayerNet"],) if c.startswith("check_tf_train_step") else ()
                yield name, c, (tf_impls[name], *extra)
    elif assignment == "backprop":
        for task, entries in cat.WRONG.items():
            for name, (impl, _, checks) in entries.items():
                args = impl if isinstance(impl, tuple) else (impl,)
                yield from ((f"{task}:{name}", c, args) for c in checks)
    elif assignment == "iris":
        for table in ("SPLIT_WRONG", "STD_WRONG", "NUMPY_WRONG", "KERAS_WRONG"):
            for name, (impl, _, checks) in getattr(cat, table).items():
                yield from ((name, c, (impl,)) for c in checks)


def collect(assignment: str) -> list[tuple[str, str, str | None]]:
    """(entry, check, failure message or None when the check passed) for one assignment."""
    module = importlib.import_module(f"grader_tests.{assignment}")
    results = []
    for name, check_name, args in _cases(assignment, _catalogue(assignment)):
        try:
            getattr(module, check_name)(*args)
        except AssertionError as exc:
            results.append((name, check_name, str(exc)))
        else:
            results.append((name, check_name, None))
    return results


_VISIBLE_NOTE = "Hint: the visible case ("


def is_vague(message: str, count_visible_note: bool = True) -> bool:
    """No ``Hint:`` line (optionally not counting the visible-case note of hidden checks)."""
    return not any(
        line.strip().startswith("Hint:")
        and (count_visible_note or not line.strip().startswith(_VISIBLE_NOTE))
        for line in message.splitlines()
    )


def _without_note(message: str) -> str:
    return message.split("\n" + _VISIBLE_NOTE)[0].rstrip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print every vague message")
    parser.add_argument("--only", default=",".join(ASSIGNMENTS))
    parser.add_argument(
        "--no-visible-note",
        action="store_true",
        help="do not count the hidden checks' 'the visible case passes' note as a hint",
    )
    args = parser.parse_args()
    totals = [0, 0, 0, 0]
    for assignment in args.only.split(","):
        results = collect(assignment)
        failed = [(n, c, m) for n, c, m in results if m is not None]
        vague = [(n, c, m) for n, c, m in failed if is_vague(m, not args.no_visible_note)]
        values = [(n, c, m) for n, c, m in vague if _VALUES_ONLY.search(_without_note(m))]
        passed = [(n, c) for n, c, m in results if m is None]
        row = (len(failed), len(vague), len(values), len(passed))
        totals = [t + r for t, r in zip(totals, row, strict=True)]
        print(
            f"{assignment:13s} failures {row[0]:4d}  vague (no Hint) {row[1]:4d}  "
            f"of which numbers only {row[2]:3d}  wrongly passed {row[3]:2d}"
        )
        if args.list:
            for n, c, m in vague:
                tag = "NUMBERS" if (n, c, m) in values else "no-hint"
                print(f"  [{tag}] {n} / {c}: {m.splitlines()[0][:200]}")
            for n, c in passed:
                print(f"  [PASSED] {n} / {c}")
    print(
        f"{'total':13s} failures {totals[0]:4d}  vague (no Hint) {totals[1]:4d}  "
        f"of which numbers only {totals[2]:3d}  wrongly passed {totals[3]:2d}"
    )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))  # conftest helpers, like pytest's rootdir
    sys.exit(main())
