"""A many-group audit built with the real API on simulated data (cached per test process).

1,000 sites of about 20 rows each, labels and scores independent of the site except for five
*planted* sites whose model misses most positives: the funnel plot must flag those five.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

N_SITES = 1000
PLANTED = tuple(f"site{i:04d}" for i in range(5))


def many_group_frame(seed: int = 11, n_sites: int = N_SITES, rows_per_site: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_sites * rows_per_site
    site = rng.integers(0, n_sites, n)
    # The planted sites get enough rows to be judged; their positives are mostly missed.
    site[: 5 * 60] = np.repeat(np.arange(5), 60)
    y = (rng.random(n) < 0.3).astype(int)
    planted = site < 5
    logit = rng.normal(0, 1, n) + 2.2 * y - 1.0 - 3.0 * (planted & (y == 1))
    return pd.DataFrame({"y": y, "score": 1 / (1 + np.exp(-logit)),
                         "site": [f"site{i:04d}" for i in site]})


@functools.lru_cache(maxsize=2)
def many_group_result(n_bootstrap: int = 100):
    import fairaudit

    return fairaudit.audit(many_group_frame(), label="y", sensitive="site", threshold=0.5,
                           n_bootstrap=n_bootstrap, n_permutations=0, seed=3)
