"""Config sections: filter, DE, gene sets, targets, execution, pseudobulk."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from bmsc_dge.config._base import DEFAULT_COLLECTIONS, Collection, _Strict, builtin_collections


class FilterConfig(_Strict):
    """Low-count filtering (see :mod:`bmsc_dge.pp._filter`)."""

    method: Literal["filterbyexpr", "min_count"] = "filterbyexpr"
    min_count: int = Field(10, ge=0)
    min_total_count: int = Field(15, ge=0)
    large_n: int = Field(10, ge=1)
    min_prop: float = Field(0.7, gt=0, le=1)


class DEConfig(_Strict):
    """PyDESeq2 settings; defaults follow R DESeq2.

    ``engine`` picks the numerical backend: ``"bmsc-dge"`` (default) fits every gene at once with
    R DESeq2's algorithms (:mod:`bmsc_dge.deseq2._dispersion`, :mod:`bmsc_dge.deseq2._glm`); ``"pydeseq2"`` is stock
    PyDESeq2 (per-gene optimisers over ``n_cpus`` joblib processes), kept for comparison.

    ``size_factors``: R's ``estimateSizeFactors(type =)``: ``"ratio"`` (median of ratios, the
    default) or ``"poscounts"`` (geometric means over positive counts, R's choice for sparse data
    and pseudobulk). With ``"ratio"``, a study in which every gene has a zero (where R stops and
    advises ``poscounts``) is fitted with ``poscounts`` and a warning.
    """

    #: a registered DESeq2 engine (:mod:`bmsc_dge.engines`); checked when the study is assembled
    #: (:func:`bmsc_dge.study.check_engines`), so a new engine needs no change here
    engine: str = "bmsc-dge"
    lfc_shrink: bool = True
    cooks_filter: bool = True
    independent_filter: bool = True
    refit_cooks: bool = True
    fit_type: Literal["parametric", "mean"] = "parametric"
    size_factors: Literal["ratio", "poscounts"] = "ratio"
    n_cpus: int = Field(2, ge=1)


class GeneSetConfig(_Strict):
    """Which gene-set collections GSEA runs on, and how.

    ``engine``: ``"bmsc-dge"`` (default; gseapy's statistic computed on the hits only, see
    :mod:`bmsc_dge.enrichment._prerank`) or ``"gseapy"`` (``gseapy.prerank`` itself).
    ``multilevel``: sets no permutation reaches get fgsea's adaptive multilevel p-value
    (:mod:`bmsc_dge.enrichment._multilevel`) instead of the bound ``1 / (permutations + 1)``.
    """

    #: a registered GSEA engine, checked like ``de.engine``
    engine: str = "bmsc-dge"
    multilevel: bool = True
    collections: list[Collection] = Field(default_factory=lambda: list(DEFAULT_COLLECTIONS))
    gmt: list[Path] = Field(default_factory=list)
    permutations: int = Field(1000, ge=100)
    min_size: int = Field(5, ge=1)
    max_size: int = Field(600, ge=2)
    fdr: float = Field(0.05, gt=0, lt=1)

    @field_validator("collections")
    @classmethod
    def _known_collections(cls, names: list[str]) -> list[str]:
        known = builtin_collections()
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(
                f"unknown collection(s) {', '.join(map(repr, unknown))}: built in are {', '.join(known)} "
                "(add your own sets with gene_sets.gmt)"
            )
        return names

    @model_validator(mode="after")
    def _sizes(self) -> GeneSetConfig:
        if self.max_size < self.min_size:
            raise ValueError("max_size must be >= min_size")
        return self


class TargetWeights(_Strict):
    """Weights of the three components of the target score (they are normalised to sum 1)."""

    de: float = Field(0.6, ge=0)
    leading_edge: float = Field(0.25, ge=0)
    prior: float = Field(0.15, ge=0)


class TargetConfig(_Strict):
    """Target ranking settings (see :mod:`bmsc_dge.targets._rank`)."""

    weights: TargetWeights = Field(default_factory=TargetWeights)
    top_n: int = Field(50, ge=1)
    #: leave-one-sample-out refits for the stability columns (one DESeq2 fit per sample)
    stability: bool = True
    #: GSEA permutations of the curated-set re-tests in the stability refits
    stability_permutations: int = Field(200, ge=100)


class ExecutionConfig(_Strict):
    """Where contrasts run: in-process (``local``) or on Dask through prefect-dask."""

    engine: Literal["local", "dask"] = "local"
    address: str | None = None
    n_workers: int = Field(2, ge=1)
    #: forked processes drawing the figures while the run's tables are written (1: in-process)
    figure_processes: int = Field(2, ge=1)
    #: forked processes sharing the leave-one-out refits (1: in-process; Dask workers use 1)
    stability_processes: int = Field(2, ge=1)


class PseudobulkConfig(_Strict):
    """Single-cell input: sum raw counts per donor and cell type (:func:`bmsc_dge.pp.pseudobulk`).

    With this block ``counts`` is an ``.h5ad`` of cells x genes and ``samples`` is optional:
    donor-level ``obs`` columns (constant within a donor) form the sample sheet. Each of
    ``cell_types`` runs as its own study (own run folder, tables and report).
    """

    sample_key: str
    cell_type_key: str
    cell_types: list[str] = Field(min_length=1)
    #: layer with raw integer counts (``None``: ``X``)
    layer: str | None = None
    min_cells: int = Field(10, ge=1)
    min_counts: int = Field(1000, ge=0)


class TximportConfig(_Strict):
    """Transcript quantifications in place of ``counts``: R's ``tximport`` + ``DESeqDataSetFromTximport``.

    ``files`` is a path pattern with ``{sample}``, filled from the sample sheet's IDs (e.g.
    ``quants/{sample}/quant.sf``; ``.gz`` accepted). ``tx2gene``: transcript ID, gene ID per line
    (not needed for RSEM ``genes.results``). Counts are summed per gene and rounded; the average
    transcript lengths become DESeq2's normalization factors.
    """

    type: Literal["salmon", "kallisto", "rsem"]
    files: str
    tx2gene: Path | None = None
    #: R's ``ignoreTxVersion``: match ``ENST...1`` in the files to ``ENST...`` in tx2gene
    ignore_tx_version: bool = False
    #: R's ``ignoreAfterBar``: match GENCODE ``ENST...|ENSG...|...`` names on their first field
    ignore_after_bar: bool = False
    #: drop transcripts absent from tx2gene as R does even when they hold reads (refused by default)
    drop_unmapped: bool = False

    @model_validator(mode="after")
    def _pattern(self) -> TximportConfig:
        if "{sample}" not in self.files:
            raise ValueError(
                "`files` must contain {sample} (filled with each sample ID), e.g. 'quants/{sample}/quant.sf'"
            )
        return self
