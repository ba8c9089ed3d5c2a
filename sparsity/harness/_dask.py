"""The Dask executor: tasks as ``distributed`` futures on a cluster (an address, a scheduler file, or local).

``dask.distributed`` is the ``dist`` extra (``pip install 'sparsity-bench[dist]'``); it is imported only when
a :class:`DaskExecutor` is made. Everything else is Dask's own: ``Client.submit(..., retries=N, pure=False,
key=...)``, :func:`distributed.as_completed`, and the scheduler's rescheduling of the tasks of a worker that
dies (a task is given up only after ``distributed.scheduler.allowed-failures`` worker deaths: the run then
stops, resumable, naming the task).

Every task runs through :func:`_checked`, which refuses to run on a worker whose sparsity source differs from
the one this process imported (:data:`sparsity.harness._code.IMPORTED_CODE`). Workers import sparsity
themselves, when they unpickle their first task: a ``LocalCluster`` spawns them, so they read the source files
as they are then, not as this process read them (a process pool forks and keeps them); on a real cluster, from
their own installation. Without the check, a worker with other code (a working tree edited after this process
started, a stale install or a long-running worker) gives other numbers, or fails in a single case, with nothing
that says why.
"""

from __future__ import annotations

import logging
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sparsity.harness._code import IMPORTED_CODE
from sparsity.harness._executor import Executor, ExecutorError, ExecutorLost, MissingDistributedError

__all__ = ["RETRIES", "CodeMismatch", "DaskExecutor"]

RETRIES = 2
"""Times Dask reruns a task that raised (a task that raises is rare: the task functions return error rows)."""
_CLOSE_TIMEOUT_S = 10
_LOCAL_MEMORY_LIMIT = 0
"""Per-worker memory limit of a local cluster: none, as in the process pool. Dask's default (the machine's
memory divided by the workers) pauses a worker at 80 % of it and kills it at 95 %, which on a machine with many
workers ends cases on real weights that need a few GB; a task that kills three workers stops the run."""
_log = logging.getLogger(__name__)


class CodeMismatch(RuntimeError):
    """Raised on a Dask worker whose sparsity source is not the client's (:func:`_checked`)."""


def _worker_code() -> str:
    """The source fingerprint of this worker, as it imported sparsity (when it unpickled its first task)."""
    return IMPORTED_CODE


def _checked(fn: Callable[..., Any], code: str, task: Any, *args: Any) -> Any:
    """``fn(task, *args)`` on a worker, after checking that it imported the client's sparsity source ``code``.

    Raises
    ------
    CodeMismatch
        The worker's source fingerprint differs from ``code``.
    """
    mine = _worker_code()
    if mine != code:
        raise CodeMismatch(f"the worker's sparsity source has fingerprint {mine}, the client's {code}")
    return fn(task, *args)


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise MissingDistributedError(
            "--scheduler needs dask.distributed, which is not installed: pip install 'sparsity-bench[dist]'"
        ) from None
    return distributed


