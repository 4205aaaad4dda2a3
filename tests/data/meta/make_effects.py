"""Per-study effects for the metafor references: ``effects.csv`` (gene, study, yi, vi).

    .venv/bin/python tests/data/meta/make_effects.py       (seeded)

2,400 genes, 2-5 studies each (NaN where a study did not measure a gene), with log2FC-like effects
and DESeq2-like variances (SE 0.05-1.5). Cases the estimators treat differently:

* ``homogeneous``: all studies share one effect and small SEs: tau^2 = 0 (REML/DL truncate at 0);
* ``heterogeneous``: study effects scattered (tau 0.3-1.5): tau^2 > 0;
* ``two_study``: measured in only two studies;
* ``extreme``: variances spanning six orders of magnitude, effects far apart: the hardest cases
  for REML's Fisher scoring (searched for non-convergence);
* ``identical``: identical effects in every study (Q = 0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
rng = np.random.default_rng(20261202)
rows = []
kinds = (
    ["homogeneous"] * 600
    + ["heterogeneous"] * 900
    + ["two_study"] * 400
    + ["extreme"] * 400
    + ["identical"] * 100
)
for g, kind in enumerate(kinds):
    k = 2 if kind == "two_study" else int(rng.integers(3, 6))
    mu = rng.normal(0, 1.0)
    if kind == "extreme":
        se = 10 ** rng.uniform(-3, 0.5, k)
        y = mu + rng.normal(0, 2.0, k) * rng.choice([0.01, 1, 5], k)
    else:
        se = rng.uniform(0.05, 1.5, k)
        tau = rng.uniform(0.3, 1.5) if kind == "heterogeneous" else 0.0
        y = mu + rng.normal(0, tau, k) + rng.normal(0, se)
        if kind == "homogeneous":
            y = mu + rng.normal(0, 0.3, k) * se  # spread well below the sampling error
    if kind == "identical":
        y = np.full(k, mu)
    for s in range(k):
        rows.append((f"g{g + 1:05d}", kind, f"study{s + 1}", float(y[s]), float(se[s] ** 2)))
pd.DataFrame(rows, columns=["gene", "kind", "study", "yi", "vi"]).to_csv(
    HERE / "effects.csv", index=False, float_format="%.17g"
)
