"""The compiled kernels (``_kernels.c``), loaded with ctypes, and their NumPy twins.

The replicate metrics of many small groups are many short, scattered sums: NumPy and SciPy
spend most of their time on the memory traffic of (cells x replicates) intermediates and hold
the GIL in parts of it (``np.bincount``, the many small calls across partitions), so the
audit's threads gain little. The C kernels work one replicate at a time in cache-sized
scratch and, called through ctypes, run with the GIL released. Beside the bootstrap they hold
the cells' row pass, the sums of fine groups into groups and the beta quantiles of the exact
binomial bounds, so that an audit imports no SciPy (about 0.13 s of a cold command line).

The extension is built by ``pip install`` (setuptools compiles ``_kernels.c``). Where it is
missing (no C compiler at install time) or disabled with ``FAIRAUDIT_KERNELS=0``, callers use
the NumPy (or SciPy) code paths instead, with the same numbers: counts, group sums and AUC
numerators exactly, Brier and ECE sums up to floating-point rounding, beta quantiles to about
1e-12 relative (``tests/metrics/test_kernels.py`` checks each).
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import numpy as np

ABI_VERSION = 14

# The parameters of fa_replicate_sums in order: the scalars, then arrays by their name in the
# call (``x`` and the outputs) or on the layout (every other one).
_SUMS_ARGS = (
    "r", "K", "x", "ldx", "n_fine", "cell_conf", "cell_ece", "cell_label", "coef_brier",
    "coef_ece", "fine_start", "fine_pos", "cell_lt", "cell_le", "n_parts", "order", "source",
    "group_offset", "slot_start", "slot_group", "gmap_start", "group_map", "smap_start",
    "slot_map", "lin_out", "wins_out", "n_metrics", "metric_kind", "metric_a", "metric_b",
    "metric_out", "out_row0", "scratch",
)
_SCALARS = {"r", "K", "ldx", "n_fine", "n_parts", "n_metrics", "out_row0"}
_OPTIONAL = {"lin_out", "wins_out"}  # NULL when not asked for
# The C type of every array parameter (a wrong one would be read as other memory).
_DTYPES = {
    **dict.fromkeys(("cell_conf", "cell_ece", "cell_label", "metric_kind", "metric_a",
                     "metric_b"), np.int8),
    **dict.fromkeys(("cell_lt", "cell_le", "order", "source", "slot_group", "group_map",
                     "slot_map"), np.int32),
    **dict.fromkeys(("fine_start", "fine_pos", "group_offset", "slot_start", "gmap_start",
                     "smap_start", "metric_out"), np.int64),
    **dict.fromkeys(("x", "coef_brier", "coef_ece", "lin_out", "wins_out", "scratch"), np.float64),
}


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
        import warnings

        warnings.warn(f"fairaudit's compiled kernels ({spec.origin}) are from another version "
                      f"(interface {lib.fa_abi_version()}, this code needs {ABI_VERSION}); "
                      "using the slower NumPy code. Reinstall fairaudit (`pip install -e .` in "
                      "a checkout) to rebuild them.", RuntimeWarning, stacklevel=2)
        return None
    lib.fa_count_uniform32.argtypes = [ctypes.c_int64, ctypes.c_void_p, ctypes.c_uint32,
                                       ctypes.c_void_p, ctypes.c_void_p]
    lib.fa_count_uniform32.restype = ctypes.c_int64
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    lib.fa_multinomial_poisson.argtypes = [i64, i64, ptr, i64, ptr, ptr, i64, ptr, ptr, i64, i64,
                                           ptr, ptr, i64]
    lib.fa_multinomial_poisson.restype = i64
    lib.fa_pairwise_wins.argtypes = [i64, ptr, ptr, ptr, ptr, i64, ptr, ptr, ptr]
    lib.fa_pairwise_wins.restype = None
    lib.fa_type_lookup.argtypes = [i64, i64, ptr, i64, i64, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr, i64]
    lib.fa_type_lookup.restype = ctypes.c_int64
    lib.fa_random_tables.argtypes = [i64, i64, i64, ptr, ptr, i64, i64, ptr, ptr]
    lib.fa_random_tables.restype = None
    lib.fa_replicate_sums.argtypes = [ctypes.c_int64 if a in _SCALARS else ctypes.c_void_p
                                      for a in _SUMS_ARGS]
    lib.fa_replicate_sums.restype = None
    lib.fa_cell_sums.argtypes = [i64, ptr, ptr, ptr, ptr, i64, ptr, ptr, ptr]
    lib.fa_cell_sums.restype = None
    lib.fa_group_sums.argtypes = [i64, i64, ptr, ptr, i64, ptr]
    lib.fa_group_sums.restype = None
    lib.fa_beta_quantile.argtypes = [i64, ptr, ptr, ptr, ptr]
    lib.fa_beta_quantile.restype = None
    return lib


def available() -> bool:
    """Whether the compiled kernels are in use."""
    return library() is not None


def description() -> str:
    """``"compiled"`` or ``"numpy"``: which code computes the bootstrap's sums (the run record
    keeps it, as the two agree only up to the last bits of Brier and ECE sums and of the exact
    binomial bounds)."""
    return "compiled" if available() else "numpy"


def cell_sums(row_fine: np.ndarray, labels: np.ndarray, row_bin: np.ndarray, scores: np.ndarray,
              n_fine: int, n_bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count, score sum and squared-score sum of every (fine group, label, bin) cell, each
    (F, 2, B): rows added one by one in order, as ``np.bincount`` adds them (the NumPy twin,
    three passes over the rows where the kernel makes one)."""
    n = row_fine.shape[0]
    if labels.shape != (n,) or row_bin.shape != (n,) or scores.shape != (n,):
        raise ValueError("cell sums need one fine group, label, bin and score per row")
    shape, size = (n_fine, 2, n_bins), n_fine * 2 * n_bins
    lib = library()
    if lib is None:
        cell = (row_fine * 2 + labels) * n_bins + row_bin
        return (np.bincount(cell, minlength=size).astype(np.float64).reshape(shape),
                np.bincount(cell, weights=scores, minlength=size).reshape(shape),
                np.bincount(cell, weights=scores * scores, minlength=size).reshape(shape))
    out = [np.zeros(shape) for _ in range(3)]
    if n:
        args = [np.ascontiguousarray(a, dtype=np.int64) for a in (row_fine, labels, row_bin)]
        if min(int(a.min()) for a in args) < 0 or int(args[0].max()) >= n_fine or \
                int(args[1].max()) > 1 or int(args[2].max()) >= n_bins:
            raise ValueError("a row's fine group, label or bin is outside the table")
        s = np.ascontiguousarray(scores, dtype=np.float64)
        lib.fa_cell_sums(n, *(_ptr(a) for a in args), _ptr(s), n_bins, *(_ptr(o) for o in out))
    return out[0], out[1], out[2]


