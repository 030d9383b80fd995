"""A grading kernel inside bubblewrap: it sees its own files and the course libraries only.

``SandboxedKernelManager`` is the kernel manager of ``course autograde``'s workers. It
starts the course kernel as ``bwrap ... python -m ipykernel_launcher -f kernel.json``:

- new user (uid 65534), PID, network, IPC, UTS and cgroup namespaces, every capability
  dropped, ``--die-with-parent``: no network (only a private loopback), no process outside
  the sandbox is visible, and nothing started inside outlives the kernel;
- a root file system with only read-only binds of the system directories (``/usr``,
  ``/lib*``, a few files of ``/etc``), the Python installation and the environment, and
  ``course_utils``; ``grader_tests`` (the checks and their reference answers) is replaced
  by a stub; the MNIST copy is bound read-only; the repository itself, ``solutions/``,
  ``gradebook.db``, other students' folders and the instructor's home are absent;
- writable: a private copy of this submission's folder (the kernel's working directory),
  a private home and ``/tmp`` (tmpfs, size-capped), and the run folder holding the
  kernel's IPC sockets and the grader's socket.

The kernel talks to nbgrader over ZeroMQ IPC sockets (unix sockets in the run folder),
since a TCP port on the host's loopback is unreachable from the sandbox's network
namespace; interrupts travel as messages, not signals.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Unicode

#: Environment variables a grading kernel keeps (everything else is cleared).
KEPT_ENV = (
    "TF_CPP_MIN_LOG_LEVEL",
    "PYTHONHASHSEED",
    "NBGRADER_EXECUTION",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "OPENBLAS_CORETYPE",
    "LANG",
    "LC_ALL",
)
#: Files and folders of /etc the kernel needs (dynamic linker, locale, time zone).
ETC = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "alternatives",
    "mime.types",
    "fonts",
)
SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
HOME = "/home/student"
TMP_BYTES = 1024 * 2**20
INSTALL_HINT = (
    "grading runs each kernel in a bubblewrap sandbox, and `bwrap` is not available "
    "({why}). Install it (Debian/Ubuntu: `sudo apt install bubblewrap`; Fedora: `sudo dnf "
    "install bubblewrap`), or pass --no-sandbox to grade without isolation (every row of "
    "the table then says 'unsandboxed')."
)

_STUB = '''"""At grading time the checks run in the grader process, not in this kernel."""


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)

    def run_by_the_grader(*args, **kwargs):
        print(f"({name} runs in the grader at grading time)")

    return run_by_the_grader
'''


def bwrap_problem() -> str | None:
    """Why bubblewrap cannot run a sandbox here (None when it can)."""
    exe = shutil.which("bwrap")
    if exe is None:
        return "bwrap not found on PATH"
    probe = [exe, "--ro-bind", "/", "/", "--unshare-all", "--unshare-user", "--die-with-parent"]
    try:
        proc = subprocess.run([*probe, "true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap does not start: {exc}"
    if proc.returncode != 0:
        return f"bwrap cannot create namespaces here: {proc.stderr.strip()[:200]}"
    return None


def _package_dir(name: str) -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def write_grader_stub(dest: Path) -> Path:
    """A ``grader_tests`` package of stubs, one module per real check module."""
    real = _package_dir("grader_tests")
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "__init__.py").write_text(_STUB)
    for module in sorted(real.glob("*.py")) if real else []:
        if module.name != "__init__.py":
            (dest / module.name).write_text(_STUB)
    for package in (
        sorted(p for p in real.iterdir() if (p / "__init__.py").is_file()) if real else []
    ):
        (dest / package.name).mkdir(exist_ok=True)
        (dest / package.name / "__init__.py").write_text(_STUB)
    return dest


def _python_roots(argv0: str) -> list[Path]:
    roots = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    exe = Path(shutil.which(argv0) or argv0).resolve()
    roots.add(exe.parent.parent)
    return sorted(roots)


def bwrap_command(argv: list[str], run_dir: Path, work_dir: Path, env: dict[str, str]) -> list[str]:
    """The bubblewrap command that runs ``argv`` as described in the module docstring."""
    cmd = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--unshare-user"]
    cmd += ["--uid", "65534", "--gid", "65534", "--cap-drop", "ALL", "--die-with-parent"]
    for name in SYSTEM_DIRS:
        path = Path("/") / name
        if path.is_symlink():
            cmd += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            cmd += ["--ro-bind", str(path), str(path)]
    for name in ETC:
        path = Path("/etc") / name
        if path.exists():
            cmd += ["--ro-bind", str(path), str(path)]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--ro-bind-try", "/sys", "/sys"]
    cmd += ["--size", str(TMP_BYTES), "--tmpfs", "/tmp"]
    for root in _python_roots(argv[0]):
        cmd += ["--ro-bind", str(root), str(root)]
    course_utils = _package_dir("course_utils")
    if course_utils is not None:
        cmd += ["--ro-bind", str(course_utils), str(course_utils)]
    grader_tests = _package_dir("grader_tests")
    if grader_tests is not None:
        stub = write_grader_stub(run_dir / "stub" / "grader_tests")
        cmd += ["--ro-bind", str(stub), str(grader_tests)]
    data = _mnist_dir()
    if data is not None:
        cmd += ["--ro-bind", str(data), str(data)]
    cmd += ["--bind", str(run_dir), str(run_dir), "--bind", str(work_dir), str(work_dir)]
    home = run_dir / "home"
    home.mkdir(exist_ok=True)
    cmd += ["--bind", str(home), HOME, "--chdir", str(work_dir), "--clearenv"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    return [*cmd, "--", *argv]


def _mnist_dir() -> Path | None:
    from course_utils.data.mnist import mnist_folder

    folder = mnist_folder()
    return folder.resolve() if folder is not None else None


def kernel_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment inside the sandbox: a clean one, plus what grading needs."""
    bin_dir = str(Path(sys.executable).parent)
    env = {
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": HOME,
        "USER": "student",
        "MPLCONFIGDIR": f"{HOME}/.config/matplotlib",
        "IPYTHONDIR": f"{HOME}/.ipython",
        "JUPYTER_CONFIG_DIR": f"{HOME}/.jupyter",
        "JUPYTER_DATA_DIR": f"{HOME}/.local/share/jupyter",
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "LANG": "C.UTF-8",
    }
    env.update({k: os.environ[k] for k in KEPT_ENV if k in os.environ})
    data = _mnist_dir()
    if data is not None:
        env["COURSE_DATA_DIR"] = str(data)
    env.update(extra or {})
    return env


