"""Inverse-variance meta-analysis of many genes at once, as metafor's ``rma(yi, vi, method)``.

Each row of ``yi`` / ``vi`` is one gene, each column one study (NaN where a study did not measure
the gene). The model is metafor's intercept-only ``rma.uni`` (metafor 3.8-1 defaults):

* ``FE``: ``tau^2 = 0``;
* ``DL``: DerSimonian-Laird, ``tau^2 = max(0, (Q - (k - 1)) / (sum w - sum w^2 / sum w))`` with
  ``w = 1 / v``;
* ``REML`` (rma's default): Fisher scoring from the Hedges estimate ``max(0, (RSS - tr(PV)) /
  (k - 1))``: ``adj = (Y'PPY - tr P) / tr(PP)``, halved while ``tau^2 + adj < 0``, until
  ``|change| <= 1e-5``; more than 100 iterations is a failure (metafor stops with "Fisher scoring
  algorithm did not converge": here the gene gets NaN estimates and ``converged = False``). After
  convergence, if the restricted log-likelihood at ``tau^2 = 0`` beats the one at the estimate by
  more than ``eps^0.25`` (metafor's ``ll0check``: "may have gotten stuck at a local maximum"),
  ``tau^2`` is set to 0, as metafor does (``ll0check = True`` in the result).

Then ``w = 1 / (v + tau^2)``, estimate ``sum(w y) / sum(w)``, SE ``sqrt(1 / sum w)``, two-sided
z-test; Cochran's ``Q = sum((y - mu_FE)^2 / v)`` on ``k - 1`` df; ``I^2 = 100 tau^2 / (tau^2 +
v_typical)`` with ``v_typical = (k - 1) / (sum w - sum w^2 / sum w)`` (``w = 1 / v``), and for FE
``I^2 = max(0, 100 (Q - (k - 1)) / Q)``, as metafor reports them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2, norm

METHODS = ("reml", "dl", "fixed")
THRESHOLD = 1e-5  # metafor's control$threshold
MAXITER = 100  # metafor's control$maxiter
LL_TOL = np.finfo(float).eps ** 0.25  # metafor's control$tol (ll0check)


@dataclass
class RmaResult:
    """Per-gene results (1-d arrays over genes)."""

    estimate: np.ndarray
    se: np.ndarray
    z: np.ndarray
    pvalue: np.ndarray
    tau2: np.ndarray
    i2: np.ndarray
    q: np.ndarray
    q_pvalue: np.ndarray
    k: np.ndarray
    converged: np.ndarray
    #: REML estimates reset to tau^2 = 0 by metafor's ll0check
    ll0check: np.ndarray


def _sums(w: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sw = w.sum(axis=1)
    return sw, (w * y).sum(axis=1) / sw


def _reml_ll(y: np.ndarray, v: np.ndarray, m: np.ndarray, tau2: np.ndarray) -> np.ndarray:
    """Metafor's REML log-likelihood of an intercept-only model (up to the same constant)."""
    w = np.where(m, 1.0 / (v + tau2[:, None]), 0.0)
    sw, mu = _sums(w, y)
    rss = (w * (y - mu[:, None]) ** 2).sum(axis=1)
    k = m.sum(axis=1)
    logv = np.where(m, np.log(np.where(m, v + tau2[:, None], 1.0)), 0.0).sum(axis=1)
    return np.asarray(-0.5 * (k - 1) * np.log(2 * np.pi) - 0.5 * logv - 0.5 * np.log(sw) - 0.5 * rss)


