"""course_utils.environment and the stderr filter nbgrader applies to TensorFlow's logs."""

import re
import subprocess
import sys

import pytest
from traitlets.config.loader import PyFileConfigLoader

from course_utils.environment import check_course_kernel

from conftest import REPO

TF_STARTUP = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1795296207.277185   15355 port.cc:153] oneDNN custom operations are on. "
    "You may see slightly different numerical results.\n"
    "I0000 00:00:1795296207.277383   15355 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used.\n"
)


@pytest.fixture(scope="module")
def ignore_pattern() -> str:
    config = PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()
    assert config.IgnorePattern.enabled is True
    return config.IgnorePattern.pattern


def test_pure_tensorflow_logs_are_ignored(ignore_pattern):
    assert re.search(ignore_pattern, TF_STARTUP)


@pytest.mark.parametrize(
    "text",
    [
        TF_STARTUP + "Traceback (most recent call last):\n",
        "RuntimeWarning: overflow encountered in exp\n",
        "I0000 looks like a log line but is not one\n",
        "",
    ],
)
def test_anything_else_on_stderr_is_kept(ignore_pattern, text):
    assert not re.search(ignore_pattern, text)


def test_import_tensorflow_keeps_stderr_clean():
    code = "from course_utils.environment import import_tensorflow; tf = import_tensorflow(); "
    code += "print(tf.reduce_sum(tf.ones(3)).numpy())"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "3.0"
    assert run.stderr == ""


def test_import_tensorflow_passes_on_other_stderr_lines():
    # A genuine message written to fd 2 during the import must still reach the user.
    code = (
        "import os, sys, builtins\n"
        "real_import = builtins.__import__\n"
        "said = []\n"
        "def noisy(name, *a, **k):\n"
        "    if name == 'keras' and not said:\n"
        "        said.append(os.write(2, b'something real went wrong\\n'))\n"
        "    return real_import(name, *a, **k)\n"
        "builtins.__import__ = noisy\n"
        "from course_utils.environment import import_tensorflow\n"
        "import_tensorflow()\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stderr == "something real went wrong\n"


def test_course_kernel_check_passes_on_the_course_interpreter():
    assert "nn-course" in check_course_kernel()


def test_missing_kernel_says_how_to_register_it():
    with pytest.raises(RuntimeError, match=r"not registered.*make lab.*ipykernel install"):
        check_course_kernel("no-such-kernel")
