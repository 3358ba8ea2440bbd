"""Cost in groups and in patients: each case in a fresh process, wall time and peak memory.

(a) 50,000 rows, 5 groups vs 1,000 groups of one attribute; default options (1,000 bootstrap
    replicates, 1,000 permutations). Target: 1,000 groups <= 4x the time of 5.
(b) 40,000 rows, five attributes (site 6, ward 4, insurer 3, age band 4, sex 2) with every
    intersection (about 2,000 groups in all, as in a real clinical table with 1,759) vs the
    first attribute alone.
    Target: five attributes <= 4x the time of one, under 1 GB.
(c) 5,000,000 rows from 2,500,000 patients (two studies each, sex x race x age = 40 groups):
    patient (cluster) bootstrap vs row bootstrap on the same rows, 1,000 replicates, no
    permutations. Target: cluster <= 3x row, under 2 GB.

Each timing is the audit computation through the Python API (``fairaudit.api.audit_dataset``
on a validated dataset), after the table is built; peak memory is the process's maximum RSS.
For (a) and (b) the same audit runs a second time in the same process ("warm": lazy imports
done, memory already mapped), and its ratio is printed too: the cost of the groups themselves.
(Before session 15 the first audit also paid SciPy's imports, about 0.1 s; an audit no longer
imports SciPy, so the two ratios now agree.)

``--phases`` prints, for (a) and (b), where the warm audit's time goes: each phase's time
summed over the threads that ran it (the audit runs its bootstrap and its tests on both cores,
so the phases add up to more than the wall time), measured by wrapping the engine's functions
in the benchmark's own process (a few microseconds a call). These are the numbers behind
docs/statistics.md, *Cost*: why (a) and (b) are not at 4x.
Each case runs ``--repeat`` times (default 3), base and case alternately, and the fastest wall
time of each is kept (with that run's CPU time), as ``timeit`` and ``bench_cli.py`` do: on a
shared machine a single run swings by a tenth of a second, most of the base case.
Wall time and CPU time are both printed, with the load average before each pair. The targets
are about time as a user waits for it (wall); the audit runs its bootstrap on every core
(``jobs=0``), so CPU time adds the threads' time and shows the total work. On a shared machine
the wall ratio swings with the load: compare the two ratios.

Usage: python benchmarks/bench_groups.py [--only a,b,c] [--cluster-rows N] [--repeat K]
                                        [--cold-only] [--phases]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CASE = r"""
import json, resource, sys, time
import numpy as np, pandas as pd
from fairaudit.data import from_frame
from fairaudit.api import audit_dataset
spec = json.loads(sys.argv[1])
phases = {}
if spec.get("phases"):
    import collections
    from fairaudit.metrics import bootstrap, engine, replicates
    phases = collections.Counter()
    def wrap(owner, name, label):
        f = getattr(owner, name)
        def timed_call(*a, **k):
            t = time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                phases[label] += time.perf_counter() - t
        setattr(owner, name, timed_call)
    for owner, name, label in [
            (bootstrap.RowBootstrap, "draw_rows", "draws"), (bootstrap.ClusterBootstrap, "draw_rows", "draws"),
            (replicates.ReplicateMetrics, "rows_into", "replicate sums"),
            (engine, "max_t_statistics", "max-t"), (engine, "percentile_ci", "percentiles"),
            (engine, "criterion_pvalues", "permutation tests"), (engine, "estimate_cells", "estimate (wall)"),
            (engine, "finish_audit", "finish (wall)")]:
        wrap(owner, name, label)
