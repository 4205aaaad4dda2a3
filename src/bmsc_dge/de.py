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
(:mod:`bmsc_dge.multitest`; PyDESeq2's own lowess differs from R's) or plain BH when
``independent_filter`` is off. The shrunken log2 fold change (PyDESeq2's ``lfc_shrink`` objective,
apeGLM-style Cauchy prior, solved for all genes at once by :func:`bmsc_dge.glm.shrink_lfc_map`) is
added beside the MLE.

Engines
-------
``DEConfig.engine = "bmsc-dge"`` (default) uses :class:`RInference` / :class:`RDeseqDataSet`;
``"pydeseq2"`` runs stock PyDESeq2's backend (same reporting, independent filtering and ridge).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import anndata as ad
import numpy as np
import pandas as pd
from formulaic import model_matrix
from pydeseq2.dds import DeseqDataSet
from pydeseq2.default_inference import DefaultInference
from pydeseq2.ds import DeseqStats
from scipy.stats import chi2

from bmsc_dge.config import Contrast, DEConfig
from bmsc_dge.dispersion import (
    TrendFitError,
    genewise_dispersions_r,
    irls_r,
    map_dispersions_r,
    nb_deviance,
    optim_refit_r,
    parametric_trend_r,
)
from bmsc_dge.dispersion_prior import dispersion_prior_variance
from bmsc_dge.errors import DesignError, FitError
from bmsc_dge.glm import linear_model_mu, shrink_lfc_map, threshold_test, wald_test
from bmsc_dge.multitest import bh_adjust, independent_filtering

logger = logging.getLogger(__name__)

MIN_MU = 0.5  # DESeq2's minmu
R_RIDGE = 1e-6 / np.log(2) ** 2  # DESeq2's lambda (log2 scale) expressed on the natural-log scale
#: samples x genes elements per block of the vectorised fits (~160 MB per float64 temporary):
#: large studies are fitted in gene blocks so memory stays bounded (60,000 x 1,000 in < 8 GB)
CHUNK_ELEMENTS = 20_000_000
MIN_BLOCK_GENES = 2_000


