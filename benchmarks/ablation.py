"""The modality-removal study behind docs/model.md: AUC per group, and with each modality removed.

Usage: python benchmarks/ablation.py --model CKPT --data MANIFEST [--n-boot 500] [--json OUT]

The numbers come from :func:`fairaudit.models.ablation.measure`; this script parses the command
line, prints them and optionally writes them as JSON.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def _fmt(e: dict[str, Any]) -> str:
    ci = e.get("ci")
    return f"{e['auc']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"{e['auc']:.3f}"


def main(argv: list[str] | None = None) -> None:
    from fairaudit.data.manifest import load_manifest
    from fairaudit.models.ablation import measure
    from fairaudit.models.checkpoint import load_model

    p = argparse.ArgumentParser(description="AUC per group and with each modality removed.")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--label", default="diagnosis")
    p.add_argument("--sensitive", default="sex,race")
    p.add_argument("--cluster", default="patient_id")
    p.add_argument("--n-boot", type=int, default=500)
    p.add_argument("--ddim-steps", type=int, default=None)
    p.add_argument("--json", default=None, help="Also write the numbers to this file.")
    a = p.parse_args(argv)
    predictor = load_model(a.model)
    ds = load_manifest(a.data, label=a.label, sensitive=a.sensitive, cluster=a.cluster)
    r = measure(predictor, ds, n_boot=a.n_boot, ddim_steps=a.ddim_steps)
    print(f"studies {r['n']} (positive {r['n_pos']}); AUC with 95% patient-bootstrap CI ({r['n_boot']} replicates)")
    print(f"missing as given: {r['as_given']['missing']}")
    print(f"test AUC, missing modalities imputed by diffusion: {_fmt(r['as_given']['diffusion'])}")
    print(f"test AUC, missing modalities as absent tokens:    {_fmt(r['as_given']['fallback'])}")
    for attr, groups in r["by_group"].items():
        for g, e in groups.items():
            print(f"  {attr}={g:6s} n={e['n']:5d} pos={e['n_pos']:4d} AUC {_fmt(e)}")
    print("modality removed from every study: diffusion (mean of draws) | diffusion (one draw) | "
          "fallback | diffusion - fallback")
    for m, e in r["modality_removed"].items():
        d = e["diffusion_minus_fallback"]
        print(f"  {m:6s} {_fmt(e['diffusion'])} | {_fmt(e['diffusion_one_draw'])} | {_fmt(e['fallback'])} | "
              f"{d['value']:+.3f} [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}]")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as fh:
            json.dump(r, fh, indent=1)


if __name__ == "__main__":
    main()
