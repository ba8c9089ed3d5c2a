"""The Dask executor: tasks as ``distributed`` futures on a cluster (an address, a scheduler file, or local).

``dask.distributed`` is the ``dist`` extra (``pip install 'sparsity-bench[dist]'``); it is imported only when
a :class:`DaskExecutor` is made. Everything else is Dask's own: ``Client.submit(..., retries=N, pure=False,
key=...)``, :func:`distributed.as_completed`, and the scheduler's rescheduling of the tasks of a worker that
dies (a task is given up only after ``distributed.scheduler.allowed-failures`` worker deaths).
"""

from __future__ import annotations

import logging
import os
import signal
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sparsity.harness._executor import Executor, ExecutorError, ExecutorLost, MissingDistributedError

__all__ = ["RETRIES", "DaskExecutor"]

RETRIES = 2
"""Times Dask reruns a task that raised (a task that raises is rare: the task functions return error rows)."""
_CLOSE_TIMEOUT_S = 10
_log = logging.getLogger(__name__)


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
        try:
            if scheduler == "local":
                self._cluster = dist.LocalCluster(
                    n_workers=workers,
                    processes=True,
                    threads_per_worker=1,
                    host="127.0.0.1",
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
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

    def describe(self) -> dict[str, Any]:
        """Kind, scheduler (``local`` or the address given) and the number of workers seen at the start."""
        return {"kind": self.kind, "scheduler": self.scheduler, "workers": self.workers}

    def map(self, fn: Callable[..., Any], tasks: Sequence[Any], *args: Any, keys: Sequence[str]) -> Iterator[Any]:
        """Submit every task as a Dask future and yield ``(task, result)`` as each finishes.

        Raises
        ------
        ExecutorLost
            The connection to the scheduler was lost (its futures are cancelled); results already yielded are
            kept.
        """
        token = uuid.uuid4().hex[:12]
        by_key: dict[Any, Any] = {}
        futures = []
        for task, key in zip(tasks, keys, strict=True):
            fut = self._client.submit(fn, task, *args, key=f"{fn.__name__}-{key}-{token}", retries=RETRIES,
                                      pure=False)  # fmt: skip
            by_key[fut.key] = task
            futures.append(fut)
        self._futures = futures
        for fut in self._dist.as_completed(futures):
            if fut.cancelled():
                raise ExecutorLost(
                    f"lost the connection to the Dask scheduler {self.scheduler!r} ({self.address}); the tasks "
                    "that finished are saved"
                )
            yield by_key[fut.key], fut.result()
            fut.release()

    def close(self, *, abort: bool = False) -> None:
        """Close the client (and a local cluster); with ``abort``, cancel the pending futures first."""
        if abort and self._futures and self._client.status == "running":
            try:
                self._client.cancel(self._futures, force=True)
            except (OSError, TimeoutError) as exc:  # the scheduler is gone already: nothing left to cancel
                _log.debug("cancelling futures failed: %s", exc)
        self._futures = []
        if abort:
            for pid in self._local_pids:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:  # already gone
                    pass
        self._close_quietly()

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
