"""Preprocessing: pseudobulk of single cells, low-count gene filters and per-sample QC (scanpy)."""

from bmsc_dge.pp._filter import filter_by_expr, filter_min_count, low_count_mask, min_sample_size
from bmsc_dge.pp._pseudobulk import check_raw_counts, pseudobulk
from bmsc_dge.pp._qc import (
    QCResult,
    flag_outliers,
    heatmap_matrix,
    pca_scores,
    run_qc,
    sample_correlation,
    sample_qc,
)

__all__ = [
    "QCResult",
    "check_raw_counts",
    "filter_by_expr",
    "filter_min_count",
    "flag_outliers",
    "heatmap_matrix",
    "low_count_mask",
    "min_sample_size",
    "pca_scores",
    "pseudobulk",
    "run_qc",
    "sample_correlation",
    "sample_qc",
]
