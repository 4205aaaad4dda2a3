"""Where a study's counts come from, one :func:`read_count_source` for all sources.

Sources: a table, nf-core/rnaseq's merged tables, one file per sample, or Salmon/kallisto/RSEM
quantifications through tximport.

Every path ends in the same :class:`CountSource`: integer counts (genes x samples, in sheet order
for per-sample sources), symbols if the input had them, average transcript lengths where the input
carries them (they become DESeq2's normalization factors, as R's ``DESeqDataSetFromTximport``),
the decisions taken on the input (one sentence each) and input QC tables.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bmsc_dge.config import StudyConfig
from bmsc_dge.errors import CountsError, SampleSheetError
from bmsc_dge.io import _read as io
from bmsc_dge.io import _validate as validation
from bmsc_dge.io._countfiles import read_count_files, sample_files
from bmsc_dge.io._tximport import tximport

logger = logging.getLogger(__name__)

#: nf-core/rnaseq merged gene tables: ``salmon.merged.gene_counts.tsv``, ``rsem.merged.gene_counts.tsv``, ...
NFCORE_COUNTS = re.compile(r"\.merged\.gene_counts(_scaled|_length_scaled)?\.tsv(\.gz)?$")
FASTQ_COLUMNS = ("fastq_1", "fastq_2", "strandedness", "single_end")


@dataclass
class CountSource:
    """Counts and what came with them."""

    counts: pd.DataFrame
    symbols: pd.Series | None
    fmt: str
    lengths: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def read_sheet(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """The sample sheet, with an nf-core/rnaseq sheet's FASTQ columns dropped and runs merged.

    Rows of one sample sequenced on several lanes or runs (same ID, same design values) become one.

    Raises
    ------
    SampleSheetError
        When rows sharing a sample ID differ in anything but their FASTQ columns.
    """
    sheet = io.read_samples(path)
    fastq = [c for c in FASTQ_COLUMNS if c in sheet.columns]
    if not fastq or "fastq_1" not in fastq:
        return sheet, []
    sheet = sheet.drop(columns=fastq)
    notes = [f"nf-core sample sheet: FASTQ columns ({', '.join(fastq)}) ignored"]
    if sheet.index.duplicated().any():
        per_sample = sheet.groupby(level=0, sort=False).nunique(dropna=False)
        differ = per_sample[(per_sample > 1).any(axis=1)]
        if len(differ):
            sample = str(differ.index[0])
            column = str(differ.columns[(differ.iloc[0] > 1).to_numpy()][0])
            raise SampleSheetError(
                f"sample '{sample}' has rows with different {column!r} values",
                file=path,
                row=sample,
                column=column,
                hint="rows of one sample (lanes, runs) must agree on every design column",
            )
        n_rows = len(sheet)
        sheet = sheet[~sheet.index.duplicated()]
        notes.append(
            f"{n_rows} rows of the nf-core sample sheet are {len(sheet)} samples (runs merged as nf-core does)"
        )
    return sheet, notes


def read_count_source(cfg: StudyConfig, sample_ids: list[str]) -> CountSource:
    """Read the study's counts from wherever the config says they are.

    Raises
    ------
    bmsc_dge.errors.InputError
        Named by file, row and column (see :mod:`bmsc_dge.io._tximport`,
        :mod:`bmsc_dge.io._countfiles`, :mod:`bmsc_dge.io._validate`).
    """
    if cfg.tximport is not None:
        return _from_tximport(cfg, sample_ids)
    if cfg.per_sample_counts:
        return _from_count_files(cfg, sample_ids)
    return _from_table(cfg)


def _rounded(counts: pd.DataFrame) -> pd.DataFrame:
    """R's ``round()`` (half to even, as numpy's) to int64, as ``DESeqDataSetFromTximport``."""
    return pd.DataFrame(
        np.rint(counts.to_numpy(dtype=float)).astype(np.int64), index=counts.index, columns=counts.columns
    )


def _from_tximport(cfg: StudyConfig, sample_ids: list[str]) -> CountSource:
    tx = cfg.tximport
    if tx is None:  # the caller checked; kept for type checkers
        raise CountsError("no `tximport` block", hint="add one")
    files = sample_files(tx.files, sample_ids)
    txi = tximport(
        files,
        tx.type,
        tx.tx2gene,
        ignore_tx_version=tx.ignore_tx_version,
        ignore_after_bar=tx.ignore_after_bar,
        drop_unmapped=tx.drop_unmapped,
    )
    notes = [
        f"{tx.type} quantifications of {len(files)} samples summarised to {len(txi.counts)} genes as R's "
        "tximport (countsFromAbundance = 'no'); counts rounded and average transcript lengths used as "
        "DESeq2 normalization factors, as DESeqDataSetFromTximport",
        *txi.notes,
    ]
    return CountSource(
        counts=_rounded(txi.counts),
        symbols=None,
        fmt=f"tximport ({tx.type})",
        lengths=txi.length,
        notes=notes,
    )


def _from_count_files(cfg: StudyConfig, sample_ids: list[str]) -> CountSource:
    read = read_count_files(sample_files(cfg.counts, sample_ids), cfg.star_strand)
    counts, notes, tables = _duplicates(read.counts, cfg, cfg.counts)
    tables["count_file_counters"] = read.counters
    notes.insert(
        0, f"one {read.fmt} file per sample; {len(read.counters)} counter rows kept out of the genes"
    )
    return CountSource(counts=counts, symbols=None, fmt=read.fmt, notes=notes, tables=tables)


def _duplicates(
    counts: pd.DataFrame, cfg: StudyConfig, path: str | Path
) -> tuple[pd.DataFrame, list[str], dict[str, pd.DataFrame]]:
    """Sum rows sharing a gene ID (``duplicate_genes: sum``), reporting how many and which."""
    dup = counts.index.duplicated(keep=False)
    if not dup.any():
        return counts, [], {}
    if cfg.duplicate_genes != "sum":
        first = str(counts.index[dup][0])
        raise CountsError(
            f"gene ID '{first}' appears {int((counts.index == first).sum())} times "
            f"({int(counts.index[dup].nunique())} IDs repeated)",
            file=path,
            column="gene_id",
            hint="remove duplicated rows, or set `duplicate_genes: sum` to add them up",
        )
    ids = counts.index[dup]
    table = pd.DataFrame({"gene_id": ids}).value_counts().rename("rows").reset_index()
    summed = counts.groupby(level=0, sort=False).sum()
    shown = ", ".join(table["gene_id"].astype(str).head(5))
    note = (
        f"{len(table)} gene IDs appeared on several rows ({int(table['rows'].sum())} rows, e.g. {shown}); "
        "their counts were summed (duplicate_genes: sum; listed in tables/qc/duplicate_genes.tsv)"
    )
    logger.warning(note)
    return summed, [note], {"duplicate_genes": table}


def _from_table(cfg: StudyConfig) -> CountSource:
    path = cfg.counts
    raw, symbols, fmt = io.read_counts(path, fmt=cfg.counts_format, symbol_column=cfg.symbol_column)
    nfcore = NFCORE_COUNTS.search(path.name) is not None
    scaled = nfcore and "scaled" in path.name
    if cfg.lengths is not None and scaled:
        raise CountsError(
            "these counts are already scaled by transcript length (countsFromAbundance); adding "
            "`lengths` would correct for length twice",
            file=path,
            hint="use salmon.merged.gene_counts.tsv with `lengths`, or drop `lengths`",
        )
    fractional = nfcore or cfg.lengths is not None
    parsed = validation.parse_counts(raw, path, fractional=fractional, duplicates=cfg.duplicate_genes)
    if symbols is not None:
        symbols.index = parsed.index
        symbols = symbols[~symbols.index.duplicated()]
    notes: list[str] = []
    if fractional:
        n_frac = int((parsed.to_numpy() != np.round(parsed.to_numpy())).sum())
        counts = _rounded(parsed)
        fmt = "nf-core/rnaseq merged gene counts" if nfcore else fmt
        notes.append(
            f"{n_frac} fractional estimated counts rounded to integers, as DESeqDataSetFromTximport does"
        )
        if n_frac:
            logger.warning("%s: %s", path.name, notes[-1])
    else:
        counts = parsed
    counts, dup_notes, tables = _duplicates(counts, cfg, path)
    notes += dup_notes
    lengths = None
    if cfg.lengths is not None:
        lengths = read_lengths(cfg.lengths, counts)
        notes.append(
            f"average transcript lengths from {cfg.lengths.name} used as DESeq2 normalization factors "
            "(DESeqDataSetFromTximport)"
        )
    elif nfcore and not scaled:
        advice = (
            "no `lengths` given: transcript-length differences between samples are not corrected; "
            "add `lengths: salmon.merged.gene_lengths.tsv` (R: DESeqDataSetFromTximport)"
        )
        notes.append(advice)
        logger.warning("%s: %s", path.name, advice)
    return CountSource(counts=counts, symbols=symbols, fmt=fmt, lengths=lengths, notes=notes, tables=tables)


def read_lengths(path: Path, counts: pd.DataFrame) -> pd.DataFrame:
    """nf-core/rnaseq ``*.merged.gene_lengths.tsv``: same genes and samples as the counts, all > 0.

    Raises
    ------
    CountsError
        For genes or samples that differ from the counts' and for lengths that are not positive.
    """
    raw, _, _ = io.read_counts(path)
    lengths = validation.parse_counts(raw, path, fractional=True)
    for what, have, want in (
        ("sample", lengths.columns, counts.columns),
        ("gene", lengths.index, counts.index),
    ):
        missing = [str(x) for x in want if x not in set(have)]
        extra = [str(x) for x in have if x not in set(want)]
        if missing or extra:
            detail = (
                f"{len(missing)} {what}(s) of the counts missing (e.g. {', '.join(missing[:3])})"
                if missing
                else ""
            )
            detail += ("; " if missing and extra else "") + (
                f"{len(extra)} {what}(s) not in the counts (e.g. {', '.join(extra[:3])})" if extra else ""
            )
            raise CountsError(
                f"lengths and counts differ: {detail}",
                file=path,
                column=(missing or extra)[0] if what == "sample" else "gene_id",
                hint="give the gene_lengths file written with the gene_counts file by the same nf-core run",
            )
    lengths = lengths.loc[counts.index, counts.columns]
    bad = ~(lengths.to_numpy() > 0)
    if bad.any():
        gene_pos, sample_pos = (int(v[0]) for v in np.nonzero(bad))
        raise CountsError(
            f"length {lengths.to_numpy()[gene_pos, sample_pos]} of gene {lengths.index[gene_pos]!s} is not positive "
            "(DESeq2 needs lengths > 0)",
            file=path,
            row=str(lengths.index[gene_pos]),
            column=str(lengths.columns[sample_pos]),
            hint="use the gene_lengths file of the same nf-core run, unedited",
        )
    return lengths


def input_files(cfg: StudyConfig) -> dict[str, Path]:
    """Every input file of a study, labelled: for checksums, fingerprints and the hand-over key.

    Labels: ``counts``, ``samples``, ``counts:<sample>``, ``tx2gene``, ``lengths``, ``gmt:<name>``.

    Per-sample sources (``{sample}`` patterns) list one file per sample ID of the sheet.
    """
    out: dict[str, Path] = {}
    if cfg.samples is not None:
        out["samples"] = cfg.samples
    if cfg.per_sample_counts and cfg.samples is not None:
        ids = [str(i) for i in io.read_samples(cfg.samples).index.unique()]
        out.update({f"counts:{s}": p for s, p in sample_files(cfg.counts, ids).items()})
    else:
        out["counts"] = cfg.counts
    if cfg.tximport is not None and cfg.tximport.tx2gene is not None:
        out["tx2gene"] = cfg.tximport.tx2gene
    if cfg.lengths is not None:
        out["lengths"] = cfg.lengths
    out.update({f"gmt:{g.name}": g for g in cfg.gene_sets.gmt})
    return out
