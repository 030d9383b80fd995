"""`make lab` serves JupyterLab with the course kernel and nbgrader's extensions enabled."""

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 60.0) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read()


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    port, token = _free_port(), secrets.token_hex(16)
    runtime = tmp_path_factory.mktemp("jupyter-runtime")
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env["JUPYTER_RUNTIME_DIR"] = str(runtime)
    lab_args = (
        f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token} "
        "--ServerApp.port_retries=0"
    )
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"LAB_ARGS={lab_args}"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                _get(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    output = proc.stdout.read() if proc.poll() is not None else "(still running)"
                    pytest.fail(f"JupyterLab did not start on port {port}:\n{output}")
                time.sleep(0.5)
        yield base, token
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
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


def test_lab_page_is_served(lab_server):
    base, token = lab_server
    status, body = _get(f"{base}/lab?token={token}")
    assert status == 200
    assert b"JupyterLab" in body


def test_lab_serves_the_student_notebooks(lab_server):
    base, token = lab_server
    _, body = _get(f"{base}/api/contents?token={token}")
    names = {item["name"] for item in json.loads(body)["content"]}
    assert "00_welcome" in names
    assert "solutions" not in names, "students must not see the instructor solutions"


def test_course_kernel_is_available(lab_server):
    base, token = lab_server
    _, body = _get(f"{base}/api/kernelspecs?token={token}")
    specs = json.loads(body)["kernelspecs"]
    assert "nn-course" in specs
    assert specs["nn-course"]["spec"]["env"]["TF_CPP_MIN_LOG_LEVEL"] == "3"


def test_nbgrader_lab_extension_enabled(lab_server):
    base, token = lab_server
    # What the browser loads: the page config's federated extensions minus disabled ones.
    _, page = _get(f"{base}/lab?token={token}")
    config = json.loads(re.search(rb'id="jupyter-config-data"[^>]*>(.*?)</script>', page, re.S)[1])
    loaded = {e["name"] for e in config["federated_extensions"]}
    assert "@jupyter/nbgrader" in loaded
    assert not any("nbgrader" in d for d in config["disabledExtensions"])
    _, body = _get(f"{base}/lab/api/extensions?token={token}")
    manager = {e["name"]: e["enabled"] for e in json.loads(body)}
    assert manager.get("jupyter-nbgrader") is True


def test_nbgrader_server_extensions_enabled(lab_server):
    base, token = lab_server
    # validate_assignment and assignment_list register these handlers only when enabled.
    for path in ["/assignments?course_id=", "/formgrader/api/assignments"]:
        try:
            status, _ = _get(
                f"{base}{path}&token={token}" if "?" in path else f"{base}{path}?token={token}"
            )
        except urllib.error.HTTPError as err:
            status = err.code
        assert status != 404, f"{path} is not served: nbgrader server extension missing"


def test_lab_does_not_ask_to_fetch_news(lab_server):
    # Classrooms are often offline; the news pop-up is noise for students.
    base, token = lab_server
    plugin = "@jupyterlab/apputils-extension:notification"
    _, body = _get(f"{base}/lab/api/settings/{plugin}?token={token}")
    # overrides.json replaces the schema defaults the front end starts from
    defaults = json.loads(body)["schema"]["properties"]
    assert defaults["fetchNews"]["default"] == "false"
    assert defaults["checkForUpdates"]["default"] is False
