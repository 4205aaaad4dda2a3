"""Multiple-testing adjustment with R DESeq2's independent filtering.

R DESeq2 (``results(..., independentFiltering = TRUE)``, via ``genefilter::filtered_p``) filters
genes on their mean normalised count before the Benjamini-Hochberg adjustment, choosing the
filter threshold that maximises the number of rejections at ``alpha`` after **lowess smoothing**
of the rejections-versus-quantile curve (``lowess(numRej ~ theta, f = 1/5)``). PyDESeq2 0.5.4
implements the same procedure with its own lowess, which differs from R's ``clowess`` (up to
3 rejections on a 50-point curve in our check), and so picks a different threshold on some
studies. This module uses statsmodels' lowess, which reproduces R's to 1e-12, so the chosen
threshold and the adjusted p-values match R.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from statsmodels.nonparametric.smoothers_lowess import lowess


def bh_adjust(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values; NaN stays NaN (``p.adjust(method = "BH")``)."""
    p = np.asarray(pvalues, dtype=float)
    return _bh_in_order(p, _p_order(p))


def _p_order(p: np.ndarray) -> np.ndarray:
    """Indices of the finite p-values, in increasing order (stable, so ties keep their order)."""
    ok = np.flatnonzero(np.isfinite(p))
    return ok[np.argsort(p[ok], kind="mergesort")]


def _bh_in_order(p: np.ndarray, order: np.ndarray) -> np.ndarray:
    """BH adjustment of ``p[order]`` (``order`` sorted by p); every other entry NaN."""
    out = np.full(p.shape, np.nan)
    n = order.size
    if n == 0:
        return out
    ranked = p[order] * n / np.arange(1, n + 1)
    adj = np.minimum.accumulate(ranked[::-1])[::-1]
    out[order] = np.minimum(adj, 1.0)
    return out


@dataclass(frozen=True)
class FilterResult:
    """Adjusted p-values and the threshold independent filtering chose."""

    padj: np.ndarray
    threshold: float
    theta: float
    rejections: np.ndarray


def independent_filtering(base_mean: np.ndarray, pvalues: np.ndarray, alpha: float) -> FilterResult:
    """R DESeq2's ``pvalueAdjustment`` with independent filtering on ``baseMean``.

    Parameters
    ----------
    base_mean
        Mean of normalised counts per gene (the filter statistic).
    pvalues
        Raw p-values (NaN for genes without a test, e.g. Cook's outliers or all-zero genes).
    alpha
        Target FDR used to count rejections.

    Returns
    -------
    FilterResult
        ``padj`` (NaN for filtered genes), the baseMean threshold, its quantile ``theta`` and the
        rejection count per quantile.
    """
    base_mean = np.asarray(base_mean, dtype=float)
    pvalues = np.asarray(pvalues, dtype=float)
    lower = float(np.mean(base_mean == 0))
    upper = 0.95 if lower < 0.95 else 1.0
    theta = np.linspace(lower, upper, 50)
    cutoffs = np.quantile(base_mean, theta)  # type 7, as R's quantile()
    # the p-values are sorted once; each cutoff keeps a subsequence of that order, which is the
    # (stable) order of its own p-values, so each adjustment is exactly BH on the kept genes
    order = _p_order(pvalues)

    def adjusted(cut: float) -> np.ndarray:
        return _bh_in_order(pvalues, order[base_mean[order] >= cut])

    num_rej = np.array([np.sum(adjusted(cut) < alpha) for cut in cutoffs], dtype=float)
    if num_rej.max() <= 10:
        j = 0
    else:
        fit = lowess(
            num_rej, theta, frac=1 / 5, it=3, delta=0.01 * (theta.max() - theta.min()), return_sorted=False
        )
        pos = num_rej > 0
        residual = num_rej[pos] - fit[pos] if pos.any() else np.zeros(1)
        thresh = fit.max() - np.sqrt(np.mean(residual**2))
        above = np.flatnonzero(num_rej > thresh)
        j = int(above[0]) if above.size else 0
    return FilterResult(
        padj=adjusted(float(cutoffs[j])),
        threshold=float(cutoffs[j]),
        theta=float(theta[j]),
        rejections=num_rej.astype(int),
    )
