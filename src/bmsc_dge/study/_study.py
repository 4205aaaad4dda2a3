"""Assemble a validated study (AnnData + design frame) from a config.

This is the glue between reading, checking and ID mapping (:mod:`bmsc_dge.io`), the design checks
(:mod:`bmsc_dge.study.design`) and the engine's coefficient rules (:mod:`bmsc_dge.deseq2`); the
Prefect flow calls :func:`load_study` and :func:`bmsc_dge.study.apply_prefilter` as tasks.

Inputs are read once per run: the CLI checks a study before Prefect starts and hands the loaded
study to the flow in the same process (``_handoff``: ``hand_over`` / ``take_over``), which reads the
files only when nothing was handed over or a file changed in between.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
from formulaic import model_matrix

from bmsc_dge import engines
from bmsc_dge import enrichment as _enrichment  # noqa: F401  (registers the GSEA engines)
from bmsc_dge.config import StudyConfig
from bmsc_dge.deseq2 import (
    AVG_TX_LENGTH,
    fit_references,
    resolve_coefficient,
    standardise_covariates,
    with_references,
)
from bmsc_dge.errors import ConfigError, CountsError, DesignError, InputError
from bmsc_dge.io import (
    MappingReport,
    build_anndata,
    coerce_obs_types,
    map_to_symbols,
    match_samples,
    read_count_source,
    read_sheet,
)
from bmsc_dge.study.design import check_full_rank, describe_design, prepare_design_frame

logger = logging.getLogger(__name__)


@dataclass
class Study:
    """A loaded, validated study."""

    adata: ad.AnnData
    frame: pd.DataFrame
    design_matrix: pd.DataFrame
    mapping: MappingReport
    counts_format: str
    #: each design variable with its type and levels or mean/SD (:func:`describe_design`)
    design_variables: list[dict[str, Any]] = field(default_factory=list)
    #: decisions taken on the input (rounded counts, summed duplicates, ...), one sentence each
    notes: list[str] = field(default_factory=list)
    #: input QC tables written under ``tables/qc/`` (e.g. ``unmapped_ids``, ``count_file_counters``)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """What the run's manifest, summary and report say about the inputs (JSON-able)."""
        return {
            "counts_format": self.counts_format,
            "id_mapping": dict(self.adata.uns["id_mapping"]),
            "design_variables": self.design_variables,
            "notes": list(self.notes),
        }


def design_matrix_for(frame: pd.DataFrame, design: str, cfg: StudyConfig) -> pd.DataFrame:
    """Model matrix of the design with each contrast's reference level first."""
    refs: dict[str, str] = {}
    for c in cfg.contrasts:
        refs.update(fit_references(c, cfg.reference_levels))
    f, _ = standardise_covariates(with_references(frame, refs), design)  # as the fit sees them
    try:
        mm = model_matrix(design, f)
    except Exception as exc:
        raise DesignError(
            f"cannot build the design matrix for {design!r}: {exc}",
            hint="check the formula syntax and variable names",
        ) from exc
    return pd.DataFrame(np.asarray(mm, dtype=float), index=frame.index, columns=list(mm.columns))


def check_contrasts(design_matrix: pd.DataFrame, frame: pd.DataFrame, cfg: StudyConfig) -> None:
    """Coefficient contrasts must name a design column; LRT reduced designs must be nested.

    Raises
    ------
    DesignError
        Naming the contrast and what is available.
    """
    cols = list(design_matrix.columns)
    for c in cfg.contrasts:
        if c.coefficient is not None:
            try:
                resolve_coefficient(cols, c.coefficient)
            except DesignError as exc:
                raise DesignError(
                    f"contrast '{c.name}': {exc.message}", file=cfg.samples, hint=exc.hint
                ) from None
        if c.test == "lrt":
            reduced = str(c.reduced)
            try:
                red = np.asarray(
                    model_matrix(
                        reduced,
                        standardise_covariates(with_references(frame, cfg.reference_levels), cfg.design)[0],
                    ),
                    dtype=float,
                )
            except Exception as exc:
                raise DesignError(
                    f"contrast '{c.name}': cannot build the reduced design {reduced!r}: {exc}",
                    hint="use only variables of the full design",
                ) from exc
            full = design_matrix.to_numpy()
            if red.shape[1] >= full.shape[1] or np.linalg.matrix_rank(
                np.hstack([full, red])
            ) != np.linalg.matrix_rank(full):
                raise DesignError(
                    f"contrast '{c.name}': reduced design {reduced!r} is not nested in {cfg.design!r}",
                    hint="the reduced formula must drop terms from the full one",
                )


