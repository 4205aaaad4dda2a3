"""A meta-analysis config (``bmsc-dge meta CONFIG``): several study configs, one contrast each."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from bmsc_dge.config._base import _SAFE_NAME, _Strict
from bmsc_dge.config._sections import TargetWeights
from bmsc_dge.errors import ConfigError


class MetaStudy(_Strict):
    """One study of a meta-analysis: its config and the contrast to combine."""

    config: Path
    contrast: str
    #: name of the study in the tables (default: the study config's ``name``)
    name: str | None = None


class MetaConfig(_Strict):
    """Several studies in, one ranked, cross-validated answer out (:mod:`bmsc_dge.meta`)."""

    name: str = "meta"
    studies: list[MetaStudy] = Field(min_length=2)
    method: Literal["reml", "dl", "fixed"] = "reml"
    species: Literal["human", "mouse", "rat"] = "human"
    min_studies: int = Field(2, ge=2)
    alpha: float = Field(0.05, gt=0, lt=1)
    outdir: Path = Path("results/meta")
    #: FDR at which a study's or the meta's gene set counts as enriched
    gsea_fdr: float = Field(0.05, gt=0, lt=1)
    weights: TargetWeights = Field(default_factory=TargetWeights)
    #: forest plots drawn for this many top targets and curated sets
    forest_top: int = Field(6, ge=0, le=50)

    @field_validator("name")
    @classmethod
    def _safe(cls, v: str) -> str:
        if not _SAFE_NAME.match(v):
            raise ValueError(f"name {v!r} must use only letters, digits, '_', '.', '-' (used in file names)")
        return v

    @model_validator(mode="after")
    def _min_studies(self) -> MetaConfig:
        if self.min_studies > len(self.studies):
            raise ValueError(
                f"min_studies ({self.min_studies}) exceeds the number of studies ({len(self.studies)})"
            )
        return self


def is_meta_config(path: str | Path) -> bool:
    """A YAML mapping with ``studies``: a meta-analysis config (not a study config)."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(raw, dict) and "studies" in raw


def load_meta_config(path: str | Path, *, outdir: str | Path | None = None) -> MetaConfig:
    """Read a meta config; study config paths and ``outdir`` are resolved against its folder.

    Raises
    ------
    ConfigError
        For a missing file, bad YAML, unknown keys or wrong values (naming the key).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError("config file not found", file=path, hint="check the path given to `bmsc-dge meta`")
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"not valid YAML ({exc})", file=path, hint="fix the YAML syntax") from exc
    if not isinstance(raw, dict):
        raise ConfigError("config must be a YAML mapping", file=path, hint="see configs/example_meta.yaml")
    try:
        cfg = MetaConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "<top level>"
        text = str(err["msg"]).removeprefix("Value error, ")
        msg = f"unknown key '{key}'" if err["type"] == "extra_forbidden" else f"key '{key}': {text}"
        raise ConfigError(msg, file=path, hint="see the meta config reference in docs/meta.md") from exc
    base = path.resolve().parent
    studies = [s.model_copy(update={"config": (base / s.config).resolve()}) for s in cfg.studies]
    updates: dict[str, Any] = {
        "studies": studies,
        "outdir": Path(outdir).resolve() if outdir is not None else (base / cfg.outdir).resolve(),
    }
    if cfg.name == "meta" and "name" not in raw:
        updates["name"] = re.sub(r"[^A-Za-z0-9_.\-]", "_", path.stem) or "meta"
    return cfg.model_copy(update=updates)
