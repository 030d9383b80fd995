"""``python -m course_utils.lab.validate NOTEBOOK``: nbgrader's Validate, in its own process.

It does what nbgrader's ``/assignments/validate`` handler does inside the server (load the
nbgrader config of the Jupyter config path and the working directory, run ``Validator``),
and prints the handler's JSON reply, ``{"success": ..., "value": ...}``, on stdout. The
lab's server extension (``course_utils.lab.server``) runs it as a child process, so the
server keeps serving while a notebook is validated.
"""

from __future__ import annotations

import json
import os
import sys
import traceback


def validate(path: str) -> dict:
    """The reply nbgrader's validate handler gives for ``path`` (an absolute notebook path)."""
    from nbgrader.apps import NbGrader
    from nbgrader.nbgraderformat import SchemaTooNewError, SchemaTooOldError
    from nbgrader.validator import Validator

    try:
        app = NbGrader()  # reads the Jupyter config path, then nbgrader_config.py in the cwd
        app.load_config_file()
        result = Validator(config=app.config).validate(path)
    except SchemaTooOldError:
        message = (
            f"The notebook '{path}' uses an old version of the nbgrader metadata format. "
            f"Please **back up this notebook** and then update the metadata using:\n\n"
            f"nbgrader update {path}\n"
        )
        return {"success": False, "value": message}
    except SchemaTooNewError:
        message = (
            f"The notebook '{path}' uses a newer version of the nbgrader metadata format. "
            "Please update your version of nbgrader to the latest version to be able to use "
            "this notebook."
        )
        return {"success": False, "value": message}
    except Exception:
        return {"success": False, "value": traceback.format_exc()}
    return {"success": True, "value": result}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m course_utils.lab.validate NOTEBOOK", file=sys.stderr)
        return 2
    # stdout carries the reply alone: anything else written to fd 1 or sys.stdout while
    # validating (nbgrader's log, a library's print) goes to stderr.
    reply_stream = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    reply = validate(os.path.abspath(argv[0]))
    with reply_stream:
        reply_stream.write(json.dumps(reply))
    return 0


if __name__ == "__main__":
    sys.exit(main())
