"""Negative-binomial GLM pieces vectorised over genes: linear-model means, Wald tests, LFC shrinkage.

Every function works on all genes at once (arrays are samples x genes, as in PyDESeq2), so a
20,000-gene study costs a few array passes instead of 20,000 small optimiser calls.

* :func:`linear_model_mu` is R DESeq2's ``linearModelMuNormalized`` (and PyDESeq2's ``fit_lin_mu``):
  least squares of normalised counts on the design, rescaled by the size factors, floored at
  ``min_mu``.
* :func:`wald_test` is DESeq2's Wald test with its ridge-penalised covariance
  ``(X'WX + L)^-1 X'WX (X'WX + L)^-1``.
* :func:`shrink_lfc_map` finds the same maximum a-posteriori coefficients as PyDESeq2's ``nbinomGLM``
  (apeGLM-style: normal prior, sd 15, on unshrunk coefficients; Cauchy prior with scale
  ``prior_scale`` on the shrunk one) by damped Newton steps, with the exact Hessian of the
  negative log posterior for the standard errors (as apeglm's Laplace approximation).
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.stats import norm

from bmsc_dge.deseq2._blocks import as_offsets, crossprod, gene_columns

logger = logging.getLogger(__name__)


def linear_model_mu(
    counts: np.ndarray, size_factors: np.ndarray, design: np.ndarray, min_mu: float
) -> np.ndarray:
    """Means from a least-squares fit of normalised counts on ``design`` (samples x genes).

    Parameters
    ----------
    counts
        Raw counts, samples x genes.
    size_factors
        Size factor per sample, or normalization factors (samples x genes).
    design
        Design matrix, samples x p (full column rank).
    min_mu
        Floor of the returned means (DESeq2's ``minmu``).

    Returns
    -------
    numpy.ndarray
        ``max(sf * X (X'X)^-1 X' (counts / sf), min_mu)``, samples x genes.
    """
    sf = as_offsets(size_factors)
    x = np.asarray(design, dtype=float)
    normed = np.asarray(counts, dtype=float) / sf
    coef, *_ = np.linalg.lstsq(x, normed, rcond=None)
    return np.maximum(sf * (x @ coef), min_mu)


def wald_test(
    design: np.ndarray,
    disp: np.ndarray,
    lfc: np.ndarray,
    mu: np.ndarray,
    ridge: np.ndarray,
    contrast: np.ndarray,
    lfc_null: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two-sided Wald test of ``contrast' beta = lfc_null`` for every gene (natural-log scale).

    Parameters
    ----------
    design
        Design matrix, samples x p.
    disp
        Dispersion per gene.
    lfc
        Coefficients, genes x p.
    mu
        Fitted means, samples x genes.
    ridge
        p x p ridge matrix ``L`` of the fit.
    contrast
        Contrast vector of length p.
    lfc_null
        Null value of the contrast (natural log).

    Returns
    -------
    tuple
        p-values, Wald statistics and standard errors, one per gene.
    """
    x = np.asarray(design, dtype=float)
    c = np.asarray(contrast, dtype=float)
    w = mu / (1.0 + mu * np.asarray(disp, dtype=float)[None, :])
    m = crossprod(x, w)
    hc = np.linalg.solve(m + ridge[None, :, :], np.broadcast_to(c, (m.shape[0], c.size))[..., None])[..., 0]
    se = np.sqrt(np.einsum("gi,gij,gj->g", hc, m, hc))
    stat = (np.asarray(lfc, dtype=float) @ c - lfc_null * c.sum()) / se
    return 2.0 * norm.sf(np.abs(stat)), stat, se


def threshold_test(
    lfc: np.ndarray, se: np.ndarray, threshold: float, alt_hypothesis: str
) -> tuple[np.ndarray, np.ndarray]:
    """Wald statistics and p-values against a fold-change threshold, as R's ``results()``.

    R DESeq2 (``lfcThreshold``, ``altHypothesis``; Love et al. 2014, section "Hypothesis tests
    with thresholds") tests on the log2 scale:

    * ``greaterAbs``: ``|LFC| > T``; ``p = min(1, 2 * Q((|LFC| - T) / SE))``;
    * ``lessAbs``: ``|LFC| < T``; ``p = max(Q((T - LFC) / SE), Q((LFC + T) / SE))``;
    * ``greater``: ``LFC > T``; ``p = Q((LFC - T) / SE)``;
    * ``less``: ``LFC < -T``; ``p = Q((-T - LFC) / SE)``;

    with ``Q`` the upper normal tail. Statistics are R's (zero inside the null region).

    Parameters
    ----------
    lfc, se
        Log2 fold changes and their standard errors.
    threshold
        ``T`` (log2 scale, >= 0).
    alt_hypothesis
        One of the four names above.
    """
    lfc = np.asarray(lfc, dtype=float)
    se = np.asarray(se, dtype=float)
    t = float(threshold)
    with np.errstate(divide="ignore", invalid="ignore"):
        if alt_hypothesis == "greaterAbs":
            stat = np.sign(lfc) * np.maximum((np.abs(lfc) - t) / se, 0.0)
            pval = np.minimum(1.0, 2.0 * norm.sf((np.abs(lfc) - t) / se))
        elif alt_hypothesis == "lessAbs":
            above, below = (t - lfc) / se, (lfc + t) / se
            stat = np.minimum(np.maximum(above, 0.0), np.maximum(below, 0.0))
            pval = np.maximum(norm.sf(above), norm.sf(below))
        elif alt_hypothesis == "greater":
            stat = np.maximum((lfc - t) / se, 0.0)
            pval = norm.sf((lfc - t) / se)
        elif alt_hypothesis == "less":
            stat = np.minimum((lfc + t) / se, 0.0)
            pval = norm.sf((-t - lfc) / se)
        else:
            raise ValueError(f"unknown alt_hypothesis {alt_hypothesis!r}")
    return np.asarray(stat), np.asarray(pval)


def _log_posterior_terms(
    beta: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    size: np.ndarray,
    offset: np.ndarray,
    s0: float,
    scale: float,
    k: int,
) -> np.ndarray:
    """Negative log posterior (up to a constant) per gene; ``beta``: genes x p."""
    eta = x @ beta.T + as_offsets(offset)  # samples x genes
    nll = -(y * eta - (y + size) * np.logaddexp(eta, np.log(size))).sum(axis=0)
    free = np.ones(beta.shape[1], dtype=bool)
    free[k] = False
    prior = (beta[:, free] ** 2).sum(axis=1) / (2 * s0**2) + np.log1p((beta[:, k] / scale) ** 2)
    return np.asarray(nll + prior)


def _gradient_hessian(
    beta: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    size: np.ndarray,
    offset: np.ndarray,
    s0: float,
    scale: float,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient (genes x p) and exact Hessian (genes x p x p) of the negative log posterior."""
    eta = x @ beta.T + as_offsets(offset)
    e = np.exp(np.minimum(eta, 700.0))
    resid = y - (y + size) * e / (size + e)
    frac = (y + size) * size * e / (size + e) ** 2
    p = beta.shape[1]
    free = np.ones(p, dtype=bool)
    free[k] = False
    b = beta[:, k]
    grad = -(resid.T @ x)
    grad[:, free] += beta[:, free] / s0**2
    grad[:, k] += 2 * b / (scale**2 + b**2)
    hess = crossprod(x, frac)
    diag = np.zeros((beta.shape[0], p))
    diag[:, free] = 1.0 / s0**2
    diag[:, k] = 2 * (scale**2 - b**2) / (scale**2 + b**2) ** 2
    hess[:, np.arange(p), np.arange(p)] += diag
    return grad, hess


def shrink_lfc_map(
    design: np.ndarray,
    counts: np.ndarray,
    size: np.ndarray,
    offset: np.ndarray,
    prior_no_shrink_scale: float,
    prior_scale: float,
    shrink_index: int,
    *,
    tol: float = 1e-8,
    maxit: int = 200,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximum a-posteriori NB GLM coefficients with a Cauchy prior on one coefficient.

    The objective is PyDESeq2's ``nbinomFn`` (apeGLM's ``nbinomCR`` without the constant): NB
    negative log-likelihood (log link, offsets ``log(size factor)``) plus ``beta_j^2 / (2 s0^2)``
    for unshrunk coefficients and ``log(1 + (beta_k / prior_scale)^2)`` for the shrunk one.
    Newton steps on all genes at once; where the Hessian is not positive definite (the Cauchy
    term is concave beyond ``prior_scale``) a multiple of the identity is added, and every step
    is halved until the objective decreases (Armijo).

    Parameters
    ----------
    design
        Design matrix, samples x p.
    counts
        Counts, samples x genes.
    size
        NB size (1 / dispersion) per gene.
    offset
        Log size factors per sample, or log normalization factors (samples x genes).
    prior_no_shrink_scale
        Sd of the normal prior on unshrunk coefficients (PyDESeq2 and apeglm: 15).
    prior_scale
        Scale of the Cauchy prior on the shrunk coefficient.
    shrink_index
        Column of ``design`` to shrink.
    tol
        Convergence: largest absolute Newton step (natural log) below ``tol``. A step too small
        for the objective to resolve (< 1e-4, changing it by less than 1e-12 relative) is taken
        as Newton proposes it, so the search converges on the gradient and its answer does not
        depend on the last bits of its start; a gene whose step no halving can make decrease the
        objective is at its optimum to rounding, and counts as converged.
    maxit
        Newton iterations at most.

    Returns
    -------
    tuple
        Coefficients (genes x p), inverse Hessians (genes x p x p; their diagonal gives the
        posterior standard errors) and a converged flag per gene.
    """
    x = np.asarray(design, dtype=float)
    y = np.asarray(counts, dtype=float)
    size = np.broadcast_to(np.asarray(size, dtype=float)[None, :], y.shape)
    off = as_offsets(offset)
    n_genes, p = y.shape[1], x.shape[1]
    k = int(shrink_index)
    # Start: unshrunk coefficients from least squares on log counts with the shrunk one fixed at
    # PyDESeq2's starting value (+-0.1), so that the search begins in the basin next to zero.
    start = 0.1 * (-1.0) ** np.arange(p)
    free = np.ones(p, dtype=bool)
    free[k] = False
    target = np.log(y / np.exp(off) + 0.1) - x[:, [k]] * start[k]
    beta = np.zeros((n_genes, p))
    beta[:, k] = start[k]
    if free.any():
        coef, *_ = np.linalg.lstsq(x[:, free], target, rcond=None)
        beta[:, free] = coef.T
    obj = _log_posterior_terms(beta, x, y, size, off, prior_no_shrink_scale, prior_scale, k)
    active = np.ones(n_genes, dtype=bool)
    converged = np.zeros(n_genes, dtype=bool)
    eye = np.eye(p)
    for _ in range(maxit):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        b = beta[idx]
        grad, hess = _gradient_hessian(
            b, x, y[:, idx], size[:, idx], gene_columns(off, idx), prior_no_shrink_scale, prior_scale, k
        )
        # Make the Hessian positive definite where needed (smallest eigenvalue >= 1e-6 * scale).
        low = np.linalg.eigvalsh(hess)[:, 0]
        floor = 1e-6 * np.maximum(np.abs(hess[:, np.arange(p), np.arange(p)]).max(axis=1), 1.0)
        shift = np.where(low < floor, floor - low, 0.0)
        step = -np.linalg.solve(hess + shift[:, None, None] * eye, grad[..., None])[..., 0]
        big = np.abs(step).max(axis=1)
        step *= np.minimum(1.0, 5.0 / np.maximum(big, 1e-300))[:, None]  # no jumps beyond 5 log units
        t = np.ones(idx.size)
        old = obj[idx]
        slope = (grad * step).sum(axis=1)
        new_obj = np.full(idx.size, np.inf)
        new_b = b.copy()
        pending = np.ones(idx.size, dtype=bool)
        for _half in range(40):
            j = np.flatnonzero(pending)
            if j.size == 0:
                break
            cand = b[j] + t[j, None] * step[j]
            val = _log_posterior_terms(
                cand,
                x,
                y[:, idx[j]],
                size[:, idx[j]],
                gene_columns(off, idx[j]),
                prior_no_shrink_scale,
                prior_scale,
                k,
            )
            # Armijo; or, for a step the objective cannot resolve (below ~sqrt(rounding), where its
            # change is lost in the rounding of its terms), the Newton step itself: the gradient
            # still resolves it, so the search converges on the gradient, not on rounding noise
            unresolved = (t[j] * big[j] < 1e-4) & (val <= old[j] + 1e-12 * (np.abs(old[j]) + 1.0))
            ok = np.isfinite(val) & ((val <= old[j] + 1e-4 * t[j] * slope[j]) | unresolved)
            new_b[j[ok]] = cand[ok]
            new_obj[j[ok]] = val[ok]
            pending[j[ok]] = False
            t[j[~ok]] *= 0.5
        moved = ~pending
        beta[idx[moved]] = new_b[moved]
        obj[idx[moved]] = new_obj[moved]
        stepped = np.abs(step).max(axis=1) * t
        done = moved & (stepped < tol)
        stuck = ~moved  # no decrease along a descent direction: at the optimum to rounding
        converged[idx[done | stuck]] = True
        active[idx[done | stuck]] = False
    _, hess = _gradient_hessian(beta, x, y, size, off, prior_no_shrink_scale, prior_scale, k)
    with np.errstate(invalid="ignore"):
        inv = np.linalg.inv(hess)
    if (~converged).any():
        logger.debug(  # named per gene by deseq2.contrast_table
            "LFC shrinkage: %d gene(s) did not converge in %d Newton steps", int((~converged).sum()), maxit
        )
    return beta, inv, converged
