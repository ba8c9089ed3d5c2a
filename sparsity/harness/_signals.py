"""Stop a run on SIGINT or SIGTERM: handlers in the main process, and workers that leave the decision to it.

``concurrent.futures`` and ``multiprocessing`` forward neither signal to their workers, and a pool's shutdown
waits for the tasks that are running. So the main process decides: :func:`stop_on_signals` installs handlers
that raise :class:`Stopped` in the main thread (once; later signals are ignored until the handlers are restored,
so the cleanup is not cut short), the executor then cancels what is pending and terminates its workers, the
runner saves what finished and the command exits with ``128 + signum`` (130 for SIGINT, 143 for SIGTERM).
Worker processes call :func:`worker_signals` first: they ignore SIGINT (a Ctrl-C reaches the whole process group;
only the main process acts on it) and die on SIGTERM, which is how the executor ends them.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

__all__ = ["STOP_SIGNALS", "Stopped", "exit_status", "stop_on_signals", "worker_signals"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""The signals that stop a run: what Ctrl-C, ``timeout``, Slurm and Kubernetes send."""


class Stopped(BaseException):
    """Raised in the main thread when a stop signal arrives; ``signum`` is the signal's number.

    Parameters
    ----------
    signum : int
        The signal received.
    """

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        super().__init__(f"stopped by {signal.Signals(self.signum).name}")


def exit_status(signum: int) -> int:
    """The shell's exit status for a process ended by signal ``signum``: ``128 + signum``.

    Examples
    --------
    >>> import signal
    >>> exit_status(signal.SIGINT), exit_status(signal.SIGTERM)
    (130, 143)
    """
    return 128 + int(signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise :class:`Stopped` in the main thread; restored afterwards.

    Outside the main thread (where Python cannot install handlers) the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if fired:  # the cleanup of the first signal is running: let it finish
            return
        fired.append(signum)
        raise Stopped(signum)

    previous: dict[signal.Signals, Any] = {}
    try:
        for sig in STOP_SIGNALS:
            previous[sig] = signal.signal(sig, handler)
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, signal.SIG_DFL if old is None else old)


def worker_signals() -> None:
    """Signal dispositions of a worker process: ignore SIGINT, die on SIGTERM (the default action)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