class SandboxedKernelManager(AsyncKernelManager):
    """The course kernel under bubblewrap, connected over IPC sockets in ``run_dir``."""

    run_dir = Unicode(help="private folder for the kernel's sockets (short path)").tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if not self.run_dir:
            self.run_dir = tempfile.mkdtemp(prefix="nnc-")  # short: unix socket paths
        run = Path(self.run_dir)
        run.mkdir(parents=True, exist_ok=True)
        self.transport = "ipc"
        self.ip = str(run / "kernel")
        self.connection_file = str(run / "kernel.json")

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        # Without a parent handle (it cannot see its parent's pid) ipykernel prints a note
        # about Ctrl-C and the connection file into every worker log (CRITICAL: not even
        # that); a kernel that fails still shows in the notebook (KernelDied).
        argv = [*super().format_kernel_cmd(extra_arguments), "--IPKernelApp.log_level=CRITICAL"]
        spec = self.kernel_spec
        spec.interrupt_mode = "message"  # a signal to bwrap would not reach the kernel
        work = Path(self.run_dir) / "work"
        source = Path((getattr(self, "_launch_args", None) or {}).get("cwd") or os.getcwd())
        _copy_work(source, work)
        return bwrap_command(argv, Path(self.run_dir), work, kernel_env(spec.env))


def _copy_work(source: Path, dest: Path) -> None:
    """A private copy of the submission folder (no notebooks: the kernel gets cells)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for path in source.rglob("*") if source.is_dir() else []:
        rel = path.relative_to(source)
        if path.is_symlink() or path.suffix == ".ipynb":
            continue
        if path.is_dir():
            (dest / rel).mkdir(parents=True, exist_ok=True)
        elif path.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest / rel)


def describe_sandbox() -> str:
    """One line for logs: what the sandbox binds (for an instructor checking the set-up)."""
    return json.dumps(
        {
            "python": [str(p) for p in _python_roots(sys.executable)],
            "course_utils": str(_package_dir("course_utils")),
            "grader_tests (stubbed)": str(_package_dir("grader_tests")),
            "mnist": str(_mnist_dir()),
        }
    )