def group_sums(x: np.ndarray, member: np.ndarray, out: np.ndarray) -> None:
    """``out[member[f]] += x[f]`` for f = 0, 1, ... in order, skipping ``member[f] < 0``: the
    rows of ``x`` (F, k) summed into the rows of ``out`` (G, k), both float64 C-contiguous
    (``out`` may be a slice of rows of a larger array), ``member`` int64 (F,). Each sum runs
    in fine-group order, like ``np.add.at`` (the NumPy twin) and SciPy's CSR product."""
    if x.ndim != 2 or out.ndim != 2 or x.shape[1] != out.shape[1] or member.shape != x.shape[:1]:
        raise ValueError("group sums need x (F, k), member (F,) and out (G, k)")
    if member.size and member.max() >= out.shape[0]:
        raise ValueError("a fine group's member index is past the output's rows")
    lib = library()
    if lib is None:
        keep = member >= 0
        np.add.at(out, member[keep], x[keep])
        return
    _checked(x, np.float64, "x")
    _checked(out, np.float64, "out")
    _checked(member, np.int64, "member")
    lib.fa_group_sums(x.shape[0], x.shape[1], _ptr(x), _ptr(member), out.shape[0], _ptr(out))


def beta_quantile(a: np.ndarray | float, b: np.ndarray | float, p: np.ndarray | float) -> np.ndarray:
    """The ``p`` quantile of Beta(``a``, ``b``), broadcast: ``scipy.special.betaincinv(a, b, p)``
    (NaN where ``a`` or ``b`` is not positive and finite or ``p`` is outside [0, 1]).

    Compiled where the kernels are (``fa_beta_quantile``: Newton's method on the log of the
    smaller tail, the incomplete beta from its continued fraction or power series and Loader's
    saddle-point prefactor), so that an audit does not import SciPy's special functions; SciPy
    otherwise. ``tests/metrics/test_kernels.py`` holds the kernel to SciPy within 3e-12 for
    binomial bounds up to 100,000 trials, and within 1e-13 of 50-digit arithmetic for a few
    events in millions of trials, where SciPy 1.17 itself is off by up to 1e-9.
    """
    lib = library()
    if lib is None:
        from scipy.special import betaincinv

        with np.errstate(invalid="ignore"):
            return np.asarray(betaincinv(a, b, p), dtype=np.float64)
    shape = np.broadcast(a, b, p).shape
    a, b, p = (np.ascontiguousarray(np.broadcast_to(v, shape), dtype=np.float64).ravel()
               for v in (a, b, p))
    out = np.empty(a.shape)
    lib.fa_beta_quantile(a.size, _ptr(a), _ptr(b), _ptr(p), _ptr(out))
    return out.reshape(shape)


