"""Pseudobulk: raw counts of single cells summed per donor (sample) and cell type.

Cells of one donor are not independent replicates; DE between conditions is tested on one
profile per donor and cell type, as DESeq2 expects (decoupler's and muscat's pseudobulk). The sums
come from scanpy's :func:`scanpy.get.aggregate`; donor-level ``obs`` columns (constant within a
donor, such as condition, sex or age) become the sample sheet.
"""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse

from bmsc_dge.errors import CountsError, SampleSheetError

logger = logging.getLogger(__name__)

#: ``uns`` key of the pseudobulk's bookkeeping (keys, layer, columns that vary within a donor)
UNS_KEY = "pseudobulk"


def _matrix(adata: ad.AnnData, layer: str | None) -> np.ndarray | sparse.spmatrix:
    if layer is None:
        return adata.X
    if layer not in adata.layers:
        raise CountsError(
            f"layer '{layer}' not found",
            hint=f"layers present: {', '.join(adata.layers.keys()) or 'none'} (None uses X)",
        )
    return adata.layers[layer]


def _values(m: np.ndarray | sparse.spmatrix) -> np.ndarray:
    """The stored values of a dense or sparse matrix (a sparse matrix's non-zeros)."""
    return np.asarray(m.data if sparse.issparse(m) else m).ravel()


def _is_raw_counts(m: np.ndarray | sparse.spmatrix) -> bool:
    v = _values(m)
    return bool(v.size == 0 or (np.all(np.isfinite(v)) and v.min() >= 0 and np.all(v == np.round(v))))


def check_raw_counts(adata: ad.AnnData, layer: str | None) -> None:
    """Refuse log-normalised or otherwise non-integer values, naming the layers that hold counts.

    Raises
    ------
    CountsError
        When the chosen matrix holds negative, non-finite or fractional values.
    """
    m = _matrix(adata, layer)
    if _is_raw_counts(m):
        return
    v = _values(m)
    bad = v[~(np.isfinite(v) & (v >= 0) & (v == np.round(v)))][:1]
    usable = [name for name, lay in adata.layers.items() if name != layer and _is_raw_counts(lay)]
    where = f"layer '{layer}'" if layer else "X"
    raise CountsError(
        f"{where} holds values such as {float(bad[0]):g}, not raw counts (log-normalised data cannot "
        "be summed into pseudobulk counts)",
        hint=(
            f"pass layer='{usable[0]}' (raw integer counts)"
            if usable
            else "keep the raw UMI counts in a layer before normalising (adata.layers['counts'] = adata.X.copy())"
        ),
    )


def _donor_columns(obs: pd.DataFrame, sample_key: str, exclude: set[str]) -> tuple[list[str], list[str]]:
    """Columns constant within every donor (usable as sample covariates) and those that vary."""
    constant: list[str] = []
    varying: list[str] = []
    for col in obs.columns:
        if col in exclude:
            continue
        per_donor = obs.groupby(sample_key, observed=True)[col].nunique(dropna=False)
        (constant if bool((per_donor <= 1).all()) else varying).append(str(col))
    return constant, varying


def pseudobulk(
    adata: ad.AnnData,
    sample_key: str,
    groups_key: str | None = None,
    *,
    layer: str | None = None,
    min_cells: int = 10,
    min_counts: int = 1000,
) -> ad.AnnData:
    """Sum raw counts per sample (donor) and group (cell type).

    Parameters
    ----------
    adata
        Cells x genes with raw integer counts in ``X`` or in ``layer``.
    sample_key
        ``obs`` column naming the donor (biological replicate) of each cell.
    groups_key
        ``obs`` column naming the cell type (or cluster); ``None`` sums all cells of a donor.
    layer
        Layer holding the raw counts (``None``: ``X``).
    min_cells, min_counts
        Profiles (donor x group) built from fewer cells or with fewer summed counts are dropped
        with a warning: they are too noisy to stand for the donor.

    Returns
    -------
    anndata.AnnData
        One row per donor x group: ``X`` and ``layers["counts"]`` hold the int64 sums; ``obs`` has
        ``sample_key``, ``groups_key``, ``n_cells``, ``n_counts`` and every ``obs`` column that is
        constant within each donor; ``var["symbol"]`` holds the gene symbols (``var_names`` unless a
        ``symbol`` column exists); ``uns["pseudobulk"]`` records the keys, the layer and the columns
        that vary within a donor (they cannot enter a design).

    Raises
    ------
    SampleSheetError
        For a key that is not an ``obs`` column.
    CountsError
        For a matrix that does not hold raw counts (the message names a layer that does).
    """
    keys = [sample_key] + ([groups_key] if groups_key else [])
    for key in keys:
        if key not in adata.obs.columns:
            raise SampleSheetError(
                f"'{key}' is not a column of adata.obs",
                column=key,
                hint=f"columns are: {', '.join(map(str, adata.obs.columns))}",
            )
    check_raw_counts(adata, layer)
    import scanpy as sc  # ~0.4 s with numba: loaded by what uses it, not by every import of pp

    summed = sc.get.aggregate(adata, by=keys, func="sum", layer=layer)
    counts = np.rint(np.asarray(summed.layers["sum"], dtype=float)).astype(np.int64)
    obs = summed.obs[keys].astype(str).copy()
    sizes = adata.obs.groupby(keys, observed=True).size()
    obs["n_cells"] = [
        int(sizes.loc[tuple(r)] if len(keys) > 1 else sizes.loc[r[0]]) for r in obs[keys].to_numpy()
    ]
    obs["n_counts"] = counts.sum(axis=1)
    constant, varying = _donor_columns(adata.obs, sample_key, set(keys))
    donor_table = adata.obs.groupby(sample_key, observed=True)[constant].first() if constant else None
    if donor_table is not None:
        donor_table.index = donor_table.index.astype(str)
        for col in constant:
            obs[col] = donor_table.loc[obs[sample_key], col].to_numpy()
    keep = (obs["n_cells"] >= min_cells) & (obs["n_counts"] >= min_counts)
    if not keep.all():
        dropped = ", ".join(f"{i} ({n} cells)" for i, n in obs.loc[~keep, "n_cells"].items())
        logger.warning(
            "pseudobulk: dropped %d profile(s) with < %d cells or < %d counts: %s",
            int((~keep).sum()),
            min_cells,
            min_counts,
            dropped,
        )
    var = adata.var.copy()
    if "symbol" not in var.columns:
        var["symbol"] = var.index.astype(str)
    out = ad.AnnData(X=counts[keep.to_numpy()], obs=obs.loc[keep], var=var)
    out.layers["counts"] = out.X.copy()
    out.uns[UNS_KEY] = {
        "sample_key": sample_key,
        "groups_key": groups_key,
        "layer": layer,
        "min_cells": min_cells,
        "min_counts": min_counts,
        "varying_columns": varying,
    }
    logger.info("pseudobulk: %d cells -> %d profiles (%s)", adata.n_obs, out.n_obs, " x ".join(keys))
    return out
