"""A real dask.distributed cluster on 127.0.0.1 (cluster test and autograde benchmark)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from submissions.course import BIN


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dask(*args: str, env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "dask"), *args],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


class Cluster:
    """A scheduler and ``workers`` workers on loopback; ``close`` kills their process groups."""

    def __init__(self, tmp: Path, env: dict, workers: int = 2):
        tmp.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.procs = [
            _dask(
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-dashboard",
                env=env,
                log=tmp / "scheduler.log",
            )
        ]
        for name in [f"w{i + 1}" for i in range(workers)]:
            self.procs.append(
                _dask(
                    "worker",
                    self.address,
                    "--name",
                    name,
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--no-nanny",
                    "--local-directory",
                    str(tmp / name),
                    env=env,
                    log=tmp / f"{name}.log",
                )
            )
        self._wait_for_workers(workers)

    def _wait_for_workers(self, n: int, timeout: float = 120) -> None:
        from distributed import Client

        deadline = time.monotonic() + timeout
        with Client(self.address, timeout=timeout) as client:
            while len(client.scheduler_info()["workers"]) < n:
                if time.monotonic() > deadline:
                    raise RuntimeError("the Dask workers did not register")
                time.sleep(0.5)

    def worker_pids(self) -> list[int]:
        return [p.pid for p in self.procs[1:]]

    def close(self) -> None:
        for proc in reversed(self.procs):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
