"""Independent pieces of work run on a few threads.

NumPy's random samplers and array kernels, and SciPy's sparse products, release the GIL, so
chunks of bootstrap replicates run in parallel threads without copying any data to other
processes. Each piece must write to its own part of the output: :func:`run_ordered` only
schedules them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

MAX_DEFAULT_JOBS = 8
"""Threads used when the caller asks for "every core" (``jobs=0``): each holds a chunk of
replicates (about 32 MB), so memory stays bounded on large machines."""


CGROUP_ROOT = Path("/sys/fs/cgroup")
"""Where a container's CPU quota is read (cgroup v2 ``cpu.max``, v1 ``cpu/cpu.cfs_*``)."""


def cpu_quota(root: Path = CGROUP_ROOT) -> int | None:
    """CPUs a container's CPU quota allows (rounded up), or None without a quota.

    A CI runner or a Kubernetes pod often sees every core of its host but may use only a
    quota of them; threads beyond the quota only contend."""
    try:
        v2 = root / "cpu.max"
        if v2.is_file():
            quota, _, period = v2.read_text().strip().partition(" ")
        else:
            quota = (root / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (root / "cpu" / "cpu.cfs_period_us").read_text().strip()
        if quota in ("max", "-1") or not period:
            return None
        return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        return None


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity where the platform tells it, at most
    the container's CPU quota."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = cpu_quota()
    return max(1, min(cores, quota) if quota is not None else cores)


def resolve_jobs(jobs: int) -> int:
    """Threads for ``jobs``: itself when positive; 0 means every usable core, at most
    :data:`MAX_DEFAULT_JOBS`."""
    if jobs < 0:
        raise ValueError(f"jobs must be 0 (every core) or more; got {jobs}")
    return jobs if jobs > 0 else min(usable_cores(), MAX_DEFAULT_JOBS)


MEMORY_PER_RUN = 1 << 29
"""Bytes that the pieces running at once may hold together (:func:`jobs_within`)."""


def jobs_within(jobs: int, bytes_per_piece: int) -> int:
    """``jobs`` resolved, and then reduced so that pieces holding ``bytes_per_piece`` each
    stay within :data:`MEMORY_PER_RUN` together (never below one)."""
    return max(1, min(resolve_jobs(jobs), MEMORY_PER_RUN // max(int(bytes_per_piece), 1)))


def run_ordered(fn: Callable[..., T], items: Sequence[tuple], jobs: int) -> Iterator[T]:
    """``fn(*item)`` for every item, on up to ``jobs`` threads, results yielded in item order.

    With one job (or one item) everything runs in the calling thread. An exception in any
    piece is raised here, after the pieces already running have finished.
    """
    n = min(resolve_jobs(jobs), len(items))
    if n <= 1:
        for item in items:
            yield fn(*item)
        return
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="fairaudit") as pool:
        yield from pool.map(lambda item: fn(*item), items)


def start(fn: Callable[[], T], jobs: int) -> Future[T]:
    """``fn()`` begun on a thread of its own when ``jobs`` allows more than one, so the caller
    can do other work meanwhile; otherwise run at once. Either way ``.result()`` gives its
    value (or raises its exception)."""
    if resolve_jobs(jobs) > 1:
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fairaudit")
        future = pool.submit(fn)
        pool.shutdown(wait=False)  # the thread ends with fn
        return future
    done: Future[T] = Future()
    try:
        done.set_result(fn())
    except BaseException as exc:  # handed to .result(), as a thread would
        done.set_exception(exc)
    return done
