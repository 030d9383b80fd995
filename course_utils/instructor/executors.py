"""Where the units of grading run: a local pool (default) or a dask.distributed cluster.

Both give ``submit(unit, spec) -> concurrent.futures.Future`` for ``unit.grade_unit`` and
``cancel()`` for Ctrl-C, so ``autograde`` has one code path:

- ``LocalExecutor(jobs)``: a thread pool on this machine; each thread runs one unit, whose
  grading process is a child of this one.
- ``DaskExecutor(address)``: the same function on the workers of a running scheduler, via
  ``Client.get_executor()``. Before anything is submitted every worker is asked
  (``unit.environment_report``) whether it has the course environment and bubblewrap; the
  ones that do not are refused by name, and units only go to the others. A worker that
  dies mid-unit is Dask's to reschedule; a unit whose worker died anyway comes back as an
  exception, which ``autograde`` retries once. A lost scheduler is a ``CourseError``.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

from . import limits
from .course import CourseError
from .unit import environment_report, grade_unit


class LocalExecutor:
    """Units in a pool of ``jobs`` threads on this machine."""

    name = "local"

    def __init__(self, jobs: int):
        self.jobs = jobs
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs)
        limits.CANCEL.clear()

    def submit(self, unit: bytes, spec: dict) -> concurrent.futures.Future:
        return self.pool.submit(grade_unit, unit, spec)

    def cancel(self) -> None:
        limits.CANCEL.set()  # every running unit kills its process tree

    def lost(self) -> bool:
        return False

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _cancel_running_units() -> None:
    limits.CANCEL.set()


def _uncancel() -> None:
    limits.CANCEL.clear()


class DaskExecutor:
    """Units on the workers of the dask.distributed scheduler at ``address``."""

    name = "cluster"

    def __init__(self, address: str, sandbox: bool, kernel_name: str | None, timeout: float = 30):
        try:
            from distributed import Client
        except ImportError:
            raise CourseError(
                "--cluster needs dask.distributed: pip install 'dask[distributed]'"
            ) from None
        try:
            self.client = Client(address, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise CourseError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        self.refused: dict[str, str] = {}
        self.workers = self._accepted_workers(sandbox, kernel_name)
        if not self.workers:
            self.client.close()
            reasons = "; ".join(f"{w}: {why}" for w, why in self.refused.items()) or "none"
            raise CourseError(f"no worker of {address} can grade ({reasons})")
        self.client.run(_uncancel, workers=self.workers)
        self.executor = self.client.get_executor(workers=self.workers, pure=False)
        self.jobs = len(self.workers)

    def _accepted_workers(self, sandbox: bool, kernel_name: str | None) -> list[str]:
        workers = list(self.client.scheduler_info().get("workers", {}))
        accepted = []
        for worker in workers:
            try:
                report = self.client.run(
                    environment_report, sandbox, kernel_name, workers=[worker]
                )[worker]
            except Exception as exc:  # noqa: BLE001  (e.g. course_utils not importable there)
                self.refused[worker] = f"it lacks the course environment ({exc})"
                continue
            if report.get("problem"):
                self.refused[worker] = report["problem"]
            else:
                accepted.append(worker)
        return accepted

    def submit(self, unit: bytes, spec: dict) -> Any:
        return self.executor.submit(grade_unit, unit, spec)

    def cancel(self) -> None:
        try:
            self.client.run(_cancel_running_units, workers=self.workers)
        finally:
            self.executor.shutdown(wait=False)

    def lost(self) -> bool:
        """Whether the scheduler is gone (then nothing more can be graded)."""
        if self.client.status != "running":
            return True
        try:
            self.client.scheduler_info()
            self.client.run_on_scheduler(lambda: True)
        except Exception:  # noqa: BLE001
            return True
        return False

    def close(self) -> None:
        try:
            self.client.close(timeout=10)
        except Exception:  # noqa: BLE001  (a lost scheduler cannot be told goodbye)
            pass
