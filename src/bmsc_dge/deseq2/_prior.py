"""R DESeq2's dispersion prior variance, including its simulation for few residual degrees of freedom.

With ``m`` samples and ``p`` design columns, R DESeq2 (``estimateDispersionsPriorVar``) sets the
prior variance of log dispersions to ``max(varLogDispEsts - trigamma((m - p) / 2), 0.25)`` when
``m - p > 3``. With 1-3 residual degrees of freedom the log residuals are too skewed for that
formula, and R instead **simulates** the expected distribution:

1. ``set.seed(2)``; observed residuals ``log(dispGeneEst) - log(dispFit)`` of genes with
   ``dispGeneEst >= 100 * minDisp``, kept inside (-10, 10); their histogram on breaks -10..10 by 0.5;
2. for each v on a 200-point grid over [0, 8]: 10,000 draws of
   ``log(rchisq(df = m - p)) + rnorm(0, sqrt(v)) - log(m - p)`` (the same stream, in grid order),
   their histogram, and the Kullback-Leibler divergence of the observed from the simulated density
   (both shifted by the smallest positive density);
3. a loess fit (span 0.2, degree 2, R's default interpolated surface) of divergence on v, evaluated
   on a 1,000-point grid; the prior variance is its argmin, floored at 0.25.

Step 2 does not depend on the data, so its histograms are computed once per degree of freedom
(from :class:`bmsc_dge.deseq2._rrandom.RRandom`, R's own draws) and cached. Step 3 follows R's loess:
local quadratic fits with tricube weights over the ``floor(0.2 n)`` nearest points, evaluated at
the vertices of R's k-d tree (cells of at most ``floor(n * span * cell)`` = 8 points) with their
slopes, and cubic Hermite interpolation between vertices.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.special import polygamma

from bmsc_dge.deseq2._rrandom import RRandom

PRIOR_VAR_FLOOR = 0.25
_BREAKS = np.arange(-20, 21) / 2.0  # R: -20:20/2
_GRID = np.linspace(0.0, 8.0, 200)  # R: seq(0, 8, length = 200)
_FINE = np.linspace(0.0, 8.0, 1000)
_N_DRAWS = 10_000
_SPAN = 0.2
_CELL = 0.2


def _hist_density(values: np.ndarray) -> np.ndarray:
    """R's ``hist(x, breaks = -20:20/2)$density``: right-closed bins, lowest included, R's fuzz."""
    fuzz = 1e-7 * 0.5  # 1e-7 * median(diff(breaks))
    edges = _BREAKS + fuzz
    edges[0] = _BREAKS[0] - fuzz
    counts = np.bincount(np.searchsorted(edges, values, side="left") - 1, minlength=_BREAKS.size - 1)
    counts = counts[: _BREAKS.size - 1]
    return np.asarray(counts / (values.size * 0.5))


@lru_cache(maxsize=3)
def simulated_densities(df: int) -> np.ndarray:
    """Histogram densities of R's simulated log residuals, one row per grid variance (200 x 40).

    Parameters
    ----------
    df
        Residual degrees of freedom ``m - p`` (1, 2 or 3).
    """
    rng = RRandom(2)
    rows = []
    for v in _GRID:
        draws = np.log(rng.rchisq(_N_DRAWS, df)) + rng.rnorm(_N_DRAWS, 0.0, math.sqrt(v)) - math.log(df)
        draws = draws[(draws > _BREAKS[0]) & (draws < _BREAKS[-1])]
        rows.append(_hist_density(draws))
    return np.vstack(rows)


def _local_quadratic(x: np.ndarray, y: np.ndarray, at: float, n_local: int) -> tuple[float, float]:
    """Value and slope at ``at`` of R loess's local quadratic fit (tricube weights, ``n_local`` points)."""
    d2 = (x - at) ** 2
    rho = np.partition(d2, n_local - 1)[n_local - 1]
    near = np.argsort(d2, kind="stable")[:n_local]
    w = np.sqrt(np.clip(1.0 - np.sqrt(d2[near] / rho) ** 3, 0.0, None) ** 3)
    dx = x[near] - at
    design = np.column_stack([w, w * dx, w * dx**2])
    coef, *_ = np.linalg.lstsq(design, w * y[near], rcond=None)
    return float(coef[0]), float(coef[1])


