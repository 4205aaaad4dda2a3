"""Reading and checking input files: count matrices, sample sheets, quantifier outputs, gene IDs.

Nothing here does statistics or knows the design. Every problem is raised as an
:class:`bmsc_dge.errors.InputError` subclass naming the file, the row or column, and what to do.
Assembling a study from a config (design checks, prefilter) is :mod:`bmsc_dge.study`'s job.

``read_counts`` / ``read_samples``   count matrices (TSV/CSV, featureCounts, Salmon, ...) and sheets
``read_count_source``                any configured source (matrix, tximport, nf-core, count files)
``map_to_symbols``                   Ensembl / Entrez / symbol detection and mapping (bundled tables)
``read_rnk``                         a pre-ranked gene list (GSEA's ``.rnk``)
"""

from bmsc_dge.io._ids import (
    MappingReport,
    detect_id_type,
    human_id_table,
    map_to_symbols,
    strip_version,
)
from bmsc_dge.io._read import build_anndata, coerce_obs_types, read_counts, read_samples
from bmsc_dge.io._rnk import read_rnk
from bmsc_dge.io._sources import input_files, read_count_source, read_sheet
from bmsc_dge.io._validate import match_samples, parse_counts

__all__ = [
    "MappingReport",
    "build_anndata",
    "coerce_obs_types",
    "detect_id_type",
    "human_id_table",
    "input_files",
    "map_to_symbols",
    "match_samples",
    "parse_counts",
    "read_count_source",
    "read_counts",
    "read_rnk",
    "read_samples",
    "read_sheet",
    "strip_version",
]
