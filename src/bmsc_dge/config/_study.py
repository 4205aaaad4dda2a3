"""A whole study's config (``StudyConfig``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from bmsc_dge.config._base import _SAFE_NAME, Species, VariableType, _Strict
from bmsc_dge.config._contrast import Contrast
from bmsc_dge.config._sections import (
    DEConfig,
    ExecutionConfig,
    FilterConfig,
    GeneSetConfig,
    PseudobulkConfig,
    TargetConfig,
    TximportConfig,
)


class StudyConfig(_Strict):
    """A whole study: inputs, design, contrasts and analysis settings.

    The contract keys are ``counts``, ``samples``, ``design``, ``contrasts``, ``species``,
    ``gene_sets``, ``outdir``, ``alpha`` and ``seed``.
    """

    name: str = "study"
    counts: Path
    samples: Path | None = None
    design: str
    contrasts: list[Contrast] = Field(min_length=1)
    species: Species = "human"
    alpha: float = Field(gt=0, lt=1)
    seed: int = Field(20261128, ge=0)
    outdir: Path = Path("results")
    prefilter: bool = True
    filter: FilterConfig = Field(default_factory=FilterConfig)
    de: DEConfig = Field(default_factory=DEConfig)
    gene_sets: GeneSetConfig = Field(default_factory=GeneSetConfig)
    targets: TargetConfig = Field(default_factory=TargetConfig)
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    reference_levels: dict[str, str] = Field(default_factory=dict)
    #: type of each design variable (``factor`` or ``numeric``); whole-number columns need one
    variables: dict[str, VariableType] = Field(default_factory=dict)
    counts_format: Literal["auto", "table", "featurecounts"] = "auto"
    symbol_column: str | None = None
    pseudobulk: PseudobulkConfig | None = None
    #: Salmon / kallisto / RSEM quantifications in place of ``counts`` (R's tximport)
    tximport: TximportConfig | None = None
    #: average transcript lengths (nf-core/rnaseq ``salmon.merged.gene_lengths.tsv``) beside ``counts``
    lengths: Path | None = None
    #: strand column of STAR ``ReadsPerGene.out.tab`` files (required for them)
    star_strand: Literal["unstranded", "forward", "reverse"] | None = None
    #: duplicated gene IDs in the counts: refused (``error``) or summed (``sum``)
    duplicate_genes: Literal["error", "sum"] = "error"

    @model_validator(mode="before")
    @classmethod
    def _counts_or_tximport(cls, data: Any) -> Any:
        """``tximport`` stands in place of ``counts``: ``counts`` then names its file pattern."""
        if isinstance(data, dict) and data.get("tximport") is not None:
            if data.get("counts") is not None:
                raise ValueError("give either `counts` or `tximport`, not both")
            files = data["tximport"].get("files") if isinstance(data["tximport"], dict) else None
            if files is not None:
                data = {**data, "counts": files}
        return data

    @model_validator(mode="after")
    def _lengths_need_a_table(self) -> StudyConfig:
        if self.lengths is not None and (self.tximport is not None or self.pseudobulk is not None):
            raise ValueError("`lengths` goes with a `counts` table (nf-core/rnaseq's merged gene counts)")
        return self

    @property
    def per_sample_counts(self) -> bool:
        """Counts come as one file per sample (``counts`` or ``tximport.files`` holds ``{sample}``)."""
        return "{sample}" in str(self.counts)

    @field_validator("name")
    @classmethod
    def _safe_study_name(cls, v: str) -> str:
        if not _SAFE_NAME.match(v):
            raise ValueError(f"name {v!r} must use only letters, digits, '_', '.', '-' (used in file names)")
        return v

    @field_validator("design")
    @classmethod
    def _tilde(cls, v: str) -> str:
        v = v.strip()
        if not v.startswith("~"):
            raise ValueError(f"design {v!r} must be a formula starting with '~', e.g. '~ batch + condition'")
        return v

    @model_validator(mode="after")
    def _samples_or_pseudobulk(self) -> StudyConfig:
        if self.samples is None and self.pseudobulk is None:
            raise ValueError("required key 'samples' is missing (only a `pseudobulk` study may omit it)")
        return self

    def for_cell_type(self, cell_type: str) -> StudyConfig:
        """The study of one pseudobulk cell type: its own name, output folder and cell type."""
        if self.pseudobulk is None:
            return self
        safe = re.sub(r"[^A-Za-z0-9_.\-]", "_", cell_type)
        return self.model_copy(
            update={
                "name": f"{self.name}_{safe}",
                "outdir": self.outdir / safe,
                "pseudobulk": self.pseudobulk.model_copy(update={"cell_types": [cell_type]}),
            }
        )

    @model_validator(mode="after")
    def _unique_contrasts(self) -> StudyConfig:
        names = [c.name for c in self.contrasts]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"contrast names must be unique; repeated: {sorted(dup)}")
        return self

    @model_validator(mode="after")
    def _declared_types_agree(self) -> StudyConfig:
        numeric = {v for v, t in self.variables.items() if t == "numeric"}
        for c in self.contrasts:
            if c.variable in numeric:
                raise ValueError(
                    f"contrast '{c.name}' compares levels of '{c.variable}', which `variables` declares "
                    "numeric; declare it `factor`, or test its slope with `coefficient: "
                    f"{c.variable}`"
                )
        for v in numeric & set(self.reference_levels):
            raise ValueError(f"reference_levels names '{v}', which `variables` declares numeric")
        for v in numeric & set(re.findall(r"C\(\s*([A-Za-z_][A-Za-z0-9_.]*)", self.design)):
            raise ValueError(f"the design writes C({v}) (a factor) but `variables` declares '{v}' numeric")
        return self

    @property
    def design_variables(self) -> list[str]:
        """Variables the design formula needs, in formula order."""
        from formulaic import Formula

        found = Formula(self.design.lstrip("~")).required_variables
        order = re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", self.design)
        return [v for v in dict.fromkeys(order) if v in found]
