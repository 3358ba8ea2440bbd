"""Time per stage of the full stress audit of the shipped test split.

Usage::

    python benchmarks/bench_stress.py [--model sample_data/model]
        [--data sample_data/cohort/test.csv] [--bootstrap 1000] [--threads 1]

Runs everything ``fairaudit stress --probe --attribution`` runs with its defaults (8 corruptions
x 5 severities, 6 removals x 2 imputations plus the references, realistic missingness per
attribute, probes with 5 shuffled controls, Shapley attribution with both imputations) on
sex and race with the patient column, then prints the seconds of each stage, the total and the
1-minute load average before and after (other processes on the machine slow every stage;
the process's CPU time, with one thread, is close to what an idle core would take).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "sample_data" / "model"))
    parser.add_argument("--data", default=str(ROOT / "sample_data" / "cohort" / "test.csv"))
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch
    from threadpoolctl import threadpool_limits

    from fairaudit.workflows.stress import StressConfig, stress_audit

    torch.set_num_threads(args.threads)
    threadpool_limits(limits=args.threads)
    load_before = os.getloadavg()[0]
    start, cpu_start = time.perf_counter(), time.process_time()
    result = stress_audit(args.model, args.data, label="diagnosis", sensitive="sex,race",
                          cluster="patient_id", config=StressConfig(n_bootstrap=args.bootstrap))
    total, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    n_cond = sum(1 for c in result.conditions if c.get("reference"))
    print(f"{result.data['n_rows']} studies, {n_cond} conditions, {args.bootstrap} replicates, "
          f"torch threads {args.threads}")
    for stage, seconds in result.timings.items():
        print(f"{stage:>20}: {seconds:8.1f} s")
    print(f"{'total':>20}: {total:8.1f} s (model loading included); CPU time {cpu:.1f} s")
    print(f"load average (1 min): {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")


if __name__ == "__main__":
    main()