def _ptr(a: np.ndarray) -> int:
    return a.ctypes.data


def _checked(a: np.ndarray, dtype: type, name: str) -> np.ndarray:
    """An array handed to C must have the C type and be contiguous (flat memory)."""
    if a.dtype != dtype or not a.flags.c_contiguous:
        raise TypeError(f"kernel array {name!r} must be C-contiguous {np.dtype(dtype).name}, "
                        f"got {a.dtype.name}")
    return a


def count_uniform(bits: np.ndarray, n: int, row_cell: np.ndarray, out: np.ndarray) -> int:
    """Count into ``out`` the cells of the rows that the 32-bit values ``bits`` make uniform in
    ``[0, n)`` (Lemire's multiply-shift: row ``(bits * n) >> 32``); a value whose low 32 bits of
    the product fall below ``2**32 mod n`` is rejected, so the rows are exactly uniform. Returns
    how many were rejected (each with probability below ``n / 2**32``), for the caller to redraw.
    Runs without the GIL."""
    if not 0 < n < 1 << 32 or bits.dtype != np.uint32 or row_cell.dtype != np.int32:
        raise TypeError("count_uniform needs uint32 bits, int32 cells and 0 < n < 2**32")
    if not (bits.flags.c_contiguous and out.flags.c_contiguous and out.dtype == np.float64):
        raise TypeError("count_uniform needs contiguous bits and a contiguous float64 output")
    lib = library()
    if lib is None:
        m = bits.astype(np.uint64) * np.uint64(n)
        keep = (m & np.uint64(0xFFFFFFFF)) >= np.uint64((1 << 32) % n)
        out += np.bincount(row_cell[(m[keep] >> np.uint64(32)).astype(np.int64)], minlength=out.size)
        return int(bits.size - np.count_nonzero(keep))
    return int(lib.fa_count_uniform32(bits.size, _ptr(bits), n, _ptr(row_cell), _ptr(out)))


def pairwise_wins(order: np.ndarray, scores: np.ndarray, labels: np.ndarray, fine: np.ndarray,
                  n_fine: int) -> np.ndarray:
    """Cross-group Mann-Whitney counts (F, F) by the compiled kernel
    (:func:`fairaudit.metrics.rates.pairwise_wins` documents them). Runs without the GIL."""
    lib = library()
    if lib is None:
        raise RuntimeError("the compiled kernels are not available")
    n = scores.size
    order, labels, fine = (np.ascontiguousarray(a, dtype=np.int64) for a in (order, labels, fine))
    scores = np.ascontiguousarray(scores, dtype=np.float64)
    if not order.size == labels.size == fine.size == n:
        raise ValueError("order, scores, labels and fine groups must have one entry per row")
    if n and not (0 <= int(order.min()) and int(order.max()) < n and 0 <= int(fine.min())
                  and int(fine.max()) < n_fine):
        raise ValueError("row order or fine group out of range")
    wins = np.empty((n_fine, n_fine))
    scratch = np.empty(3 * n_fine)
    touched = np.empty(n_fine, dtype=np.int64)
    lib.fa_pairwise_wins(n, _ptr(order), _ptr(scores), _ptr(labels), _ptr(fine), n_fine, _ptr(wins),
                         _ptr(scratch), _ptr(touched))
    return wins


