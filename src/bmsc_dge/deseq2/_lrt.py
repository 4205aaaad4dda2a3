"""Likelihood-ratio test against a reduced design (R DESeq2's ``nbinomLRT``)."""

from __future__ import annotations

import numpy as np
from formulaic import model_matrix
from scipy.stats import chi2

from bmsc_dge.config import DEConfig
from bmsc_dge.deseq2._dataset import NORM_FACTORS
from bmsc_dge.deseq2._irls import nb_deviance
from bmsc_dge.deseq2._model import DEFit
from bmsc_dge.errors import DesignError


def lrt_statistics(fit: DEFit, reduced: str, cfg: DEConfig) -> tuple[np.ndarray, np.ndarray, int]:
    """Likelihood-ratio statistics and p-values against ``reduced`` for every gene.

    Returns
    -------
    tuple
        ``stat`` and ``pvalue`` per gene (NaN for all-zero genes) and the degrees of freedom.
    """
    dds = fit.dds
    full = np.asarray(dds.obsm["design_matrix"], dtype=float)
    try:
        red = np.asarray(model_matrix(reduced, fit.meta), dtype=float)
    except Exception as exc:
        raise DesignError(
            f"cannot build the reduced design {reduced!r}: {exc}",
            hint="the reduced formula must use variables of the full design",
        ) from exc
    df = full.shape[1] - red.shape[1]
    if df < 1 or np.linalg.matrix_rank(np.hstack([full, red])) != np.linalg.matrix_rank(full):
        raise DesignError(
            f"reduced design {reduced!r} is not nested in the full design with fewer terms",
            hint="drop terms from the full design to make the reduced one",
        )
    counts = np.asarray(dds.X, dtype=float).copy()
    if cfg.refit_cooks and "replaced" in dds.var and bool(dds.var["replaced"].any()):
        idx = dds.var_names.get_indexer(dds.counts_to_refit.var_names)
        counts[:, idx] = np.asarray(dds.counts_to_refit.X, dtype=float)
    disp = dds.var["dispersions"].to_numpy(dtype=float)
    nz = counts.sum(axis=0) > 0
    sf = (
        np.asarray(dds.layers[NORM_FACTORS], dtype=float)[:, nz]
        if NORM_FACTORS in dds.layers
        else dds.obs["size_factors"].to_numpy(dtype=float)
    )
    stat = np.full(dds.n_vars, np.nan)
    inf = dds.inference
    lls = []
    for x in (full, red):
        _, mu, _, _ = inf.irls(
            counts=counts[:, nz],
            size_factors=sf,
            design_matrix=x,
            disp=disp[nz],
            min_mu=dds.min_mu,
            beta_tol=dds.beta_tol,
        )
        lls.append(
            -0.5 * nb_deviance(counts[:, nz], np.asarray(mu), disp[nz])
        )  # log-likelihood; mu: samples x genes
    stat[nz] = 2.0 * (lls[0] - lls[1])  # may be slightly negative; R does not clip either
    return stat, chi2.sf(stat, df), df
