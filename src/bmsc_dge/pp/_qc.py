"""Per-sample QC metrics with scanpy (library size, detected genes, top-gene share)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)


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
    # scanpy needs at least `top` genes; a targeted panel of fewer than 50 genes has all its counts
    # in its "top 50" (100%), which is what the column then says.
    top = min(50, tmp.n_vars)
    import scanpy as sc  # ~0.4 s with numba: loaded by what uses it, not by every import of pp

    metrics, _ = sc.pp.calculate_qc_metrics(tmp, percent_top=(top,), inplace=False, log1p=False)
    out = adata.obs.copy()
    out.insert(0, "sample", adata.obs_names.astype(str))
    out["library_size"] = metrics["total_counts"].to_numpy().astype(np.int64)
    out["detected_genes"] = metrics["n_genes_by_counts"].to_numpy().astype(np.int64)
    out["pct_counts_top_50"] = metrics[f"pct_counts_in_top_{top}_genes"].to_numpy().round(3)
    if size_factors is not None:
        out["size_factor"] = size_factors.reindex(adata.obs_names).to_numpy().round(6)
    return out.reset_index(drop=True)


def pca_scores(
    vst: pd.DataFrame, obs: pd.DataFrame, *, n_top: int = 500, n_comps: int = 5
) -> tuple[pd.DataFrame, pd.Series]:
    """PCA of variance-stabilised data on the ``n_top`` most variable genes (as DESeq2's plotPCA).

    Parameters
    ----------
    vst
        Samples x genes VST values.
    obs
        Sample annotations to carry into the table.
    n_top
        Number of most variable genes used.
    n_comps
        Number of components kept.

    Returns
    -------
    tuple
        Scores (``sample``, ``PC1``.., annotation columns) and the explained-variance ratio per PC.
    """
    var = vst.var(axis=0).sort_values(ascending=False)
    top = vst[var.index[: min(n_top, vst.shape[1])]]
    n_comps = int(min(n_comps, top.shape[0] - 1, top.shape[1]))
    import scanpy as sc

    tmp = ad.AnnData(X=top.to_numpy(dtype=float))
    sc.pp.pca(
        tmp,
        n_comps=n_comps,
        zero_center=True,
        svd_solver="arpack" if n_comps < min(tmp.shape) - 1 else "full",
        random_state=0,
    )
    cols = [f"PC{i + 1}" for i in range(n_comps)]
    scores = pd.DataFrame(tmp.obsm["X_pca"], index=vst.index, columns=cols)
    for col in cols:  # deterministic sign: largest absolute loading positive
        load = tmp.varm["PCs"][:, cols.index(col)]
        if load[np.argmax(np.abs(load))] < 0:
            scores[col] = -scores[col]
    ratio = pd.Series(tmp.uns["pca"]["variance_ratio"], index=cols, name="variance_ratio")
    out = scores.join(obs)
    out.insert(0, "sample", vst.index.astype(str))
    return out.reset_index(drop=True), ratio


def sample_correlation(vst: pd.DataFrame) -> pd.DataFrame:
    """Pearson correlation of samples on VST data, ordered by average-linkage clustering."""
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    corr = np.corrcoef(vst.to_numpy(dtype=float))
    dist = np.clip(1.0 - corr, 0.0, None)
    np.fill_diagonal(dist, 0.0)
    order = (
        leaves_list(linkage(squareform(dist, checks=False), method="average"))
        if len(corr) > 2
        else np.arange(len(corr))
    )
    labels = vst.index.astype(str)[order]
    return pd.DataFrame(corr[np.ix_(order, order)], index=labels, columns=labels)


def flag_outliers(scores: pd.DataFrame, *, n_pcs: int = 2, threshold: float | None = None) -> pd.DataFrame:
    """Robust distance of each sample on the first PCs; flags are reported, never acted on.

    Distance: ``sqrt(sum_k ((PC_k - median) / MAD_k)^2)`` with MAD scaled to the SD of a normal;
    flagged when above ``sqrt(chi2_{0.999}(n_pcs))`` (3.72 for two PCs).
    """
    from scipy.stats import chi2

    cols = [f"PC{i + 1}" for i in range(n_pcs) if f"PC{i + 1}" in scores.columns]
    x = scores[cols].to_numpy(dtype=float)
    med = np.median(x, axis=0)
    mad = 1.4826 * np.median(np.abs(x - med), axis=0)
    mad = np.where(mad > 0, mad, 1.0)
    dist = np.sqrt((((x - med) / mad) ** 2).sum(axis=1))
    cut = float(np.sqrt(chi2.ppf(0.999, len(cols)))) if threshold is None else threshold
    return pd.DataFrame(
        {
            "sample": scores["sample"].to_numpy(),
            "robust_distance": dist.round(4),
            "threshold": round(cut, 4),
            "outlier": dist > cut,
        }
    )


def heatmap_matrix(vst: pd.DataFrame, genes: list[str], labels: list[str] | None = None) -> pd.DataFrame:
    """Per-gene z-scores of VST values (genes x samples) for a heatmap of selected genes."""
    sub = vst[genes].T
    z = sub.sub(sub.mean(axis=1), axis=0).div(sub.std(axis=1).replace(0, 1.0), axis=0)
    if labels is not None:
        z.index = labels
    return z


@dataclass
class QCResult:
    """Everything the QC section of a run shows."""

    samples: pd.DataFrame
    pca: pd.DataFrame
    variance_ratio: pd.Series
    correlation: pd.DataFrame
    outliers: pd.DataFrame
    vst: pd.DataFrame


def run_qc(
    adata: ad.AnnData, size_factors: pd.Series | None, design_variables: list[str], *, n_cpus: int = 1
) -> QCResult:
    """Library sizes, detected genes, blind VST, PCA, correlation and outlier flags.

    Outliers are flagged (``outlier`` column and a warning) but never removed.
    """
    from bmsc_dge.deseq2 import vst as vst_fn

    table = sample_qc(adata, size_factors)
    v = vst_fn(adata, n_cpus=n_cpus)
    obs = adata.obs[[c for c in design_variables if c in adata.obs.columns]]
    scores, ratio = pca_scores(v, obs)
    out = flag_outliers(scores)
    for s in out.loc[out["outlier"], "sample"]:
        logger.warning(
            "QC: sample %s is a PCA outlier (robust distance %.2f > %.2f); reported, not removed",
            s,
            float(out.set_index("sample").loc[s, "robust_distance"]),
            float(out["threshold"].iloc[0]),
        )
    table = table.merge(out[["sample", "robust_distance", "outlier"]], on="sample", how="left")
    return QCResult(
        samples=table,
        pca=scores,
        variance_ratio=ratio,
        correlation=sample_correlation(v),
        outliers=out,
        vst=v,
    )
