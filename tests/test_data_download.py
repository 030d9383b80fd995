"""The download branch of load_mnist, for real, against an HTTP server on 127.0.0.1.

The server plays several mirrors under different paths of one loopback port:

- ``/error/``   answers HTTP 500 to everything;
- ``/corrupt/`` serves a damaged variant of each file (truncated gzip, a changed label,
  an HTML page, an IDX body shorter than its header says);
- ``/good/``    serves the real files copied from the shared MNIST folder.

A closed loopback port plays a mirror that refuses connections. Nothing leaves the
machine, the cache is a tmp folder, and the server is shut down after each test.
"""

import gzip
import hashlib
import http.server
import logging
import os
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from course_utils.data import MNIST_FILES, MNIST_SHA256, DatasetNotFoundError, load_mnist

SHARED = os.environ.get("COURSE_DATA_DIR")
SHARED_MNIST = Path(SHARED) / "mnist" if SHARED else None
pytestmark = pytest.mark.skipif(
    not (SHARED_MNIST and SHARED_MNIST.is_dir()), reason="shared MNIST copy not available"
)


def closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/mnist/"


def corrupt_payloads() -> dict[str, bytes]:
    good = {n: (SHARED_MNIST / f"{n}.gz").read_bytes() for n in MNIST_FILES}
    labels = bytearray(gzip.decompress(good["train-labels-idx1-ubyte"]))
    labels[-1] = (labels[-1] + 1) % 10  # valid gzip, valid IDX, wrong content
    t10k_labels = gzip.decompress(good["t10k-labels-idx1-ubyte"])
    return {
        "train-images-idx3-ubyte.gz": good["train-images-idx3-ubyte"][:500_000],
        "train-labels-idx1-ubyte.gz": gzip.compress(bytes(labels)),
        "t10k-images-idx3-ubyte.gz": b"<html><body>Moved</body></html>",
        "t10k-labels-idx1-ubyte.gz": gzip.compress(t10k_labels[:-10]),
    }


class MirrorServer:
    """A ThreadingHTTPServer on 127.0.0.1 playing the mirrors; records every request."""

    def __init__(self):
        self.requests: list[str] = []
        self.corrupt = corrupt_payloads()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                server.requests.append(self.path)
                kind, _, name = self.path.strip("/").partition("/")
                if kind == "good" and (SHARED_MNIST / name).is_file() and name.endswith(".gz"):
                    body = (SHARED_MNIST / name).read_bytes()
                elif kind == "corrupt" and name in server.corrupt:
                    body = server.corrupt[name]
                elif kind == "error":
                    self.send_error(500, "Internal Server Error")
                    return
                else:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # keep stderr quiet
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, kind: str) -> str:
        return f"{self.base}/{kind}/"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive()


@pytest.fixture
def server():
    srv = MirrorServer()
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COURSE_MNIST_MIRRORS", closed_port_url())
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


def cached_files(cache: Path) -> list[str]:
    return sorted(p.name for p in (cache / "mnist").iterdir())


def assert_verified(cache: Path):
    for name in MNIST_FILES:
        content = gzip.decompress((cache / "mnist" / f"{name}.gz").read_bytes())
        assert hashlib.sha256(content).hexdigest() == MNIST_SHA256[name], name


def test_refused_then_error_then_corrupt_then_good(tmp_path, server, capsys, caplog):
    cache = tmp_path / "cache"
    refused = closed_port_url()
    mirrors = [refused, server.url("error"), server.url("corrupt"), server.url("good")]
    with caplog.at_level(logging.INFO, logger="course_utils.data"):
        m = load_mnist(mirrors=mirrors)
    # it says which mirror it used: returned, logged and printed
    assert m.mirror == server.url("good")
    assert m.source == cache / "mnist"
    out, err = capsys.readouterr()
    assert f"MNIST downloaded from {server.url('good')}" in out
    assert f"MNIST downloaded from {server.url('good')}" in caplog.text
    assert err == ""  # progress bars and messages on stdout only (nbgrader marks stderr)
    # every mirror was tried, in order, for every file
    for name in MNIST_FILES:
        tried = [r for r in server.requests if r.endswith(f"/{name}.gz")]
        assert tried == [f"/error/{name}.gz", f"/corrupt/{name}.gz", f"/good/{name}.gz"]
    # why each failed mirror was rejected is reported
    assert "cannot connect" in out and "HTTP 500" in out
    assert "gzip data is damaged" in out  # truncated .gz of train images
    assert "sha256" in out  # changed label
    assert "bad magic" in out  # HTML page
    assert "truncated" in out  # IDX body shorter than its header
    # the cache holds exactly the four verified files, no leftovers
    assert cached_files(cache) == sorted(f"{n}.gz" for n in MNIST_FILES)
    assert_verified(cache)
    assert np.bincount(m.y_train).tolist()[:3] == [5923, 6742, 5958]
    assert m.X_train.shape == (60000, 28, 28)

    # the next load reads the cache and downloads nothing
    n_requests = len(server.requests)
    again = load_mnist(mirrors=[server.url("good")], download=False)
    assert again.mirror is None and again.source == cache / "mnist"
    assert len(server.requests) == n_requests
    np.testing.assert_array_equal(again.y_test, m.y_test)


def test_mirrors_from_env_and_only_missing_files_fetched(tmp_path, server, monkeypatch):
    cache = tmp_path / "cache" / "mnist"
    cache.mkdir(parents=True)
    for name in MNIST_FILES[1:]:  # a partial cache: train images missing
        (cache / f"{name}.gz").write_bytes((SHARED_MNIST / f"{name}.gz").read_bytes())
    monkeypatch.setenv("COURSE_MNIST_MIRRORS", f"{server.url('corrupt')},{server.url('good')}")
    m = load_mnist(verbose=False)
    assert server.requests == [
        "/corrupt/train-images-idx3-ubyte.gz",
        "/good/train-images-idx3-ubyte.gz",
    ]
    assert m.mirror == server.url("good")
    assert_verified(tmp_path / "cache")


def test_corrupt_cached_file_is_replaced(tmp_path, server, capsys):
    cache = tmp_path / "cache" / "mnist"
    cache.mkdir(parents=True)
    for name in MNIST_FILES:
        (cache / f"{name}.gz").write_bytes((SHARED_MNIST / f"{name}.gz").read_bytes())
    labels = cache / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:1000])  # truncated
    m = load_mnist(mirrors=[server.url("good")])
    assert server.requests == ["/good/t10k-labels-idx1-ubyte.gz"]
    assert "corrupt" in capsys.readouterr().out
    assert m.mirror == server.url("good") and len(m.y_test) == 10000
    assert_verified(tmp_path / "cache")


def test_all_mirrors_fail_one_clear_error_and_nothing_kept(tmp_path, server):
    refused = closed_port_url()
    mirrors = [refused, server.url("error"), server.url("missing"), server.url("corrupt")]
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist(mirrors=mirrors, verbose=False)
    msg = str(info.value)
    first = "train-images-idx3-ubyte.gz"
    assert f"{refused}{first}: cannot connect" in msg
    assert f"{server.url('error')}{first}: HTTP 500" in msg
    assert f"{server.url('missing')}{first}: HTTP 404" in msg
    assert f"{server.url('corrupt')}{first}: CorruptFileError" in msg
    assert "gzip" in msg
    assert str(tmp_path / "cache") in msg and "COURSE_DATA_DIR" in msg
    leftovers = list((tmp_path / "cache").rglob("*"))
    assert all(p.is_dir() for p in leftovers), leftovers  # no partial or corrupt file kept
