"""R DESeq2's parametric dispersion-trend fit (``parametricDispersionFit``).

R fits ``disp = a0 + a1 / mean`` by a Gamma-family GLM with identity link over the genes whose
gene-wise dispersion exceeds ``100 * minDisp``, starting from ``(0.1, 1)``, and at every iteration
re-selects, **from all those genes**, the ones whose ratio to the current curve lies in
``(1e-4, 15)``, until the squared log change of the coefficients sums below 1e-6. PyDESeq2 0.5.4
starts from all non-zero genes, fits before the first selection and drops genes cumulatively; its
trend lands about 1% away from R's, which moves the dispersion-outlier rule and the MAP
dispersions. :class:`bmsc_dge.de.RDeseqDataSet` uses this fit instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.special import digamma, gammaln

from bmsc_dge.errors import BmscDgeError


class TrendFitError(BmscDgeError):
    """The parametric trend did not converge (callers fall back to the mean trend, as PyDESeq2 does)."""


def gamma_identity_glm(
    x: np.ndarray, y: np.ndarray, start: np.ndarray, *, maxit: int = 25, epsilon: float = 1e-8
) -> tuple[np.ndarray, bool]:
    """IRLS for ``y ~ x`` with Gamma family and identity link, as R's ``glm.fit``.

    Parameters
    ----------
    x
        Design matrix (n x p).
    y
        Positive responses.
    start
        Starting coefficients.
    maxit, epsilon
        R's ``glm.control`` defaults.

    Returns
    -------
    tuple
        Coefficients and whether the deviance converged.
    """

    def deviance(mu: np.ndarray) -> float:
        return float(-2.0 * np.sum(np.log(y / mu) - (y - mu) / mu))

    beta = np.asarray(start, dtype=float)
    mu = x @ beta
    if np.any(mu <= 0):
        raise TrendFitError("starting values give non-positive means")
    dev_old = deviance(mu)
    for _ in range(maxit):
        w = 1.0 / mu**2
        xtw = x.T * w
        new = np.linalg.solve(xtw @ x, xtw @ y)
        new_mu = x @ new
        step = 0
        while np.any(new_mu <= 0):  # step halving, as glm.fit does for invalid means
            step += 1
            if step > 30:
                raise TrendFitError("inner loop: no valid step")
            new = (new + beta) / 2.0
            new_mu = x @ new
        beta, mu = new, new_mu
        dev = deviance(mu)
        if abs(dev - dev_old) / (abs(dev) + 0.1) < epsilon:
            return beta, True
        dev_old = dev
    return beta, False


def parametric_trend_r(means: np.ndarray, disps: np.ndarray) -> np.ndarray:
    """Coefficients ``(a0, a1)`` of R DESeq2's parametric trend.

    Parameters
    ----------
    means
        Mean normalised counts of the genes used for the fit (R: ``dispGeneEst > 100 * minDisp``).
    disps
        Their gene-wise dispersion estimates.

    Raises
    ------
    TrendFitError
        When a coefficient becomes non-positive or 10 iterations do not converge (R stops there
        too and falls back to a local fit).
    """
    means = np.asarray(means, dtype=float)
    disps = np.asarray(disps, dtype=float)
    coefs = np.array([0.1, 1.0])
    for _ in range(11):
        resid = disps / (coefs[0] + coefs[1] / means)
        good = (resid > 1e-4) & (resid < 15)
        if good.sum() < 3:
            raise TrendFitError("too few genes near the trend")
        x = np.column_stack([np.ones(int(good.sum())), 1.0 / means[good]])
        new, converged = gamma_identity_glm(x, disps[good], coefs)
        if not np.all(new > 0):
            raise TrendFitError("parametric dispersion fit gave non-positive coefficients")
        old, coefs = coefs, new
        if np.sum(np.log(coefs / old) ** 2) < 1e-6 and converged:
            return coefs
    raise TrendFitError("parametric dispersion fit did not converge in 10 iterations")


# --------------------------------------------------------------------------------------------
# Dispersion estimation as R DESeq2's C++ ``fitDisp`` / ``fitDispGrid`` (line search on log alpha)
# --------------------------------------------------------------------------------------------

KAPPA_0 = 1.0
ARMIJO_EPSILON = 1.0e-4
DISP_TOL = 1.0e-6
MAXIT = 100


def crossprod(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``X' diag(w_g) X`` for every gene g (w: samples x genes) -> genes x p x p."""
    return np.einsum("ni,ng,nj->gij", x, w, x, optimize=True)


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
        Size factors per sample.
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
    q, r = np.linalg.qr(x)
    beta = np.linalg.solve(r, q.T @ np.log(y / sf[:, None] + 0.1)).T  # genes x p
    mu = np.maximum(sf[:, None] * np.exp(x @ beta.T), min_mu)
    active = np.ones(g, dtype=bool)
    converged = np.zeros(g, dtype=bool)
    dev_old = np.zeros(g)
    for t in range(maxit):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        m = mu[:, idx]
        w = m / (1.0 + disp[idx][None, :] * m)
        z = np.log(m / sf[:, None]) + (y[:, idx] - m) / m
        a = crossprod(x, w) + lam
        b = np.einsum("ni,ng->gi", x, w * z, optimize=True)
        new = np.linalg.solve(a, b[..., None])[..., 0]
        bad = np.abs(new).max(axis=1) > large
        beta[idx] = new
        # R breaks out of its loop before updating the means of a gene whose step went beyond
        # `large`, so its hat values come from the previous means
        keep = idx[~bad]
        mu[:, keep] = np.maximum(sf[:, None] * np.exp(x @ new[~bad].T), min_mu)
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
    hat = np.einsum("ni,gij,nj->ng", x, ainv, x, optimize=True) * w
    return beta, sf[:, None] * np.exp(x @ beta.T), hat, converged


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
        Size factors, design matrix, dispersions of those genes.
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
    q, r = np.linalg.qr(x)
    start_ls = np.linalg.solve(r, q.T @ np.log(y / sf[:, None] + 0.1)).T
    sd = math.sqrt(1.0 / lambda_log2)
    log_norm_const = -0.5 * math.log(2 * math.pi) - math.log(sd)
    out = np.empty_like(beta_irls)
    conv = np.zeros(n_genes, dtype=bool)
    for g in range(n_genes):
        b2 = beta_irls[g] / math.log(2)
        start = b2 if np.all(np.isfinite(b2)) and np.all(np.abs(b2) < large) else start_ls[g]
        k, alpha = y[:, g], float(disp[g])

        def objective(p: np.ndarray, k: np.ndarray = k, alpha: float = alpha) -> float:
            mu_row = sf * np.power(2.0, x @ p)
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
    mu = sf[:, None] * np.exp(x @ out.T)
    return out, mu, conv
