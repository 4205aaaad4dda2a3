"""Study configuration: YAML -> typed, validated model.

Paths in the YAML are relative to the config file. Unknown keys and wrong types are errors that
name the key. YAML is loaded with ``yaml.safe_load``: tags that construct Python objects are
refused.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bmsc_dge.errors import ConfigError

Species = Literal["human", "mouse", "rat", "other"]
Collection = Literal["curated", "hallmark", "go_bp"]

DEFAULT_COLLECTIONS: tuple[Collection, ...] = ("curated", "hallmark", "go_bp")

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contrast(_Strict):
    """One comparison.

    Three forms:

    * ``variable``, ``target``, ``reference``: Wald test of ``target`` vs ``reference`` levels;
    * ``coefficient``: Wald test of one model coefficient, e.g. an interaction
      ``"sex[T.M]:condition[T.T2DM]"`` (R's ``sexM.conditionT2DM`` is accepted too);
    * ``test: lrt`` with ``reduced``: likelihood-ratio test of the full design against the reduced
      formula (R's ``test = "LRT"``); the reported log2 fold change is ``variable``/``target``/
      ``reference`` or ``coefficient`` if given, else the last coefficient (as R reports).

    ``name`` becomes part of file names, so it is restricted to letters, digits, ``_``, ``.``
    and ``-``.
    """

    name: str
    variable: str | None = None
    target: str | None = None
    reference: str | None = None
    coefficient: str | None = None
    test: Literal["wald", "lrt"] = "wald"
    reduced: str | None = None
    lfc_threshold: float = Field(0.0, ge=0)
    alt_hypothesis: Literal["greaterAbs", "lessAbs", "greater", "less"] = "greaterAbs"

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        if not _SAFE_NAME.match(v) or v in {".", ".."}:
            raise ValueError(
                f"contrast name {v!r} must start with a letter or digit and use only letters, "
                "digits, '_', '.', '-' (it is used in file names)"
            )
        return v

    @model_validator(mode="after")
    def _form(self) -> Contrast:
        levels = (self.variable, self.target, self.reference)
        has_levels = all(x is not None for x in levels)
        if any(x is not None for x in levels) and not has_levels:
            raise ValueError("give all three of variable, target and reference")
        if has_levels and self.target == self.reference:
            raise ValueError(f"target and reference are both {self.target!r}")
        if has_levels and self.coefficient is not None:
            raise ValueError("give either variable/target/reference or coefficient, not both")
        if self.alt_hypothesis == "lessAbs" and self.lfc_threshold == 0:
            raise ValueError("alt_hypothesis 'lessAbs' needs lfc_threshold > 0 (as in R's results())")
        if self.test == "lrt" and (self.lfc_threshold != 0 or self.alt_hypothesis != "greaterAbs"):
            raise ValueError("lfc_threshold / alt_hypothesis apply to Wald tests, not to `test: lrt`")
        if self.test == "wald":
            if self.reduced is not None:
                raise ValueError("`reduced` is only used with `test: lrt`")
            if not has_levels and self.coefficient is None:
                raise ValueError("a Wald contrast needs variable/target/reference or coefficient")
        elif self.reduced is None or not self.reduced.strip().startswith("~"):
            raise ValueError("`test: lrt` needs `reduced`, a formula such as '~ batch'")
        return self

    @property
    def label(self) -> str:
        """Human-readable description of the comparison."""
        if self.test == "lrt":
            return f"LRT: full design vs {self.reduced}"
        base = (
            f"{self.variable} {self.target} vs {self.reference}"
            if self.variable is not None
            else f"coefficient {self.coefficient}"
        )
        return f"{base} ({self.hypothesis})" if self.lfc_threshold > 0 else base

    @property
    def hypothesis(self) -> str:
        """The tested alternative in words, as R's ``results(lfcThreshold, altHypothesis)``."""
        t = self.lfc_threshold
        if self.test == "lrt":
            return "LRT"
        return {
            "greaterAbs": f"|log2FC| > {t:g}" if t > 0 else "log2FC != 0",
            "lessAbs": f"|log2FC| < {t:g}",
            "greater": f"log2FC > {t:g}",
            "less": f"log2FC < {-t:g}",
        }[self.alt_hypothesis]


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

    engine: Literal["bmsc-dge", "pydeseq2"] = "bmsc-dge"
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
    """

    engine: Literal["bmsc-dge", "gseapy"] = "bmsc-dge"
    collections: list[Collection] = Field(default_factory=lambda: list(DEFAULT_COLLECTIONS))
    gmt: list[Path] = Field(default_factory=list)
    permutations: int = Field(1000, ge=100)
    min_size: int = Field(5, ge=1)
    max_size: int = Field(600, ge=2)
    fdr: float = Field(0.05, gt=0, lt=1)

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
    counts_format: Literal["auto", "table", "featurecounts"] = "auto"
    symbol_column: str | None = None
    pseudobulk: PseudobulkConfig | None = None

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

    @property
    def design_variables(self) -> list[str]:
        """Variables the design formula needs, in formula order."""
        from formulaic import Formula

        found = Formula(self.design.lstrip("~")).required_variables
        order = re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", self.design)
        return [v for v in dict.fromkeys(order) if v in found]


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "<top level>"


def validate_config(raw: dict[str, Any], source: str | Path) -> StudyConfig:
    """Validate a config mapping (from YAML or keyword options); the error names the offending key.

    Raises
    ------
    ConfigError
        For an unknown key (listing the allowed ones), a missing key or a wrong value.
    """
    try:
        cfg = StudyConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = _loc(err["loc"])
        if err["type"] == "extra_forbidden":
            parent = err["loc"][:-1]
            model: Any = StudyConfig
            for part in parent:
                if isinstance(part, int):
                    continue
                ann = model.model_fields[part].annotation
                model = getattr(ann, "__args__", [ann])[0] if hasattr(ann, "__args__") else ann
            allowed = ", ".join(sorted(getattr(model, "model_fields", {})))
            msg = f"unknown key '{key}' (allowed here: {allowed})"
        elif err["type"] == "missing":
            msg = f"required key '{key}' is missing"
        else:
            msg = f"key '{key}': {err['msg']} (got {err.get('input')!r})"
        more = f" [+{len(exc.errors()) - 1} more problem(s)]" if len(exc.errors()) > 1 else ""
        raise ConfigError(
            msg + more, file=source, hint="fix the config; see the config reference in README.md"
        ) from exc

    return cfg


def load_config(path: str | Path, *, outdir: str | Path | None = None) -> StudyConfig:
    """Read and validate a study config.

    Parameters
    ----------
    path
        YAML file. Relative paths inside it are resolved against its folder.
    outdir
        Overrides ``outdir`` from the file (resolved against the current directory).

    Returns
    -------
    StudyConfig
        Validated config with absolute paths.

    Raises
    ------
    ConfigError
        When the file is missing, not YAML, not a mapping, or fails validation; the message
        names the offending key.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError("config file not found", file=path, hint="check the path given to `bmsc-dge run`")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(
            "config is not UTF-8 text", file=path, hint="save it as a plain-text YAML file"
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        row = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            f"not valid YAML ({problem}); note that Python object tags such as !!python/object are refused",
            file=path,
            row=row,
            hint="fix the YAML syntax; see configs/example.yaml",
        ) from exc
    if not isinstance(raw, dict):
        raise ConfigError(
            "config must be a YAML mapping of keys to values", file=path, hint="see configs/example.yaml"
        )
    base = path.resolve().parent
    cfg = validate_config(raw, path)

    updates: dict[str, Any] = {
        "counts": (base / cfg.counts).resolve(),
        "samples": (base / cfg.samples).resolve() if cfg.samples is not None else None,
        "outdir": Path(outdir).resolve() if outdir is not None else (base / cfg.outdir).resolve(),
        "gene_sets": cfg.gene_sets.model_copy(
            update={"gmt": [(base / g).resolve() for g in cfg.gene_sets.gmt]}
        ),
    }
    if cfg.name == "study":
        stem = re.sub(r"[^A-Za-z0-9_.\-]", "_", path.stem) or "study"
        updates["name"] = stem
    return cfg.model_copy(update=updates)


def config_to_dict(cfg: StudyConfig) -> dict[str, Any]:
    """Resolved config as plain JSON-able data (for the manifest)."""
    return cfg.model_dump(mode="json")