def loess_interpolated(x: np.ndarray, y: np.ndarray, new_x: np.ndarray, span: float = _SPAN) -> np.ndarray:
    """R's ``predict(loess(y ~ x, span = span), new_x)`` for one predictor (degree 2, gaussian).

    Builds R's k-d tree on the sorted ``x`` (split at the lower median until a cell holds at most
    ``floor(n * span * 0.2)`` points), fits value and slope at each vertex, and interpolates by
    cubic Hermite polynomials between neighbouring vertices.
    """
    order = np.argsort(x, kind="stable")
    xs, ys = np.asarray(x, float)[order], np.asarray(y, float)[order]
    n = xs.size
    n_local = min(n, math.floor(n * span))
    per_cell = math.floor(n * span * _CELL)
    lo_x, hi_x = xs[0], xs[-1]
    margin = 0.005 * max(hi_x - lo_x, 1e-10 * max(abs(lo_x), abs(hi_x)) + 1e-30)
    vertices = {lo_x - margin, hi_x + margin}
    cells = [(0, n - 1, lo_x - margin, hi_x + margin)]
    while cells:
        first, last, v_lo, v_hi = cells.pop()
        if last - first + 1 <= per_cell:
            continue
        mid1 = (first + 1 + last + 1) // 2 - 1  # R: m = (l + u) / 2 on 1-based indices, truncated
        split = xs[mid1]
        if split in (v_lo, v_hi):
            continue
        vertices.add(split)
        cells.append((first, mid1, v_lo, split))
        cells.append((mid1 + 1, last, split, v_hi))
    vx = np.array(sorted(vertices))
    fits = np.array([_local_quadratic(xs, ys, v, n_local) for v in vx])
    k = np.clip(np.searchsorted(vx, new_x, side="left") - 1, 0, vx.size - 2)
    x0, x1 = vx[k], vx[k + 1]
    width = x1 - x0
    h = (new_x - x0) / width
    phi0 = (1 - h) ** 2 * (1 + 2 * h)
    phi1 = h**2 * (3 - 2 * h)
    psi0 = h * (1 - h) ** 2
    psi1 = -(h**2) * (1 - h)
    out = phi0 * fits[k, 0] + phi1 * fits[k + 1, 0] + (psi0 * fits[k, 1] + psi1 * fits[k + 1, 1]) * width
    return np.asarray(out)


def simulated_prior_variance(log_residuals: np.ndarray, df: int) -> float:
    """R's simulated dispersion prior variance for ``df = m - p`` in 1..3.

    Parameters
    ----------
    log_residuals
        ``log(dispGeneEst) - log(dispFit)`` of the genes with ``dispGeneEst >= 100 * minDisp``.
    df
        Residual degrees of freedom.
    """
    obs = np.asarray(log_residuals, dtype=float)
    obs = obs[(obs > _BREAKS[0]) & (obs < _BREAKS[-1])]
    obs_density = _hist_density(obs)
    sims = simulated_densities(int(df))
    kl = np.empty(_GRID.size)
    for i, sim in enumerate(sims):
        z = np.concatenate([obs_density, sim])
        small = z[z > 0].min()
        kl[i] = np.sum(obs_density * (np.log(obs_density + small) - np.log(sim + small)))
    fitted = loess_interpolated(_GRID, kl, _FINE)
    return float(max(_FINE[int(np.argmin(fitted))], PRIOR_VAR_FLOOR))


def dispersion_prior_variance(
    log_residuals: np.ndarray, var_log_disp: float, n_samples: int, n_coefs: int
) -> float:
    """R DESeq2's ``estimateDispersionsPriorVar``: simulated for 1-3 residual df, else trigamma.

    Parameters
    ----------
    log_residuals
        ``log(dispGeneEst) - log(dispFit)`` of genes with ``dispGeneEst >= 100 * minDisp``.
    var_log_disp
        R's ``varLogDispEsts`` (squared MAD of those residuals).
    n_samples, n_coefs
        ``m`` and ``p`` of the design matrix.
    """
    df = n_samples - n_coefs
    if 0 < df <= 3:
        return simulated_prior_variance(log_residuals, df)
    if df > 0:
        return float(max(var_log_disp - float(polygamma(1, df / 2.0)), PRIOR_VAR_FLOOR))
    return float(var_log_disp)
