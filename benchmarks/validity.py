"""Validity of fairaudit's intervals, p-values and gate with few and many groups.

Simulated predictions with exactly known criteria (``fairaudit.data.groups_sim``): for 2 to 400
groups, many datasets each, through the same Python API the CLI uses.

Columns: ``cov_*`` coverage of the true criterion by its CI; ``p05_*`` share of p < 0.05;
``sim_*`` share of datasets where EVERY group's true TPR / selection rate / AUC lies in its
simultaneous interval (the max-t calibration, nominal 95 %); ``contains_est`` share of CIs
that contain their own estimate (must be 1); ``fail_crit`` / ``fail_group`` gate false-fail rates;
``all_suff`` share of datasets in which every group was sufficient.

With ``--size-spread`` the groups have unequal sizes (log-normal around ``--rows``, at least 8
rows), as the sites of a real registry do, and some may be too small to judge (a group needs one
positive and one negative here). Then every column is taken over the groups the audit judged:
a criterion's interval is its ``sufficient_groups_only`` estimate, compared with the true
criterion over those groups; ``sim_*`` asks every sufficient group (the family) to be covered;
the policy judges criteria over the sufficient groups (``insufficient =
"sufficient_groups_only"``). Coverage is the share of datasets that had an interval, ``p05`` the
share of datasets that had a p-value (permutation tests run only when every group is sufficient).
With equal groups of 100 or more rows every group is sufficient and none of this changes a number.

- null: fair by construction (labels and scores independent of the group). Reports the share
  of p < 0.05 per criterion (nominal 5 %), the coverage of the true criterion (0 or 1), and
  the gate's false-fail rate for a criterion rule whose bound is the true value, and for a
  per-group rule "every group's AUC >= its true AUC" (both at most 2.5 % for a valid two-sided
  95 % interval; the per-group rule is family-wise over all groups).
- planted: shifts that make the demographic-parity difference 0.20, and separations spread the
  other way that make the AUC difference ``--auc-gap`` (0.10; 0 plants parity alone), evenly
  over the groups; every true criterion is exact (closed form). Coverage of every true
  criterion and the gate's false-fail rate with bound = the true value.

Every CI must contain its own point estimate (counted: "contains estimate").

Usage: python benchmarks/validity.py [--datasets N] [--groups 2,5,20,100,400] [--rows R]
       [--bootstrap B] [--bootstrap-method multinomial|poisson] [--size-spread S] [--prevalence P]
       [--auc-gap A]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fairaudit.api import audit
from fairaudit.data import from_frame
from fairaudit.data.groups_sim import (
    GroupScenario,
    separations_for_auc_gap,
    shifts_for_parity_gap,
    simulate_groups,
    true_criteria,
    true_rates,
)
from fairaudit.gate import evaluate
from fairaudit.gate.policy import parse_policy
from fairaudit.metrics import AuditConfig
from fairaudit.workflows.scale import audit_frame

CRITERIA = ("demographic_parity_difference", "demographic_parity_ratio",
            "equal_opportunity_difference", "equalized_odds_difference",
            "equalized_odds_ratio", "auc_difference")
SHORT = {"demographic_parity_difference": "DPd", "demographic_parity_ratio": "DPr",
         "equal_opportunity_difference": "EOd", "equalized_odds_difference": "EOdd",
         "equalized_odds_ratio": "EOdr", "auc_difference": "AUCd"}


def _policy(truth: dict[str, float], auc: float):
    # Criteria with an insufficient group are judged over the sufficient ones (with groups of
    # unequal size some are too small); with every group sufficient this changes nothing.
    return parse_policy(
        "[policy]\ninsufficient = \"sufficient_groups_only\"\n"
        "[[criterion]]\nname = \"demographic_parity_difference\"\nattributes = [\"site\"]\n"
        f"max = {truth['demographic_parity_difference']!r}\n"
        "[[criterion]]\nname = \"equalized_odds_difference\"\nattributes = [\"site\"]\n"
        f"max = {truth['equalized_odds_difference']!r}\n"
        f"[[group_metric]]\nmetric = \"auc\"\nattributes = [\"site\"]\nmin = {auc!r}\n"
    )


def run_scenario(scenario: GroupScenario, datasets: int, n_bootstrap: int, n_permutations: int,
                 seed0: int = 0, method: str = "multinomial") -> dict[str, float]:
    """Rates over ``datasets`` simulated datasets (see the module docstring)."""
    rates = true_rates(scenario)
    sim_cov = {"tpr": 0, "selection_rate": 0, "auc": 0}
    covered = {c: 0 for c in CRITERIA}
    reject = {c: 0 for c in CRITERIA}
    judged_ci = {c: 0 for c in CRITERIA}  # datasets where the criterion had an interval
    tested = {c: 0 for c in CRITERIA}  # ... and a p-value
    contains = total_ci = sufficient_sets = 0
    fails = {"criterion": 0, "group": 0}
    judged = 0
    for d in range(datasets):
        df = simulate_groups(scenario, seed=seed0 + d)
        if method == "poisson":  # merged statistics, hashed Poisson weights (workflows/scale.py)
            ds = from_frame(df, label="y", sensitive="site", score="score", allow_many_groups=True)
            cfg = AuditConfig(threshold=0.5, n_bootstrap=n_bootstrap, n_permutations=n_permutations,
                              seed=d, min_group_size=0, min_group_events=1)
            res = audit_frame(ds, cfg, bootstrap_method="poisson")
        else:
            res = audit(df, label="y", sensitive="site", threshold=0.5, n_bootstrap=n_bootstrap,
                        n_permutations=n_permutations, seed=d, min_group_size=0, min_group_events=1,
                        allow_many_groups=True)
        # Group i is named site<i> (simulate_groups); the truth is taken over the groups the
        # audit judged: all of them, or the sufficient ones when some are too small.
        groups = res.groups_of("site")
        index = {g.group: int(g.group.removeprefix("site")) for g in groups}
        ok = np.array([index[g.group] for g in groups if g.status == "ok"], dtype=int)
        truth = true_criteria(scenario, ok)
        sufficient_sets += ok.size == scenario.n_groups
        for name in CRITERIA:
            c = res.criterion("site", name)
            est = c if c.status == "ok" else c.sufficient_groups_only
            if est is None or est.ci is None or ok.size < 2:
                continue
            total_ci += 1
            judged_ci[name] += 1
            contains += est.ci[0] - 1e-12 <= est.value <= est.ci[1] + 1e-12
            covered[name] += est.ci[0] - 1e-12 <= truth[name] <= est.ci[1] + 1e-12
            if c.p_value is not None:  # tests run only when every group is sufficient
                tested[name] += 1
                reject[name] += c.p_value < 0.05
        for key in sim_cov:  # the family: the sufficient groups
            sim_cov[key] += all(
                (iv := g.metrics[key].simultaneous_ci) is not None
                and iv[0] - 1e-12 <= rates[key][index[g.group]] <= iv[1] + 1e-12
                for g in groups if g.status == "ok"
            )
        # "every group's AUC >= the smallest true AUC of the judged groups": at the bound for
        # one group at least (for all of them without a planted AUC gap).
        gate = evaluate(res, _policy(truth, float(rates["auc"][ok].min()) if ok.size else 0.0))
        judged += 1
        fails["criterion"] += any(r.status == "fail" for r in gate.rules if "criterion" in r.id)
        fails["group"] += any(r.status == "fail" for r in gate.rules if "group_metric" in r.id)
    out = {f"cov_{SHORT[c]}": covered[c] / max(judged_ci[c], 1) for c in CRITERIA}
    out.update({f"p05_{SHORT[c]}": reject[c] / max(tested[c], 1) for c in CRITERIA})
    out.update({f"sim_{k[:3]}": v / datasets for k, v in sim_cov.items()})
    out["contains_est"] = contains / max(total_ci, 1)
    out["all_suff"] = sufficient_sets / datasets
    out["fail_crit"] = fails["criterion"] / judged
    out["fail_group"] = fails["group"] / judged
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", type=int, default=100, help="datasets per setting (fewer for >= 100 groups: see --big)")
    ap.add_argument("--big", type=int, default=40, help="datasets per setting with 100 or more groups")
    ap.add_argument("--groups", default="2,5,20,100,400")
    ap.add_argument("--rows", type=int, default=200, help="rows per group")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--permutations", type=int, default=1000)
    ap.add_argument("--size-spread", type=float, default=0.0,
                    help="unequal groups: log-normal sizes with this SD of log size around --rows "
                         "(1.0: the middle 90 %% of groups between a fifth and five times --rows)")
    ap.add_argument("--prevalence", type=float, default=0.3, help="share of positive labels")
    ap.add_argument("--auc-gap", type=float, default=0.10,
                    help="planted: the true AUC difference (0: plant the parity gap alone)")
    ap.add_argument("--bootstrap-method", default="multinomial", choices=("multinomial", "poisson"),
                    help="poisson: merged statistics with hashed Poisson weights (--engine stream/dask)")
    args = ap.parse_args(argv)
    groups = [int(g) for g in args.groups.split(",")]
    header = None
    for kind in ("null", "planted"):
        for g in groups:
            shifts = None if kind == "null" else shifts_for_parity_gap(g, 0.20, prevalence=args.prevalence)
            seps = (separations_for_auc_gap(g, args.auc_gap)
                    if kind == "planted" and args.auc_gap > 0 else None)
            scen = GroupScenario(g, args.rows, shifts, prevalence=args.prevalence,
                                 size_spread=args.size_spread, separations=seps)
            n = args.datasets if g < 100 else args.big
            t0 = time.perf_counter()
            r = run_scenario(scen, n, args.bootstrap, args.permutations if kind == "null" else 0,
                             method=args.bootstrap_method)
            if kind == "planted":
                r = {k: v for k, v in r.items() if not k.startswith("p05")}
            if header is None or header[0] != kind:
                header = (kind, list(r))
                print(f"\n{kind}: {'groups':>6} {'sets':>5} " + " ".join(f"{k:>8}" for k in r) + "   seconds")
            print(f"{'':{len(kind)}}  {g:>6} {n:>5} " + " ".join(f"{v:>8.3f}" for v in r.values())
                  + f"   {time.perf_counter() - t0:7.1f}", flush=True)


if __name__ == "__main__":
    main()