def type_lookup(cells: np.ndarray, runs: list[tuple[int, int, np.ndarray]], k: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The table pass of :meth:`fairaudit.metrics.bootstrap.TypeCounts.draw` by the compiled
    kernel: ``k[i, a:b] = lut[cells[i, a:b]]`` for every run ``(a, b, lut)`` (a 65,536-entry
    int16 or int64 table), and the (replicate, type, run) of every entry of -1, in (replicate,
    type) order. Runs without the GIL."""
    lib = library()
    if lib is None:
        raise RuntimeError("the compiled kernels are not available")
    _checked(cells, np.uint16, "cells")
    _checked(k, np.float64, "k")
    r, t = k.shape
    if cells.ndim != 2 or cells.shape[0] != r or cells.shape[1] < t:
        raise ValueError("one 16-bit cell per type and replicate")
    for a, b, lut in runs:
        if not (0 <= a <= b <= t and lut.shape == (1 << 16,) and lut.dtype in (np.int16, np.int64)
                and lut.flags.c_contiguous):
            raise ValueError("a run must be types a..b-1 with a contiguous 65,536-entry int16/int64 table")
    run_a = np.array([a for a, _, _ in runs], dtype=np.int64)
    run_b = np.array([b for _, b, _ in runs], dtype=np.int64)
    lut_at = np.array([lut.ctypes.data for _, _, lut in runs], dtype=np.int64)
    wide = np.array([lut.dtype == np.int64 for _, _, lut in runs], dtype=np.int8)
    capacity = max(1024, r * t // 256)
    while True:
        found = [np.empty(capacity, dtype=np.int64) for _ in range(3)]
        n = int(lib.fa_type_lookup(r, t, _ptr(cells), cells.shape[1], len(runs), _ptr(run_a), _ptr(run_b),
                                   _ptr(lut_at), _ptr(wide), _ptr(k), *map(_ptr, found), capacity))
        if n <= capacity:
            return found[0][:n], found[1][:n], found[2][:n]
        capacity = n


@cache
def _numpy_mvhg() -> int | None:
    """Address of NumPy's C multivariate hypergeometric sampler ("marginals"), which
    ``numpy.random``'s generator module exports, or None where it does not."""
    import ctypes

    try:
        from numpy.random import _generator

        return ctypes.cast(ctypes.CDLL(_generator.__file__).random_multivariate_hypergeometric_marginals,
                           ctypes.c_void_p).value
    except (AttributeError, OSError, ImportError):
        return None


def random_tables(rows: np.ndarray, cols: np.ndarray, r: int, rng: np.random.Generator
                  ) -> np.ndarray | None:
    """(G, r, B) random tables with row sums ``rows`` and column sums ``cols``, table by table,
    group by group, by the compiled kernel calling NumPy's own C sampler on ``rng``'s bit
    generator: the tables of ``significance._tables_by_rows`` (the same draws of the same
    stream), without a Python call per draw. None when the kernels or NumPy's sampler are
    unavailable. Holds ``rng``'s lock, and runs without the GIL."""
    lib, mvhg = library(), _numpy_mvhg()
    if lib is None or mvhg is None:
        return None
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    cols = np.ascontiguousarray(cols, dtype=np.int64)
    if rows.sum() != cols.sum() or (rows < 0).any() or (cols < 0).any():
        raise ValueError("random tables need non-negative margins with equal totals")
    out = np.empty((rows.size, r, cols.size), dtype=np.int64)
    pool = np.empty(cols.size, dtype=np.int64)
    bitgen = rng.bit_generator
    with bitgen.lock:
        lib.fa_random_tables(r, rows.size, cols.size, _ptr(rows), _ptr(cols), mvhg,
                             bitgen.ctypes.bit_generator.value, _ptr(out), _ptr(pool))
    return out


def multinomial_poisson(keys: np.ndarray, plan: Any, out: np.ndarray, at: np.ndarray) -> int:
    """Write replicate ``j``'s multinomial counts (drawn from ``keys[j]`` by ``plan``, a
    :class:`fairaudit.metrics.multinomial.PoissonisedMultinomial`) to ``out[j, at]``, by the
    compiled kernel; returns the rounds redrawn. Runs without the GIL."""
    lib = library()
    if lib is None:
        raise RuntimeError("the compiled kernels are not available")
    keys = _checked(keys, np.uint64, "keys")
    at = _checked(at, np.int64, "at")
    _checked(out, np.float64, "out")
    k = plan.params.shape[0]
    if out.ndim != 2 or out.shape[0] != keys.size or at.size != k or (k and int(at.max()) >= out.shape[1]):
        raise ValueError("out must be (replicates, columns) with a column for every cell")
    if plan.params.shape != (k, 6) or plan.cum.shape != (k + 1,) or plan.n < 2 or \
            plan.guide.shape != (((plan.n - 1) >> plan.guide_shift) + 1,):
        raise ValueError("a multinomial plan needs 6 parameters per cell, K + 1 row offsets, "
                         "a guide entry per block of rows and at least 2 rows")
    params, logfact, cum, guide = (_checked(a, d, name) for a, d, name in (
        (plan.params, np.float64, "params"), (plan.logfact, np.float64, "logfact"),
        (plan.cum, np.int64, "cum"), (plan.guide, np.int32, "guide")))
    return int(lib.fa_multinomial_poisson(keys.size, k, _ptr(keys), plan.n, _ptr(params), _ptr(logfact),
                                          logfact.size, _ptr(cum), _ptr(guide), plan.guide_shift,
                                          plan.nbits, _ptr(at), _ptr(out), out.shape[1]))


def replicate_sums(x: np.ndarray, layout: Any) -> tuple[np.ndarray, np.ndarray]:
    """Linear sums (15, r, G) and AUC numerators (r, G) of every stacked group from replicate
    counts ``x`` (r, K), by the compiled kernel; ``layout`` is a
    :class:`fairaudit.metrics.replicates.KernelLayout`."""
    r = x.shape[0]
    lin = np.empty((15, r, layout.n_groups))
    wins = np.empty((r, layout.n_groups))
    _call(x, layout, lin_out=lin, wins_out=wins)
    return lin, wins


def replicate_metrics(x: np.ndarray, layout: Any, table: Any, out: list[np.ndarray | None],
                      row0: int) -> None:
    """Write the metrics of replicate counts ``x`` (r, K) into rows ``row0`` to
    ``row0 + r - 1`` of the (rows, G) arrays ``out`` (one per metric of ``table``, a
    :class:`fairaudit.metrics.replicates.MetricTable`; None: not written), by the compiled
    kernel, without intermediate arrays."""
    if len(out) != table.kind.size:
        raise ValueError("one output (or None) per metric of the table")
    for m in np.flatnonzero(table.kind == 1):  # a mean reads its two inputs' outputs back
        if out[table.a[m]] is None or out[table.b[m]] is None:
            raise ValueError(f"metric {table.names[m]!r} needs the outputs of the metrics it averages")
    for a in out:
        if a is not None:
            _checked(a, np.float64, "metric output")
            if a.ndim != 2 or a.shape[1] != layout.n_groups or not 0 <= row0 <= a.shape[0] - x.shape[0]:
                raise ValueError("metric outputs must be (rows, groups) with room for the replicates")
    addresses = np.array([0 if a is None else a.ctypes.data for a in out], dtype=np.int64)
    _call(x, layout, n_metrics=len(out), metric_kind=table.kind, metric_a=table.a,
          metric_b=table.b, metric_out=addresses, out_row0=row0)


def _call(x: np.ndarray, layout: Any, **given: Any) -> None:
    lib = library()
    if lib is None:
        raise RuntimeError("the compiled kernels are not available")
    x = np.ascontiguousarray(x, dtype=np.float64)
    r, k = x.shape
    lo = layout
    scratch = np.empty(2 * int(lo.slot_start[-1]) + 16 * lo.n_groups + 15 * lo.n_fine + lo.max_neg + 1)
    none = np.zeros(0, np.int8)
    given = {"n_metrics": 0, "metric_kind": none, "metric_a": none, "metric_b": none,
             "metric_out": np.zeros(0, np.int64), "out_row0": 0, "lin_out": None, "wins_out": None,
             **given, "r": r, "K": k, "x": x, "ldx": k, "scratch": scratch}
    args: list[int | None] = []
    for name in _SUMS_ARGS:
        a = given[name] if name in given else getattr(lo, name)
        if name in _SCALARS:
            args.append(int(a))
        elif a is None and name in _OPTIONAL:
            args.append(None)
        else:
            args.append(_ptr(_checked(a, _DTYPES[name], name)))
    lib.fa_replicate_sums(*args)
