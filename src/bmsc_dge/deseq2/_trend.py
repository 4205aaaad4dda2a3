"""R DESeq2's parametric dispersion-trend fit (``parametricDispersionFit``).

R fits ``disp = a0 + a1 / mean`` by a Gamma-family GLM with identity link over the genes whose
gene-wise dispersion exceeds ``100 * minDisp``, starting from ``(0.1, 1)``, and at every iteration
re-selects, **from all those genes**, the ones whose ratio to the current curve lies in
``(1e-4, 15)``, until the squared log change of the coefficients sums below 1e-6. PyDESeq2 0.5.4
starts from all non-zero genes, fits before the first selection and drops genes cumulatively; its
trend lands about 1% away from R's, which moves the dispersion-outlier rule and the MAP
dispersions. :class:`bmsc_dge.deseq2._dataset.RDeseqDataSet` uses this fit instead.
"""

from __future__ import annotations

import numpy as np

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
