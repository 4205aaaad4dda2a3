"""Differential expression with PyDESeq2, made to follow R DESeq2's defaults.

Fits
----
One :class:`pydeseq2.dds.DeseqDataSet` is fitted per set of reference levels: every categorical
design variable gets an explicit reference (``reference_levels`` in the config, overridden by a
contrast's own ``reference``), so coefficient names read ``condition[T.T2DM]`` and reference levels
never flip silently (``"T2DM"`` sorts before ``"control"``). Contrasts that need the same
references share the fit.

Tests
-----
* Wald test of ``target`` vs ``reference`` or of one named coefficient (e.g. an interaction);
* likelihood-ratio test against a reduced design (R's ``test = "LRT"``): both models are refitted
  by IRLS with the full model's dispersions; ``stat = 2 (logL_full - logL_reduced)``, chi-square with
  ``p_full - p_reduced`` degrees of freedom. Genes whose outliers were replaced (Cook's) use the
  replaced counts, as in R.

Adjustment
----------
Cook's filtering as in PyDESeq2/R, then independent filtering with R's exact procedure
(:mod:`bmsc_dge.deseq2._multitest`; PyDESeq2's own lowess differs from R's) or plain BH when
``independent_filter`` is off. The shrunken log2 fold change (PyDESeq2's ``lfc_shrink`` objective,
apeGLM-style Cauchy prior, solved for all genes at once by :func:`bmsc_dge.deseq2._glm.shrink_lfc_map`) is
added beside the MLE.

Engines
-------
``DEConfig.engine = "bmsc-dge"`` (default) uses :class:`RInference` / :class:`RDeseqDataSet`;
``"pydeseq2"`` runs stock PyDESeq2's backend (same reporting, independent filtering and ridge).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from contextlib import nullcontext
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
from pydeseq2.dds import DeseqDataSet
from pydeseq2.default_inference import DefaultInference
from pydeseq2.ds import DeseqStats

from bmsc_dge import engines
from bmsc_dge.calls import significant
from bmsc_dge.config import Contrast, DEConfig
from bmsc_dge.deseq2._blocks import R_RIDGE, one_blas_thread
from bmsc_dge.deseq2._coefficients import (
    coefficient_scale,
    resolve_coefficient,
    standardise_covariates,
    with_references,
)
from bmsc_dge.deseq2._dataset import AVG_TX_LENGTH, NORM_FACTORS, RDeseqDataSet
from bmsc_dge.deseq2._glm import threshold_test
from bmsc_dge.deseq2._inference import RInference
from bmsc_dge.deseq2._lrt import lrt_statistics
from bmsc_dge.deseq2._model import DEFit
from bmsc_dge.deseq2._multitest import bh_adjust, independent_filtering
from bmsc_dge.errors import FitError

logger = logging.getLogger(__name__)


def size_factor_type(counts: np.ndarray, requested: str) -> str:
    """The size-factor method to use: ``requested``, or ``poscounts`` where R's ``ratio`` cannot work.

    R's median-of-ratios needs genes without zeros; when every gene has a zero R stops and advises
    ``type = "poscounts"`` (PyDESeq2 would switch silently to its iterative method, which R uses
    only on request). bmsc-dge switches to ``poscounts`` with a warning.
    """
    if requested == "ratio" and not (np.asarray(counts) > 0).all(axis=0).any():
        logger.warning(
            "every gene has a zero count in at least one sample: median-of-ratios size factors are "
            "undefined, using DESeq2's 'poscounts' size factors (set de.size_factors: poscounts to "
            "silence this)"
        )
        return "poscounts"
    return requested


def fit_inputs(
    adata: ad.AnnData, frame: pd.DataFrame, design: str, references: Mapping[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """What :func:`fit_deseq2` fits on: the samples x genes counts, the design frame and its scales.

    The frame has the reference levels set and numeric covariates standardised
    (:func:`standardise_covariates`, whose SDs are the scales); the leave-one-out refits that
    start before the fit (:mod:`bmsc_dge.targets`) prepare their inputs with this same function.
    """
    counts = pd.DataFrame(np.asarray(adata.layers["counts"]), index=adata.obs_names, columns=adata.var_names)
    meta, scales = standardise_covariates(with_references(frame.loc[adata.obs_names], references), design)
    return counts, meta, scales


def fit_deseq2(
    adata: ad.AnnData,
    frame: pd.DataFrame,
    design: str,
    references: Mapping[str, str],
    cfg: DEConfig,
) -> DEFit:
    """Fit DESeq2 (size factors, dispersions, LFCs, Cook's and refit) on ``adata.layers['counts']``.

    Parameters
    ----------
    adata
        Samples x genes with raw counts in ``layers["counts"]`` and ``var["symbol"]``.
    frame
        Design variables per sample (from :func:`bmsc_dge.study.prepare_design_frame`).
    design
        Formula, e.g. ``"~ batch + sex + condition"``.
    references
        Reference level per categorical variable (others: first in sorted order).
    cfg
        DE settings.

    Returns
    -------
    DEFit
        The fitted data set and the categorical design frame it used.
    """
    counts, meta, scales = fit_inputs(adata, frame, design, references)
    sf_type = size_factor_type(counts.to_numpy(), cfg.size_factors)
    engine = engines.get("deseq2", cfg.engine)
    dataset_class, inference_class = engine.implementation
    with warnings.catch_warnings(), one_blas_thread(), np.errstate(all="ignore"):
        # numpy's overflow/invalid warnings of single genes are not shown: genes whose fits fail
        # are named by contrast_table (R: "rows did not converge in beta")
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=RuntimeWarning)
        dds = dataset_class(
            counts=counts,
            metadata=meta,
            design=design,
            refit_cooks=cfg.refit_cooks,
            fit_type=cfg.fit_type,
            size_factors_fit_type=sf_type,
            inference=inference_class(n_cpus=cfg.n_cpus),
            quiet=True,
        )
        dds.var["symbol"] = adata.var["symbol"].astype(str).to_numpy()
        if AVG_TX_LENGTH in adata.layers:  # R's DESeqDataSetFromTximport: length offsets
            if engine.name != "bmsc-dge":
                raise FitError(
                    f"{engine.label} cannot use average transcript lengths (R's normalizationFactors); "
                    "use de.engine: bmsc-dge"
                )
            dds.layers[AVG_TX_LENGTH] = np.asarray(adata.layers[AVG_TX_LENGTH], dtype=float)
        try:
            dds.deseq2()
        except np.linalg.LinAlgError as exc:
            raise FitError(
                f"the DESeq2 fit ({engine.label}) failed: {exc}. "
                + (
                    "Stock PyDESeq2 inverts X'WX without a ridge and fails when a gene's fitted means "
                    "underflow (e.g. a gene absent from one donor); use de.engine: bmsc-dge"
                    if engine.name == "pydeseq2"
                    else "Check the design for confounded or empty factor levels"
                )
            ) from exc
    logger.info("DESeq2 fit (references %s): %d genes x %d samples", dict(references), dds.n_vars, dds.n_obs)
    return DEFit(references=dict(references), meta=meta, dds=dds, scales=scales)


def _contrast_vector(fit: DEFit, contrast: Contrast) -> tuple[np.ndarray, str | None]:
    """Contrast vector over the design columns and the coefficient to shrink (if one exists)."""
    cols = list(fit.dds.obsm["design_matrix"].columns)
    if contrast.variable is not None:
        vec = np.asarray(
            fit.dds.contrast(
                column=contrast.variable, baseline=contrast.reference, group_to_compare=contrast.target
            ),
            dtype=float,
        )
        suffix = f"[T.{contrast.target}]"
        hits = [c for c in cols if c.endswith(suffix) and contrast.variable in c and ":" not in c]
        coeff = hits[0] if len(hits) == 1 and np.count_nonzero(vec) == 1 else None
        return vec, coeff
    name = resolve_coefficient(cols, contrast.coefficient) if contrast.coefficient else cols[-1]
    vec = np.zeros(len(cols))
    vec[cols.index(name)] = 1.0
    return vec, name


def contrast_table(fit: DEFit, contrast: Contrast, alpha: float, cfg: DEConfig) -> pd.DataFrame:
    """Test one contrast; return a tidy table with shrunken LFCs beside the MLE ones.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`DE_COLUMNS`, one row per gene, sorted by p-value (NaN last). The
        independent-filtering threshold is in ``table.attrs["filter_threshold"]``.
    """
    dds = fit.dds
    vec, coeff = _contrast_vector(fit, contrast)
    cols = list(dds.obsm["design_matrix"].columns)
    # a slope of a standardised covariate is reported per original unit (stat and p unchanged)
    unit = (
        coefficient_scale(cols[int(np.flatnonzero(vec)[0])], fit.scales)
        if np.count_nonzero(vec) == 1
        else 1.0
    )
    with warnings.catch_warnings(), one_blas_thread(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=RuntimeWarning)
        # R's ridge is lambda = 1e-6 on the log2 scale, i.e. 1e-6 / log(2)^2 on PyDESeq2's natural-log
        # scale (PyDESeq2 uses 1e-6); prior_LFC_var sets the Wald ridge to diag(1 / prior_LFC_var^2).
        ridge_sd = np.full(vec.size, 1.0 / np.sqrt(R_RIDGE))
        ds = DeseqStats(
            dds,
            contrast=vec,
            alpha=alpha,
            cooks_filter=cfg.cooks_filter,
            prior_LFC_var=ridge_sd,
            independent_filter=False,
            inference=dds.inference,
            quiet=True,
        )
        with _offsets(dds, None):
            ds.run_wald_test()
        lfc = (ds.LFC.to_numpy() @ vec) / np.log(2) / unit
        se = ds.SE.to_numpy(dtype=float) / np.log(2) / unit
        stat = ds.statistics.to_numpy(dtype=float)
        pval = ds.p_values.to_numpy(dtype=float)
        if contrast.test == "lrt":
            stat, pval, df = lrt_statistics(fit, str(contrast.reduced), cfg)
            logger.info("contrast %s: LRT with %d degree(s) of freedom", contrast.name, df)
        elif contrast.lfc_threshold > 0 or contrast.alt_hypothesis != "greaterAbs":
            stat, pval = threshold_test(lfc, se, contrast.lfc_threshold, contrast.alt_hypothesis)
            logger.info("contrast %s: Wald test of %s", contrast.name, contrast.hypothesis)
        all_zero = np.asarray(dds.X).sum(axis=0) == 0
        pval = np.where(all_zero, np.nan, pval)
        if cfg.cooks_filter:
            pval = np.where(np.asarray(dds.cooks_outlier(), dtype=bool), np.nan, pval)
        base_mean = dds.var["_normed_means"].to_numpy(dtype=float)
        threshold = float("nan")
        if cfg.independent_filter:
            filt = independent_filtering(base_mean, pval, alpha)
            padj, threshold = filt.padj, filt.threshold
        else:
            padj = bh_adjust(pval)
        shrunk = np.full(dds.n_vars, np.nan)
        shrunk_se = np.full(dds.n_vars, np.nan)
        shrink_failed = np.zeros(dds.n_vars, dtype=bool)
        if cfg.lfc_shrink and coeff is not None:
            with _offsets(dds, dds.non_zero_idx):
                ds.lfc_shrink(coeff=coeff)
            shrunk = ds.LFC[coeff].to_numpy(dtype=float) / np.log(2) / unit
            shrunk_se = ds.SE.to_numpy(dtype=float) / np.log(2) / unit
            shrink_failed = ~ds._LFC_shrink_converged.fillna(True).to_numpy(dtype=bool)
    res = pd.DataFrame(
        {
            "gene_id": dds.var_names.astype(str),
            "symbol": dds.var["symbol"].astype(str).to_numpy(),
            "baseMean": base_mean,
            "log2FoldChange": lfc,
            "lfcSE": se,
            "stat": stat,
            "pvalue": pval,
            "padj": padj,
            "log2FoldChange_shrunk": shrunk,
            "lfcSE_shrunk": shrunk_se,
        }
    )
    res.loc[all_zero, ["log2FoldChange", "lfcSE", "stat", "log2FoldChange_shrunk", "lfcSE_shrunk"]] = np.nan
    problems = fit_problems(fit, shrink_failed)
    res.attrs["fit_problems"] = problems
    for reason, genes in problems.items():
        shown = ", ".join(genes[:10]) + (f" and {len(genes) - 10} more" if len(genes) > 10 else "")
        logger.warning("contrast %s: %d gene(s) %s: %s", contrast.name, len(genes), reason, shown)
    res = res.sort_values(
        ["pvalue", "baseMean"], ascending=[True, False], na_position="last", kind="mergesort"
    )
    res.index = pd.RangeIndex(len(res))
    res.attrs["filter_threshold"] = threshold
    logger.info(
        "contrast %s: %d genes at padj < %g (independent-filter baseMean threshold %.3g)",
        contrast.name,
        int(significant(res, alpha).sum()),
        alpha,
        threshold,
    )
    return res


def _offsets(dds: DeseqDataSet, genes: np.ndarray | None) -> Any:
    """Normalization factors of ``genes`` (all when None) for PyDESeq2's statistics calls, if any."""
    if NORM_FACTORS not in dds.layers:
        return nullcontext()
    nf = np.asarray(dds.layers[NORM_FACTORS], dtype=float)
    return dds.inference.offsets(nf if genes is None else nf[:, genes])


def fit_problems(fit: DEFit, shrink_failed: np.ndarray | None = None) -> dict[str, list[str]]:
    """Genes whose fits failed, by reason (R reports the first as "rows did not converge in beta").

    Returns
    -------
    dict
        ``reason -> gene labels`` (symbol, or ID when the symbol is missing), reasons with genes only.
    """
    dds = fit.dds
    labels = np.where(
        dds.var["symbol"].astype(str).isin(["", "nan", "None"]),
        dds.var_names.astype(str),
        dds.var["symbol"].astype(str),
    )

    def flagged(column: str) -> np.ndarray:
        if column not in dds.var:
            return np.zeros(dds.n_vars, dtype=bool)
        return ~dds.var[column].astype("boolean").fillna(True).to_numpy(dtype=bool)

    out = {
        "whose GLM fit did not converge (IRLS and optim; their log2FC and p-values are unreliable)": flagged(
            "_LFC_converged"
        ),
        "whose LFC shrinkage did not converge (log2FoldChange_shrunk is the last iterate)": (
            shrink_failed if shrink_failed is not None else np.zeros(dds.n_vars, dtype=bool)
        ),
    }
    return {reason: [str(g) for g in labels[mask]] for reason, mask in out.items() if mask.any()}


def normalized_counts(fit: DEFit) -> pd.DataFrame:
    """Counts divided by DESeq2 size factors, or by normalization factors when the fit has them."""
    dds = fit.dds
    return pd.DataFrame(np.asarray(dds.layers["normed_counts"]), index=dds.obs_names, columns=dds.var_names)


def size_factors(fit: DEFit) -> pd.Series:
    """DESeq2 size factors per sample (with transcript-length offsets: their library-size part)."""
    return pd.Series(np.asarray(fit.dds.obs["size_factors"]), index=fit.dds.obs_names, name="size_factor")


#: implementation: (data set class, inference class) handed ``fit_deseq2``'s arguments
BMSC_DGE_ENGINE = engines.register(
    engines.Engine(
        kind="deseq2",
        name="bmsc-dge",
        package="bmsc-dge",
        label="bmsc-dge's DESeq2 engine",
        method=(
            "R DESeq2 1.38's size factors, dispersion line search, parametric trend, simulated prior "
            "variance for 1-3 residual df, IRLS with optim refits and Wald tests, all genes at once, on "
            "PyDESeq2 data structures"
        ),
        reference="Love MI, Huber W, Anders S (2014) Genome Biol 15:550, doi:10.1186/s13059-014-0550-8",
        implementation=(RDeseqDataSet, RInference),
    )
)
PYDESEQ2_ENGINE = engines.register(
    engines.Engine(
        kind="deseq2",
        name="pydeseq2",
        package="pydeseq2",
        label="stock PyDESeq2",
        method="PyDESeq2's per-gene optimisers",
        reference="Muzellec B, Telenczuk M, Cabeli V, Andreux M (2023) Bioinformatics, doi:10.1093/bioinformatics/btad547",
        implementation=(DeseqDataSet, DefaultInference),
    )
)
