"""Check every study of a meta config before anything runs (``bmsc-dge validate`` / ``meta``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bmsc_dge.config import MetaConfig, StudyConfig, load_config
from bmsc_dge.meta._genes import SPECIES, MetaError, to_species
from bmsc_dge.study import Study, check_gene_sets, load_study


@dataclass
class CheckedStudy:
    """One study of a meta config, loaded and checked."""

    name: str
    contrast: str
    cfg: StudyConfig
    study: Study
    #: the study's config file (its runs' input fingerprint covers it)
    cfg_path: Path


def check_studies(mcfg: MetaConfig) -> list[CheckedStudy]:
    """Load and check every study; refuse what cannot be combined, naming the study.

    Raises
    ------
    bmsc_dge.errors.InputError
        The study's own input errors, and :class:`MetaError` for a missing contrast, a pseudobulk
        config, a species without ortholog map, repeated study names, or studies whose genes do
        not overlap in ``min_studies`` studies.
    """
    checked = []
    for entry in mcfg.studies:
        cfg = load_config(entry.config)
        name = entry.name or cfg.name
        if cfg.pseudobulk is not None:
            raise MetaError(
                f"study '{name}' is a pseudobulk config (one study per cell type)",
                file=entry.config,
                hint="give each cell type as its own study config (counts: the pseudobulk matrix)",
            )
        contrasts = [c.name for c in cfg.contrasts]
        if entry.contrast not in contrasts:
            raise MetaError(
                f"study '{name}' has no contrast '{entry.contrast}' (its contrasts: {', '.join(contrasts)})",
                file=entry.config,
                hint="name one of them under `studies:` in the meta config",
            )
        if cfg.species != mcfg.species and cfg.species not in SPECIES:
            raise MetaError(
                f"study '{name}' has species '{cfg.species}': no ortholog map to {mcfg.species}",
                file=entry.config,
                hint=f"set the study's species (human, mouse or rat) or report in its species (species: {cfg.species})",
            )
        study = load_study(cfg)
        check_gene_sets(cfg, list(study.adata.var["symbol"].astype(str)))
        checked.append(
            CheckedStudy(name=name, contrast=entry.contrast, cfg=cfg, study=study, cfg_path=entry.config)
        )
    names = [c.name for c in checked]
    if len(set(names)) < len(names):
        raise MetaError(
            f"study names repeat ({', '.join(names)})",
            hint="give the studies distinct `name`s in the meta config",
        )
    _check_overlap(checked, mcfg)
    return checked


def _check_overlap(checked: list[CheckedStudy], mcfg: MetaConfig) -> None:
    """Every study must share genes (symbols in the report species) with another study."""
    symbols: dict[str, set[str]] = {}
    for c in checked:
        sym = pd.Index(c.study.adata.var["symbol"].astype(str).unique())
        if c.cfg.species != mcfg.species:
            mapped, _ = to_species(sym, c.cfg.species, mcfg.species)
            sym = pd.Index(mapped.dropna().unique())
        symbols[c.name] = set(sym)
    for c in checked:
        others = set().union(*(v for k, v in symbols.items() if k != c.name))
        if not symbols[c.name] & others:
            raise MetaError(
                f"study '{c.name}' shares no gene symbol in {mcfg.species} with the other studies "
                f"({len(symbols[c.name])} of its symbols map to {mcfg.species})",
                file=c.cfg_path,
                hint="check the study's species and gene IDs (a wrong `species` maps nothing)",
            )
