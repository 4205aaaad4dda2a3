"""A study assembled from its config: inputs read and checked, the design checked, genes filtered.

The layer above :mod:`bmsc_dge.io` (files), :mod:`bmsc_dge.pp` (filters), :mod:`bmsc_dge.deseq2`
(the engine's coefficient rules), :mod:`bmsc_dge.enrichment` (its engines) and
:mod:`bmsc_dge.genesets`:

``load_study`` / ``load_studies``     config -> validated :class:`Study` (AnnData + design frame)
``study_from_anndata``                the same from an AnnData (notebook API, pseudobulk)
``apply_prefilter``                   the study's low-count gene filter
``check_gene_sets``                   the configured gene sets exist and reach the data
``check_engines``                     ``de.engine`` / ``gene_sets.engine`` name registered engines
``hand_over`` / ``take_over``         a study checked by the CLI, reused by the flow in-process
:mod:`bmsc_dge.study.design`          the design checks: typed variables, levels, full rank
"""

from bmsc_dge.study._handoff import Handed, hand_over, take_over
from bmsc_dge.study._prefilter import apply_prefilter, check_gene_sets
from bmsc_dge.study._study import (
    Study,
    check_engines,
    design_matrix_for,
    load_studies,
    load_study,
    study_from_anndata,
)
from bmsc_dge.study.design import check_full_rank, describe_design, design_text, prepare_design_frame

__all__ = [
    "Handed",
    "Study",
    "apply_prefilter",
    "check_engines",
    "check_full_rank",
    "check_gene_sets",
    "describe_design",
    "design_matrix_for",
    "design_text",
    "hand_over",
    "load_studies",
    "load_study",
    "prepare_design_frame",
    "study_from_anndata",
    "take_over",
]
