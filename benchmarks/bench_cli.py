"""The command line against fairlearn, each from a cold process, on the same files in one run.

1,000,000 predictions (sex x race x age band, as ``bench_metrics.py``) written once as Parquet
and as CSV. Timed, each in a fresh Python process (imports, reading and computing included):

(a) fairlearn MetricFrame point estimates (selection rate, TPR, FPR, accuracy by the three
    features) after ``pandas.read_parquet`` / ``pandas.read_csv``;
(b) ``fairaudit audit`` with default options (1000 bootstrap replicates, 1000 permutations,
    every attribute and intersection) writing the JSON.

Prints the best of ``--repeat`` wall times and the ratios a/b. Targets (issue 16): Parquet
>= 25x, CSV >= 10x.

fairaudit's modules are byte-compiled first (``compileall``), as ``pip install`` does for an
installed package and as fairlearn's are: in a checkout with ``PYTHONDONTWRITEBYTECODE`` set (this
machine sets it), every cold process would otherwise compile the package's sources again.

Usage: python benchmarks/bench_cli.py [--rows N] [--repeat K] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FAIRLEARN = """
import sys, warnings
warnings.simplefilter("ignore")
import pandas as pd
from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
from sklearn.metrics import accuracy_score
path = sys.argv[1]
df = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
mf = MetricFrame(metrics={"selection_rate": selection_rate, "tpr": true_positive_rate,
                          "fpr": false_positive_rate, "accuracy": accuracy_score},
                 y_true=df.y, y_pred=(df.score >= 0.5).astype(int),
                 sensitive_features=df[["sex", "race", "age"]])
mf.by_group
"""


def best_time(cmd: list[str], repeat: int, env: dict) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of K runs for each timing")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the data (default: a temp dir)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_metrics import make_data

    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "fairaudit")], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        where = args.dir or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        df = make_data(args.rows)
        files = {"parquet": where / "bench.parquet", "csv": where / "bench.csv"}
        df.to_parquet(files["parquet"], index=False)
        df.to_csv(files["csv"], index=False)
        print(f"{args.rows:,} rows; best of {args.repeat} cold-process runs; load {os.getloadavg()[0]:.1f}")
        print(f"{'file':8} {'fairlearn (s)':>14} {'fairaudit (s)':>14} {'ratio':>7}")
        for kind, path in files.items():
            fl = best_time([sys.executable, "-c", FAIRLEARN, str(path)], args.repeat, env)
            fa = best_time([sys.executable, "-m", "fairaudit", "audit", "-p", str(path), "-l", "y",
                            "-a", "sex,race,age", "--threshold", "0.5", "-f", "json", "-o",
                            str(where / f"out-{kind}.json"), "-q"], args.repeat, env)
            print(f"{kind:8} {fl:14.2f} {fa:14.2f} {fl / fa:6.1f}x")


if __name__ == "__main__":
    main()
