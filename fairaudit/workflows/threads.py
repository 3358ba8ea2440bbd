"""CPU threads of a run: torch's and the BLAS/OpenMP libraries', limited and then restored."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def limited_threads(n: int) -> Iterator[None]:
    """Run the body with at most ``n`` threads in torch and in every BLAS/OpenMP pool.

    Parameters
    ----------
    n : int
        Threads, at least 1.

    Both limits are restored on exit, also after an error, so a library caller (or a test
    session) keeps its own settings.
    """
    import torch
    from threadpoolctl import threadpool_limits

    if n < 1:
        raise ValueError(f"threads must be at least 1; got {n}")
    # threadpoolctl first: it records the OpenMP limit torch shares, and restores it on exit;
    # torch's own count is restored after that (restored first, the OpenMP restore would set
    # it back to the limit in force when threadpoolctl looked).
    saved = torch.get_num_threads()
    limits = threadpool_limits(limits=n)
    try:
        torch.set_num_threads(n)
        yield
    finally:
        limits.restore_original_limits()
        torch.set_num_threads(saved)
