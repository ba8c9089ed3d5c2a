"""The order in which :func:`sparsity.analyze_weights` turns prepared tensors into rows (private).

The main thread reads and prepares one tensor at a time. Prepared tensors wait in a group; a full group's
small matrices go to a background thread as one batch of Gram spectra (:func:`sparsity.linalg._gram.
gram_eigenvalues_many`, LAPACK without the GIL), and while that batch runs the main thread finishes the
previous group's rows (ESD fits) and reads the next tensors. The entry fits run on their own worker threads.
Rows are filled in reading order, and each is the row of the tensor alone.

Memory: a group holds at most ``max_bytes`` of small matrices and entry magnitudes and ``max_tensors``
tensors; at most two groups (the one being read and the one in flight) exist at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from sparsity.linalg._gram import gram_eigenvalues_many

__all__ = ["RowPipeline"]

Finish = Callable[[dict[str, Any], "list[np.ndarray] | None"], dict[str, Any]]
_CAUGHT = (ValueError, TypeError, np.linalg.LinAlgError)


class RowPipeline:
    """Groups prepared tensors, finds their small matrices' spectra in the background, and fills their rows.

    Parameters
    ----------
    finish : callable
        ``finish(rec, evals)`` -> the row of a prepared record (``evals``: its small matrices' ascending Gram
        eigenvalues, or None when it has none).
    errors : {"row", "raise"}
        What a tensor whose row cannot be finished becomes: a failed row, or an exception naming it.
    entry_workers : int
        Threads for the entry fits (0: the caller computes them inline).
    max_bytes, max_tensors : int
        Limits of one group.
    """

    def __init__(self, finish: Finish, *, errors: str, entry_workers: int, max_bytes: int, max_tensors: int):
        self._finish = finish
        self._errors = errors
        self._max_bytes = max_bytes
        self._max_tensors = max_tensors
        self._group: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self._group_bytes = 0
        self._in_flight: tuple[list[tuple[dict[str, Any], dict[str, Any]]], Future] | None = None
        self._spectra = ThreadPoolExecutor(max_workers=1)
        self.entry_pool = ThreadPoolExecutor(max_workers=entry_workers) if entry_workers > 0 else None

    def add(self, row: dict[str, Any], rec: dict[str, Any]) -> None:
        """Queue a prepared tensor; its row is filled in place later (at the latest by :meth:`finish_all`)."""
        self._group.append((row, rec))
        self._group_bytes += rec.get("entry_bytes", 0) + sum(
            A.nbytes + 8 * A.shape[1] ** 2 for A in rec.get("mats", ())
        )
        if self._group_bytes > self._max_bytes or len(self._group) >= self._max_tensors:
            self._send()

    def finish_all(self) -> None:
        """Fill every remaining row."""
        self._send()
        self._settle()

    def shutdown(self) -> None:
        """Stop the threads (also after an error: nothing keeps running)."""
        try:
            self._spectra.shutdown(wait=True, cancel_futures=True)
        finally:
            if self.entry_pool is not None:
                self.entry_pool.shutdown(wait=True, cancel_futures=True)

    def _send(self) -> None:
        """Start the current group's spectra in the background, then finish the group sent before it."""
        group, self._group, self._group_bytes = self._group, [], 0
        batch = [A for _, rec in group for A in rec.get("mats", ())]
        future = self._spectra.submit(gram_eigenvalues_many, batch)
        self._settle()
        self._in_flight = (group, future)

    def _settle(self) -> None:
        """Finish the rows of the group in flight (waiting for its spectra)."""
        if self._in_flight is None:
            return
        group, future = self._in_flight
        self._in_flight = None
        try:
            evals = future.result()
        except (ValueError, np.linalg.LinAlgError):
            evals = None  # a batch failed: solve each tensor alone, so that only the failing one fails
        start = 0
        for row, rec in group:
            count = len(rec.get("mats", ()))
            try:
                if "mats" not in rec:
                    mine = None
                elif evals is not None:
                    mine = evals[start : start + count]
                else:
                    mine = gram_eigenvalues_many(rec["mats"])
                row.update(self._finish(rec, mine))
            except _CAUGHT as exc:
                if self._errors == "raise":
                    raise type(exc)(f"tensor {row['name']!r}: {exc}") from exc
                row.update({**rec["row"], "status": "failed", "reason": str(exc)})
            start += count
