"""Case progress on stderr: a tqdm bar on a terminal, plain lines (no carriage returns) otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any

__all__ = ["CaseProgress"]


class CaseProgress:
    """Count finished cases of a run; draw a bar when stderr is a terminal, else write one line per case.

    Parameters
    ----------
    total, initial : int
        Cases in the run, and cases already finished (a resumed run).
    label : str
        The suite's name.
    enabled : bool
        Whether anything is written at all.
    """

    def __init__(self, total: int, initial: int, label: str, enabled: bool) -> None:
        self.stream = sys.stderr
        self.total, self.done, self.label, self.enabled = total, initial, label, enabled
        self.bar: Any = None
        self.t0 = time.perf_counter()
        if enabled and self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="case", desc=label, file=self.stream,
                            dynamic_ncols=True)  # fmt: skip

    def update(self, task_id: str = "") -> None:
        """One more case finished (``task_id`` names it on the plain lines)."""
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
        elif self.enabled:
            elapsed = time.perf_counter() - self.t0
            self.stream.write(f"{self.label}: [{self.done}/{self.total}] {task_id} ({elapsed:.1f} s)\n")
            self.stream.flush()

    def __enter__(self) -> CaseProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()
