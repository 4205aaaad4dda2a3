"""What a DESeq2 fit hands on: the fitted model and the DE table's columns."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from pydeseq2.dds import DeseqDataSet

DE_COLUMNS = [
    "gene_id",
    "symbol",
    "baseMean",
    "log2FoldChange",
    "lfcSE",
    "stat",
    "pvalue",
    "padj",
    "log2FoldChange_shrunk",
    "lfcSE_shrunk",
]


@dataclass
class DEFit:
    """A fitted DESeq2 model for one set of reference levels."""

    references: dict[str, str]
    meta: pd.DataFrame
    dds: DeseqDataSet
    #: SD of each numeric covariate standardised for the fit (:func:`standardise_covariates`)
    scales: dict[str, float] = field(default_factory=dict)
