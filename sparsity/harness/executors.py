"""Executors: run one function over many tasks and yield ``(task, result)`` as each finishes.

Three executors share one small interface (:class:`Executor`), used by the suite runner and by the checkpoint
analysis job:

- :class:`InlineExecutor` (``workers=1``): in this process, in task order.
- :class:`PoolExecutor` (``workers=N``): a local process pool (:class:`concurrent.futures.ProcessPoolExecutor`).
- :class:`~sparsity.harness._dask.DaskExecutor` (``scheduler="ADDRESS"`` or ``"local"``): tasks as Dask futures
  on a ``distributed`` cluster (``pip install 'sparsity-bench[dist]'``).

The function must be importable by name in the workers (a module-level function) and its task must carry
what the worker needs to read its own inputs (paths and tensor names, never arrays). Results come back in
completion order; the caller writes them. ``close(abort=True)`` stops promptly: pending tasks are cancelled and
worker processes are terminated (what a stop signal needs; see :mod:`sparsity.harness._signals`).

Examples
--------
>>> with make_executor(workers=1) as ex:
...     sorted(result for _, result in ex.map(abs, [-2, 1], keys=["a", "b"]))
[1, 2]
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sparsity._checks import check_int
from sparsity.harness._dask import DaskExecutor
from sparsity.harness._executor import Executor, ExecutorError, ExecutorLost
from sparsity.harness._signals import worker_signals

__all__ = [
    "DaskExecutor",
    "Executor",
    "ExecutorError",
    "ExecutorLost",
    "InlineExecutor",
    "PoolExecutor",
    "make_executor",
]

_TERMINATE_WAIT_S = 5.0
"""Seconds a terminated worker process gets to exit before it is killed."""


class InlineExecutor(Executor):
    """Run every task in this process, in order (``workers=1``)."""

    def map(self, fn: Callable[..., Any], tasks: Sequence[Any], *args: Any, keys: Sequence[str]) -> Iterator[Any]:
        """Yield ``(task, fn(task, *args))`` in task order (see :meth:`Executor.map`)."""
        for task in tasks:
            yield task, fn(task, *args)


class PoolExecutor(Executor):
    """A local pool of ``workers`` processes; workers ignore SIGINT and are terminated on abort.

    Parameters
    ----------
    workers : int
        Number of worker processes (>= 1).
    """

    kind = "pool"

    def __init__(self, workers: int) -> None:
        self.workers = check_int(workers, "workers", low=1)
        self._pool = cf.ProcessPoolExecutor(max_workers=self.workers, initializer=worker_signals)
        self._futures: list[cf.Future[Any]] = []

    def map(self, fn: Callable[..., Any], tasks: Sequence[Any], *args: Any, keys: Sequence[str]) -> Iterator[Any]:
        """Submit every task and yield ``(task, result)`` as each finishes (see :meth:`Executor.map`).

        Raises
        ------
        ExecutorLost
            A worker process died (killed, out of memory): the pool cannot go on; finished results were
            already yielded.
        """
        futures = {self._pool.submit(fn, task, *args): task for task in tasks}
        self._futures = list(futures)
        try:
            for fut in cf.as_completed(futures):
                yield futures[fut], fut.result()
        except cf.process.BrokenProcessPool as exc:
            raise ExecutorLost(f"a worker process of the local pool died unexpectedly ({exc})") from None

    def close(self, *, abort: bool = False) -> None:
        """Shut the pool down; with ``abort``, cancel what is pending and terminate the worker processes."""
        if not abort:
            self._pool.shutdown(wait=True)
            return
        for fut in self._futures:
            fut.cancel()
        # ProcessPoolExecutor has no public way to end running tasks before Python 3.14 (terminate_workers);
        # its process table is the documented-in-source ``_processes`` dict (pid -> Process).
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            if proc.is_alive():
                proc.terminate()
        for proc in processes:
            proc.join(_TERMINATE_WAIT_S)
            if proc.is_alive():
                proc.kill()
                proc.join(_TERMINATE_WAIT_S)


def make_executor(workers: int = 1, scheduler: str | None = None) -> Executor:
    """The executor for ``workers`` and ``scheduler``.

    Parameters
    ----------
    workers : int
        Worker processes: 1 runs in this process, N > 1 a local process pool; with ``scheduler="local"``, the
        number of workers of the ``LocalCluster`` (ignored for a scheduler address: the cluster has its own).
    scheduler : str, optional
        None: no Dask. ``"local"``: start a ``distributed.LocalCluster`` (processes, one thread each).
        An address (``tcp://host:8786``) or a scheduler file (``*.json``): connect a ``distributed.Client``.

    Returns
    -------
    Executor
        Use it as a context manager.

    Raises
    ------
    sparsity.weights.MissingDependencyError
        ``scheduler`` given and ``dask.distributed`` not installed (the ``dist`` extra).
    ExecutorLost
        The scheduler cannot be reached.
    """
    workers = check_int(workers, "workers", low=1)
    if scheduler is not None:
        return DaskExecutor(scheduler, workers)
    return InlineExecutor() if workers == 1 else PoolExecutor(workers)
