"""Meta-analysis of many small studies, across species: genes, gene sets and targets.

``rma``                  inverse-variance meta-analysis of every gene at once, as metafor's ``rma``
                         (REML, DerSimonian-Laird, fixed effect)
``meta_genes``           per-study DE tables -> one gene table (orthologs, per-study columns)
``meta_sets``            per-study GSEA -> weighted-Z combination per curated / Hallmark set
``leave_one_study_out``  which significant genes rest on one study
``meta_targets``         significance first, then curated prior and consistency across studies
``analyse``              all of it from the studies' run folders (``read_study_run``)
"""

from bmsc_dge.meta._analysis import MetaResult, StudyRun, analyse, read_study_run
from bmsc_dge.meta._check import CheckedStudy, check_studies
from bmsc_dge.meta._genes import (
    META_COLUMNS,
    GeneMeta,
    MetaError,
    meta_genes,
    one_to_one_orthologs,
    to_species,
)
from bmsc_dge.meta._rma import METHODS, RmaResult, rma
from bmsc_dge.meta._sets import SET_META_COLUMNS, meta_sets
from bmsc_dge.meta._targets import META_TARGET_COLUMNS, leave_one_study_out, meta_targets

__all__ = [
    "META_COLUMNS",
    "META_TARGET_COLUMNS",
    "METHODS",
    "SET_META_COLUMNS",
    "CheckedStudy",
    "GeneMeta",
    "MetaError",
    "MetaResult",
    "RmaResult",
    "StudyRun",
    "analyse",
    "check_studies",
    "leave_one_study_out",
    "meta_genes",
    "meta_sets",
    "meta_targets",
    "one_to_one_orthologs",
    "read_study_run",
    "rma",
    "to_species",
]
