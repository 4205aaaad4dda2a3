"""A loaded study's low-count gene filter and its check of user gene sets against the data."""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd

from bmsc_dge.config import StudyConfig
from bmsc_dge.errors import DesignError, GeneSetError
from bmsc_dge.genesets import load_for_study, restrict_to_data
from bmsc_dge.pp import low_count_mask
from bmsc_dge.study._study import Study

logger = logging.getLogger(__name__)


def check_gene_sets(cfg: StudyConfig, symbols: list[str]) -> None:
    """Load the configured collections and refuse a user GMT that shares no gene with the data.

    Raises
    ------
    GeneSetError
        For an unreadable GMT, built-in collections with ``species: other``, or a GMT whose genes
        never occur in the data (usually other IDs or another species).
    """
    collections = load_for_study(list(cfg.gene_sets.collections), list(cfg.gene_sets.gmt), cfg.species)
    by_stem = {f"gmt:{p.stem}": p for p in cfg.gene_sets.gmt}
    for name, sets in collections.items():
        if name not in by_stem:
            continue
        _, cov = restrict_to_data(sets, symbols, cfg.species)
        if int(cov["found"].sum()) == 0:
            example = next(iter(sets)).genes[:3]
            raise GeneSetError(
                f"none of the {len(sets)} gene sets shares a gene with the data (e.g. {', '.join(example)} "
                f"vs data symbols such as {', '.join(symbols[:3])})",
                file=by_stem[name],
                hint="use the same gene symbols and species as the counts (HGNC for human, MGI for mouse)",
            )


def smallest_group(frame: pd.DataFrame, cfg: StudyConfig) -> int:
    """Smallest number of samples in any level of any contrast variable."""
    variables = [c.variable for c in cfg.contrasts if c.variable is not None]
    categorical = [v for v in frame.columns if not pd.api.types.is_float_dtype(frame[v])]
    use = variables or categorical
    if not use:
        return 2
    return int(min(frame[v].value_counts().min() for v in use))


def apply_prefilter(study: Study, cfg: StudyConfig) -> tuple[ad.AnnData, pd.DataFrame]:
    """Drop low-count genes (unless ``prefilter: false``).

    Returns
    -------
    tuple
        The filtered AnnData and a per-gene table (``gene_id``, ``symbol``, ``total_count``,
        ``kept``).
    """
    counts = np.asarray(study.adata.layers["counts"])
    if cfg.prefilter:
        keep = low_count_mask(
            counts, study.design_matrix.to_numpy(), smallest_group(study.frame, cfg), cfg.filter
        )
    else:
        keep = np.ones(study.adata.n_vars, dtype=bool)
        logger.info("prefilter disabled: all %d genes go to DESeq2", keep.size)
    table = pd.DataFrame(
        {
            "gene_id": study.adata.var["gene_id"].to_numpy(),
            "symbol": study.adata.var["symbol"].to_numpy(),
            "total_count": counts.sum(axis=0),
            "kept": keep,
        }
    )
    if not keep.any():
        raise DesignError(
            "no gene passes the low-count filter",
            file=cfg.counts,
            hint="check that the matrix holds raw counts, or relax `filter` / set `prefilter: false`",
        )
    return study.adata[:, keep].copy(), table
