"""Low-count gene filtering.

``filterbyexpr`` (default) follows edgeR's ``filterByExpr`` with a design matrix (edgeR 3.x/4.x
semantics): with ``n_min = 1 / max(hat values of the design)``, reduced to
``large_n + (n_min - large_n) * min_prop`` when above ``large_n``, a gene is kept when its CPM is
at least ``min_count / median(library size) * 1e6`` in at least ``n_min`` samples and its total
count is at least ``min_total_count``. ``min_count`` is the DESeq2 vignette's rule: at least
``min_count`` reads in at least as many samples as the smallest contrast group.

Filtering only removes genes that cannot reach significance; DESeq2's own independent filtering
still runs afterwards. Set ``prefilter: false`` to skip this step (for one-to-one comparison with
R DESeq2 run on the same counts).
"""

from __future__ import annotations

import logging

import numpy as np

from bmsc_dge.config import FilterConfig

logger = logging.getLogger(__name__)


def min_sample_size(design_matrix: np.ndarray) -> float:
    """EdgeR's minimum effective group size: ``1 / max(diag(H))`` of the design's hat matrix."""
    x = np.asarray(design_matrix, dtype=float)
    q, _ = np.linalg.qr(x)
    hat = np.einsum("ij,ij->i", q, q)
    return float(1.0 / hat.max())


def filter_by_expr(
    counts: np.ndarray,
    design_matrix: np.ndarray,
    *,
    min_count: int = 10,
    min_total_count: int = 15,
    large_n: int = 10,
    min_prop: float = 0.7,
) -> np.ndarray:
    """Boolean keep-mask over genes, edgeR ``filterByExpr`` semantics.

    Parameters
    ----------
    counts
        Samples x genes raw counts.
    design_matrix
        Samples x coefficients model matrix.
    min_count, min_total_count, large_n, min_prop
        As in edgeR.

    Returns
    -------
    numpy.ndarray
        ``True`` for genes to keep.
    """
    counts = np.asarray(counts, dtype=float)
    lib = counts.sum(axis=1)
    n_min = min_sample_size(design_matrix)
    if n_min > large_n:
        n_min = large_n + (n_min - large_n) * min_prop
    cpm = counts / lib[:, None] * 1e6
    cutoff = min_count / np.median(lib) * 1e6
    keep_cpm = (cpm >= cutoff).sum(axis=0) >= n_min - 1e-14
    keep_total = counts.sum(axis=0) >= min_total_count - 1e-14
    return np.asarray(keep_cpm & keep_total)


def filter_min_count(counts: np.ndarray, smallest_group: int, *, min_count: int = 10) -> np.ndarray:
    """DESeq2 vignette rule: ``rowSums(counts >= min_count) >= smallest_group``."""
    counts = np.asarray(counts)
    return np.asarray((counts >= min_count).sum(axis=0) >= smallest_group)


def low_count_mask(
    counts: np.ndarray, design_matrix: np.ndarray, smallest_group: int, cfg: FilterConfig
) -> np.ndarray:
    """Apply the configured rule and log how many genes remain."""
    if cfg.method == "filterbyexpr":
        keep = filter_by_expr(
            counts,
            design_matrix,
            min_count=cfg.min_count,
            min_total_count=cfg.min_total_count,
            large_n=cfg.large_n,
            min_prop=cfg.min_prop,
        )
    else:
        keep = filter_min_count(counts, smallest_group, min_count=cfg.min_count)
    logger.info("low-count filter (%s): kept %d of %d genes", cfg.method, int(keep.sum()), keep.size)
    return keep