class DaskExecutor(Executor):
    """Run tasks on a Dask cluster: a running scheduler, or a ``LocalCluster`` started here.

    Parameters
    ----------
    scheduler : str
        ``"local"``: start ``LocalCluster(n_workers=workers, processes=True, threads_per_worker=1)`` on
        127.0.0.1 (closed with the executor). Otherwise a scheduler address (``tcp://host:8786``) or the path
        of a scheduler file (``dask scheduler --scheduler-file FILE``); the cluster is left running.
    workers : int
        Worker processes of a local cluster (ignored for an address: that cluster has its own workers).

    Raises
    ------
    MissingDistributedError
        ``dask.distributed`` is not installed.
    ExecutorError
        The scheduler cannot be reached.
    """

    kind = "dask"

    def __init__(self, scheduler: str, workers: int = 1) -> None:
        dist = _distributed()
        self._dist = dist
        self._cluster: Any = None
        self._futures: list[Any] = []
        self._local_pids: list[int] = []
        self.scheduler = scheduler
        self.code = IMPORTED_CODE
        self.start_s: float | None = None
        self.close_s: float | None = None
        t0 = time.perf_counter()
        try:
            if scheduler == "local":
                self._cluster = dist.LocalCluster(
                    n_workers=workers,
                    processes=True,
                    threads_per_worker=1,
                    host="127.0.0.1",
                    dashboard_address=None,
                    memory_limit=_LOCAL_MEMORY_LIMIT,
                    silence_logs=logging.ERROR,
                    # no dashboard; its HTTP server (health, metrics) on a free port: two local clusters at once
                    # would otherwise compete for port 8787 (and warn)
                    scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                )
                self._client = dist.Client(self._cluster)
                # The worker processes are this process's children: on abort they are ended at once (a
                # LocalCluster closes a busy worker only after its own timeouts, seconds later).
                self._local_pids = [int(pid) for pid in self._client.run(os.getpid).values()]
            elif scheduler.endswith(".json") and os.path.isfile(scheduler):
                self._client = dist.Client(scheduler_file=scheduler)
            else:
                self._client = dist.Client(scheduler)
        except (OSError, TimeoutError, ValueError) as exc:
            self._close_quietly()
            raise ExecutorError(f"cannot reach the Dask scheduler {scheduler!r}: {exc}") from None
        except BaseException:  # a stop signal while the local cluster starts: leave no worker behind
            self._close_quietly()
            raise
        self.address = self._client.scheduler.address
        self.workers = len(self._client.scheduler_info().get("workers", {})) or workers
        self.start_s = time.perf_counter() - t0

    def describe(self) -> dict[str, Any]:
        """What the manifest records: kind, scheduler, workers, source fingerprint, start and close seconds.

        ``scheduler`` is ``local`` or the address given; ``workers`` those seen at the start; ``code`` the
        fingerprint of the source this process imported (every task checked its worker's against it);
        ``start_s`` the seconds taken to start a local cluster (to connect, otherwise) and ``close_s`` to close
        it (None before :meth:`close`).
        """
        return {
            "kind": self.kind,
            "scheduler": self.scheduler,
            "workers": self.workers,
            "code": self.code,
            "start_s": _rounded(self.start_s),
            "close_s": _rounded(self.close_s),
        }

    def map(self, fn: Callable[..., Any], tasks: Sequence[Any], *args: Any, keys: Sequence[str]) -> Iterator[Any]:
        """Submit every task as a Dask future and yield ``(task, result)`` as each finishes.

        Raises
        ------
        ExecutorLost
            The connection to the scheduler was lost (its futures are cancelled), a worker runs other sparsity
            code than this process, or a task killed ``allowed-failures`` workers; results already yielded are
            kept.
        """
        token = uuid.uuid4().hex[:12]
        by_key: dict[Any, Any] = {}
        futures = []
        for task, key in zip(tasks, keys, strict=True):
            fut = self._client.submit(_checked, fn, self.code, task, *args, key=f"{fn.__name__}-{key}-{token}",
                                      retries=RETRIES, pure=False)  # fmt: skip
            by_key[fut.key] = (task, key)
            futures.append(fut)
        self._futures = futures
        for fut in self._dist.as_completed(futures):
            if fut.cancelled():
                raise ExecutorLost(
                    f"lost the connection to the Dask scheduler {self.scheduler!r} ({self.address}); the tasks "
                    "that finished are saved"
                )
            task, key = by_key[fut.key]
            if fut.status == "error":
                self._raise_failed(key, fut.exception())
            yield task, fut.result()
            fut.release()

    def _raise_failed(self, key: str, exc: BaseException) -> None:
        """Raise :class:`ExecutorLost` for a code mismatch or a task that killed its workers; else ``exc``."""
        if isinstance(exc, CodeMismatch):
            raise ExecutorLost(
                f"a Dask worker runs other sparsity code than this process ({exc}; task {key}): give every "
                "worker the same version (restart a local run after editing the source); the tasks that finished "
                "are saved"
            )
        if isinstance(exc, self._dist.KilledWorker):
            raise ExecutorLost(
                f"task {key} was running on each of the Dask workers that died under it ({exc}); out of memory? "
                "The tasks that finished are saved"
            )
        raise exc

    def close(self, *, abort: bool = False) -> None:
        """Close the client (and a local cluster); with ``abort``, cancel the pending futures first."""
        if abort and self._futures and self._client.status == "running":
            try:
                self._client.cancel(self._futures, force=True)
            except (OSError, TimeoutError) as exc:  # the scheduler is gone already: nothing left to cancel
                _log.debug("cancelling futures failed: %s", exc)
        self._futures = []
        t0 = time.perf_counter()
        if abort:
            for pid in self._local_pids:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:  # already gone
                    pass
        self._close_quietly()
        self.close_s = time.perf_counter() - t0

    def _close_quietly(self) -> None:
        client, cluster = getattr(self, "_client", None), self._cluster
        self._cluster = None
        for thing in (client, cluster):
            if thing is None:
                continue
            try:
                thing.close(timeout=_CLOSE_TIMEOUT_S)
            except (OSError, TimeoutError, RuntimeError) as exc:  # closing after the scheduler went away
                _log.debug("closing %s failed: %s", type(thing).__name__, exc)


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)
