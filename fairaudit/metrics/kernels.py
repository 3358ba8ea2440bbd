"""The compiled bootstrap kernels (``_kernels.c``), loaded with ctypes, and their NumPy twins.

The replicate metrics of many small groups are many short, scattered sums: NumPy and SciPy
spend most of their time on the memory traffic of (cells x replicates) intermediates and hold
the GIL in parts of it (``np.bincount``, the many small calls across partitions), so the
audit's threads gain little. The C kernels work one replicate at a time in cache-sized
scratch and, called through ctypes, run with the GIL released.

The extension is built by ``pip install`` (setuptools compiles ``_kernels.c``). Where it is
missing (no C compiler at install time) or disabled with ``FAIRAUDIT_KERNELS=0``, callers use
the NumPy code paths instead, with the same numbers: counts and AUC numerators exactly, Brier
and ECE sums up to floating-point rounding (``tests/metrics/test_kernels.py`` checks both).
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import numpy as np

ABI_VERSION = 2


@cache
def library() -> Any | None:
    """The loaded kernel library, or None when it is unavailable or disabled."""
    if os.environ.get("FAIRAUDIT_KERNELS", "1") == "0":
        return None
    import ctypes
    import importlib.util

    try:
        spec = importlib.util.find_spec("fairaudit.metrics._kernels")
        if spec is None or spec.origin is None:
            return None
        lib = ctypes.CDLL(spec.origin)
    except (ImportError, OSError):
        return None
    lib.fa_abi_version.restype = ctypes.c_int64
    if lib.fa_abi_version() != ABI_VERSION:  # a stale build next to newer sources
        return None
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    lib.fa_count_rows.argtypes = [i64, ptr, ptr, ptr]
    lib.fa_count_rows.restype = None
    lib.fa_replicate_sums.argtypes = [i64, i64, ptr, i64, i64, *[ptr] * 6, i64, *[ptr] * 9,
                                      ptr, ptr, ptr]
    lib.fa_replicate_sums.restype = None
    return lib


def available() -> bool:
    """Whether the compiled kernels are in use."""
    return library() is not None


def _ptr(a: np.ndarray) -> int:
    return a.ctypes.data


def count_rows(rows: np.ndarray, row_cell: np.ndarray, out: np.ndarray) -> None:
    """``out[row_cell[rows]] += 1`` for every entry of ``rows`` (int64) into the contiguous
    float64 ``out``; ``row_cell`` is int32. Runs without the GIL."""
    lib = library()
    if lib is None:
        out += np.bincount(np.take(row_cell, rows), minlength=out.size)
        return
    if rows.dtype != np.int64 or row_cell.dtype != np.int32 or not out.flags.c_contiguous:
        raise TypeError("count_rows needs int64 rows, int32 cells and a contiguous output")
    lib.fa_count_rows(rows.size, _ptr(rows), _ptr(row_cell), _ptr(out))


def replicate_sums(x: np.ndarray, layout: Any) -> tuple[np.ndarray, np.ndarray]:
    """Linear sums (15, r, G) and AUC numerators (r, G) of every stacked group from replicate
    counts ``x`` (r, K), by the compiled kernel; ``layout`` is a
    :class:`fairaudit.metrics.replicates.KernelLayout`."""
    lib = library()
    if lib is None:
        raise RuntimeError("the compiled kernels are not available")
    x = np.ascontiguousarray(x, dtype=np.float64)
    r, k = x.shape
    lo = layout
    lin = np.empty((15, r, lo.n_groups))
    wins = np.empty((r, lo.n_groups))
    scratch = np.empty(2 * int(lo.slot_start[-1]) + 15 * (lo.n_fine + lo.n_groups))
    lib.fa_replicate_sums(
        r, k, _ptr(x), k, lo.n_fine, _ptr(lo.cell_fine), _ptr(lo.cell_conf), _ptr(lo.cell_ece),
        _ptr(lo.cell_label), _ptr(lo.coef_brier), _ptr(lo.coef_ece), lo.n_parts, _ptr(lo.order),
        _ptr(lo.source), _ptr(lo.group_offset), _ptr(lo.slot_start), _ptr(lo.slot_group),
        _ptr(lo.gmap_start), _ptr(lo.group_map), _ptr(lo.smap_start), _ptr(lo.slot_map),
        _ptr(lin), _ptr(wins), _ptr(scratch))
    return lin, wins
