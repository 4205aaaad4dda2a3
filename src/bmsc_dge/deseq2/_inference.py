"""PyDESeq2's inference interface implemented with R DESeq2's vectorised fits (:class:`RInference`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import numpy as np
from pydeseq2.default_inference import DefaultInference

from bmsc_dge.deseq2._blocks import MIN_MU, R_RIDGE, as_offsets, by_gene_blocks, gene_columns
from bmsc_dge.deseq2._dispersion import genewise_dispersions_r, map_dispersions_r
from bmsc_dge.deseq2._glm import linear_model_mu, shrink_lfc_map, wald_test
from bmsc_dge.deseq2._irls import irls_r, optim_refit_r


class RInference(DefaultInference):
    """PyDESeq2 inference backend that fits all genes at once, following R DESeq2.

    * Dispersions: PyDESeq2 maximises the Cox-Reid adjusted likelihood with L-BFGS-B and reaches
      the true optimum; R's Armijo line search (``fitDisp``) stops once a step gains less than 1e-6
      in log posterior, which for high-count genes leaves estimates up to ~40% away from the
      optimum. Matching R means matching its stopping rule, so this backend reproduces ``fitDisp``
      / ``fitDispGrid`` (:mod:`bmsc_dge.deseq2._dispersion`).
    * GLM coefficients: R's ``fitBeta`` IRLS; genes it does not converge are refitted by
      PyDESeq2's per-gene optimiser (R uses ``optim`` for them).
    * Linear-model means, Wald tests and apeGLM-style LFC shrinkage: :mod:`bmsc_dge.deseq2._glm`.

    Nothing runs per gene in Python and no process pool is started: ``n_cpus`` threads fit blocks
    of genes at once (:func:`by_gene_blocks`; numpy releases the GIL in its array loops).

    Normalization factors (R's ``normalizationFactors``: one factor per sample and gene, e.g. from
    tximport's average transcript lengths) reach the fits through :meth:`offsets`: PyDESeq2's data
    set hands its methods one size factor per sample, and :class:`RDeseqDataSet` wraps each call
    whose genes it knows in ``with inference.offsets(nf[:, genes])``.
    """

    _offsets: np.ndarray | None = None

    @contextmanager
    def offsets(self, factors: np.ndarray | None) -> Iterator[None]:
        """Use ``factors`` (samples x the genes of the enclosed calls) instead of the size factors."""
        old = self._offsets
        self._offsets = None if factors is None else np.asarray(factors, dtype=float)
        try:
            yield
        finally:
            self._offsets = old

    def _factors(self, size_factors: np.ndarray, n_genes: int) -> np.ndarray:
        """The size factors given, or the normalization factors of :meth:`offsets` (checked to fit)."""
        if self._offsets is None:
            return as_offsets(size_factors)
        if self._offsets.shape[1] != n_genes:
            raise ValueError(
                f"normalization factors for {self._offsets.shape[1]} genes given to a fit of {n_genes} genes"
            )
        return self._offsets

    def irls(
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
        sf = self._factors(size_factors, y.shape[1])
        x = np.asarray(design_matrix, dtype=float)
        d = np.asarray(disp, dtype=float)
        beta, mu, hat, conv = by_gene_blocks(
            lambda g: irls_r(y[:, g], gene_columns(sf, g), x, d[g], ridge=R_RIDGE, min_mu=min_mu),
            y.shape[0],
            y.shape[1],
            (0, 1, 1, 0),
            threads=self.n_cpus,
        )
        if (~conv).any():  # R refits these with optim (fitNbinomGLMsOptim); hat values stay IRLS's
            idx = np.flatnonzero(~conv)
            b2, m2, c2 = optim_refit_r(y[:, idx], gene_columns(sf, idx), x, d[idx], beta[idx], min_mu=min_mu)
            beta[idx], mu[:, idx] = b2, m2
            conv[idx] = c2
        return beta, mu, hat, conv

    def lin_reg_mu(
        self,
        counts: np.ndarray,
        size_factors: np.ndarray,
        design_matrix: np.ndarray,
        min_mu: float,
    ) -> np.ndarray:
        return linear_model_mu(counts, self._factors(size_factors, counts.shape[1]), design_matrix, min_mu)

    def fit_moments_dispersions(self, normed_counts: np.ndarray, size_factors: np.ndarray) -> np.ndarray:
        """R's ``momentsDispEstimate``: ``xim`` is ``mean(1 / colMeans(normalizationFactors))`` with them."""
        if self._offsets is None:
            return np.asarray(super().fit_moments_dispersions(normed_counts, size_factors))
        nf = self._factors(size_factors, normed_counts.shape[1])
        xim = float(np.mean(1.0 / nf.mean(axis=1)))
        mean = normed_counts.mean(axis=0)
        var = normed_counts.var(axis=0, ddof=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(np.nan_to_num((var - xim * mean) / mean**2))

    def wald_test(
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
            if self._offsets is not None:
                mu = self._factors(np.ones(design_matrix.shape[0]), lfc.shape[0]) * np.exp(
                    design_matrix @ lfc.T
                )
            return super().wald_test(
                design_matrix, disp, lfc, mu, ridge_factor, contrast, lfc_null, alt_hypothesis
            )
        x = np.asarray(design_matrix, dtype=float)
        d, b = np.asarray(disp, dtype=float), np.asarray(lfc, dtype=float)
        if self._offsets is not None:  # PyDESeq2 formed mu from size factors
            mu = self._factors(np.ones(x.shape[0]), b.shape[0]) * np.exp(x @ b.T)
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

    def lfc_shrink_nbinom_glm(
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
        off = as_offsets(offset) if self._offsets is None else np.log(self._factors(offset, y.shape[1]))
        beta, inv, conv = by_gene_blocks(
            lambda g: shrink_lfc_map(
                design_matrix,
                y[:, g],
                sz[g],
                gene_columns(off, g),
                prior_no_shrink_scale,
                prior_scale,
                shrink_index,
            ),
            y.shape[0],
            y.shape[1],
            (0, 0, 0),
            threads=self.n_cpus,
        )
        return beta, inv, conv

    def alpha_mle(
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