def _reml_tau2(y: np.ndarray, v: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fisher scoring for ``tau^2`` (all genes at once); returns tau2, converged, ll0check flags."""
    k = m.sum(axis=1)
    ybar = np.where(m, y, 0.0).sum(axis=1) / k
    rss = np.where(m, (y - ybar[:, None]) ** 2, 0.0).sum(axis=1)
    trpv = np.where(m, v, 0.0).sum(axis=1) * (1 - 1 / k)
    tau2 = np.maximum(0.0, (rss - trpv) / (k - 1))
    change = np.full(len(y), THRESHOLD + 1.0)
    converged = np.ones(len(y), dtype=bool)
    active = np.ones(len(y), dtype=bool)
    iteration = 0
    while active.any():
        iteration += 1
        idx = np.flatnonzero(active)
        mm = m[idx]
        w = np.where(mm, 1.0 / (v[idx] + tau2[idx, None]), 0.0)
        sw, mu = _sums(w, y[idx])
        py = w * (y[idx] - mu[:, None])  # P y for P = W - w w' / sum(w)
        sw2, sw3 = (w**2).sum(axis=1), (w**3).sum(axis=1)
        tr_p = sw - sw2 / sw
        tr_pp = sw2 - 2 * sw3 / sw + (sw2 / sw) ** 2
        adj = ((py**2).sum(axis=1) - tr_p) / tr_pp
        adj = np.where(np.isnan(adj), 0.0, adj)
        old = tau2[idx].copy()
        negative = old + adj < 0
        while negative.any():  # metafor halves the step until tau^2 stays >= 0
            adj[negative] /= 2
            negative = old + adj < 0
        tau2[idx] = old + adj
        change[idx] = np.abs(old - tau2[idx])
        if iteration > MAXITER:
            converged[idx] = False
            break
        active[idx] = change[idx] > THRESHOLD
    # metafor's ll0check (all sampling variances positive here)
    check = converged & (tau2 > THRESHOLD)
    reset = np.zeros(len(y), dtype=bool)
    if check.any():
        idx = np.flatnonzero(check)
        ll = _reml_ll(y[idx], v[idx], m[idx], tau2[idx])
        ll0 = _reml_ll(y[idx], v[idx], m[idx], np.zeros(idx.size))
        reset[idx] = ll0 - ll > LL_TOL
        tau2[reset] = 0.0
    return tau2, converged, reset


def rma(yi: np.ndarray, vi: np.ndarray, method: str = "reml", min_studies: int = 2) -> RmaResult:
    """Random- or fixed-effects meta-analysis of every row (gene) of ``yi`` with variances ``vi``.

    Parameters
    ----------
    yi, vi
        Genes x studies; NaN where a study has no estimate. Rows need >= 2 studies with a finite
        effect and a positive variance (others give NaN).
    method
        ``reml`` (metafor's default), ``dl`` or ``fixed``.
    min_studies
        Rows with fewer studies get NaN. With 1 (leave-one-study-out of two-study genes) a gene
        measured once gets that study's own estimate and z-test (``tau^2 = 0``), as metafor does
        for ``k = 1``.

    Returns
    -------
    RmaResult
        As metafor's ``rma(yi, vi, method = "REML" | "DL" | "FE")`` per gene.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    y = np.asarray(yi, dtype=float)
    v = np.asarray(vi, dtype=float)
    m = np.isfinite(y) & np.isfinite(v) & (v > 0)
    k = m.sum(axis=1)
    ok = k >= max(1, min_studies)
    y = np.where(m, y, 0.0)[ok]
    v = np.where(m, v, 1.0)[ok]
    mm = m[ok]
    w0 = np.where(mm, 1.0 / v, 0.0)
    sw0, mu0 = _sums(w0, y)
    q = (w0 * (y - mu0[:, None]) ** 2).sum(axis=1)
    tr_p0 = sw0 - (w0**2).sum(axis=1) / sw0
    kk = k[ok]
    converged = np.ones(len(y), dtype=bool)
    reset = np.zeros(len(y), dtype=bool)
    if method == "fixed":
        tau2 = np.zeros(len(y))
    elif method == "dl":
        with np.errstate(divide="ignore", invalid="ignore"):
            tau2 = np.where(kk > 1, np.maximum(0.0, (q - (kk - 1)) / tr_p0), 0.0)
    else:
        tau2 = np.zeros(len(y))
        many = kk > 1
        tau2[many], converged[many], reset[many] = _reml_tau2(y[many], v[many], mm[many])
    w = np.where(mm, 1.0 / (v + tau2[:, None]), 0.0)
    sw, mu = _sums(w, y)
    se = np.sqrt(1.0 / sw)
    z = mu / se
    with np.errstate(divide="ignore", invalid="ignore"):
        i2 = (
            np.maximum(0.0, 100 * (q - (kk - 1)) / q)
            if method == "fixed"
            else 100 * tau2 / (tau2 + (kk - 1) / tr_p0)
        )
    i2 = np.where((kk > 1) & (q > 0) if method == "fixed" else kk > 1, i2, 0.0)
    out = {
        "estimate": mu,
        "se": se,
        "z": z,
        "pvalue": 2 * norm.sf(np.abs(z)),
        "tau2": tau2,
        "i2": i2,
    }
    for key in out:
        out[key] = np.where(converged, out[key], np.nan)
    n = len(yi)

    def full(values: np.ndarray, fill: float | bool = np.nan) -> np.ndarray:
        res = np.full(n, fill, dtype=np.asarray(values).dtype if isinstance(fill, bool) else float)
        res[ok] = values
        return res

    return RmaResult(
        estimate=full(out["estimate"]),
        se=full(out["se"]),
        z=full(out["z"]),
        pvalue=full(out["pvalue"]),
        tau2=full(out["tau2"]),
        i2=full(out["i2"]),
        q=full(q),
        q_pvalue=full(chi2.sf(q, kk - 1)),
        k=k,
        converged=full(converged, False),
        ll0check=full(reset, False),
    )
