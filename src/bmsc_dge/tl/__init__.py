"""Tools: the analysis of a contrast, as notebook functions and as the flows' code path.

Notebook API (scanpy's shape; options named as in the config): :func:`deseq2` (AnnData -> DE
table), :func:`gsea` (DE table -> GSEA table), :func:`ora` (DE table -> ORA table), :func:`rank_targets` (-> targets table), :func:`meta` (several DE tables -> one gene table).

Flow machinery: :func:`analyse_contrast` / :func:`analyse_fit_group` compose the engine
(:mod:`bmsc_dge.deseq2`), enrichment (:mod:`bmsc_dge.enrichment`) and targets
(:mod:`bmsc_dge.targets`) into a :class:`ContrastResult`, each step through a step runner (a
Prefect task in the local flow, a plain call on Dask workers).
"""

from bmsc_dge.tl._api import deseq2, gsea, meta, ora, rank_targets
from bmsc_dge.tl._contrast import (
    FitGroupResult,
    StepRunner,
    analyse_contrast,
    analyse_fit_group,
    gsea_collection,
    run_directly,
    targets_for,
    with_expected_directions,
    with_set_stability,
)
from bmsc_dge.tl._early import EarlyRefits, start_refits_early
from bmsc_dge.tl._results import ContrastResult, no_signal_note

__all__ = [
    "ContrastResult",
    "EarlyRefits",
    "FitGroupResult",
    "StepRunner",
    "analyse_contrast",
    "analyse_fit_group",
    "deseq2",
    "gsea",
    "gsea_collection",
    "meta",
    "no_signal_note",
    "ora",
    "rank_targets",
    "run_directly",
    "start_refits_early",
    "targets_for",
    "with_expected_directions",
    "with_set_stability",
]
