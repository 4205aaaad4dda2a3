"""The DESeq2 engine: R DESeq2 1.38's statistics on PyDESeq2's data structures, all genes at once.

It knows nothing of studies, gene sets or reports: counts, a design frame and settings in, a
fitted model and tidy tables out.

``fit_deseq2``        size factors, dispersions (gene-wise, trend, prior, MAP), GLM fit, Cook's
``contrast_table``    Wald / thresholded Wald / LRT, independent filtering, LFC shrinkage -> table
``vst``               the blind variance-stabilising transformation
``DE_COLUMNS``        the DE table's columns
``significant``       the one definition of a called gene (``padj < alpha``), ``de_counts`` its tally

Private modules follow R's own functions: ``_dispersion`` (``fitDisp``), ``_trend``
(``parametricDispersionFit``), ``_prior`` (``estimateDispersionsPriorVar``, with ``_rrandom``, R's
random numbers), ``_irls`` (``fitBeta``, ``fitNbinomGLMsOptim``), ``_glm`` (Wald tests, shrinkage),
``_multitest`` (``pvalueAdjustment``), ``_inference`` / ``_dataset`` (PyDESeq2's interfaces).
"""

from bmsc_dge.calls import DEFAULT_ALPHA, DECounts, de_counts, significant
from bmsc_dge.deseq2._coefficients import (
    coefficient_scale,
    fit_references,
    reorder_reference,
    resolve_coefficient,
    standardise_covariates,
    with_references,
)
from bmsc_dge.deseq2._dataset import AVG_TX_LENGTH, NORM_FACTORS, normalization_factors
from bmsc_dge.deseq2._fit import (
    contrast_table,
    fit_deseq2,
    fit_inputs,
    fit_problems,
    lrt_statistics,
    normalized_counts,
    size_factor_type,
    size_factors,
)
from bmsc_dge.deseq2._model import DE_COLUMNS, DEFit
from bmsc_dge.deseq2._multitest import bh_adjust
from bmsc_dge.deseq2._vst import vst

__all__ = [
    "AVG_TX_LENGTH",
    "DEFAULT_ALPHA",
    "DE_COLUMNS",
    "NORM_FACTORS",
    "DECounts",
    "DEFit",
    "bh_adjust",
    "coefficient_scale",
    "contrast_table",
    "de_counts",
    "fit_deseq2",
    "fit_inputs",
    "fit_problems",
    "fit_references",
    "lrt_statistics",
    "normalization_factors",
    "normalized_counts",
    "reorder_reference",
    "resolve_coefficient",
    "significant",
    "size_factor_type",
    "size_factors",
    "standardise_covariates",
    "vst",
    "with_references",
]
