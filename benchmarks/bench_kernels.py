"""The bootstrap's compiled kernels against their NumPy twins, in one run.

For the two many-group cases of ``bench_groups.py`` ((a) 1,000 groups of one attribute over 50k
rows; (b) five attributes with every intersection over 40k rows, 2,099 groups), 200 row-bootstrap
replicates are drawn once, then their 13 metrics for every group are computed by
``ReplicateMetrics.rows_into`` (as the audit's bootstrap calls it) on one thread, compiled and
NumPy, best of ``--repeat``. The audit gains more than this ratio: the kernels release the GIL,
so its bootstrap threads run side by side, which the NumPy path largely cannot. The two must
agree (AUC exactly, the rest to 1e-12; the script checks before it prints). For (b) it also prints
what each level of intersections adds to the kernel's time per replicate.

Then the row bootstrap's two samplers (``RowBootstrap``) against NumPy's multinomial on cell
counts from the same generator, per replicate: the Poissonised multinomial (compiled; ns a cell)
and uniform rows counted by cell (ns a row). Their ratio is ``RowBootstrap.INDEX_COST``.
Last, the other compiled loops against their NumPy twins (checked equal first): the cross-group
win counts of 1M rows (40 fine groups), the patient bootstrap's type-count table pass
(``TypeCounts.draw``, 400,000 types) and the AUC permutation tables (40 groups x 75 bins).

Usage: python benchmarks/bench_kernels.py [--repeat K] [--replicates R]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from fairaudit.metrics.bootstrap import ReplicateStreams, RowBootstrap
from fairaudit.metrics.cells import build_cells, make_partitions, overall_partition
from fairaudit.metrics.replicates import ReplicateMetrics
from fairaudit.result import METRIC_NAMES

CASES = {
    "a: 1,000 groups (50k rows)": (50_000, [1000]),
    "b: five attributes + intersections (40k rows)": (40_000, [6, 4, 3, 4, 2]),
}


def table(rows: int, sizes: list[int]):
    rng = np.random.default_rng(0)
    codes = np.stack([rng.integers(0, k, rows) for k in sizes], axis=1)
    y = (rng.random(rows) < 0.3).astype(np.int64)
    score = 1 / (1 + np.exp(-(rng.standard_normal(rows) + 1.5 * y - 0.5)))
    cells = build_cells(y, score, codes, 0.5)
    names = tuple(tuple(f"v{i}" for i in range(k)) for k in sizes)
    attrs = tuple(f"a{j}" for j in range(len(sizes)))
    return cells, [overall_partition(cells.n_fine), *make_partitions(cells, attrs, names)]


def best(plan: ReplicateMetrics, x: np.ndarray, repeat: int) -> float:
    """Fastest of ``repeat`` runs of ``plan.rows_into(x, ...)`` (what the audit's bootstrap
    calls: the 13 metrics of every group into preallocated arrays), in ms per replicate."""
    out = {k: np.zeros((x.shape[0], plan.n_groups)) for k in METRIC_NAMES}  # touched: no first-touch cost
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        plan.rows_into(x, out, 0)
        times.append(time.perf_counter() - t0)
    return min(times) / x.shape[0] * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--replicates", type=int, default=200)
    args = ap.parse_args()
    r = args.replicates
    print(f"{r} replicates, one thread, best of {args.repeat}; load {os.getloadavg()[0]:.1f}")
    print(f"{'case':48} {'groups':>6} {'cells':>6} {'numpy ms/rep':>12} {'kernel ms/rep':>13} {'ratio':>6}")
    for label, (rows, sizes) in CASES.items():
        cells, parts = table(rows, sizes)
        x = RowBootstrap(cells).draw_rows(ReplicateStreams(0), 0, r)
        compiled = ReplicateMetrics(cells, parts, compiled=True)
        if not compiled.compiled:
            raise SystemExit("the compiled kernels are not built (pip install -e .)")
        plain = ReplicateMetrics(cells, parts, compiled=False)
        got, ref = compiled.rows(x), plain.rows(x)
        for key in ref:
            np.testing.assert_allclose(got[key], ref[key], rtol=0, atol=0 if key == "auc" else 1e-12,
                                       equal_nan=True, err_msg=key)
        t_np = best(plain, x, args.repeat)
        t_c = best(compiled, x, args.repeat)
        print(f"{label:48} {sum(p.n_groups for p in parts):6d} {x.shape[1]:6d} {t_np:12.3f} "
              f"{t_c:13.3f} {t_np / t_c:5.1f}x")
        if len(sizes) > 2:
            print("  kernel time per replicate by the partitions included (attributes per partition):")
            for top in range(len(sizes), -1, -1):
                sub = [p for p in parts if len(p.attributes) >= top]
                plan = ReplicateMetrics(cells, sub, compiled=True)
                t = best(plan, x, args.repeat)
                print(f"    >= {top} attributes: {len(sub):2d} partitions, {t:.3f} ms")
    samplers(args.repeat, r)
    other_loops(args.repeat)


def _uniform_rows(n: int, row_cell: np.ndarray, out: np.ndarray, gen: np.random.Generator) -> None:
    """Each row of ``out`` from n uniform rows counted by cell (RowBootstrap's other sampler)."""
    from fairaudit.metrics import kernels

    for j in range(out.shape[0]):
        need = n
        while need:
            bits = gen.bit_generator.random_raw((need + 1) // 2).view(np.uint32)[:need]
            need = kernels.count_uniform(bits, n, row_cell, out[j])


def _numpy_multinomial(n: int, m: np.ndarray, r: int, gen: np.random.Generator) -> None:
    for _ in range(r):
        gen.multinomial(n, m / n)


def _best_us(fn, args: tuple, repeat: int, r: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return min(times) / r * 1e6


def samplers(repeat: int, r: int) -> None:
    """Per-replicate cost of the row bootstrap's samplers on tables of many rows per cell and of
    about two rows per cell, against ``numpy.random.Generator.multinomial``."""
    from fairaudit.metrics.multinomial import PoissonisedMultinomial

    print(f"\nrow-bootstrap samplers, {r} replicates, best of {repeat}")
    print(f"{'rows':>9} {'cells':>6} {'numpy multinomial us':>21} {'poissonised us':>15} {'ns/cell':>8} "
          f"{'uniform rows us':>16} {'ns/row':>7}")
    rng = np.random.default_rng(1)
    for n, k in ((1_000_000, 5_000), (200_000, 5_000), (50_000, 25_000)):
        m = np.bincount(rng.choice(k, n, p=rng.dirichlet(np.full(k, 2.0))), minlength=k)
        m = m[m > 0]
        plan = PoissonisedMultinomial(m)
        keys = rng.integers(0, 2**63, r, dtype=np.uint64)
        out = np.ones((r, m.size))  # touched: no first-touch cost
        at = np.arange(m.size)
        gen = np.random.Generator(np.random.SFC64(2))
        t_pois = _best_us(plan.draw, (keys, out, at), repeat, r)
        t_rows = _best_us(_uniform_rows, (n, np.repeat(at, m).astype(np.int32), out, gen), repeat, r)
        t_np = _best_us(_numpy_multinomial, (n, m, r, gen), repeat, r)
        print(f"{n:9,d} {m.size:6d} {t_np:21.0f} {t_pois:15.0f} {t_pois / m.size * 1e3:8.1f} "
              f"{t_rows:16.0f} {t_rows / n * 1e3:7.1f}")


def _best_pair(fn, repeat: int) -> tuple[float, float, object, object]:
    """Fastest of ``repeat`` runs of ``fn()`` compiled and with the kernels switched off (s),
    and the two results."""
    from fairaudit.metrics import kernels

    times: dict[bool, list[float]] = {True: [], False: []}
    out = {}
    real = kernels.library
    for _ in range(repeat):
        for compiled in (True, False):
            kernels.library = real if compiled else (lambda: None)  # type: ignore[assignment]
            try:
                t0 = time.perf_counter()
                out[compiled] = fn()
                times[compiled].append(time.perf_counter() - t0)
            finally:
                kernels.library = real
    return min(times[True]), min(times[False]), out[True], out[False]


def other_loops(repeat: int) -> None:
    from fairaudit.metrics.bootstrap import TypeCounts
    from fairaudit.metrics.rates import pairwise_wins
    from fairaudit.metrics.significance import random_tables_by_group

    print(f"\nother compiled loops against their NumPy twins, best of {repeat}")
    print(f"{'loop':58} {'numpy ms':>9} {'compiled ms':>12} {'ratio':>6}")
    rng = np.random.default_rng(3)
    n = 1_000_000
    y = (rng.random(n) < 0.3).astype(np.int64)
    s = rng.random(n)
    f = rng.integers(0, 40, n)
    order = np.argsort(s)
    rows: list[tuple[str, tuple[float, float, object, object]]] = [
        ("cross-group win counts, 1M rows, 40 fine groups", _best_pair(lambda: pairwise_wins(y, s, f, 40, order), repeat))]
    m = np.concatenate([np.ones(300_000, int), rng.integers(2, 60, 100_000)])
    types = TypeCounts(m)
    streams = ReplicateStreams(4)
    rows.append(("patient type counts, 400,000 types, 20 replicates",
                 _best_pair(lambda: np.concatenate([types.draw(streams.span(a, 2)) for a in range(0, 20, 2)]),
                            repeat)))
    group_rows = np.bincount(rng.integers(0, 40, 300_000), minlength=40)
    cols = np.bincount(rng.integers(0, 75, 300_000), minlength=75)
    rows.append(("AUC permutation tables, 40 groups x 75 bins, 60 tables",
                 _best_pair(lambda: random_tables_by_group(group_rows, cols, 60, np.random.default_rng(5)),
                            repeat)))
    for label, (t_c, t_np, got, ref) in rows:
        np.testing.assert_array_equal(got, ref, err_msg=label)
        print(f"{label:58} {t_np * 1e3:9.1f} {t_c * 1e3:12.1f} {t_np / t_c:5.1f}x")


if __name__ == "__main__":
    main()
