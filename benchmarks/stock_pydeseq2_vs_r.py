"""Stock PyDESeq2 0.5.4 (no bmsc-dge changes) against the committed R DESeq2 references.

    .venv/bin/python benchmarks/stock_pydeseq2_vs_r.py

Prints, per Wald dataset of tests/data/deseq2, the NaN-pattern mismatches, log2FC Spearman and
padj < 0.05 call agreement; the "before" numbers of docs/statistics.md.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from pydeseq2.dds import DeseqDataSet
from pydeseq2.default_inference import DefaultInference
from pydeseq2.ds import DeseqStats
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bmsc_dge.deseq2 import with_references
from tests.parity_helpers import CASES, DATA, load_dataset


def main() -> None:
    warnings.filterwarnings("ignore")
    rows = []
    for name, case in CASES.items():
        if case["contrast"].test == "lrt":
            continue  # PyDESeq2 has no LRT
        adata, frame = load_dataset(name)
        counts = pd.DataFrame(adata.X, index=adata.obs_names, columns=adata.var_names)
        dds = DeseqDataSet(
            counts=counts,
            metadata=with_references(frame, case["refs"]),
            design=case["design"],
            quiet=True,
            inference=DefaultInference(n_cpus=2),
        )
        dds.deseq2()
        c = case["contrast"]
        if c.variable:
            contrast: list[str] | np.ndarray = [c.variable, c.target, c.reference]
        else:
            cols = list(dds.obsm["design_matrix"].columns)
            contrast = np.zeros(len(cols))
            contrast[cols.index("sex[T.M]:condition[T.T2DM]")] = 1
        ds = DeseqStats(dds, contrast=contrast, alpha=0.05, quiet=True)
        ds.summary()
        r = pd.read_csv(DATA / f"{name}.r_results.csv").set_index("gene")
        o = ds.results_df.reindex(r.index)
        both = o["log2FoldChange"].notna() & r["log2FoldChange"].notna()
        rows.append(
            {
                "dataset": name,
                "pvalue_nan_mismatch": int((o["pvalue"].isna() != r["pvalue"].isna()).sum()),
                "padj_nan_mismatch": int((o["padj"].isna() != r["padj"].isna()).sum()),
                "lfc_spearman": round(
                    float(spearmanr(o.loc[both, "log2FoldChange"], r.loc[both, "log2FoldChange"]).statistic),
                    6,
                ),
                "call_agreement": float(
                    ((o["padj"] < 0.05).fillna(False) == (r["padj"] < 0.05).fillna(False)).mean()
                ),
            }
        )
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
