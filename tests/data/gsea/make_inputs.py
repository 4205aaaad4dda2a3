"""Inputs of the fgsea reference for ``bmsc-dge gsea`` (tests/data/gsea/).

    .venv/bin/python tests/data/gsea/make_inputs.py     (from the repository root)

``ranked.rnk``: 6,000 genes with numeric identifiers (as Entrez IDs look: they must stay strings),
a comment line and a header, a t-like metric with tied values. ``sets.gmt``: 70 sets - strongly
enriched at either end (beyond 1,000 permutations: multilevel p-values), moderately enriched, null,
one below the size floor, one above the ceiling, and members missing from the list.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main() -> None:
    rng = np.random.default_rng(20261201)
    n = 6000
    ids = rng.choice(np.arange(10_000, 700_000), n, replace=False).astype(str)
    metric = np.round(rng.standard_t(8, n) * 2.0, 3)  # rounding makes ties
    order = np.argsort(-metric, kind="mergesort")
    ranked = ids[order]
    lines = ["# simulated ranked list for tests/data/gsea (seed 20261201)", "ID\tt"]
    lines += [f"{g}\t{m:.3f}" for g, m in zip(ids, metric, strict=True)]  # file order is not rank order
    (HERE / "ranked.rnk").write_text("\n".join(lines) + "\n")
    sets = []
    for k in range(70):
        size = int(rng.integers(15, 300))
        if k < 6:  # strong, top or bottom
            pool = ranked[:600] if k % 2 == 0 else ranked[-600:]
            members = list(rng.choice(pool, size // 2, replace=False)) + list(
                rng.choice(ranked, size // 2, replace=False)
            )
        elif k < 20:  # moderate
            pool = ranked[: n // 3] if k % 2 == 0 else ranked[-n // 3 :]
            members = list(rng.choice(pool, size // 2, replace=False)) + list(
                rng.choice(ranked, size - size // 2, replace=False)
            )
        else:  # null
            members = list(rng.choice(ranked, size, replace=False))
        members += [f"999{k:03d}{j}" for j in range(4)]  # not in the list
        sets.append((f"SET_{k:02d}", list(dict.fromkeys(members))))
    sets.append(("SET_TINY", list(ranked[:10])))
    sets.append(("SET_HUGE", list(rng.choice(ranked, 700, replace=False))))
    gmt = "\n".join("\t".join([name, "simulated", *genes]) for name, genes in sets) + "\n"
    (HERE / "sets.gmt").write_text(gmt)


if __name__ == "__main__":
    main()
