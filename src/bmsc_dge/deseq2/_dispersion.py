"""Gene-wise and MAP dispersions as R DESeq2's C++ ``fitDisp`` / ``fitDispGrid``.

A line search on log alpha (Armijo rule, R's constants) of the Cox-Reid adjusted likelihood, with
the log-normal prior for the MAP step, vectorised over genes; genes that do not converge fall back
to R's grid search.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

from bmsc_dge.deseq2._blocks import crossprod

KAPPA_0 = 1.0
ARMIJO_EPSILON = 1.0e-4
DISP_TOL = 1.0e-6
MAXIT = 100


def log_posterior(
    log_alpha: np.ndarray,
    y: np.ndarray,
    mu: np.ndarray,
    x: np.ndarray,
    prior_mean: np.ndarray | None,
    prior_var: float,
    use_cr: bool = True,
) -> np.ndarray:
    """R DESeq2's ``log_posterior`` per gene (terms constant in alpha omitted, as in R)."""
    alpha = np.exp(log_alpha)
    inv = 1.0 / alpha
    ll = np.sum(gammaln(y + inv) - gammaln(inv) - y * np.log(mu + inv) - inv * np.log1p(mu * alpha), axis=0)
    if use_cr:
        w = 1.0 / (1.0 / mu + alpha)
        _, logdet = np.linalg.slogdet(crossprod(x, w))
        ll = ll - 0.5 * logdet
    if prior_mean is not None:
        ll = ll - 0.5 * (log_alpha - prior_mean) ** 2 / prior_var
    return np.asarray(ll)


def dlog_posterior(
    log_alpha: np.ndarray,
    y: np.ndarray,
    mu: np.ndarray,
    x: np.ndarray,
    prior_mean: np.ndarray | None,
    prior_var: float,
    use_cr: bool = True,
) -> np.ndarray:
    """Derivative of :func:`log_posterior` with respect to log alpha (R's ``dlog_posterior``)."""
    alpha = np.exp(log_alpha)
    inv = 1.0 / alpha
    ll = inv**2 * np.sum(
        digamma(inv)
        + np.log1p(mu * alpha)
        - mu * alpha / (1.0 + mu * alpha)
        - digamma(y + inv)
        + y / (mu + inv),
        axis=0,
    )
    if use_cr:
        w = 1.0 / (1.0 / mu + alpha)
        b = crossprod(x, w)
        db = crossprod(x, -(w**2))
        cr = -0.5 * np.trace(np.linalg.solve(b, db), axis1=1, axis2=2)
        ll = ll + cr
    out = ll * alpha
    if prior_mean is not None:
        out = out - (log_alpha - prior_mean) / prior_var
    return np.asarray(out)


