"""How many threads the library may use, and the one place where it limits BLAS threads (private).

:func:`single_blas_thread` is the library's only BLAS thread limit. It is scoped to our own calls: entered
around one batch of small Gram eigenproblems (:func:`sparsity.linalg._gram.gram_eigenvalues_many`) on the
caller's thread and lifted when that call returns, never held while user code (a weight loader, the caller's
other work) runs on that thread. OpenBLAS has no per-thread setting, so while the limit is in force it holds for
the whole process: another thread of the caller's that calls BLAS at that moment runs single-threaded too.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["available_cpus", "single_blas_thread"]

_CONTROLLER: list[Any] = []
_LOCK = threading.Lock()


def available_cpus() -> int:
    """CPUs this process may run on.

    Its affinity mask where the OS has one (containers, ``taskset``), else ``os.cpu_count()``.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _new_lock_after_fork() -> None:
    """A child forked while another thread held the lock would never get it: give the child a fresh one."""
    global _LOCK
    _LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_after_fork)


@contextmanager
def single_blas_thread() -> Iterator[None]:
    """Limit every loaded BLAS to one thread for the duration of the ``with`` block, then restore it.

    Why: BLAS and LAPACK rounding depends on the number of threads (OpenBLAS splits ``symv`` and some ``syrk``
    shapes across threads and sums the parts), so small eigenproblems solved under this limit give the same bits
    on every machine, and several of them run at once on Python threads without oversubscribing the cores.

    Concurrent callers are serialised by a lock, so that no caller lifts the limit while another one's solves
    are still running (which would change their rounding). The controller (:mod:`threadpoolctl`) is built at
    the first use, after the caller has loaded the BLAS libraries it is about to call.
    """
    with _LOCK:
        if not _CONTROLLER:
            from threadpoolctl import ThreadpoolController

            _CONTROLLER.append(ThreadpoolController())
        with _CONTROLLER[0].limit(limits=1, user_api="blas"):
            yield
