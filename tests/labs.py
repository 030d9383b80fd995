"""Start the course's two labs (`make lab`, `make instructor`) for tests, on free loopback
ports, with private Jupyter folders; the session fixtures in conftest.py use these."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from submissions.cluster import free_port
from submissions.course import isolated_env

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 180


@dataclass
class Lab:
    base: str  # http://127.0.0.1:PORT
    token: str
    root: Path  # the folder JupyterLab serves
    course_root: Path
    env: dict[str, str]
    proc: subprocess.Popen
    log: Path
    started_in: float  # seconds from `make` to the first answered request (at launch: t0)

    def url(self, route: str, **query: str) -> str:
        sep = "&" if "?" in route else "?"
        extra = "".join(f"&{k}={v}" for k, v in query.items())
        return f"{self.base}{route}{sep}token={self.token}{extra}"


def find_chromium() -> str | None:
    """The system's Chromium (Debian's `chromium`), or $COURSE_CHROMIUM; None without one."""
    for name in (os.environ.get("COURSE_CHROMIUM"), "chromium", "chromium-browser"):
        if name and (path := shutil.which(name)):
            return path
    return None


def get(url: str, timeout: float = 60.0) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read()


def copy_course(dest: Path) -> Path:
    """A scratch course root: the config, the sources and the release (the instructor's lab
    writes gradebook.db, submitted/, feedback/ into its course root)."""
    dest.mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", dest)
    for folder in ("solutions", "notebooks"):
        shutil.copytree(REPO / folder, dest / folder, ignore=shutil.ignore_patterns(".ipynb_*"))
    return dest


def launch_lab(target: str, tmp: Path, course_root: Path, **make_vars: str) -> Lab:
    """Start `make TARGET` with LAB_ARGS for a headless server; see :func:`wait_ready`."""
    port, token = free_port(), secrets.token_hex(16)
    env = isolated_env(tmp / "home-root")
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(tmp / "lab-workspaces")
    lab_args = (
        f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token} "
        "--ServerApp.port_retries=0 --LabApp.expose_app_in_browser=True"
    )
    log = tmp / f"{target}.log"
    variables = {"COURSE_ROOT": str(course_root), "LAB_ARGS": lab_args, **make_vars}
    with open(log, "w") as out:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", target, *(f"{k}={v}" for k, v in variables.items())],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    root = Path(make_vars.get("WORKSPACE") or course_root)
    return Lab(
        f"http://127.0.0.1:{port}", token, root, course_root, env, proc, log, time.monotonic()
    )


def wait_ready(lab: Lab) -> Lab:
    """Wait until the lab answers; ``started_in`` becomes the seconds that took."""
    t0, deadline = lab.started_in, lab.started_in + START_TIMEOUT
    while True:
        try:
            get(lab.url("/api/status"), timeout=2)
            break
        except OSError:
            if lab.proc.poll() is not None or time.monotonic() > deadline:
                stop(lab.proc)
                raise RuntimeError(
                    f"{lab.log.stem} did not serve at {lab.base}:\n{lab.log.read_text()[-3000:]}"
                ) from None
            time.sleep(0.3)
    lab.started_in = time.monotonic() - t0
    return lab


def stop(proc: subprocess.Popen) -> None:
    """Stop the lab's process group (make, the launcher's JupyterLab, its kernels)."""
    for sig, wait in [(signal.SIGTERM, 30), (signal.SIGKILL, 10)]:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
