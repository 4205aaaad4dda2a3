"""Variance-stabilising transformation (R DESeq2 ``varianceStabilizingTransformation``).

``blind=True`` (the default for QC) refits size factors, gene-wise dispersions and the parametric
trend with an intercept-only design, so the transform knows nothing of the groups, then applies
R's closed form for the parametric trend ``a0 + a1 / mu``::

    vst(q) = log2((1 + a1 + 2 a0 q + 2 sqrt(a0 q (1 + a1 + a0 q))) / (4 a0))

to the normalised counts ``q``. Dispersions and the trend use the R-faithful estimators of
:mod:`bmsc_dge.deseq2._fit` (PyDESeq2's own ``vst`` would use its own trend fit).
"""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd

from bmsc_dge.deseq2._dataset import AVG_TX_LENGTH, RDeseqDataSet
from bmsc_dge.deseq2._inference import RInference


def vst_parametric(normed: np.ndarray, a0: float, a1: float) -> np.ndarray:
    """R's VST closed form for a parametric dispersion trend."""
    q = np.asarray(normed, dtype=float)
    return np.asarray(np.log2((1 + a1 + 2 * a0 * q + 2 * np.sqrt(a0 * q * (1 + a1 + a0 * q))) / (4 * a0)))


def vst(adata: ad.AnnData, *, n_cpus: int = 1) -> pd.DataFrame:
    """Blind VST of ``adata.layers['counts']`` (samples x genes).

    Returns
    -------
    pandas.DataFrame
        VST values, samples x genes, same labels as ``adata``.
    """
    counts = pd.DataFrame(np.asarray(adata.layers["counts"]), index=adata.obs_names, columns=adata.var_names)
    meta = pd.DataFrame(index=adata.obs_names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        # R's median of ratios is undefined when every gene has a zero; R then advises poscounts
        # (the DE fit says so in a warning; PyDESeq2 would switch to its iterative method)
        sf_type = "ratio" if (counts.to_numpy() > 0).all(axis=0).any() else "poscounts"
        dds = RDeseqDataSet(
            counts=counts,
            metadata=meta,
            design="~1",
            size_factors_fit_type=sf_type,
            inference=RInference(n_cpus=n_cpus),
            quiet=True,
        )
        if AVG_TX_LENGTH in adata.layers:  # tximport length offsets, as in the DE fit
            dds.layers[AVG_TX_LENGTH] = np.asarray(adata.layers[AVG_TX_LENGTH], dtype=float)
        dds.fit_size_factors()
        dds.fit_genewise_dispersions()
        dds.fit_dispersion_trend()
    if dds.uns.get("disp_function_type") != "parametric":
        mean_disp = float(dds.uns["mean_disp"])
        # R: for fitType "mean" the VST is the closed form of a constant dispersion
        q = np.asarray(dds.layers["normed_counts"], dtype=float)
        values = (2 * np.arcsinh(np.sqrt(mean_disp * q)) - np.log(mean_disp) - np.log(4)) / np.log(2)
    else:
        a0, a1 = (float(v) for v in dds.uns["trend_coeffs"])
        values = vst_parametric(np.asarray(dds.layers["normed_counts"], dtype=float), a0, a1)
    return pd.DataFrame(values, index=adata.obs_names, columns=adata.var_names)