def check_engines(cfg: StudyConfig) -> None:
    """Refuse a ``de.engine`` or ``gene_sets.engine`` no engine is registered under.

    The config accepts any name (a new engine registers itself and needs no config change); this
    check runs first in :func:`load_study`, before any input is read or output written.

    Raises
    ------
    bmsc_dge.errors.ConfigError
        Naming the key and the registered engines.
    """
    checks: list[tuple[engines.Kind, str, str]] = [
        ("deseq2", "de.engine", cfg.de.engine),
        ("gsea", "gene_sets.engine", cfg.gene_sets.engine),
    ]
    for kind, key, name in checks:
        known = [e.name for e in engines.available(kind)]
        if name not in known:
            raise ConfigError(
                f"key '{key}': unknown {kind} engine {name!r}", hint=f"use one of: {', '.join(known)}"
            )


def load_study(cfg: StudyConfig) -> Study:
    """Read, validate and assemble the study described by ``cfg``.

    Raises
    ------
    bmsc_dge.errors.InputError
        Any input problem, with file, row/column and a fix.
    """
    check_engines(cfg)
    if cfg.pseudobulk is not None:
        return _load_pseudobulk(cfg)
    samples = cfg.samples
    if samples is None:  # StudyConfig refuses this; kept for type checkers
        raise DesignError("no sample sheet", hint="set `samples` in the config")
    sheet, notes = read_sheet(samples)
    if cfg.per_sample_counts:  # sample IDs name the files: check them before reading any
        match_samples([str(i) for i in sheet.index], sheet, cfg.counts, samples)
    source = read_count_source(cfg, [str(i) for i in sheet.index])
    sheet = match_samples(list(source.counts.columns), sheet, cfg.counts, samples)
    study = _assemble(source.counts, source.symbols, sheet, cfg, source.fmt, cfg.counts, samples)
    if source.lengths is not None:
        lengths = source.lengths.loc[study.adata.var_names, study.adata.obs_names]
        study.adata.layers[AVG_TX_LENGTH] = lengths.to_numpy(dtype=float).T
    study.notes[:0] = notes + source.notes
    study.tables.update(source.tables)
    return study


def load_studies(cfg: StudyConfig) -> list[tuple[StudyConfig, Study]]:
    """Every study a config describes, each with its own config.

    One for a bulk config; one per cell type for a ``pseudobulk`` config, whose ``.h5ad`` is read
    and summed once for all of them.

    Raises
    ------
    bmsc_dge.errors.InputError
        As :func:`load_study`.
    """
    if cfg.pseudobulk is None:
        return [(cfg, load_study(cfg))]
    pb = _pseudobulk_profiles(cfg)
    out = []
    for cell_type in cfg.pseudobulk.cell_types:
        one = cfg.for_cell_type(cell_type)
        out.append((one, _cell_type_study(pb, one)))
    return out


def _load_pseudobulk(cfg: StudyConfig) -> Study:
    """The study of ``cfg.pseudobulk``'s one cell type from a cells x genes ``.h5ad``.

    Raises
    ------
    bmsc_dge.errors.InputError
        For a config naming several cell types (load them with :func:`load_studies`), and as
        :func:`_pseudobulk_profiles` and :func:`_cell_type_study`.
    """
    if cfg.pseudobulk is None or len(cfg.pseudobulk.cell_types) != 1:
        raise DesignError(
            "a pseudobulk study is loaded one cell type at a time",
            file=cfg.counts,
            hint="use load_studies(cfg) or StudyConfig.for_cell_type(name) (bmsc-dge run does)",
        )
    return _cell_type_study(_pseudobulk_profiles(cfg), cfg)


def _pseudobulk_profiles(cfg: StudyConfig) -> ad.AnnData:
    """Read the cells x genes ``.h5ad`` of ``cfg.counts`` and sum it per donor and cell type.

    Raises
    ------
    bmsc_dge.errors.InputError
        For a file that is not a readable ``.h5ad`` or data that are not raw counts.
    """
    from bmsc_dge.pp import pseudobulk

    pb_cfg = cfg.pseudobulk
    if pb_cfg is None:
        raise DesignError("no `pseudobulk` block in the config", file=cfg.counts)
    if cfg.counts.suffix != ".h5ad":
        raise CountsError(
            "a `pseudobulk` study needs an .h5ad file of cells x genes as `counts`",
            file=cfg.counts,
            hint="write it with adata.write_h5ad(...), raw counts in X or in a layer",
        )
    try:
        cells = ad.read_h5ad(cfg.counts)
    except (OSError, KeyError, ValueError) as exc:
        raise CountsError(
            f"cannot read the h5ad file ({exc})", file=cfg.counts, hint="check the file"
        ) from exc
    try:
        return pseudobulk(
            cells,
            pb_cfg.sample_key,
            pb_cfg.cell_type_key,
            layer=pb_cfg.layer,
            min_cells=pb_cfg.min_cells,
            min_counts=pb_cfg.min_counts,
        )
    except InputError as exc:
        exc.file = exc.file or str(cfg.counts)
        raise


