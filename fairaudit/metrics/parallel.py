"""Independent pieces of work run on a few threads.

NumPy's random samplers and array kernels, and SciPy's sparse products, release the GIL, so
chunks of bootstrap replicates run in parallel threads without copying any data to other
processes. Each piece must write to its own part of the output: :func:`run_ordered` only
schedules them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

MAX_DEFAULT_JOBS = 8
"""Threads used when the caller asks for "every core" (``jobs=0``): each holds a chunk of
replicates (about 32 MB), so memory stays bounded on large machines."""


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def resolve_jobs(jobs: int) -> int:
    """Threads for ``jobs``: itself when positive; 0 means every usable core, at most
    :data:`MAX_DEFAULT_JOBS`."""
    if jobs < 0:
        raise ValueError(f"jobs must be 0 (every core) or more; got {jobs}")
    return jobs if jobs > 0 else min(usable_cores(), MAX_DEFAULT_JOBS)


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
