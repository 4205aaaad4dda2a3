"""R DESeq2's GLM fit of the coefficients: ``fitBeta``'s IRLS and ``fitNbinomGLMsOptim``'s refit."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.special import gammaln

from bmsc_dge.deseq2._blocks import as_offsets, crossprod, gene_columns, outer_rows


def nb_deviance(y: np.ndarray, mu: np.ndarray, disp: np.ndarray) -> np.ndarray:
    """``-2 * sum(log dnbinom(y; size = 1/disp, mu))`` per gene (samples x genes inputs)."""
    size = 1.0 / disp[None, :]
    ll = (
        gammaln(y + size)
        - gammaln(size)
        - gammaln(y + 1.0)
        + size * np.log(size / (size + mu))
        + y * np.log(mu / (size + mu))
    )
    return np.asarray(-2.0 * ll.sum(axis=0))


def irls_r(
    y: np.ndarray,
    sf: np.ndarray,
    x: np.ndarray,
    disp: np.ndarray,
    *,
    ridge: float,
    min_mu: float = 0.5,
    tol: float = 1e-8,
    maxit: int = 100,
    large: float = 30.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """R's ``fitBeta`` for every gene: IRLS on log-link NB GLMs with ridge ``ridge`` (natural-log scale).

    Parameters
    ----------
    y
        Counts, samples x genes.
    sf
        Size factors per sample, or normalization factors (samples x genes; :func:`as_offsets`).
    x
        Design matrix, samples x p.
    disp
        Dispersion per gene.
    ridge
        Ridge penalty on each coefficient (R: ``lambda / log(2)^2``).

    Returns
    -------
    tuple
        ``beta`` (genes x p), unclamped ``mu`` and hat diagonals (samples x genes), and a converged
        flag per gene (False: |beta| > 30, NaN deviance or ``maxit`` reached; callers refit these).
    """
    p = x.shape[1]
    g = y.shape[1]
    lam = np.eye(p) * ridge
    nf = as_offsets(sf)
    q, r = np.linalg.qr(x)
    beta = np.linalg.solve(r, q.T @ np.log(y / nf + 0.1)).T  # genes x p
    mu = np.maximum(nf * np.exp(x @ beta.T), min_mu)
    active = np.ones(g, dtype=bool)
    converged = np.zeros(g, dtype=bool)
    dev_old = np.zeros(g)
    for t in range(maxit):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        m = mu[:, idx]
        w = m / (1.0 + disp[idx][None, :] * m)
        z = np.log(m / gene_columns(nf, idx)) + (y[:, idx] - m) / m
        a = crossprod(x, w) + lam
        b = (w * z).T @ x
        new = np.linalg.solve(a, b[..., None])[..., 0]
        bad = np.abs(new).max(axis=1) > large
        beta[idx] = new
        # R breaks out of its loop before updating the means of a gene whose step went beyond
        # `large`, so its hat values come from the previous means
        keep = idx[~bad]
        mu[:, keep] = np.maximum(gene_columns(nf, keep) * np.exp(x @ new[~bad].T), min_mu)
        dev = nb_deviance(y[:, idx], mu[:, idx], disp[idx])
        conv_test = np.abs(dev - dev_old[idx]) / (np.abs(dev) + 0.1)
        bad |= ~np.isfinite(conv_test)
        done = (t > 0) & (conv_test < tol) & ~bad
        converged[idx[done]] = True
        active[idx[done | bad]] = False
        dev_old[idx] = dev
    w = mu / (1.0 + disp[None, :] * mu)
    a = crossprod(x, w) + lam
    ainv = np.linalg.inv(a)
    hat = (outer_rows(x) @ ainv.reshape(ainv.shape[0], -1).T) * w
    return beta, nf * np.exp(x @ beta.T), hat, converged


def _nb_loglik_row(y: np.ndarray, mu: np.ndarray, alpha: float) -> float:
    """``sum(dnbinom(y, mu = mu, size = 1 / alpha, log = TRUE))`` for one gene."""
    size = 1.0 / alpha
    ll = (
        gammaln(y + size)
        - gammaln(size)
        - gammaln(y + 1.0)
        + size * (np.log(size) - np.log(size + mu))
        + y * (np.log(mu) - np.log(size + mu))
    )
    return float(ll.sum())


def _central_gradient(
    f: Callable[[np.ndarray], float], p: np.ndarray, lower: float, upper: float, eps: float = 1e-3
) -> np.ndarray:
    """R ``optim``'s numerical gradient for L-BFGS-B.

    Central differences (``ndeps = 1e-3``), one-sided where a step would cross a bound.
    """
    grad = np.empty(p.size)
    for i in range(p.size):
        up, down = p.copy(), p.copy()
        e_up = eps if p[i] + eps <= upper else upper - p[i]
        e_down = eps if p[i] - eps >= lower else p[i] - lower
        up[i] = p[i] + e_up
        down[i] = p[i] - e_down
        grad[i] = (f(up) - f(down)) / (e_up + e_down)
    return grad


def optim_refit_r(
    y: np.ndarray,
    sf: np.ndarray,
    x: np.ndarray,
    disp: np.ndarray,
    beta_irls: np.ndarray,
    *,
    lambda_log2: float = 1e-6,
    min_mu: float = 0.5,
    large: float = 30.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R's ``fitNbinomGLMsOptim`` for the genes its IRLS did not converge.

    For each gene R minimises the negative log posterior on the **log2** scale, NB log-likelihood
    plus a normal prior (sd ``sqrt(1 / lambda)``) on every coefficient, with ``optim(method =
    "L-BFGS-B")`` in [-30, 30] and its default numerical gradient. It starts from the IRLS
    coefficients (converted to log2) when they are finite and inside (-30, 30), otherwise from the
    IRLS starting values (least squares on ``log(normalised counts + 0.1)``, natural-log values
    used as they are, as in R). SciPy's L-BFGS-B is given R's settings (``m = 5``,
    ``factr = 1e7``, ``pgtol = 0``, 100 iterations) and R's central-difference gradient.

    Parameters
    ----------
    y
        Counts, samples x genes (only the genes to refit).
    sf, x, disp
        Size factors (or normalization factors of those genes, samples x genes), design matrix,
        dispersions of those genes.
    beta_irls
        IRLS coefficients (natural log), genes x p.

    Returns
    -------
    tuple
        Coefficients (natural log, genes x p), means (samples x genes, unclamped) and a converged
        flag per gene (``optim``'s convergence code 0).
    """
    from scipy.optimize import fmin_l_bfgs_b

    n_genes = y.shape[1]
    nf = as_offsets(sf)
    q, r = np.linalg.qr(x)
    start_ls = np.linalg.solve(r, q.T @ np.log(y / nf + 0.1)).T
    sd = math.sqrt(1.0 / lambda_log2)
    log_norm_const = -0.5 * math.log(2 * math.pi) - math.log(sd)
    out = np.empty_like(beta_irls)
    conv = np.zeros(n_genes, dtype=bool)
    for g in range(n_genes):
        b2 = beta_irls[g] / math.log(2)
        start = b2 if np.all(np.isfinite(b2)) and np.all(np.abs(b2) < large) else start_ls[g]
        k, alpha, nf_g = y[:, g], float(disp[g]), gene_columns(nf, np.array([g]))[:, 0]

        def objective(
            p: np.ndarray, k: np.ndarray = k, alpha: float = alpha, nf_g: np.ndarray = nf_g
        ) -> float:
            mu_row = nf_g * np.power(2.0, x @ p)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                value = -(
                    _nb_loglik_row(k, mu_row, alpha) + float(np.sum(log_norm_const - p**2 / (2 * sd**2)))
                )
            return value if np.isfinite(value) else 1e300

        par, _, info = fmin_l_bfgs_b(
            objective,
            np.asarray(start, dtype=float),
            fprime=lambda p, f=objective: _central_gradient(f, p, -large, large),
            bounds=[(-large, large)] * x.shape[1],
            m=5,
            factr=1e7,
            pgtol=0.0,
            maxiter=100,
        )
        out[g] = par * math.log(2)
        conv[g] = info["warnflag"] == 0
    mu = nf * np.exp(x @ out.T)
    return out, mu, conv
