"""Grader self-tests in both places a check runs: in the student's process and across the link.

``catalogue_namespaces(path)`` gives a module-scoped, parametrized pytest fixture whose
value is the catalogue of implementations (``wrong/<assignment>_wrong.py``) either as the
local module (``local``: the check gets the real objects, as in a student's kernel) or as
proxies into a separate Python process that imported the same file and answers through
``course_utils.grading.kernel_server`` (``remote``: the check runs here and reaches the
implementations only through the grading link, as ``course autograde`` does). Every
self-test then asserts the same verdict and the same message in both.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import pytest

from course_utils.grading.remote import KernelLink

_SERVER = """\
import importlib.util, sys
from course_utils.grading.kernel_server import serve
spec = importlib.util.spec_from_file_location(sys.argv[1], sys.argv[2])
module = importlib.util.module_from_spec(spec)
sys.modules[sys.argv[1]] = module
spec.loader.exec_module(module)
serve(sys.argv[3], vars(module))
"""


def load_local(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


class RemoteNamespace:
    """Attribute access on the names of a module that lives in another process."""

    def __init__(self, link: KernelLink):
        self._link = link
        self._cache: dict[str, object] = {}

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        if name not in self._cache:
            self._cache[name] = self._link.lookup(name)
        return self._cache[name]


class CatalogueProcess:
    """A Python process that imported a catalogue file and serves it over the link."""

    def __init__(self, path: Path, timeout: float = 300):
        self.dir = tempfile.mkdtemp(prefix="kernel-link-")
        sock_path = os.path.join(self.dir, "rpc.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(sock_path)
        listener.listen(1)
        listener.settimeout(timeout)
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
        self.log = open(os.path.join(self.dir, "server.log"), "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER, f"{path.stem}_remote", str(path), sock_path],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        conn, _ = listener.accept()
        listener.close()
        conn.settimeout(timeout)
        self.link = KernelLink(conn)

    def close(self) -> None:
        self.link.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def catalogue_namespaces(path: Path):
    """The local catalogue module, and a fixture ``cat`` giving it both ways.

    ``cat`` is parametrized ``local``/``remote``; the remote process is started once per
    test module, and its link is the current one (``remote.current_link``) only while a
    test that asked for ``cat`` runs.
    """
    local = load_local(path)

    @pytest.fixture(scope="module", params=["local", "remote"])
    def catalogue_server(request):
        if request.param == "local":
            yield None
            return
        server = CatalogueProcess(path)
        try:
            yield server, RemoteNamespace(server.link)
        finally:
            server.close()

    @pytest.fixture
    def cat(catalogue_server):
        if catalogue_server is None:
            yield local
            return
        server, namespace = catalogue_server
        with server.link:
            yield namespace

    return local, catalogue_server, cat
