"""Preprocessing: low-count gene filters and per-sample QC (scanpy metrics, VST, PCA, outliers)."""

from bmsc_dge.pp._filter import filter_by_expr, filter_min_count, low_count_mask, min_sample_size
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
    "filter_by_expr",
    "filter_min_count",
    "flag_outliers",
    "heatmap_matrix",
    "low_count_mask",
    "min_sample_size",
    "pca_scores",
    "run_qc",
    "sample_correlation",
    "sample_qc",
]
