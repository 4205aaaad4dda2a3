"""PyDESeq2's data set with R DESeq2's size factors, dispersion trend, prior and MAP step."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from typing import Any

import numpy as np
import pandas as pd
from pydeseq2.dds import DeseqDataSet
from pydeseq2.utils import trimmed_mean
from scipy.special import polygamma
from scipy.stats import f as f_dist

from bmsc_dge.deseq2._blocks import MIN_MU, by_gene_blocks
from bmsc_dge.deseq2._dispersion import map_dispersions_r
from bmsc_dge.deseq2._prior import dispersion_prior_variance
from bmsc_dge.deseq2._trend import TrendFitError, parametric_trend_r

logger = logging.getLogger(__name__)

#: R's ``mad()`` constant (``stats::mad(constant = 1.4826)``)
R_MAD_CONSTANT = 1.4826
#: layer with average transcript lengths (samples x genes) from tximport / nf-core gene lengths
AVG_TX_LENGTH = "avg_tx_length"
#: layer with R's ``normalizationFactors`` (samples x genes), computed from :data:`AVG_TX_LENGTH`
NORM_FACTORS = "norm_factors"


def normalization_factors(
    counts: np.ndarray, lengths: np.ndarray, kind: str = "ratio"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R's ``estimateSizeFactors`` on a data set with ``avgTxLength`` (``estimateNormFactors``).

    ``nm = lengths / geometric mean of each gene's lengths``; library-size factors are the median
    ratios of ``counts / nm`` to the genes' geometric means (for ``poscounts``, R passes the
    positive-count geometric means of the raw counts, and rescales the factors to geometric mean
    1); ``nf = nm * sf``, divided by each gene's geometric mean over samples.

    Parameters
    ----------
    counts, lengths
        Samples x genes.
    kind
        ``ratio`` or ``poscounts`` (R's ``type``).

    Returns
    -------
    tuple
        Normalization factors (samples x genes), the library-size factors (scaled to geometric
        mean 1, for display) and the log geometric means used.
    """
    counts = np.asarray(counts, dtype=float)
    length = np.asarray(lengths, dtype=float)
    nm = length / np.exp(np.log(length).mean(axis=0))
    ratio = counts / nm
    with np.errstate(divide="ignore"):
        if kind == "poscounts":
            logc = np.log(counts)
            log_geo = np.where(counts > 0, logc, 0.0).sum(axis=0) / counts.shape[0]
            log_geo[~(counts > 0).any(axis=0)] = -np.inf
        else:
            log_geo = np.log(ratio).mean(axis=0)
        log_ratio = np.log(ratio)
    usable = np.isfinite(log_geo)[None, :] & (ratio > 0)
    with np.errstate(invalid="ignore"):
        sf = np.exp(np.nanmedian(np.where(usable, log_ratio - log_geo[None, :], np.nan), axis=1))
    if kind == "poscounts":
        sf = sf / np.exp(np.mean(np.log(sf)))
    nf = nm * sf[:, None]
    nf = nf / np.exp(np.log(nf).mean(axis=0))
    return nf, sf / np.exp(np.mean(np.log(sf))), log_geo


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
        if AVG_TX_LENGTH in self.layers or NORM_FACTORS in self.layers:
            self._fit_normalization_factors(kind)
            return
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

    def _fit_normalization_factors(self, kind: str) -> None:
        """R's normalization factors from :data:`AVG_TX_LENGTH` (kept when given, as in a refit).

        ``obs["size_factors"]`` then holds the library-size part (geometric mean 1), for display;
        every fit uses the factors of :data:`NORM_FACTORS`, as R's ``getSizeOrNormFactors``.
        """
        counts = np.asarray(self.X, dtype=float)
        if NORM_FACTORS in self.layers:
            nf = np.asarray(self.layers[NORM_FACTORS], dtype=float)
            sf = np.exp(np.log(nf).mean(axis=1))
        else:
            nf, sf, self.logmeans = normalization_factors(
                counts, np.asarray(self.layers[AVG_TX_LENGTH]), kind
            )
            self.filtered_genes = np.isfinite(self.logmeans)
            self.layers[NORM_FACTORS] = nf
        self.obs["size_factors"] = sf
        self.layers["normed_counts"] = counts / nf
        self.var["_normed_means"] = self.layers["normed_counts"].mean(axis=0)

    def _offsets(self, genes: np.ndarray) -> Any:
        """Context of the inference fits: normalization factors of ``genes`` when the data set has them."""
        if NORM_FACTORS not in self.layers:
            return nullcontext()
        return self.inference.offsets(np.asarray(self.layers[NORM_FACTORS], dtype=float)[:, genes])

    def fit_genewise_dispersions(self, vst: bool = False) -> None:
        """PyDESeq2's gene-wise step; with normalization factors the means and moments use them."""
        if "size_factors" not in self.obs:
            self.fit_size_factors(fit_type=self.size_factors_fit_type)
        with self._offsets(~(np.asarray(self.X) == 0).all(axis=0)):
            super().fit_genewise_dispersions(vst)

    def fit_LFC(self) -> None:  # noqa: N802 - PyDESeq2 method name
        """PyDESeq2's GLM fit (R's ``fitBeta``); with normalization factors ``mu = NF * exp(X b)``."""
        if "dispersions" not in self.var:
            self.fit_MAP_dispersions()
        with self._offsets(self.var["non_zero"].to_numpy(dtype=bool)):
            super().fit_LFC()

    def _replace_outliers(self) -> None:
        """R's ``replaceOutliers``: with normalization factors the replacement is ``trimmed mean x NF``."""
        super()._replace_outliers()
        if NORM_FACTORS not in self.layers or not bool(self.var["replaced"].any()):
            return
        cols = self.var["replaced"].to_numpy(dtype=bool)
        p = self.obsm["design_matrix"].shape[1]
        outlier = np.asarray(self.layers["cooks"])[:, cols] > f_dist.ppf(0.99, p, self.n_obs - p)
        trim = np.asarray(trimmed_mean(np.asarray(self.layers["normed_counts"])[:, cols], trim=0.2, axis=0))
        replacement = (trim[None, :] * np.asarray(self.layers[NORM_FACTORS])[:, cols]).astype(int)
        counts = np.asarray(self.X)[:, cols].copy()
        mask = self.obs["replaceable"].to_numpy(dtype=bool)[:, None] & outlier
        counts[mask] = replacement[mask]
        self.counts_to_refit.X = counts

    def _refit_without_outliers(self) -> None:
        """R's ``refitWithoutOutliers``; with normalization factors a sub data set of this class keeps them.

        As R: gene-wise dispersions of the replaced counts, the trend and prior variance of the
        full fit, MAP dispersions and the GLM fit, copied back into this data set.
        """
        if NORM_FACTORS not in self.layers:
            super()._refit_without_outliers()
            return
        sub_counts = np.asarray(self.counts_to_refit.X)
        new_all_zero = (sub_counts == 0).all(axis=0)
        self.new_all_zeroes_genes = self.counts_to_refit.var_names[new_all_zero]
        self.var["refitted"] = self.var["replaced"].copy()
        self.var.loc[self.var["refitted"], "refitted"] = ~new_all_zero
        if new_all_zero.any():
            self.var.loc[self.new_all_zeroes_genes, "_normed_means"] = 0
            self.varm["LFC"].loc[self.new_all_zeroes_genes, :] = 0
        refit = self.var["refitted"].to_numpy(dtype=bool)
        if not refit.any():
            return
        names = self.var_names[refit]
        sub = RDeseqDataSet(
            counts=pd.DataFrame(sub_counts[:, ~new_all_zero], index=self.obs_names, columns=names),
            metadata=self.obs,
            design=self.design,
            min_mu=self.min_mu,
            min_disp=self.min_disp,
            max_disp=self.max_disp,
            refit_cooks=False,
            beta_tol=self.beta_tol,
            inference=self.inference,
            quiet=True,
        )
        sub.layers[NORM_FACTORS] = np.asarray(self.layers[NORM_FACTORS])[:, refit]
        sub.fit_size_factors()
        sub.fit_genewise_dispersions()
        sub.uns["disp_function_type"] = self.uns["disp_function_type"]
        for key in ("trend_coeffs", "mean_disp"):
            if key in self.uns:
                sub.uns[key] = self.uns[key]
        sub.var["fitted_dispersions"] = sub.disp_function(sub.var["_normed_means"])
        sub.uns["_squared_logres"] = self.uns["_squared_logres"]
        sub.uns["prior_disp_var"] = self.uns["prior_disp_var"]
        sub.fit_MAP_dispersions()
        sub.fit_LFC()
        for name in ("_normed_means", "genewise_dispersions", "fitted_dispersions", "dispersions"):
            self.var.loc[refit, name] = sub.var[name].to_numpy()
        self.varm["LFC"][refit] = sub.varm["LFC"].to_numpy()
        self.layers["replace_cooks"] = np.asarray(self.layers["cooks"]).copy()
        replaceable = self.obs["replaceable"].to_numpy(dtype=bool)
        self.layers["replace_cooks"][np.ix_(replaceable, refit)] = 0.0

    def fit_dispersion_prior(self) -> None:
        """Prior variance of log dispersions as R's ``estimateDispersionsPriorVar``.

        ``varLogDispEsts`` is R's ``mad()`` of the log residuals of the genes with gene-wise
        dispersion >= 100 x ``minDisp``, with R's constant 1.4826 (PyDESeq2 divides by
        ``qnorm(0.75)``, 1.4826022: 3e-6 relative in the variance, which moved every MAP dispersion
        by ~1e-6). With more than 3 residual degrees of freedom the prior variance is
        ``max(varLogDispEsts - trigamma(df / 2), 0.25)``; with 1-3 R simulates it
        (:mod:`bmsc_dge.deseq2._prior`).
        """
        if "fitted_dispersions" not in self.var:
            self.fit_dispersion_trend()
        nz = self.var["non_zero"].to_numpy(dtype=bool)
        gw = self.var["genewise_dispersions"].to_numpy(dtype=float)[nz]
        fitted = self.var["fitted_dispersions"].to_numpy(dtype=float)[nz]
        above = gw >= 100 * self.min_disp
        residuals = np.log(gw[above]) - np.log(fitted[above])
        var_log = float((R_MAD_CONSTANT * np.median(np.abs(residuals - np.median(residuals)))) ** 2)
        self.uns["_squared_logres"] = np.float64(var_log)
        n_coefs = self.obsm["design_matrix"].shape[-1]
        df = self.n_obs - n_coefs
        if 0 < df <= 3:
            self.uns["prior_disp_var"] = dispersion_prior_variance(residuals, var_log, self.n_obs, n_coefs)
            logger.info(
                "dispersion prior variance %.4g simulated as R does (%d residual df)",
                self.uns["prior_disp_var"],
                df,
            )
        else:
            self.uns["prior_disp_var"] = np.float64(max(var_log - float(polygamma(1, df / 2)), 0.25))

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
        """Fit the trend as R does (:func:`bmsc_dge.deseq2._trend.parametric_trend_r`)."""
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
            logger.warning(
                "the parametric dispersion trend cannot be fitted on these data (%s). R DESeq2 would "
                "try a local fit next (not implemented here; on shallow 2 vs 2 libraries R's local fit "
                "usually fails as well, 'out of vertex space'); the mean of the gene-wise dispersions "
                "is used instead, as R's fitType = 'mean'. Set de.fit_type: mean to choose it explicitly",
                exc,
            )
            self._fit_mean_dispersion_trend(vst)
            return
        key = "vst_trend_coeffs" if vst else "trend_coeffs"
        self.uns[key] = pd.Series(coeffs, index=["a0", "a1"])
        if not vst:
            self.uns["disp_function_type"] = "parametric"
            fitted = np.full(self.n_vars, np.nan)
            fitted[nz] = coeffs[0] + coeffs[1] / means[nz]
            self.var["fitted_dispersions"] = fitted
