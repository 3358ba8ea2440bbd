"""fairaudit.metrics.parallel: ordered results on threads, errors raised, jobs resolved."""

from __future__ import annotations

import threading
import time

import pytest

from fairaudit.metrics.parallel import (
    MAX_DEFAULT_JOBS,
    resolve_jobs,
    run_ordered,
    start,
    usable_cores,
)


def test_results_come_in_item_order_whatever_finishes_first() -> None:
    def slow_first(i: int, delay: float) -> tuple[int, str]:
        time.sleep(delay)
        return i, threading.current_thread().name

    items = [(i, 0.05 if i == 0 else 0.0) for i in range(6)]
    out = list(run_ordered(slow_first, items, jobs=3))
    assert [i for i, _ in out] == list(range(6))
    assert any(name.startswith("fairaudit") for _, name in out)  # really on worker threads


def test_one_job_runs_in_the_calling_thread() -> None:
    names = list(run_ordered(lambda: threading.current_thread().name, [(), ()], jobs=1))
    assert names == [threading.current_thread().name] * 2


def test_an_error_in_a_piece_is_raised() -> None:
    def piece(i: int) -> int:
        if i == 2:
            raise ValueError("piece 2")
        return i

    with pytest.raises(ValueError, match="piece 2"):
        list(run_ordered(piece, [(i,) for i in range(4)], jobs=2))


def test_jobs_zero_means_every_usable_core_up_to_the_cap() -> None:
    assert resolve_jobs(0) == min(usable_cores(), MAX_DEFAULT_JOBS)
    assert resolve_jobs(3) == 3
    with pytest.raises(ValueError, match="jobs"):
        resolve_jobs(-1)


@pytest.mark.parametrize("jobs", [1, 2])
def test_start_gives_the_value_or_the_error_later(jobs: int) -> None:
    names = start(lambda: threading.current_thread().name, jobs)
    assert names.result().startswith("fairaudit") == (jobs > 1)  # its own thread only with jobs

    def fails() -> None:
        raise RuntimeError("set-up failed")

    pending = start(fails, jobs)  # not raised here: the caller carries on first
    with pytest.raises(RuntimeError, match="set-up failed"):
        pending.result()


@pytest.mark.parametrize(("files", "expected"), [
    ({"cpu.max": "200000 100000\n"}, 2),  # cgroup v2: 2 CPUs
    ({"cpu.max": "150000 100000\n"}, 2),  # 1.5 CPUs: rounded up
    ({"cpu.max": "max 100000\n"}, None),  # no quota
    ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3),  # v1
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({"cpu.max": "garbage\n"}, None),
    ({}, None),
])
def test_a_containers_cpu_quota_bounds_the_threads(tmp_path, files, expected) -> None:
    from fairaudit.metrics.parallel import cpu_quota

    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cpu_quota(tmp_path) == expected


def test_usable_cores_never_exceed_the_quota(monkeypatch) -> None:
    import fairaudit.metrics.parallel as parallel

    monkeypatch.setattr(parallel, "cpu_quota", lambda: 1)
    assert usable_cores() == 1 and resolve_jobs(0) == 1


def test_pieces_at_once_stay_within_the_memory_budget() -> None:
    from fairaudit.metrics.parallel import MEMORY_PER_RUN, jobs_within

    assert jobs_within(4, 1000) == 4  # small pieces: every thread asked for
    assert jobs_within(4, MEMORY_PER_RUN // 2) == 2
    assert jobs_within(4, 10 * MEMORY_PER_RUN) == 1  # never below one
