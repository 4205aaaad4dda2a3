"""Reading and checking inputs: count matrices, sample sheets, gene IDs -> a validated study.

Nothing here does statistics. Every problem is raised as an :class:`bmsc_dge.errors.InputError`
subclass naming the file, the row or column, and what to do.

``read_counts`` / ``read_samples``   count matrices (TSV/CSV, featureCounts, Salmon, ...) and sheets
``map_to_symbols``                   Ensembl / Entrez / symbol detection and mapping (bundled tables)
``load_study``                       all of it, checked against the config's design and contrasts
``apply_prefilter``                  the study's low-count gene filter (:mod:`bmsc_dge.pp`)
"""

from bmsc_dge.io._design import check_full_rank, describe_design, design_text, prepare_design_frame
from bmsc_dge.io._handoff import hand_over, take_over
from bmsc_dge.io._ids import (
    MappingReport,
    collapse_by_symbol,
    detect_id_type,
    human_id_table,
    map_to_symbols,
    strip_version,
)
from bmsc_dge.io._prefilter import apply_prefilter, check_gene_sets
from bmsc_dge.io._read import build_anndata, read_counts, read_samples
from bmsc_dge.io._rnk import read_rnk
from bmsc_dge.io._sources import input_files
from bmsc_dge.io._study import (
    Study,
    design_matrix_for,
    load_studies,
    load_study,
    study_from_anndata,
)
from bmsc_dge.io._validate import match_samples, parse_counts

__all__ = [
    "MappingReport",
    "Study",
    "apply_prefilter",
    "build_anndata",
    "check_full_rank",
    "check_gene_sets",
    "collapse_by_symbol",
    "describe_design",
    "design_matrix_for",
    "design_text",
    "detect_id_type",
    "hand_over",
    "human_id_table",
    "input_files",
    "load_studies",
    "load_study",
    "map_to_symbols",
    "match_samples",
    "parse_counts",
    "prepare_design_frame",
    "read_counts",
    "read_rnk",
    "read_samples",
    "strip_version",
    "study_from_anndata",
    "take_over",
]
