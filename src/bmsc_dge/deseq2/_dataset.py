"""PyDESeq2's data set with R DESeq2's size factors, dispersion trend, prior and MAP step."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
from pydeseq2.dds import DeseqDataSet

from bmsc_dge.deseq2._blocks import MIN_MU, by_gene_blocks
from bmsc_dge.deseq2._dispersion import map_dispersions_r
from bmsc_dge.deseq2._prior import dispersion_prior_variance
from bmsc_dge.deseq2._trend import TrendFitError, parametric_trend_r

logger = logging.getLogger(__name__)


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
        the design leaves 1-3 residual degrees of freedom (:mod:`bmsc_dge.deseq2._prior`).
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
