"""Analysis steps of one contrast, shared by the flows, the Dask path and the CLI.

``analyse_contrast`` composes the engine (:mod:`bmsc_dge.deseq2`), enrichment
(:mod:`bmsc_dge.enrichment`) and targets (:mod:`bmsc_dge.targets`) into a :class:`ContrastResult`;
the flow calls the same pieces as separate Prefect tasks.
"""

from bmsc_dge.tl._contrast import (
    FitGroupResult,
    StepRunner,
    analyse_contrast,
    analyse_fit_group,
    contrast_stability,
    gsea_collection,
    run_directly,
    targets_for,
    with_expected_directions,
    with_set_stability,
)
from bmsc_dge.tl._results import ContrastResult, no_signal_note

__all__ = [
    "ContrastResult",
    "FitGroupResult",
    "StepRunner",
    "analyse_contrast",
    "analyse_fit_group",
    "contrast_stability",
    "gsea_collection",
    "no_signal_note",
    "run_directly",
    "targets_for",
    "with_expected_directions",
    "with_set_stability",
]
