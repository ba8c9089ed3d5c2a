"""Shared helpers for the performance benchmarks.

Run with ``pytest bench/perf --benchmark-enable -s``. Every benchmark measures our code and its peer (or the
physical floor) in the same run and prints the ratio; ratios are also appended to
``bench/perf/last_report.txt`` so one run leaves a readable summary. No benchmark asserts a timing.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPORT = Path(__file__).with_name("last_report.txt")


def best_time(fn: Callable[[], object], repeat: int = 3) -> float:
    """Best wall time of ``repeat`` calls of ``fn`` (seconds): the usual estimator of the floor cost."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def report_ratio(name: str, ours_s: float, peer_name: str, peer_s: float, target: str = "") -> float:
    """Print and record ``ours / peer`` for one benchmark; returns the ratio."""
    ratio = ours_s / peer_s if peer_s > 0 else float("inf")
    line = (
        f"{name}: ours {ours_s * 1e3:.1f} ms, {peer_name} {peer_s * 1e3:.1f} ms, "
        f"ratio ours/{peer_name} = {ratio:.3f}" + (f" (target: {target})" if target else "")
    )
    print("\n" + line)
    with REPORT.open("a") as fh:
        fh.write(line + "\n")
    return ratio


@pytest.fixture(scope="session", autouse=True)
def _print_threadpools():
    try:
        from threadpoolctl import threadpool_info

        info = [(d.get("internal_api"), d.get("num_threads")) for d in threadpool_info()]
    except ImportError:
        info = "threadpoolctl not installed"
    header = f"# {time.strftime('%Y-%m-%d %H:%M:%S')} {platform.node()} cpus={os.cpu_count()} threadpools={info}"
    print("\n" + header)
    with REPORT.open("a") as fh:
        fh.write(header + "\n")
    yield