def line_search(
    y: np.ndarray,
    x: np.ndarray,
    mu: np.ndarray,
    log_alpha0: np.ndarray,
    prior_mean: np.ndarray | None,
    prior_var: float,
    min_log_alpha: float,
    *,
    kappa_0: float = KAPPA_0,
    tol: float = DISP_TOL,
    maxit: int = MAXIT,
    use_cr: bool = True,
) -> dict[str, np.ndarray]:
    """Armijo line search on log alpha, all genes at once, step for step as R's ``fitDisp``.

    Returns
    -------
    dict
        ``log_alpha``, ``iter``, ``initial_lp``, ``last_lp`` per gene.
    """
    n_genes = y.shape[1]
    a = np.asarray(log_alpha0, dtype=float).copy()

    def lp_of(idx: np.ndarray, av: np.ndarray) -> np.ndarray:
        pm = None if prior_mean is None else prior_mean[idx]
        return log_posterior(av, y[:, idx], mu[:, idx], x, pm, prior_var, use_cr)

    def dlp_of(idx: np.ndarray, av: np.ndarray) -> np.ndarray:
        pm = None if prior_mean is None else prior_mean[idx]
        return dlog_posterior(av, y[:, idx], mu[:, idx], x, pm, prior_var, use_cr)

    all_idx = np.arange(n_genes)
    lp = lp_of(all_idx, a)
    dlp = dlp_of(all_idx, a)
    initial_lp = lp.copy()
    kappa = np.full(n_genes, kappa_0)
    iters = np.zeros(n_genes, dtype=int)
    accepts = np.zeros(n_genes, dtype=int)
    active = np.ones(n_genes, dtype=bool)
    for _ in range(maxit):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        iters[idx] += 1
        d = dlp[idx]
        k = kappa[idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            prop = a[idx] + k * d
            k = np.where(prop < -30.0, (-30.0 - a[idx]) / d, k)
            prop = a[idx] + k * d
            k = np.where(prop > 10.0, (10.0 - a[idx]) / d, k)
        kappa[idx] = k
        new_a = a[idx] + k * d
        new_lp = lp_of(idx, new_a)
        accept = -new_lp <= -lp[idx] - k * ARMIJO_EPSILON * d**2
        # rejected: halve kappa
        rej = idx[~accept]
        kappa[rej] = kappa[rej] / 2.0
        acc = idx[accept]
        if acc.size == 0:
            continue
        accepts[acc] += 1
        a[acc] = new_a[accept]
        change = new_lp[accept] - lp[acc]
        small = change < tol
        lp[acc[small]] = new_lp[accept][small]
        active[acc[small]] = False
        rest = acc[~small]
        below = a[rest] < min_log_alpha
        active[rest[below]] = False  # lp not updated, as in R
        cont = rest[~below]
        lp[cont] = new_lp[accept][~small][~below]
        if cont.size:
            dlp[cont] = dlp_of(cont, a[cont])
            kappa[cont] = np.minimum(kappa[cont] * 1.1, kappa_0)
            fifth = accepts[cont] % 5 == 0
            kappa[cont[fifth]] = kappa[cont[fifth]] / 2.0
    return {"log_alpha": a, "iter": iters, "initial_lp": initial_lp, "last_lp": lp}


def grid_search(
    y: np.ndarray,
    x: np.ndarray,
    mu: np.ndarray,
    prior_mean: np.ndarray | None,
    prior_var: float,
    use_cr: bool = True,
) -> np.ndarray:
    """R's ``fitDispGridWrapper``: 20-point grid on log alpha, then a 20-point fine grid."""
    n_samples, n_genes = y.shape
    grid = np.linspace(np.log(1e-8), np.log(max(10.0, n_samples)), 20)
    delta = grid[1] - grid[0]

    def best(points: np.ndarray) -> np.ndarray:  # points: n_points x genes
        vals = np.stack(
            [
                log_posterior(points[t], y, mu, x, prior_mean, prior_var, use_cr)
                for t in range(points.shape[0])
            ]
        )
        return np.asarray(points[np.argmax(vals, axis=0), np.arange(n_genes)])

    coarse = best(np.repeat(grid[:, None], n_genes, axis=1))
    fine = np.linspace(coarse - delta, coarse + delta, 20)
    return best(fine)


def genewise_dispersions_r(
    y: np.ndarray, x: np.ndarray, mu: np.ndarray, alpha_init: np.ndarray, min_disp: float, max_disp: float
) -> tuple[np.ndarray, np.ndarray]:
    """R's ``estimateDispersionsGeneEst`` (niter = 1) from a starting estimate and fitted means.

    Returns
    -------
    tuple
        Dispersions and a converged flag per gene.
    """
    alpha_init = np.clip(alpha_init, min_disp, max_disp)
    res = line_search(y, x, mu, np.log(alpha_init), None, 1.0, np.log(min_disp / 10))
    est = np.minimum(np.exp(res["log_alpha"]), max_disp)
    no_increase = res["last_lp"] < res["initial_lp"] + np.abs(res["initial_lp"]) / 1e6
    est = np.where(no_increase, alpha_init, est)
    converged = (res["iter"] < MAXIT) & (res["iter"] != 1)
    refit = ~converged & (est > min_disp * 10)
    if refit.any():
        est[refit] = np.exp(grid_search(y[:, refit], x, mu[:, refit], None, 1.0))
    return np.clip(est, min_disp, max_disp), converged


def map_dispersions_r(
    y: np.ndarray,
    x: np.ndarray,
    mu: np.ndarray,
    init: np.ndarray,
    fitted: np.ndarray,
    prior_var: float,
    min_disp: float,
    max_disp: float,
) -> tuple[np.ndarray, np.ndarray]:
    """R's ``estimateDispersionsMAP`` line search (before the dispersion-outlier rule)."""
    prior_mean = np.log(fitted)
    res = line_search(y, x, mu, np.log(init), prior_mean, prior_var, np.log(min_disp / 10))
    est = np.exp(res["log_alpha"])
    converged = res["iter"] < MAXIT
    if (~converged).any():
        nc = ~converged
        est[nc] = np.exp(grid_search(y[:, nc], x, mu[:, nc], prior_mean[nc], prior_var))
    return np.clip(est, min_disp, max_disp), converged


# --------------------------------------------------------------------------------------------
# GLM coefficients as R DESeq2's C++ ``fitBeta`` (IRLS with a ridge), all genes at once
# --------------------------------------------------------------------------------------------
