"""fairaudit's simultaneous group intervals beside the reference implementation of Cherian & Candès.

The paper "Statistical inference for fairness auditing" ships a reference implementation on the
package index under the same import name, ``fairaudit`` 0.0.1. It cannot share an environment
with this project, so it runs in a subprocess with its own interpreter (``--reference-python``,
default ``/tmp/refvenv/bin/python``), from a temporary directory with ``PYTHONPATH`` cleared so
that this project's package cannot shadow it. The benchmark is skipped, with a message, when that
interpreter does not exist.

What is compared, per group G of one attribute (one-hot group dummies), at alpha = 0.05:

- reference: ``Auditor.calibrate_groups(type="interval", epsilon=None)`` then ``query_group`` --
  simultaneous two-sided bounds on the GAP eps(G) = metric(G) - metric(population), by a max/min
  bootstrap of the gap statistic that re-estimates the population value in every replicate (so
  the bound accounts for the uncertainty of the population value). Studentisation
  ``student="prob_bound"``, ``student_threshold=(25/n)^1.5``, multinomial bootstrap, as in the
  authors' COMPAS notebook. Metric: ``Metric("statistical_parity")`` (L = 1{decision = 1},
  theta = mean decision) on all rows gives the selection-rate gap; the same metric on the rows
  with y = 1 gives the TPR gap. (The package's own ``equal_opportunity`` metric fails inside
  ``calibrate_groups`` with either shape of Y and Z it accepts, and ``Metric`` shares one
  mutable ``metric_params`` default across instances, so ``metric_params={}`` is always given.)
- fairaudit: ``Estimate.simultaneous_ci`` of each group's metric from ``fairaudit.api.audit``
  (max-t bootstrap on the Anscombe arcsine scale over the groups of the attribute, never below
  the Sidak-Gaussian critical value). It bounds the group's VALUE; subtracting the overall
  point estimate turns it into an interval for the gap that IGNORES the uncertainty of the
  population value (fairaudit makes no gap claim; the column ``cov ours gap`` shows what such a
  naive conversion would give).

Both use the same decisions (``score >= 0.5``, computed once and written to the CSV); the driver
checks that the two point estimates of every group agree.

Columns: ``w ours`` / ``w ref`` median width of the simultaneous intervals (same units: a rate;
ours on the value, the reference's on the gap), over all groups of all datasets; ``agree``
share of groups where both give the same verdict on the gap (above / below the population /
undecided; ours: interval excludes the overall estimate); ``flag ours`` / ``flag ref`` share of
groups flagged; ``cov ours`` share of datasets where EVERY group's true value (from
``true_rates``) is inside our interval; ``cov ours gap`` the same for the true gaps and our
intervals shifted by the overall estimate; ``cov ref`` the same for the true gaps and the
reference's bounds (nominal 0.95 for the first and the last); ``s ours`` / ``s ref`` seconds.

Usage::

    PYTHONPATH=. python benchmarks/reference_auditor.py [--settings 5:20:500,20:20:500,100:10:200]
        [--reference-python /tmp/refvenv/bin/python] [--show-misses]

``--settings`` is a list of groups:datasets:bootstrap; each setting runs fair by construction
and with a planted demographic-parity difference of 0.20 (200 rows per group).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fairaudit.api import audit
from fairaudit.data.groups_sim import (
    GroupScenario,
    shifts_for_parity_gap,
    simulate_groups,
    true_rates,
)

ALPHA = 0.05
METRICS = ("tpr", "selection_rate")

# Runs under the reference interpreter. argv: csv, n_groups, bootstrap, alpha, out.json
REFERENCE_SCRIPT = r'''
import json, sys, time, warnings
import numpy as np
import pandas as pd
from fairaudit.auditor import Auditor
from fairaudit.groups import get_intersections
from fairaudit.metrics import Metric

warnings.filterwarnings("ignore")
csv, n_groups, B, alpha, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
df = pd.read_csv(csv)
res = {}
for d, part in df.groupby("dataset", sort=True):
    res[str(d)] = {}
    for metric in ("tpr", "selection_rate"):
        sub = part[part["y"] == 1] if metric == "tpr" else part
        X = sub["code"].to_numpy().reshape(-1, 1)
        groups = get_intersections(X.copy())
        assert groups.shape[1] == n_groups, "every group needs rows"
        auditor = Auditor(X, sub["y"].to_numpy(float), sub["decision"].to_numpy(float),
                          Metric("statistical_parity", metric_params={}))
        n = len(sub)
        params = {"seed": int(d), "B": B, "method": "multinomial", "student": "prob_bound",
                  "student_threshold": (25 / n) ** 1.5}
        t0 = time.perf_counter()
        auditor.calibrate_groups(alpha=alpha, type="interval", groups=groups, bootstrap_params=params)
        q = [auditor.query_group(i) for i in range(n_groups)]
        res[str(d)][metric] = {
            "lo": [float(r[0][0][0]) for r in q], "hi": [float(r[0][0][1]) for r in q],
            "value": [float(r[1][0]) for r in q], "theta": float(q[0][2][0]),
            "seconds": time.perf_counter() - t0,
        }
with open(out, "w") as fh:
    json.dump(res, fh)
'''


def simulate(scenario: GroupScenario, datasets: int, seed0: int) -> pd.DataFrame:
    """``datasets`` simulated datasets stacked, with the group code and the decision."""
    frames = []
    for d in range(datasets):
        df = simulate_groups(scenario, seed=seed0 + d)
        df["code"] = df["site"].str[4:].astype(int)
        df["decision"] = (df["score"] >= 0.5).astype(int)
        df["dataset"] = d
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def run_reference(python: str, data: pd.DataFrame, n_groups: int, bootstrap: int) -> dict:
    """The reference's bounds for every dataset and metric (subprocess, clean environment)."""
    with tempfile.TemporaryDirectory(prefix="fairaudit-ref-") as tmp:
        csv, script, out = (Path(tmp) / n for n in ("data.csv", "reference.py", "out.json"))
        data[["dataset", "code", "y", "decision"]].to_csv(csv, index=False)
        script.write_text(REFERENCE_SCRIPT)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        proc = subprocess.run(
            [python, str(script), str(csv), str(n_groups), str(bootstrap), str(ALPHA), str(out)],
            cwd=tmp, env=env, capture_output=True, text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"reference run failed:\n{proc.stderr[-2000:]}")
        return json.loads(out.read_text())


