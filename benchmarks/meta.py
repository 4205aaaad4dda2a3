"""Benchmark the meta-analysis: 10 studies x 20,000 genes.

    .venv/bin/python benchmarks/meta.py [--repeats 3] [--studies 10] [--genes 20000] [--no-command]

Rows (medians over ``--repeats``; the machine is shared, so read ratios, not single numbers):

* ``rma``           :func:`bmsc_dge.meta.rma` alone (REML, DL, fixed) on genes x studies effects
* ``meta step``     :func:`bmsc_dge.meta.analyse` on the studies' tables: gene meta (matching,
                    REML), set meta, leave-one-study-out (one REML per study), meta targets
* ``command``       the whole ``bmsc-dge meta`` process on simulated studies (each study fitted
                    once by its own flow run, then the meta step), against a background Prefect
                    server in a throw-away folder; and a re-run, where every study is reused
                    because its inputs did not change
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _tables(n_studies: int, n_genes: int, seed: int = 11):
    """DE and GSEA tables as study runs would hold them (human symbols, 10% of genes changed)."""
    from bmsc_dge.io import human_id_table
    from bmsc_dge.meta import StudyRun

    rng = np.random.default_rng(seed)
    symbols = human_id_table()["SYMBOL"].dropna().drop_duplicates().to_numpy()[:n_genes]
    truth = np.where(rng.random(n_genes) < 0.1, rng.normal(0, 1, n_genes), 0.0)
    runs = []
    for s in range(n_studies):
        se = rng.uniform(0.1, 1.0, n_genes)
        de = pd.DataFrame(
            {
                "gene_id": symbols,
                "symbol": symbols,
                "baseMean": rng.lognormal(5, 2, n_genes),
                "log2FoldChange": truth + rng.normal(0, se),
                "lfcSE": se,
                "padj": rng.random(n_genes),
            }
        )
        gsea = pd.DataFrame(
            {
                "term": [f"SET{i}" for i in range(100)],
                "collection": ["curated"] * 24 + ["hallmark"] * 76,
                "nes": rng.normal(0, 1.5, 100),
                "pval": rng.uniform(0.001, 1, 100),
                "fdr": rng.uniform(0.001, 1, 100),
                "leading_edge": [";".join(rng.choice(symbols, 10)) for _ in range(100)],
            }
        )
        runs.append(StudyRun(f"study{s:02d}", "c", "human", 8, de, gsea, Path(".")))
    return runs


def _median(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _studies(folder: Path, n_studies: int, n_genes: int) -> Path:
    from bmsc_dge.io import human_id_table
    from bmsc_dge.simulate import simulate_two_group

    table = human_id_table().dropna(subset=["ENSEMBL"]).drop_duplicates("ENSEMBL").drop_duplicates("SYMBOL")
    genes = pd.DataFrame(
        {"gene_id": table["ENSEMBL"].to_numpy()[:n_genes], "symbol": table["SYMBOL"].to_numpy()[:n_genes]}
    )
    entries = []
    for s in range(n_studies):
        sim = simulate_two_group(genes, n_per_group=4, seed=50 + s, lib_size_range=(8e6, 16e6))
        d = folder / f"study{s:02d}"
        d.mkdir(parents=True)
        counts = sim.counts.copy()
        counts.insert(0, "gene_name", genes["symbol"].to_numpy())
        counts.to_csv(d / "counts.tsv", sep="\t")
        sim.samples.to_csv(d / "samples.tsv", sep="\t")
        cfg = {
            "name": f"study{s:02d}",
            "counts": "counts.tsv",
            "samples": "samples.tsv",
            "design": "~ condition",
            "contrasts": [{"name": "c", "variable": "condition", "target": "T2DM", "reference": "control"}],
            "alpha": 0.05,
            "outdir": "results",
            "gene_sets": {"collections": ["curated", "hallmark"]},
        }
        (d / "study.yaml").write_text(yaml.safe_dump(cfg))
        entries.append({"config": f"study{s:02d}/study.yaml", "contrast": "c"})
    meta = folder / "meta.yaml"
    meta.write_text(yaml.safe_dump({"name": "bench", "studies": entries, "outdir": "results/meta"}))
    return meta


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--studies", type=int, default=10)
    ap.add_argument("--genes", type=int, default=20000)
    ap.add_argument("--no-command", action="store_true", help="skip the whole-command rows (minutes)")
    args = ap.parse_args()
    from bmsc_dge.config import MetaConfig
    from bmsc_dge.meta import analyse, rma

    rows = []
    runs = _tables(args.studies, args.genes)
    y = np.column_stack([r.de["log2FoldChange"] for r in runs])
    v = np.column_stack([r.de["lfcSE"] for r in runs]) ** 2
    for method in ("reml", "dl", "fixed"):
        rows.append(
            (
                f"rma {method} ({args.studies} studies x {args.genes} genes)",
                _median(lambda m=method: rma(y, v, m), args.repeats),
            )
        )
    cfg = MetaConfig.model_validate({"studies": [{"config": "x", "contrast": "c"}] * 2, "alpha": 0.05})
    rows.append(
        (
            f"meta step: analyse() ({args.studies} studies x {args.genes} genes)",
            _median(lambda: analyse(runs, cfg), args.repeats),
        )
    )
    if not args.no_command:
        exe = str(Path(sys.executable).with_name("bmsc-dge"))
        first, later = [], []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as tmp:
                meta = _studies(Path(tmp), args.studies, args.genes)
                for out in (first, later):
                    t = time.perf_counter()
                    subprocess.run([exe, "meta", str(meta)], cwd=tmp, check=True, capture_output=True)
                    out.append(time.perf_counter() - t)
                subprocess.run([exe, "server", "--stop"], cwd=tmp, capture_output=True)
        rows.append(
            (
                f"command: bmsc-dge meta, {args.studies} new studies x {args.genes} genes (fits every study)",
                statistics.median(first),
            )
        )
        rows.append(
            (
                "command: bmsc-dge meta again, studies unchanged (reused, meta step only)",
                statistics.median(later),
            )
        )
    table = pd.DataFrame(rows, columns=["row", "median_s"])
    table["median_s"] = table["median_s"].round(3)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
