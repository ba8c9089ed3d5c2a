"""The executor interface and its errors (see :mod:`sparsity.harness.executors`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = ["Executor", "ExecutorError", "ExecutorLost", "MissingDistributedError"]


class ExecutorError(RuntimeError):
    """An executor that cannot start or cannot go on; the message says why and what to do."""


class ExecutorLost(ExecutorError):
    """The workers or the scheduler went away mid-run; results already yielded are kept (resume continues)."""


class MissingDistributedError(ExecutorError, ImportError):
    """``--scheduler`` needs ``dask.distributed``, which is not installed (the ``dist`` extra)."""


class Executor:
    """The interface: ``map(fn, tasks, *args, keys=...)`` yields ``(task, fn(task, *args))`` as each finishes.

    An executor is a context manager: leaving the block normally waits for nothing (every result was
    consumed) and releases the workers; leaving it with an exception (a stop signal, Ctrl-C, an error)
    calls ``close(abort=True)``: pending tasks are cancelled and running ones terminated.

    Attributes
    ----------
    kind : str
        ``"inline"``, ``"pool"`` or ``"dask"`` (recorded in the manifest).
    workers : int
        Worker processes (for Dask: those the cluster reported when the executor started).
    """

    kind = "inline"
    workers = 1

    def map(self, fn: Callable[..., Any], tasks: Sequence[Any], *args: Any, keys: Sequence[str]) -> Iterator[Any]:
        """Yield ``(task, fn(task, *args))`` for every task, in completion order.

        Parameters
        ----------
        fn : callable
            A module-level function (it travels to the workers by reference).
        tasks : sequence
            The tasks; each is passed as the first argument.
        *args
            Further arguments, the same for every task.
        keys : sequence of str
            A unique name per task (Dask's key; used in messages).
        """
        raise NotImplementedError

    def close(self, *, abort: bool = False) -> None:
        """Release the workers; with ``abort``, cancel pending tasks and terminate running ones first."""

    def describe(self) -> dict[str, Any]:
        """What the manifest records about the executor."""
        return {"kind": self.kind, "workers": self.workers}

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close(abort=exc_type is not None)