def run_ours(data: pd.DataFrame, n_groups: int, bootstrap: int) -> tuple[dict, float]:
    """Our simultaneous intervals (lo, hi), point values and overall value per dataset/metric."""
    out: dict = {}
    t0 = time.perf_counter()
    for d, part in data.groupby("dataset", sort=True):
        res = audit(part[["y", "score", "site"]].reset_index(drop=True), label="y", sensitive="site",
                    threshold=0.5, n_bootstrap=bootstrap, n_permutations=0, seed=int(d),
                    min_group_size=0, min_group_events=1, allow_many_groups=True,
                    confidence_level=1 - ALPHA)
        groups = sorted(res.groups_of("site"), key=lambda g: int(g.group[4:]))
        assert len(groups) == n_groups
        out[str(d)] = {}
        for m in METRICS:
            sim = [g.metrics[m].simultaneous_ci or (np.nan, np.nan) for g in groups]
            out[str(d)][m] = {
                "lo": [s[0] for s in sim], "hi": [s[1] for s in sim],
                "value": [g.metrics[m].value for g in groups],
                "overall": res.overall.metrics[m].value,
                "n": [g.n_pos if m == "tpr" else g.n for g in groups],
            }
    return out, time.perf_counter() - t0


def verdict(lo: np.ndarray, hi: np.ndarray, at: float) -> np.ndarray:
    """+1 above ``at``, -1 below, 0 undecided."""
    return np.where(lo > at, 1, np.where(hi < at, -1, 0))


def misses(ours: dict, truth: dict[str, np.ndarray], metric: str) -> list[str]:
    """One line per group whose true value lies outside our simultaneous interval."""
    out = []
    for d, per in ours.items():
        o = per[metric]
        for i, t in enumerate(truth[metric]):
            if not o["lo"][i] - 1e-12 <= t <= o["hi"][i] + 1e-12:
                out.append(f"dataset {d} group {i}: true {t:.3f}, estimate {o['value'][i]:.3f} "
                           f"from n = {o['n'][i]}, interval ({o['lo'][i]:.3f}, {o['hi'][i]:.3f})")
    return out


