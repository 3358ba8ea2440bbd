"""Audits beyond one machine's memory: in memory, streaming and on a local Dask cluster.

Generates ``--rows`` predictions (default 20,000,000) in ``--files`` Parquet files (default 20;
sex x race x age band as ``bench_metrics.py``, row groups of 250,000 rows), then audits them,
each path in its own process so that its peak memory is its own:

- ``memory``: the classic engine (pandas frame of every file, exact ranks, multinomial
  bootstrap); skipped when the machine's available memory is less than twice an estimate;
- ``stream``: ``--engine stream --bootstrap-method poisson``;
- ``dask``: ``--engine dask --bootstrap-method poisson`` on a LocalCluster of ``--workers``
  single-threaded worker processes (peak memory: the driver, and the largest worker);
- fairlearn MetricFrame point estimates on the first 1,000,000 rows, for scale.

Prints, side by side: wall time, peak resident memory, and the largest difference of every
number of the JSON against the streaming path; for the in-memory path separately the largest
difference of point estimates and of AUCs (grid quantisation; must stay below 1e-6).

Usage: python benchmarks/bench_scale.py [--rows N] [--files K] [--workers W] [--bootstrap B]
       [--permutations P] [--dir DIR] [--skip memory,dask]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BYTES_PER_ROW_IN_MEMORY = 400
"""Rough peak of the classic in-memory path per row (pandas frame with three text columns)."""


def generate(where: Path, rows: int, files: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_metrics import make_data

    per = -(-rows // files)
    for i in range(files):
        n = min(per, rows - i * per)
        if n <= 0:
            break
        df = make_data(n, seed=i)
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), where / f"part-{i:03d}.parquet",
                       row_group_size=250_000)


def _peak_mb(children: bool = True) -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 if children else 0.0
    return own, kids


def run_path(kind: str, data: Path, out: Path, args: argparse.Namespace) -> dict:
    """One path, in this (fresh) process: time, peak memory, the JSON written to ``out``."""
    from fairaudit.metrics import AuditConfig
    from fairaudit.report import render

    t0 = time.perf_counter()
    config = AuditConfig(n_bootstrap=args.bootstrap, n_permutations=args.permutations, seed=0)
    extra = {}
    if kind == "memory":
        import pyarrow.parquet as pq

        from fairaudit.api import audit_dataset
        from fairaudit.data import from_frame

        frame = pq.read_table(data).to_pandas()
        ds = from_frame(frame, label="y", sensitive=["sex", "race", "age"], score="score")
        del frame
        result = audit_dataset(ds, threshold=0.5, n_bootstrap=args.bootstrap,
                               n_permutations=args.permutations, seed=0)
    elif kind == "fairlearn":
        import pyarrow.parquet as pq
        from fairlearn.metrics import (
            MetricFrame,
            false_positive_rate,
            selection_rate,
            true_positive_rate,
        )
        from sklearn.metrics import accuracy_score

        first = sorted(data.glob("*.parquet"))[0]
        df = pq.read_table(first).slice(0, 1_000_000).to_pandas()
        t0 = time.perf_counter()
        _ = MetricFrame(metrics={"selection_rate": selection_rate, "tpr": true_positive_rate,
                                 "fpr": false_positive_rate, "accuracy": accuracy_score},
                        y_true=df.y, y_pred=(df.score >= 0.5).astype(int),
                        sensitive_features=df[["sex", "race", "age"]]).by_group
        return {"seconds": time.perf_counter() - t0, "peak_mb": _peak_mb()[0], "worker_mb": 0.0}
    else:
        from fairaudit.workflows.scale import audit_scaled

        scaled = audit_scaled(data, label="y", sensitive="sex,race,age", threshold=0.5,
                              engine=kind, bootstrap_method="poisson", config=config,
                              n_workers=args.workers)
        result = scaled.result
        extra = {"auc_error_bound": scaled.merged.auc_error_bound, "partitions": scaled.n_partitions}
    seconds = time.perf_counter() - t0
    out.write_text(render(result, "json"))
    own, kids = _peak_mb()
    return {"seconds": seconds, "peak_mb": own, "worker_mb": kids if kind == "dask" else 0.0, **extra}


def _numbers(obj, prefix=""):
    """Every number of a JSON document by its path (lists of curve points included)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _numbers(v, f"{prefix}/{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _numbers(v, f"{prefix}/{i}")
    elif isinstance(obj, int | float) and not isinstance(obj, bool):
        yield prefix, float(obj)


def _payload(path: Path) -> dict:
    doc = json.loads(path.read_text())
    doc.pop("run", None)
    return doc


def largest_difference(a: Path, b: Path, only: str | None = None) -> float:
    na, nb = dict(_numbers(_payload(a))), dict(_numbers(_payload(b)))
    keys = [k for k in na if k in nb and (only is None or k.endswith(only))]
    return max((abs(na[k] - nb[k]) for k in keys), default=float("nan"))


def point_difference(a: Path, b: Path) -> tuple[float, float]:
    """Largest difference of per-group point estimates: (all but AUC, AUC)."""
    ga = {(g["attribute"], g["group"]): g for g in _payload(a)["groups"]}
    gb = {(g["attribute"], g["group"]): g for g in _payload(b)["groups"]}
    other = auc = 0.0
    for key, g in ga.items():
        for metric, est in g["metrics"].items():
            v, w = est.get("value"), gb[key]["metrics"][metric].get("value")
            if v is None or w is None:
                continue
            if metric == "auc":
                auc = max(auc, abs(v - w))
            else:
                other = max(other, abs(v - w))
    return other, auc


def _available_mb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--dir", type=Path, default=None, help="keep the data here (reused if present)")
    parser.add_argument("--skip", default="", help="comma-separated paths to skip: memory, stream, dask, fairlearn")
    parser.add_argument("--run", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_path(args.run, args.dir, args.out, args)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        data = args.dir or Path(tmp) / "data"
        data.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        if not any(data.glob("*.parquet")):
            generate(data, args.rows, args.files)
        print(f"{args.rows:,} rows in {args.files} files ({time.perf_counter() - t0:.0f} s to "
              f"generate); {args.bootstrap} replicates, {args.permutations} permutations; "
              f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        skip = set(filter(None, args.skip.split(",")))
        if args.rows * BYTES_PER_ROW_IN_MEMORY / 2**20 * 2 > _available_mb():
            skip.add("memory")
            print("memory: skipped (needs about "
                  f"{args.rows * BYTES_PER_ROW_IN_MEMORY / 2**30:.1f} GB, twice that is not available)")
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        results, outs = {}, {}
        for kind in ("stream", "dask", "memory", "fairlearn"):
            if kind in skip:
                continue
            outs[kind] = Path(tmp) / f"{kind}.json"
            cmd = [sys.executable, __file__, "--run", kind, "--dir", str(data), "--out", str(outs[kind]),
                   "--bootstrap", str(args.bootstrap), "--permutations", str(args.permutations),
                   "--workers", str(args.workers)]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                print(f"{kind}: failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
                continue
            results[kind] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{'path':10} {'time (s)':>9} {'peak MB':>9} {'worker MB':>10} {'max |diff| vs stream':>22}")
        for kind, r in results.items():
            diff = "-"
            if kind in ("dask",) and "stream" in results:
                diff = f"{largest_difference(outs['stream'], outs[kind]):.3g} (every number)"
            elif kind == "memory" and "stream" in results:
                other, auc = point_difference(outs["stream"], outs[kind])
                diff = f"points {other:.2g}, AUC {auc:.2g}"
            print(f"{kind:10} {r['seconds']:9.1f} {r['peak_mb']:9.0f} {r['worker_mb']:10.0f} {diff:>22}")
        if "stream" in results:
            print(f"AUC grid error bound (largest over groups): {results['stream']['auc_error_bound']:.2e}")
        if "memory" not in results and "stream" in results and "dask" in results:
            print("(AUC of the merged paths against exact ranks: run with fewer --rows so the "
                  "in-memory path fits)")


if __name__ == "__main__":
    main()