def _cell_type_study(pb: ad.AnnData, cfg: StudyConfig) -> Study:
    """The study of the one cell type of ``cfg`` (:meth:`StudyConfig.for_cell_type`) in ``pb``."""
    pb_cfg = cfg.pseudobulk
    if pb_cfg is None or len(pb_cfg.cell_types) != 1:
        raise DesignError("expected the config of one pseudobulk cell type", file=cfg.counts)
    cell_type = pb_cfg.cell_types[0]
    sub = pb[pb.obs[pb_cfg.cell_type_key] == cell_type].copy()
    if sub.n_obs == 0:
        present = ", ".join(sorted(set(pb.obs[pb_cfg.cell_type_key])))
        raise DesignError(
            f"cell type '{cell_type}' has no pseudobulk profile",
            file=cfg.counts,
            column=pb_cfg.cell_type_key,
            hint=f"cell types with profiles: {present}; lower min_cells / min_counts if needed",
        )
    sub.obs_names = sub.obs[pb_cfg.sample_key].astype(str).to_numpy()
    return study_from_anndata(sub, cfg, layer="counts")


def study_from_anndata(adata: ad.AnnData, cfg: StudyConfig, layer: str | None = "counts") -> Study:
    """A validated study from a samples x genes AnnData (bulk or :func:`bmsc_dge.pp.pseudobulk`).

    The same checks as :func:`load_study` (design, contrasts, full rank, gene IDs) on ``obs`` and
    the raw counts in ``layer`` (``X`` when ``None`` or absent); ``cfg.counts`` and ``cfg.samples``
    are not read. Gene symbols come from ``var["symbol"]`` when present, else from the IDs.

    Raises
    ------
    bmsc_dge.errors.InputError
        Any input problem; a design variable that varies within a donor of a pseudobulk is named.
    """
    from bmsc_dge.pp import check_raw_counts

    use = layer if layer is not None and layer in adata.layers else None
    check_raw_counts(adata, use)
    varying = set(adata.uns.get("pseudobulk", {}).get("varying_columns", []))
    for var in cfg.design_variables:
        if var in varying:
            raise DesignError(
                f"'{var}' varies within a donor (its cells have several values), so it cannot enter "
                "a pseudobulk design",
                column=var,
                hint="use a donor-level column (constant within each donor) or pseudobulk by it too",
            )
    m = adata.layers[use] if use else adata.X
    dense = np.asarray(m.toarray() if hasattr(m, "toarray") else m)
    counts = pd.DataFrame(
        np.rint(dense).astype(np.int64).T,
        index=adata.var_names.astype(str),
        columns=adata.obs_names.astype(str),
    )
    symbols = None
    if "symbol" in adata.var.columns:
        symbols = pd.Series(adata.var["symbol"].astype(str).to_numpy(), index=counts.index)
    sheet = adata.obs.copy()
    sheet.index = sheet.index.astype(str)
    return _assemble(counts, symbols, sheet, cfg, "anndata", "AnnData (X / layers)", "AnnData.obs")


def _assemble(
    counts: pd.DataFrame,
    symbols: pd.Series | None,
    sheet: pd.DataFrame,
    cfg: StudyConfig,
    fmt: str,
    counts_source: str | Path,
    samples_source: str | Path,
) -> Study:
    """Design checks, ID mapping and the study AnnData, whatever the counts came from."""
    variables = cfg.design_variables
    frame = prepare_design_frame(
        sheet, variables, cfg.contrasts, cfg.design, samples_source, cfg.reference_levels, cfg.variables
    )
    dm = design_matrix_for(frame[variables], cfg.design, cfg)
    check_full_rank(dm, frame, variables, samples_source)
    check_contrasts(dm, frame[variables], cfg)
    mapped, report = map_to_symbols(counts.index, cfg.species, symbols=symbols, source=str(counts_source))
    obs = coerce_obs_types(sheet)
    for v in variables:
        obs[v] = frame[v]
    adata = build_anndata(counts, obs, mapped)
    adata.uns["id_mapping"] = {
        "id_type": report.id_type,
        "n_genes": report.n_genes,
        "n_mapped": report.n_mapped,
        "rate": report.rate,
    }
    logger.info("loaded %d genes x %d samples (%s format)", adata.n_vars, adata.n_obs, fmt)
    study = Study(
        adata=adata,
        frame=frame[variables],
        design_matrix=dm,
        mapping=report,
        counts_format=fmt,
        design_variables=describe_design(frame[variables]),
    )
    if report.unmapped:
        study.tables["unmapped_ids"] = report.unmapped_table()
        study.notes.append(
            f"{len(report.unmapped)} of {report.n_genes} gene IDs map to no symbol in {report.source} "
            "(listed in tables/qc/unmapped_ids.tsv; they keep their ID)"
        )
    if report.n_par_y:
        study.notes.append(
            f"{report.n_par_y} GENCODE _PAR_Y rows (chrY copies of pseudoautosomal genes) kept as separate "
            "genes named '<symbol>_PAR_Y', never merged with their chrX rows"
        )
    return study
