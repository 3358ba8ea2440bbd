"""fairaudit.workflows.threads: limits hold inside the block and are restored after it."""

from __future__ import annotations

import pytest
import torch
from threadpoolctl import threadpool_info

from fairaudit.workflows.threads import limited_threads


def _blas_limits() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info()]


def test_limits_apply_inside_and_are_restored_after_an_error() -> None:
    before_torch, before_pools = torch.get_num_threads(), _blas_limits()
    with pytest.raises(RuntimeError, match="boom"), limited_threads(1):
        assert torch.get_num_threads() == 1
        assert all(n == 1 for n in _blas_limits())
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before_torch
    assert _blas_limits() == before_pools


def test_fewer_than_one_thread_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"), limited_threads(0):
        pass
