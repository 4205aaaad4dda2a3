"""Inputs of the ORA reference (tests/data/ora/): a seeded DE table and two GMT collections.

    .venv/bin/python tests/data/ora/make_inputs.py     (from the repository root)

Traps the R reference must agree on: duplicated symbols (the row with the higher baseMean
represents the symbol), genes without padj (not tested: outside the universe), set members absent
from the data, a set below the size floor, a set without any overlap, and a set of every gene.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def main() -> None:
    rng = np.random.default_rng(20261201)
    n = 3000
    symbols = np.array([f"GENE{i:04d}" for i in range(n)], dtype=object)
    symbols[2990:] = symbols[:10]  # 10 duplicated symbols
    lfc = rng.normal(0, 1, n)
    padj = rng.uniform(0, 1, n)
    sig = rng.choice(n, 260, replace=False)
    padj[sig] = rng.uniform(1e-8, 0.049, sig.size)
    padj[rng.choice(n, 300, replace=False)] = np.nan  # filtered genes
    de = pd.DataFrame(
        {
            "gene_id": [f"ENSG{i:011d}" for i in range(n)],
            "symbol": symbols,
            "baseMean": np.round(rng.lognormal(5, 1.5, n), 4),
            "log2FoldChange": np.round(lfc, 6),
            "padj": padj,
        }
    )
    de.to_csv(HERE / "de.tsv", sep="\t", index=False, float_format="%.10g")
    sig_up = list(de.loc[(de.padj < 0.05) & (de.log2FoldChange > 0), "symbol"])
    sig_down = list(de.loc[(de.padj < 0.05) & (de.log2FoldChange < 0), "symbol"])
    pool = list(dict.fromkeys(symbols))
    for name, n_sets in (("pathways", 40), ("programs", 25)):
        lines = []
        for k in range(n_sets):
            size = int(rng.integers(3, 120))
            genes = list(rng.choice(pool, size, replace=False))
            if k % 5 == 0:  # enriched for up genes
                genes += list(rng.choice(sig_up, 15, replace=False))
            if k % 7 == 0:  # enriched for down genes
                genes += list(rng.choice(sig_down, 12, replace=False))
            genes += [f"ABSENT{k}_{j}" for j in range(3)]  # not in the data
            lines.append("\t".join([f"{name.upper()}_{k:02d}", "simulated", *list(dict.fromkeys(genes))]))
        lines.append(
            "\t".join(
                [
                    f"{name.upper()}_NO_OVERLAP",
                    "simulated",
                    *[s for s in pool if s not in set(sig_up) | set(sig_down)][:30],
                ]
            )
        )
        lines.append("\t".join([f"{name.upper()}_TINY", "simulated", *pool[:3]]))
        (HERE / f"{name}.gmt").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