def compare(ours: dict, ref: dict, truth: dict[str, np.ndarray], metric: str) -> dict[str, float]:
    """The table's columns for one setting and metric (see the module docstring)."""
    w_ours, w_ref, agree, f_ours, f_ref = [], [], [], [], []
    cov = {"ours": 0, "ours_gap": 0, "ref": 0}
    true_val = truth[metric]
    true_gap = true_val - true_val.mean()  # equal group sizes and prevalence: population = mean
    max_diff = 0.0
    for d in ours:
        o, r = ours[d][metric], ref[d][metric]
        lo, hi = np.asarray(o["lo"], float), np.asarray(o["hi"], float)
        rlo, rhi = np.asarray(r["lo"]), np.asarray(r["hi"])
        max_diff = max(max_diff, float(np.max(np.abs(np.asarray(o["value"]) - np.asarray(r["value"])))),
                       abs(o["overall"] - r["theta"]))
        w_ours.append(hi - lo)
        w_ref.append(rhi - rlo)
        v_ours, v_ref = verdict(lo, hi, o["overall"]), verdict(rlo, rhi, 0.0)
        agree.append(v_ours == v_ref)
        f_ours.append(v_ours != 0)
        f_ref.append(v_ref != 0)
        cov["ours"] += bool(np.all((lo <= true_val + 1e-12) & (true_val <= hi + 1e-12)))
        g_lo, g_hi = lo - o["overall"], hi - o["overall"]
        cov["ours_gap"] += bool(np.all((g_lo <= true_gap + 1e-12) & (true_gap <= g_hi + 1e-12)))
        cov["ref"] += bool(np.all((rlo <= true_gap + 1e-12) & (true_gap <= rhi + 1e-12)))
    if max_diff > 1e-9:
        raise AssertionError(f"point estimates differ by {max_diff} ({metric}): not the same data")
    n = len(ours)
    return {
        "w ours": float(np.nanmedian(np.concatenate(w_ours))),
        "w ref": float(np.median(np.concatenate(w_ref))),
        "agree": float(np.mean(np.concatenate(agree))),
        "flag ours": float(np.mean(np.concatenate(f_ours))),
        "flag ref": float(np.mean(np.concatenate(f_ref))),
        "cov ours": cov["ours"] / n, "cov ours gap": cov["ours_gap"] / n, "cov ref": cov["ref"] / n,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--settings", default="5:20:500,20:20:500,100:10:200",
                    help="comma-separated groups:datasets:bootstrap")
    ap.add_argument("--rows", type=int, default=200, help="rows per group")
    ap.add_argument("--reference-python", default="/tmp/refvenv/bin/python")
    ap.add_argument("--show-misses", action="store_true",
                    help="after the table, list the groups whose true value our interval misses")
    args = ap.parse_args(argv)
    if not Path(args.reference_python).exists():
        print(f"skipped: reference interpreter {args.reference_python} not found (install "
              "fairaudit==0.0.1 from the package index in a separate venv and pass "
              "--reference-python)")
        return 0
    settings = [tuple(int(x) for x in s.split(":")) for s in args.settings.split(",")]
    cols = ("w ours", "w ref", "agree", "flag ours", "flag ref", "cov ours", "cov ours gap", "cov ref")
    print(f"{'setting':<16} {'metric':<14} {'B':>4} {'sets':>4} "
          + " ".join(f"{c:>12}" for c in cols) + f" {'s ours':>7} {'s ref':>7}")
    t_all = time.perf_counter()
    missed: list[str] = []
    for n_groups, datasets, bootstrap in settings:
        for kind in ("fair", "planted"):
            shifts = None if kind == "fair" else shifts_for_parity_gap(n_groups, 0.20)
            scenario = GroupScenario(n_groups, args.rows, shifts)
            data = simulate(scenario, datasets, seed0=0 if kind == "fair" else 10_000)
            ours, s_ours = run_ours(data, n_groups, bootstrap)
            ref = run_reference(args.reference_python, data, n_groups, bootstrap)
            truth = true_rates(scenario)
            for m in METRICS:
                row = compare(ours, ref, truth, m)
                s_ref = sum(ref[d][m]["seconds"] for d in ref)
                print(f"{f'{n_groups} {kind}':<16} {m:<14} {bootstrap:>4} {datasets:>4} "
                      + " ".join(f"{row[c]:>12.3f}" for c in cols)
                      + f" {s_ours:>7.1f} {s_ref:>7.1f}", flush=True)
                missed += [f"{n_groups} {kind} {m}: {x}" for x in misses(ours, truth, m)]
    print(f"total {time.perf_counter() - t_all:.0f} s; 's ours' is the whole audit (every metric), "
          "'s ref' the reference's calibrate + query for that metric only")
    if args.show_misses:
        print(f"\ngroups whose true value is outside fairaudit's simultaneous interval ({len(missed)}):")
        print("\n".join(missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
