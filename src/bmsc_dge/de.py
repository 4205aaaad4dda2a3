"""Differential expression with PyDESeq2.

One :class:`pydeseq2.dds.DeseqDataSet` is fitted per (contrast variable, reference level): the
variable is made categorical with the reference as its first level, so coefficient names read
``condition[T.T2DM]`` and reference levels never flip silently (``"T2DM"`` sorts before
``"control"``). Contrasts that share variable and reference share the fit.

For each contrast the Wald test runs with the configured ``alpha`` (also the target FDR of
independent filtering), Cook's filtering and independent filtering as in R DESeq2, and the
apeGLM-style shrunken log2 fold change (PyDESeq2 ``lfc_shrink``) is added beside the MLE.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd
from pydeseq2.dds import DeseqDataSet
from pydeseq2.default_inference import DefaultInference
from pydeseq2.ds import DeseqStats

from bmsc_dge.config import Contrast, DEConfig

logger = logging.getLogger(__name__)

DE_COLUMNS = [
    "gene_id",
    "symbol",
    "baseMean",
    "log2FoldChange",
    "lfcSE",
    "stat",
    "pvalue",
    "padj",
    "log2FoldChange_shrunk",
    "lfcSE_shrunk",
]


@dataclass
class DEFit:
    """A fitted DESeq2 model for one (variable, reference) pair."""

    variable: str
    reference: str
    dds: DeseqDataSet


def reorder_reference(frame: pd.DataFrame, variable: str, reference: str) -> pd.DataFrame:
    """Copy of ``frame`` with ``variable`` categorical and ``reference`` as its first level."""
    out = frame.copy()
    levels = [reference, *sorted(v for v in out[variable].astype(str).unique() if v != reference)]
    out[variable] = pd.Categorical(out[variable].astype(str), categories=levels)
    for col in out.columns:
        if col != variable and out[col].dtype == object:
            out[col] = pd.Categorical(out[col], categories=sorted(out[col].unique()))
    return out


def fit_deseq2(
    adata: ad.AnnData, frame: pd.DataFrame, design: str, variable: str, reference: str, cfg: DEConfig
) -> DEFit:
    """Fit DESeq2 (size factors, dispersions, LFCs, Cook's) on ``adata.layers['counts']``.

    Parameters
    ----------
    adata
        Samples x genes with raw counts in ``layers["counts"]``.
    frame
        Design variables per sample (from :func:`bmsc_dge.validation.prepare_design_frame`).
    design
        Formula, e.g. ``"~ batch + sex + condition"``.
    variable, reference
        The contrast variable and its reference level.
    cfg
        DE settings.

    Returns
    -------
    DEFit
        The fitted data set.
    """
    counts = pd.DataFrame(np.asarray(adata.layers["counts"]), index=adata.obs_names, columns=adata.var_names)
    meta = reorder_reference(frame.loc[adata.obs_names], variable, reference)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        dds = DeseqDataSet(
            counts=counts,
            metadata=meta,
            design=design,
            refit_cooks=cfg.refit_cooks,
            fit_type=cfg.fit_type,
            inference=DefaultInference(n_cpus=cfg.n_cpus),
            quiet=True,
        )
        dds.var["symbol"] = adata.var["symbol"].astype(str).to_numpy()
        dds.deseq2()
    logger.info(
        "DESeq2 fit for %s (reference %s): %d genes x %d samples", variable, reference, dds.n_vars, dds.n_obs
    )
    return DEFit(variable=variable, reference=reference, dds=dds)


def _coefficient(lfc_columns: Sequence[str], variable: str, target: str) -> str:
    suffix = f"[T.{target}]"
    hits = [c for c in lfc_columns if c.endswith(suffix) and variable in c and ":" not in c]
    if len(hits) != 1:
        raise KeyError(f"no unique coefficient for {variable}={target} among {list(lfc_columns)}")
    return hits[0]


def contrast_table(fit: DEFit, contrast: Contrast, alpha: float, cfg: DEConfig) -> pd.DataFrame:
    """Wald test for one contrast, with shrunken LFCs beside the MLE ones.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`DE_COLUMNS`, one row per gene, sorted by p-value (NaN last).
    """
    dds = fit.dds
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        ds = DeseqStats(
            dds,
            contrast=[contrast.variable, contrast.target, contrast.reference],
            alpha=alpha,
            cooks_filter=cfg.cooks_filter,
            independent_filter=cfg.independent_filter,
            inference=DefaultInference(n_cpus=cfg.n_cpus),
            quiet=True,
        )
        ds.summary()
        res = ds.results_df.copy()
        res["log2FoldChange_shrunk"] = np.nan
        res["lfcSE_shrunk"] = np.nan
        if cfg.lfc_shrink:
            coeff = _coefficient(list(ds.LFC.columns), contrast.variable, contrast.target)
            ds.lfc_shrink(coeff=coeff)
            shrunk = ds.results_df
            res["log2FoldChange_shrunk"] = shrunk["log2FoldChange"]
            res["lfcSE_shrunk"] = shrunk["lfcSE"]
    res.insert(0, "gene_id", res.index.astype(str))
    res.insert(1, "symbol", dds.var["symbol"].reindex(res.index).astype(str).to_numpy())
    res = res[DE_COLUMNS]
    res = res.sort_values(
        ["pvalue", "baseMean"], ascending=[True, False], na_position="last", kind="mergesort"
    )
    res.index = pd.RangeIndex(len(res))
    n_sig = int((res["padj"] < alpha).sum())
    logger.info("contrast %s: %d genes at padj < %g", contrast.name, n_sig, alpha)
    return res


def normalized_counts(fit: DEFit) -> pd.DataFrame:
    """Counts divided by DESeq2 size factors (samples x genes)."""
    dds = fit.dds
    return pd.DataFrame(np.asarray(dds.layers["normed_counts"]), index=dds.obs_names, columns=dds.var_names)


def size_factors(fit: DEFit) -> pd.Series:
    """DESeq2 median-of-ratios size factors per sample."""
    return pd.Series(np.asarray(fit.dds.obs["size_factors"]), index=fit.dds.obs_names, name="size_factor")