rng = np.random.default_rng(0)
n = spec["rows"]
cols = {}
for name, k in spec["attributes"]:
    cols[name] = np.array([f"{name}{i:04d}" for i in range(k)])[rng.integers(0, k, n // spec.get("per", 1))]
per = spec.get("per", 1)
if per > 1:
    cols = {k: np.repeat(v, per) for k, v in cols.items()}
    cols["patient"] = np.repeat(np.arange(n // per), per)
y = (rng.random(n) < 0.3).astype(np.int8)
score = 1 / (1 + np.exp(-(rng.standard_normal(n) + 1.5 * y - 0.5)))
df = pd.DataFrame({"y": y, "score": score, **cols})
ds = from_frame(df, label="y", sensitive=[a for a, _ in spec["attributes"]], score="score",
                cluster=spec.get("cluster"), allow_many_groups=True)
def timed():
    t0, c0 = time.perf_counter(), time.process_time()
    res = audit_dataset(ds, threshold=0.5, n_bootstrap=spec["boot"], n_permutations=spec["perm"],
                        min_group_size=0, min_group_events=1)
    return time.perf_counter() - t0, time.process_time() - c0, res
dt, dc, res = timed()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
if phases:
    phases.clear()
warm = timed()[0] if spec.get("warm") else float("nan")
print(json.dumps({"seconds": dt, "cpu": dc, "peak_mb": peak, "groups": len(res.groups), "warm": warm,
                  "phases": dict(phases)}))
"""


def run(spec: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", CASE, json.dumps(spec)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="a,b,c")
    ap.add_argument("--cluster-rows", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each case; the fastest is kept")
    ap.add_argument("--cold-only", action="store_true", help="skip the second (warm) audit of (a) and (b)")
    ap.add_argument("--phases", action="store_true",
                    help="after the table, where the warm audits of (a) and (b) spend their time")
    args = ap.parse_args(argv)
    if args.phases and args.cold_only:
        ap.error("--phases times the warm audit; drop --cold-only")
    only = set(args.only.split(","))
    pairs = []
    if "a" in only:
        base = {"rows": 50_000, "boot": 1000, "perm": 1000, "warm": True}
        pairs.append(("a: 1,000 groups / 5 groups (50k rows)",
                      {**base, "attributes": [["site", 5]]}, {**base, "attributes": [["site", 1000]]}, 4))
    if "b" in only:
        base = {"rows": 40_000, "boot": 1000, "perm": 1000, "warm": True}
        five = [["site", 6], ["ward", 4], ["insurer", 3], ["ageband", 4], ["sex", 2]]
        pairs.append(("b: five attributes + intersections / one attribute (40k rows)",
                      {**base, "attributes": five[:1]}, {**base, "attributes": five}, 4))
    if "c" in only:
        base = {"rows": args.cluster_rows, "boot": 1000, "perm": 0, "per": 2,
                "attributes": [["sex", 2], ["race", 5], ["age", 4]]}
        pairs.append((f"c: patient / row bootstrap ({args.cluster_rows:,} rows, 2 per patient)",
                      base, {**base, "cluster": "patient"}, 3))
    print(f"{'case':62} {'base s':>7} {'case s':>7} {'ratio':>5} {'cpu s':>13} {'cpu ratio':>9} "
          f"{'target':>6} {'peak MB':>7} {'groups':>10} {'load':>5} {'warm s':>11} {'warm ratio':>10}")
    timed_phases = []
    for label, a, b, target in pairs:
        load = os.getloadavg()[0]
        warm = a.get("warm", False) and not args.cold_only
        a, b = {**a, "warm": warm, "phases": warm and args.phases}, {**b, "warm": warm, "phases": warm and args.phases}
        runs = [(run(a), run(b)) for _ in range(max(1, args.repeat))]
        ra = min((r[0] for r in runs), key=lambda r: r["seconds"])
        rb = min((r[1] for r in runs), key=lambda r: r["seconds"])
        wa = min(r[0]["warm"] for r in runs)
        wb = min(r[1]["warm"] for r in runs)
        ratio = rb["seconds"] / ra["seconds"]
        cpu = f"{ra['cpu']:.2f}/{rb['cpu']:.2f}"
        warm_s = f"{wa:.2f}/{wb:.2f}" if warm else "-"
        warm_ratio = f"{wb / wa:10.1f}" if warm else f"{'-':>10}"
        print(f"{label:62} {ra['seconds']:7.2f} {rb['seconds']:7.2f} {ratio:5.1f} {cpu:>13} "
              f"{rb['cpu'] / ra['cpu']:9.1f} {target:>6} {rb['peak_mb']:7.0f} "
              f"{str(ra['groups']) + '->' + str(rb['groups']):>10} {load:5.1f} {warm_s:>11} {warm_ratio}",
              flush=True)
        if warm and args.phases:  # the phases of the fastest warm audit of each side
            pa = min((r[0] for r in runs), key=lambda r: r["warm"])
            pb = min((r[1] for r in runs), key=lambda r: r["warm"])
            timed_phases.append((label.split(":")[0], pa, pb))
    if timed_phases:
        print("\nwarm audit by phase, seconds summed over threads (base / case); wall = the audit's wall time")
        names = list(dict.fromkeys(k for _, pa, pb in timed_phases for k in [*pa["phases"], *pb["phases"]]))
        print(f"{'case':6} {'wall':>11} " + " ".join(f"{n:>17}" for n in names))
        for case, pa, pb in timed_phases:
            cells = [f"{pa['phases'].get(n, 0.0):.3f}/{pb['phases'].get(n, 0.0):.3f}" for n in names]
            print(f"{case:6} {pa['warm']:.3f}/{pb['warm']:.3f} " + " ".join(f"{c:>17}" for c in cells))


if __name__ == "__main__":
    main()
