"""Per-sample QC metrics with scanpy (library size, detected genes, top-gene share)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import scanpy as sc


def sample_qc(adata: ad.AnnData, size_factors: pd.Series | None = None) -> pd.DataFrame:
    """Tidy per-sample QC table.

    Parameters
    ----------
    adata
        Samples x genes with raw counts in ``layers["counts"]``.
    size_factors
        DESeq2 size factors to include, if fitted.

    Returns
    -------
    pandas.DataFrame
        ``sample``, design columns from ``obs``, ``library_size``, ``detected_genes``,
        ``pct_counts_top_50``, ``size_factor``.
    """
    tmp = ad.AnnData(X=np.asarray(adata.layers["counts"], dtype=float), obs=adata.obs.copy())
    metrics, _ = sc.pp.calculate_qc_metrics(tmp, percent_top=(50,), inplace=False, log1p=False)
    out = adata.obs.copy()
    out.insert(0, "sample", adata.obs_names.astype(str))
    out["library_size"] = metrics["total_counts"].to_numpy().astype(np.int64)
    out["detected_genes"] = metrics["n_genes_by_counts"].to_numpy().astype(np.int64)
    out["pct_counts_top_50"] = metrics["pct_counts_in_top_50_genes"].to_numpy().round(3)
    if size_factors is not None:
        out["size_factor"] = size_factors.reindex(adata.obs_names).to_numpy().round(6)
    return out.reset_index(drop=True)
