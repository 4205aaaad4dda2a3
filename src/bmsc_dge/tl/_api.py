"""The notebook API in scanpy's shape: AnnData in, tidy tables out.

Each function builds the same validated :class:`bmsc_dge.config.StudyConfig` a YAML file would
(options are named as in the config, and wrong ones get the same messages) and calls the same
library functions the CLI's flow calls, so a table from here equals the CLI's table for the same
counts and settings.

>>> import bmsc_dge as bd
>>> de = bd.tl.deseq2(pb, design="~ sex + condition", contrast=["condition", "T2DM", "control"])
>>> gs = bd.tl.gsea(de, collections=["curated"])
>>> ov = bd.tl.ora(de, collections=["curated", "hallmark"])
>>> tg = bd.tl.rank_targets(de, gs)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anndata as ad
import pandas as pd

from bmsc_dge import deseq2 as de_mod
from bmsc_dge import enrichment as gsea_mod
from bmsc_dge.calls import DEFAULT_ALPHA
from bmsc_dge.config import CURATED, Contrast, StudyConfig, validate_config
from bmsc_dge.errors import ConfigError
from bmsc_dge.genesets import load_for_study, restrict_to_data
from bmsc_dge.study import apply_prefilter, study_from_anndata
from bmsc_dge.tl._contrast import gsea_collection, targets_for, with_expected_directions, with_set_stability

#: where :func:`deseq2` stores its table on the AnnData by default (``adata.uns[key]``)
DEFAULT_KEY = "deseq2"
_SOURCE = "bmsc_dge.tl"


def _contrast(contrast: Sequence[str] | dict[str, Any] | Contrast) -> Contrast:
    if isinstance(contrast, Contrast):
        return contrast
    if isinstance(contrast, dict):
        return Contrast.model_validate(contrast)
    parts = list(contrast)
    if len(parts) != 3:
        raise ConfigError(
            f"contrast must be [variable, target, reference], got {parts!r}",
            hint='e.g. contrast=["condition", "T2DM", "control"], or a dict of config keys',
        )
    variable, target, reference = (str(p) for p in parts)
    return Contrast(name=f"{target}_vs_{reference}", variable=variable, target=target, reference=reference)


def _config(design: str, contrast: Contrast, options: dict[str, Any]) -> StudyConfig:
    raw: dict[str, Any] = {
        "name": "anndata",
        "counts": "AnnData",
        "samples": "AnnData.obs",
        "design": design,
        "contrasts": [contrast.model_dump(exclude_defaults=True)],
        "alpha": DEFAULT_ALPHA,
        **options,
    }
    return validate_config(raw, _SOURCE)


def _options_config(options: dict[str, Any]) -> StudyConfig:
    """A config for steps that need no design (GSEA, targets): a placeholder design and contrast."""
    placeholder = Contrast(name="c", variable="condition", target="b", reference="a")
    return _config("~ condition", placeholder, options)


def deseq2(
    adata: ad.AnnData,
    design: str,
    contrast: Sequence[str] | dict[str, Any] | Contrast,
    *,
    layer: str | None = "counts",
    key_added: str | None = DEFAULT_KEY,
    **options: Any,
) -> pd.DataFrame:
    """DESeq2 of one contrast on a samples x genes AnnData (bulk, or :func:`bmsc_dge.pp.pseudobulk`).

    Parameters
    ----------
    adata
        Samples x genes; raw counts in ``layer`` (or ``X``), design variables in ``obs``, symbols
        in ``var["symbol"]`` (else the gene IDs are mapped as the CLI maps them).
    design
        Design formula, e.g. ``"~ sex + condition"``.
    contrast
        ``[variable, target, reference]`` (log2FC is target vs reference), or a dict of the
        config's contrast keys (``{"name", "variable", "target", "reference", "lfc_threshold",
        "alt_hypothesis"}`` or ``{"name", "coefficient"}``).
    layer
        Layer with raw counts (``X`` when absent).
    key_added
        Also store the table in ``adata.uns[key_added]`` (``None``: do not).
    **options
        Config keys: ``alpha``, ``species``, ``prefilter``, ``filter``, ``de`` (e.g.
        ``de={"lfc_shrink": False}``), ``reference_levels``.

    Returns
    -------
    pandas.DataFrame
        The DE table, columns as the CLI's ``tables/de/<contrast>.deseq2.tsv``.
    """
    c = _contrast(contrast)
    cfg = _config(design, c, options)
    study = study_from_anndata(adata, cfg, layer)
    filtered, _ = apply_prefilter(study, cfg)
    fit = de_mod.fit_deseq2(
        filtered, study.frame, cfg.design, de_mod.fit_references(c, cfg.reference_levels), cfg.de
    )
    table = de_mod.contrast_table(fit, cfg.contrasts[0], cfg.alpha, cfg.de)
    if key_added:
        adata.uns[key_added] = table
    return table


def gsea(
    de: pd.DataFrame,
    collections: Sequence[str] = (CURATED,),
    *,
    gmt: Sequence[str | Path] = (),
    species: str = "human",
    seed: int = 20261128,
    **gene_sets: Any,
) -> pd.DataFrame:
    """Pre-ranked GSEA of a DE table on the bundled collections (and GMT files).

    Parameters
    ----------
    de
        A DE table from :func:`deseq2` (or the CLI's).
    collections
        ``curated``, ``hallmark``, ``go_bp`` (as ``gene_sets.collections``).
    gmt
        Extra GMT files (as ``gene_sets.gmt``).
    species
        ``human``, ``mouse`` or ``rat`` (the curated sets are mapped by orthology).
    seed
        Permutation seed.
    **gene_sets
        ``gene_sets`` config keys: ``permutations``, ``min_size``, ``max_size``, ``fdr``, ``engine``.

    Returns
    -------
    pandas.DataFrame
        The GSEA table, columns as the CLI's ``tables/gsea/<contrast>.gsea.tsv`` (without the
        leave-one-out columns' values, which need the fit: they are NaN).
    """
    cfg = _options_config(
        {
            "species": species,
            "seed": seed,
            "gene_sets": {"collections": list(collections), "gmt": [str(g) for g in gmt], **gene_sets},
        }
    )
    loaded = load_for_study(list(cfg.gene_sets.collections), list(cfg.gene_sets.gmt), cfg.species)
    ranking = gsea_mod.ranking_from_de(de)
    symbols = list(de["symbol"].astype(str))
    tables = []
    for name, sets in loaded.items():
        matched, _ = restrict_to_data(sets, symbols, cfg.species)
        tables.append(gsea_collection(ranking, matched, name, cfg.gene_sets, cfg.seed).table)
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=gsea_mod.GSEA_COLUMNS)
    table = with_set_stability(table, None)
    return with_expected_directions(table, loaded.get(CURATED, []), cfg.gene_sets.fdr)


def ora(
    de: pd.DataFrame,
    collections: Sequence[str] = (CURATED,),
    *,
    gmt: Sequence[str | Path] = (),
    species: str = "human",
    alpha: float = DEFAULT_ALPHA,
    **gene_sets: Any,
) -> pd.DataFrame:
    """Over-representation of the significant up and down genes of a DE table (hypergeometric).

    Parameters
    ----------
    de
        A DE table from :func:`deseq2` (or the CLI's).
    collections
        ``curated``, ``hallmark``, ``go_bp`` (as ``gene_sets.collections``).
    gmt
        Extra GMT files (as ``gene_sets.gmt``).
    species
        ``human``, ``mouse`` or ``rat``.
    alpha
        DE significance threshold (``padj < alpha``).
    **gene_sets
        ``gene_sets`` config keys; ``min_size`` and ``max_size`` apply.

    Returns
    -------
    pandas.DataFrame
        The ORA table, as the CLI's ``tables/ora/<contrast>.ora.tsv``
        (:data:`bmsc_dge.enrichment.ORA_COLUMNS`).
    """
    cfg = _options_config(
        {
            "species": species,
            "alpha": alpha,
            "gene_sets": {"collections": list(collections), "gmt": [str(g) for g in gmt], **gene_sets},
        }
    )
    loaded = load_for_study(list(cfg.gene_sets.collections), list(cfg.gene_sets.gmt), cfg.species)
    symbols = list(de["symbol"].astype(str))
    matched = {name: restrict_to_data(sets, symbols, cfg.species)[0] for name, sets in loaded.items()}
    return gsea_mod.ora(
        de, matched, alpha=cfg.alpha, min_size=cfg.gene_sets.min_size, max_size=cfg.gene_sets.max_size
    )


def rank_targets(
    de: pd.DataFrame,
    gs: pd.DataFrame,
    *,
    alpha: float = DEFAULT_ALPHA,
    species: str = "human",
    gsea_fdr: float = DEFAULT_ALPHA,
    weights: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Ranked targets of one contrast from its DE and GSEA tables (significance first).

    Parameters
    ----------
    de, gs
        Tables from :func:`deseq2` and :func:`gsea`.
    alpha
        DE threshold (``supported_by_data``).
    species
        Species of the curated library to use.
    gsea_fdr
        FDR at which a curated set counts as enriched (``gene_sets.fdr``).
    weights
        ``targets.weights`` keys ``de``, ``leading_edge``, ``prior``.

    Returns
    -------
    pandas.DataFrame
        The targets table, columns as the CLI's ``tables/targets/<contrast>.targets.tsv``
        (stability columns empty: leave-one-out needs the fit; the CLI computes them).
    """
    cfg = _options_config(
        {
            "alpha": alpha,
            "species": species,
            "gene_sets": {"collections": [CURATED], "fdr": gsea_fdr},
            "targets": {"weights": weights or {}, "stability": False},
        }
    )
    curated = load_for_study([CURATED], [], cfg.species)[CURATED]
    return targets_for(de, gs, curated, cfg.alpha, cfg.gene_sets.fdr, cfg.targets.weights, None)


def meta(
    des: Mapping[str, pd.DataFrame],
    method: str = "reml",
    species: str = "human",
    *,
    study_species: Mapping[str, str] | None = None,
    min_studies: int = 2,
) -> pd.DataFrame:
    """Gene-level meta-analysis of several studies' DE tables (as ``bmsc-dge meta`` computes it).

    Parameters
    ----------
    des
        Study name -> DE table from :func:`deseq2` (or a run's ``tables/de``).
    method
        ``reml`` (metafor's default), ``dl`` or ``fixed``.
    species
        Species whose genes the table reports; other studies are mapped by one-to-one orthologs.
    study_species
        Study name -> ``human``, ``mouse`` or ``rat``; by default read from the symbols
        (HGNC upper case: human; MGI/RGD title case: mouse, whose orthologs rat shares).
    min_studies
        Genes measured in fewer studies are left out.

    Returns
    -------
    pandas.DataFrame
        The gene table, columns as ``tables/meta/<name>.meta.tsv``.
    """
    from bmsc_dge.io import detect_id_type
    from bmsc_dge.meta import meta_genes

    given = dict(study_species or {})
    inferred = {
        s: given.get(s)
        or ("mouse" if detect_id_type(pd.Index(de["symbol"].astype(str))) == "symbol_mouse_like" else "human")
        for s, de in des.items()
    }
    return meta_genes(des, inferred, report_species=species, method=method, min_studies=min_studies).table
