"""Reporting and exports: tables (TSV, Parquet, XLSX, h5ad), figures, summary, HTML report, artifacts.

Nothing here computes statistics; it writes what the analysis returned into a run folder
(:class:`bmsc_dge.runs.RunDir`). Figures are drawn by :mod:`bmsc_dge.pl`.
"""

from bmsc_dge._atomic import write_json, write_text, write_tsv
from bmsc_dge.report._artifacts import artifact_keys, gsea_records, targets_records
from bmsc_dge.report._export import write_parquet, write_workbook
from bmsc_dge.report._figures import PendingFigures, write_figures
from bmsc_dge.report._html import methods_text, write_report
from bmsc_dge.report._meta import meta_summary_markdown, write_meta_outputs
from bmsc_dge.report._outputs import RunOutputs, write_run_outputs
from bmsc_dge.report._ranked import top_sets, write_ranked_outputs
from bmsc_dge.report._summary import summary_markdown

__all__ = [
    "PendingFigures",
    "RunOutputs",
    "artifact_keys",
    "gsea_records",
    "meta_summary_markdown",
    "methods_text",
    "summary_markdown",
    "targets_records",
    "top_sets",
    "write_figures",
    "write_json",
    "write_meta_outputs",
    "write_parquet",
    "write_ranked_outputs",
    "write_report",
    "write_run_outputs",
    "write_text",
    "write_tsv",
    "write_workbook",
]
