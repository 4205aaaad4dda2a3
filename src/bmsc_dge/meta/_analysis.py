"""A meta-analysis from the studies' run folders: read, combine genes and sets, rank targets.

Computation only: the flow (``flows/meta.py``) runs the studies and writes what this returns.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bmsc_dge.calls import significant
from bmsc_dge.config import CURATED, MetaConfig
from bmsc_dge.genesets import load_for_study
from bmsc_dge.meta._genes import GeneMeta, MetaError, meta_genes, to_species
from bmsc_dge.meta._sets import meta_sets
from bmsc_dge.meta._targets import leave_one_study_out, meta_targets

logger = logging.getLogger(__name__)


@dataclass
class StudyRun:
    """What the meta-analysis takes from one study's completed run."""

    name: str
    contrast: str
    species: str
    n_samples: int
    de: pd.DataFrame
    gsea: pd.DataFrame
    run: Path


@dataclass
class MetaResult:
    """The meta-analysis' tables."""

    genes: GeneMeta
    sets: pd.DataFrame
    targets: pd.DataFrame
    studies: list[StudyRun]


def read_study_run(run: Path, name: str, contrast: str) -> StudyRun:
    """The DE and GSEA tables of ``contrast`` in a completed run folder.

    Raises
    ------
    MetaError
        When the run has no such contrast (naming the study and its contrasts).
    """
    manifest = json.loads((run / "manifest.json").read_text())
    de_path = run / "tables" / "de" / f"{contrast}.deseq2.tsv"
    if not de_path.is_file():
        have = sorted(
            p.name.removesuffix(".deseq2.tsv") for p in (run / "tables" / "de").glob("*.deseq2.tsv")
        )
        raise MetaError(
            f"study '{name}' has no contrast '{contrast}' (its contrasts: {', '.join(have)})",
            file=run,
            hint="name one of its contrasts under `studies:`",
        )
    samples = pd.read_csv(run / "tables" / "qc" / "samples.tsv", sep="\t")
    return StudyRun(
        name=name,
        contrast=contrast,
        species=str(manifest["config"]["species"]),
        n_samples=len(samples),
        de=pd.read_csv(de_path, sep="\t"),
        gsea=pd.read_csv(run / "tables" / "gsea" / f"{contrast}.gsea.tsv", sep="\t"),
        run=run,
    )


def analyse(studies: list[StudyRun], cfg: MetaConfig) -> MetaResult:
    """Gene-level meta, set-level meta, leave-one-study-out and meta targets.

    Raises
    ------
    MetaError
        As :func:`bmsc_dge.meta.meta_genes` (no overlap, no ortholog map, too few studies).
    """
    des = {s.name: s.de for s in studies}
    species = {s.name: s.species for s in studies}
    genes = meta_genes(
        des, species, report_species=cfg.species, method=cfg.method, min_studies=cfg.min_studies
    )
    symbol_maps: dict[str, dict[str, str]] = {}
    for s in studies:
        if s.species != cfg.species:
            symbols = pd.Index(s.de["symbol"].astype(str).unique())
            mapped, _ = to_species(symbols, s.species, cfg.species)
            symbol_maps[s.name] = {str(k): str(v) for k, v in mapped.dropna().items()}
    sets = meta_sets(
        {s.name: s.gsea for s in studies},
        {s.name: s.n_samples for s in studies},
        gsea_fdr=cfg.gsea_fdr,
        min_studies=cfg.min_studies,
        symbol_maps=symbol_maps,
    )
    loso = leave_one_study_out(genes.table, [s.name for s in studies], cfg.method, cfg.alpha)
    curated = load_for_study([CURATED], [], cfg.species)[CURATED]
    targets = meta_targets(
        genes.table, sets, curated, loso, alpha=cfg.alpha, gsea_fdr=cfg.gsea_fdr, weights=cfg.weights
    )
    logger.info(
        "meta-analysis of %d studies: %d genes in >= %d studies, %d at padj < %s",
        len(studies),
        len(genes.table),
        cfg.min_studies,
        int(significant(genes.table, cfg.alpha).sum()),
        cfg.alpha,
    )
    return MetaResult(genes=genes, sets=sets, targets=targets, studies=studies)