def by_gene_blocks(
    fit: Callable[[slice], tuple[np.ndarray, ...]],
    n_samples: int,
    n_genes: int,
    gene_axes: tuple[int, ...],
    threads: int = 1,
) -> tuple[np.ndarray, ...]:
    """Run ``fit`` on blocks of genes (in ``threads`` threads) and join the outputs along each gene axis.

    Parameters
    ----------
    fit
        Fits the genes of one slice; returns arrays whose gene axis is given by ``gene_axes``.
    n_samples, n_genes
        Problem size; a block holds at most :data:`CHUNK_ELEMENTS` / ``threads`` samples x genes
        (so memory does not grow with threads) and at least :data:`MIN_BLOCK_GENES` genes.
    gene_axes
        Axis of each returned array that runs over genes (0 for per-gene vectors and
        genes x p matrices, 1 for samples x genes matrices).
    threads
        Blocks fitted at once; numpy releases the GIL in its array loops, so two threads use two
        cores. Genes are independent, so the answers do not depend on the blocking.
    """
    threads = max(1, threads)
    size = max(MIN_BLOCK_GENES, CHUNK_ELEMENTS // threads // max(n_samples, 1))
    if threads > 1:
        size = min(size, max(MIN_BLOCK_GENES, -(-n_genes // threads)))
    if n_genes <= size:
        return fit(slice(None))
    blocks = [slice(i, min(i + size, n_genes)) for i in range(0, n_genes, size)]
    if threads > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            parts = list(pool.map(fit, blocks))
    else:
        parts = [fit(b) for b in blocks]
    return tuple(np.concatenate([p[k] for p in parts], axis=ax) for k, ax in enumerate(gene_axes))


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


class RInference(DefaultInference):
    """PyDESeq2 inference backend that fits all genes at once, following R DESeq2.

    * Dispersions: PyDESeq2 maximises the Cox-Reid adjusted likelihood with L-BFGS-B and reaches
      the true optimum; R's Armijo line search (``fitDisp``) stops once a step gains less than 1e-6
      in log posterior, which for high-count genes leaves estimates up to ~40% away from the
      optimum. Matching R means matching its stopping rule, so this backend reproduces ``fitDisp``
      / ``fitDispGrid`` (:mod:`bmsc_dge.dispersion`).
    * GLM coefficients: R's ``fitBeta`` IRLS; genes it does not converge are refitted by
      PyDESeq2's per-gene optimiser (R uses ``optim`` for them).
    * Linear-model means, Wald tests and apeGLM-style LFC shrinkage: :mod:`bmsc_dge.glm`.

    Nothing runs per gene in Python and no process pool is started: ``n_cpus`` threads fit blocks
    of genes at once (:func:`by_gene_blocks`; numpy releases the GIL in its array loops).
    """

    def irls(  # noqa: D102 - interface documented in pydeseq2.inference.Inference
        self,
        counts: np.ndarray,
        size_factors: np.ndarray,
        design_matrix: np.ndarray,
        disp: np.ndarray,
        min_mu: float,
        beta_tol: float,
        min_beta: float = -30,
        max_beta: float = 30,
        optimizer: str = "L-BFGS-B",
        maxiter: int = 250,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        y = np.asarray(counts, dtype=float)
        sf = np.asarray(size_factors, dtype=float)
        x = np.asarray(design_matrix, dtype=float)
        d = np.asarray(disp, dtype=float)
        beta, mu, hat, conv = by_gene_blocks(
            lambda g: irls_r(y[:, g], sf, x, d[g], ridge=R_RIDGE, min_mu=min_mu),
            y.shape[0],
            y.shape[1],
            (0, 1, 1, 0),
            threads=self.n_cpus,
        )
        if (~conv).any():  # R refits these with optim (fitNbinomGLMsOptim); hat values stay IRLS's
            idx = np.flatnonzero(~conv)
            b2, m2, c2 = optim_refit_r(y[:, idx], sf, x, d[idx], beta[idx], min_mu=min_mu)
            beta[idx], mu[:, idx] = b2, m2
            conv[idx] = c2
        return beta, mu, hat, conv

    def lin_reg_mu(  # noqa: D102 - interface documented in pydeseq2.inference.Inference
        self,
        counts: np.ndarray,
        size_factors: np.ndarray,
        design_matrix: np.ndarray,
        min_mu: float,
    ) -> np.ndarray:
        return linear_model_mu(counts, size_factors, design_matrix, min_mu)

    def wald_test(  # noqa: D102 - interface documented in pydeseq2.inference.Inference
        self,
        design_matrix: np.ndarray,
        disp: np.ndarray,
        lfc: np.ndarray,
        mu: np.ndarray,
        ridge_factor: np.ndarray,
        contrast: np.ndarray,
        lfc_null: np.ndarray,
        alt_hypothesis: Literal["greaterAbs", "lessAbs", "greater", "less"] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if alt_hypothesis is not None:  # thresholded tests: PyDESeq2's per-gene code
            return super().wald_test(
                design_matrix, disp, lfc, mu, ridge_factor, contrast, lfc_null, alt_hypothesis
            )
        x = np.asarray(design_matrix, dtype=float)
        d, b = np.asarray(disp, dtype=float), np.asarray(lfc, dtype=float)
        # R's fitBeta forms the covariance from the means clamped at minmu (0.5), as in its IRLS
        # loop; PyDESeq2 passes unclamped means. Low-count genes in shallow data depend on this.
        m = np.maximum(np.asarray(mu, dtype=float), MIN_MU)
        ridge, c, null = (
            np.asarray(ridge_factor, dtype=float),
            np.asarray(contrast, dtype=float),
            float(np.asarray(lfc_null)),
        )
        p, stat, se = by_gene_blocks(
            lambda g: wald_test(x, d[g], b[g], m[:, g], ridge, c, null),
            m.shape[0],
            m.shape[1],
            (0, 0, 0),
            threads=self.n_cpus,
        )
        return p, stat, se

    def lfc_shrink_nbinom_glm(  # noqa: D102 - interface documented in pydeseq2.inference.Inference
        self,
        design_matrix: np.ndarray,
        counts: np.ndarray,
        size: np.ndarray,
        offset: np.ndarray,
        prior_no_shrink_scale: float,
        prior_scale: float,
        optimizer: str,
        shrink_index: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        y, sz = np.asarray(counts, dtype=float), np.asarray(size, dtype=float)
        beta, inv, conv = by_gene_blocks(
            lambda g: shrink_lfc_map(
                design_matrix, y[:, g], sz[g], offset, prior_no_shrink_scale, prior_scale, shrink_index
            ),
            y.shape[0],
            y.shape[1],
            (0, 0, 0),
            threads=self.n_cpus,
        )
        return beta, inv, conv

    def alpha_mle(  # noqa: D102 - interface documented in pydeseq2.inference.Inference
        self,
        counts: np.ndarray,
        design_matrix: np.ndarray,
        mu: np.ndarray,
        alpha_hat: np.ndarray,
        min_disp: float,
        max_disp: float,
        prior_disp_var: float | None = None,
        cr_reg: bool = True,
        prior_reg: bool = False,
        optimizer: str = "L-BFGS-B",
    ) -> tuple[np.ndarray, np.ndarray]:
        if not cr_reg:
            return super().alpha_mle(
                counts,
                design_matrix,
                mu,
                alpha_hat,
                min_disp,
                max_disp,  # type: ignore[arg-type]
                prior_disp_var,
                cr_reg,
                prior_reg,
                optimizer,
            )
        y = np.asarray(counts, dtype=float)
        x = np.asarray(design_matrix, dtype=float)
        # R clamps the fitted means at minmu = 0.5 before estimating dispersions (PyDESeq2 does so
        # only for its linear-model means); this matters for low-count genes in GLM designs.
        m = np.maximum(np.asarray(mu, dtype=float), MIN_MU)
        a = np.asarray(alpha_hat, float)
        if prior_reg:
            var = float(prior_disp_var or 1.0)
            disp, conv = by_gene_blocks(
                lambda g: map_dispersions_r(y[:, g], x, m[:, g], a[g], a[g], var, min_disp, max_disp),
                y.shape[0],
                y.shape[1],
                (0, 0),
                threads=self.n_cpus,
            )
            return disp, conv
        disp, conv = by_gene_blocks(
            lambda g: genewise_dispersions_r(y[:, g], x, m[:, g], a[g], min_disp, max_disp),
            y.shape[0],
            y.shape[1],
            (0, 0),
            threads=self.n_cpus,
        )
        return disp, conv


class RDeseqDataSet(DeseqDataSet):
    """PyDESeq2's data set with R DESeq2's dispersion estimation.

    Gene-wise dispersions use :class:`RInference` (R's line search, no-increase rule and grid
    fallback); the trend is R's ``parametricDispersionFit``; MAP dispersions start where R starts
    them (gene-wise estimate unless below 0.1 x trend). Size factors, GLM fits, Cook's distances
    and the outlier refit are PyDESeq2's (the refit's MAP step starts at the trend, a small
    difference from R that only touches replaced genes).
    """

    def fit_size_factors(self, fit_type: str | None = None, control_genes: object = None) -> None:  # type: ignore[override]
        """Size factors; ``poscounts`` as R's ``estimateSizeFactors(type = "poscounts")``.

        R's geometric mean of a gene is ``exp(sum(log(positive counts)) / m)`` (zeros count in the
        denominator), each sample's factor the median ratio over its positive counts, and the
        factors are scaled to geometric mean 1. PyDESeq2's ``poscounts`` differs by up to ~0.2%.
        """
        kind = fit_type or self.size_factors_fit_type
        if kind != "poscounts" or control_genes is not None:
            super().fit_size_factors(fit_type=fit_type, control_genes=control_genes)  # type: ignore[arg-type]
            return
        counts = np.asarray(self.X, dtype=float)
        with np.errstate(divide="ignore"):
            logc = np.log(counts)
        pos = counts > 0
        log_geo = np.where(pos, logc, 0.0).sum(axis=0) / counts.shape[0]
        log_geo[~pos.any(axis=0)] = -np.inf
        usable = np.isfinite(log_geo)[None, :] & pos
        with np.errstate(invalid="ignore"):
            ratios = np.where(usable, logc - log_geo[None, :], np.nan)
        sf = np.exp(np.nanmedian(ratios, axis=1))
        sf = sf / np.exp(np.mean(np.log(sf)))
        self.obs["size_factors"] = sf
        self.layers["normed_counts"] = counts / sf[:, None]
        self.var["_normed_means"] = self.layers["normed_counts"].mean(axis=0)
        self.logmeans = log_geo
        self.filtered_genes = np.isfinite(log_geo)

    def fit_dispersion_prior(self) -> None:
        """Prior variance of log dispersions as R's ``estimateDispersionsPriorVar``.

        PyDESeq2 uses the trigamma formula for every design; R simulates the prior variance when
        the design leaves 1-3 residual degrees of freedom (:mod:`bmsc_dge.dispersion_prior`).
        """
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)  # PyDESeq2's few-df warning
            super().fit_dispersion_prior()
        n_coefs = self.obsm["design_matrix"].shape[-1]
        if 0 < self.n_obs - n_coefs <= 3:
            nz = self.var["non_zero"].to_numpy(dtype=bool)
            gw = self.var["genewise_dispersions"].to_numpy(dtype=float)[nz]
            fitted = self.var["fitted_dispersions"].to_numpy(dtype=float)[nz]
            above = gw >= 100 * self.min_disp
            self.uns["prior_disp_var"] = dispersion_prior_variance(
                np.log(gw[above]) - np.log(fitted[above]),
                float(self.uns["_squared_logres"]),
                self.n_obs,
                n_coefs,
            )
            logger.info(
                "dispersion prior variance %.4g simulated as R does (%d residual df)",
                self.uns["prior_disp_var"],
                self.n_obs - n_coefs,
            )

    def fit_MAP_dispersions(self) -> None:  # noqa: N802 - PyDESeq2 method name
        """MAP dispersions as R's ``estimateDispersionsMAP``, then the dispersion-outlier rule."""
        if "prior_disp_var" not in self.uns:
            self.fit_dispersion_prior()
        nz = self.var["non_zero"].to_numpy(dtype=bool)
        gw = self.var["genewise_dispersions"].to_numpy(dtype=float)[nz]
        fitted = self.var["fitted_dispersions"].to_numpy(dtype=float)[nz]
        init = np.where(gw > 0.1 * fitted, gw, fitted)
        init = np.where(np.isnan(init), fitted, init)
        idx = np.flatnonzero(nz)
        x = np.asarray(self.obsm["design_matrix"], dtype=float)
        var = float(self.uns["prior_disp_var"])

        def block(g: slice) -> tuple[np.ndarray, np.ndarray]:
            cols = idx[g]
            return map_dispersions_r(
                np.asarray(self.X[:, cols], dtype=float),
                x,
                np.maximum(np.asarray(self.layers["_mu_hat"][:, cols], dtype=float), MIN_MU),
                init[g],
                fitted[g],
                var,
                self.min_disp,
                self.max_disp,
            )

        disp, conv = by_gene_blocks(block, self.n_obs, idx.size, (0, 0), threads=self.inference.n_cpus)
        full = np.full(self.n_vars, np.nan)
        full[nz] = disp
        self.var["MAP_dispersions"] = full
        self.var["_MAP_converged"] = pd.array([pd.NA] * self.n_vars, dtype="boolean")
        self.var.loc[self.var["non_zero"], "_MAP_converged"] = conv
        self.var["dispersions"] = self.var["MAP_dispersions"].copy()
        outlier = np.log(self.var["genewise_dispersions"]) > np.log(
            self.var["fitted_dispersions"]
        ) + 2 * np.sqrt(self.uns["_squared_logres"])
        self.var["_outlier_genes"] = outlier.fillna(False).astype(bool)
        self.var.loc[self.var["_outlier_genes"], "dispersions"] = self.var.loc[
            self.var["_outlier_genes"], "genewise_dispersions"
        ]

    def fit_dispersion_trend(self, vst: bool = False) -> None:
        """Fit the trend as R does (:func:`bmsc_dge.dispersion.parametric_trend_r`)."""
        fit_type = self.vst_fit_type if vst else self.fit_type
        name = "vst_genewise_dispersions" if vst else "genewise_dispersions"
        if fit_type != "parametric":
            super().fit_dispersion_trend(vst)
            return
        if name not in self.var:
            self.fit_genewise_dispersions(vst)
        nz = self.var["non_zero"].to_numpy(dtype=bool)
        means = self.var["_normed_means"].to_numpy(dtype=float)
        disps = self.var[name].to_numpy(dtype=float)
        use = nz & (disps > 100 * self.min_disp) & np.isfinite(disps)
        try:
            coeffs = parametric_trend_r(means[use], disps[use])
        except TrendFitError as exc:
            logger.warning("dispersion trend: %s; using the mean trend instead (as PyDESeq2 does)", exc)
            self._fit_mean_dispersion_trend(vst)
            return
        key = "vst_trend_coeffs" if vst else "trend_coeffs"
        self.uns[key] = pd.Series(coeffs, index=["a0", "a1"])
        if not vst:
            self.uns["disp_function_type"] = "parametric"
            fitted = np.full(self.n_vars, np.nan)
            fitted[nz] = coeffs[0] + coeffs[1] / means[nz]
            self.var["fitted_dispersions"] = fitted


@dataclass
class DEFit:
    """A fitted DESeq2 model for one set of reference levels."""

    references: dict[str, str]
    meta: pd.DataFrame
    dds: DeseqDataSet


def reorder_reference(frame: pd.DataFrame, variable: str, reference: str) -> pd.DataFrame:
    """Copy of ``frame`` with ``variable`` categorical and ``reference`` as its first level."""
    return with_references(frame, {variable: reference})


def with_references(frame: pd.DataFrame, references: Mapping[str, str]) -> pd.DataFrame:
    """Categorical copy of ``frame``: given references first, other levels sorted."""
    out = frame.copy()
    for col in out.columns:
        if col in references or out[col].dtype == object or isinstance(out[col].dtype, pd.CategoricalDtype):
            values = out[col].astype(str)
            ref = references.get(col)
            levels = sorted(values.unique())
            if ref is not None:
                levels = [ref, *[lv for lv in levels if lv != ref]]
            out[col] = pd.Categorical(values, categories=levels)
    return out


def fit_references(contrast: Contrast, base: Mapping[str, str]) -> dict[str, str]:
    """Reference levels a contrast needs: the study's, overridden by the contrast's own."""
    refs = dict(base)
    if contrast.variable is not None and contrast.reference is not None:
        refs[contrast.variable] = contrast.reference
    return refs


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
        Design variables per sample (from :func:`bmsc_dge.validation.prepare_design_frame`).
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
    counts = pd.DataFrame(np.asarray(adata.layers["counts"]), index=adata.obs_names, columns=adata.var_names)
    meta = with_references(frame.loc[adata.obs_names], references)
    sf_type = size_factor_type(counts.to_numpy(), cfg.size_factors)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        stock = cfg.engine == "pydeseq2"
        dds = (DeseqDataSet if stock else RDeseqDataSet)(
            counts=counts,
            metadata=meta,
            design=design,
            refit_cooks=cfg.refit_cooks,
            fit_type=cfg.fit_type,
            size_factors_fit_type=sf_type,
            inference=(DefaultInference if stock else RInference)(n_cpus=cfg.n_cpus),
            quiet=True,
        )
        dds.var["symbol"] = adata.var["symbol"].astype(str).to_numpy()
        try:
            dds.deseq2()
        except np.linalg.LinAlgError as exc:
            raise FitError(
                f"the DESeq2 fit ({cfg.engine} engine) failed: {exc}. "
                + (
                    "Stock PyDESeq2 inverts X'WX without a ridge and fails when a gene's fitted means "
                    "underflow (e.g. a gene absent from one donor); use de.engine: bmsc-dge"
                    if stock
                    else "Check the design for confounded or empty factor levels"
                )
            ) from exc
    logger.info("DESeq2 fit (references %s): %d genes x %d samples", dict(references), dds.n_vars, dds.n_obs)
    return DEFit(references=dict(references), meta=meta, dds=dds)


def _normalise_coefficient(name: str) -> str:
    """Compare formulaic (``sex[T.M]:condition[T.T2DM]``) and R (``sexM.conditionT2DM``) names."""
    return re.sub(r"[\[\]:._ ]|T\.", "", name).lower()


def resolve_coefficient(columns: Sequence[str], coefficient: str) -> str:
    """Find a design-matrix column by formulaic or R-style name.

    Raises
    ------
    DesignError
        When no column matches, listing the available ones.
    """
    if coefficient in columns:
        return coefficient
    hits = [c for c in columns if _normalise_coefficient(c) == _normalise_coefficient(coefficient)]
    if len(hits) == 1:
        return hits[0]
    raise DesignError(
        f"coefficient '{coefficient}' is not in the design",
        hint=f"available coefficients: {', '.join(columns)}",
    )


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


def lrt_statistics(fit: DEFit, reduced: str, cfg: DEConfig) -> tuple[np.ndarray, np.ndarray, int]:
    """Likelihood-ratio statistics and p-values against ``reduced`` for every gene.

    Returns
    -------
    tuple
        ``stat`` and ``pvalue`` per gene (NaN for all-zero genes) and the degrees of freedom.
    """
    dds = fit.dds
    full = np.asarray(dds.obsm["design_matrix"], dtype=float)
    try:
        red = np.asarray(model_matrix(reduced, fit.meta), dtype=float)
    except Exception as exc:
        raise DesignError(
            f"cannot build the reduced design {reduced!r}: {exc}",
            hint="the reduced formula must use variables of the full design",
        ) from exc
    df = full.shape[1] - red.shape[1]
    if df < 1 or np.linalg.matrix_rank(np.hstack([full, red])) != np.linalg.matrix_rank(full):
        raise DesignError(
            f"reduced design {reduced!r} is not nested in the full design with fewer terms",
            hint="drop terms from the full design to make the reduced one",
        )
    counts = np.asarray(dds.X, dtype=float).copy()
    if cfg.refit_cooks and "replaced" in dds.var and bool(dds.var["replaced"].any()):
        idx = dds.var_names.get_indexer(dds.counts_to_refit.var_names)
        counts[:, idx] = np.asarray(dds.counts_to_refit.X, dtype=float)
    disp = dds.var["dispersions"].to_numpy(dtype=float)
    sf = dds.obs["size_factors"].to_numpy(dtype=float)
    nz = counts.sum(axis=0) > 0
    stat = np.full(dds.n_vars, np.nan)
    inf = dds.inference
    lls = []
    for x in (full, red):
        _, mu, _, _ = inf.irls(
            counts=counts[:, nz],
            size_factors=sf,
            design_matrix=x,
            disp=disp[nz],
            min_mu=dds.min_mu,
            beta_tol=dds.beta_tol,
        )
        lls.append(
            -0.5 * nb_deviance(counts[:, nz], np.asarray(mu), disp[nz])
        )  # log-likelihood; mu: samples x genes
    stat[nz] = 2.0 * (lls[0] - lls[1])  # may be slightly negative; R does not clip either
    return stat, chi2.sf(stat, df), df


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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
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
        ds.run_wald_test()
        lfc = (ds.LFC.to_numpy() @ vec) / np.log(2)
        se = ds.SE.to_numpy(dtype=float) / np.log(2)
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
        if cfg.lfc_shrink and coeff is not None:
            ds.lfc_shrink(coeff=coeff)
            shrunk = ds.LFC[coeff].to_numpy(dtype=float) / np.log(2)
            shrunk_se = ds.SE.to_numpy(dtype=float) / np.log(2)
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
    res = res.sort_values(
        ["pvalue", "baseMean"], ascending=[True, False], na_position="last", kind="mergesort"
    )
    res.index = pd.RangeIndex(len(res))
    res.attrs["filter_threshold"] = threshold
    logger.info(
        "contrast %s: %d genes at padj < %g (independent-filter baseMean threshold %.3g)",
        contrast.name,
        int((res["padj"] < alpha).sum()),
        alpha,
        threshold,
    )
    return res


def normalized_counts(fit: DEFit) -> pd.DataFrame:
    """Counts divided by DESeq2 size factors (samples x genes)."""
    dds = fit.dds
    return pd.DataFrame(np.asarray(dds.layers["normed_counts"]), index=dds.obs_names, columns=dds.var_names)


def size_factors(fit: DEFit) -> pd.Series:
    """DESeq2 median-of-ratios size factors per sample."""
    return pd.Series(np.asarray(fit.dds.obs["size_factors"]), index=fit.dds.obs_names, name="size_factor")
