"""Salmon, kallisto and RSEM quantifications -> gene-level counts and lengths, as R's tximport.

R's ``tximport(files, type, tx2gene)`` with ``countsFromAbundance = "no"`` (tximport 1.26):

* per file the transcript abundances (TPM), estimated counts and effective lengths
  (salmon ``quant.sf``: ``TPM``, ``NumReads``, ``EffectiveLength``; kallisto ``abundance.tsv``:
  ``tpm``, ``est_counts``, ``eff_length``; RSEM ``isoforms.results``: ``TPM``, ``expected_count``,
  ``effective_length``); every file must list the same transcripts in the same order;
* ``tx2gene`` (first column transcript, second gene; repeated transcripts keep their first row)
  maps transcripts to genes; gene counts and abundances are sums, the gene length is the
  abundance-weighted mean of its transcripts' lengths; where a gene has no abundance in a sample
  its length is the geometric mean of its lengths in the other samples, or, absent everywhere, the
  mean over its transcripts of their mean lengths (tximport's ``replaceMissingLength``);
* RSEM ``genes.results`` are gene-level already (R: ``txIn = FALSE``): counts, TPM and effective
  lengths are read as they are. RSEM reports effective length 0 for genes shorter than the
  fragments; DESeq2 refuses lengths of 0, and its author's advice (github.com/thelovelab/tximeta
  issue 94; support.bioconductor.org/p/92763) is to set them to 1, which is done with a note.

Stricter than R where reads would be lost in silence: transcripts absent from ``tx2gene`` are
dropped as R drops them (with a note) only when they hold no reads in any sample (nothing changes
then); when they hold reads the run stops unless ``drop_unmapped: true`` asks for R's behaviour.
"""

from __future__ import annotations

import gzip
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bmsc_dge.errors import CountsError

logger = logging.getLogger(__name__)

#: type -> (ID column, abundance, counts, length) as R's tximport reads them
COLUMNS: dict[str, tuple[str, str, str, str]] = {
    "salmon": ("Name", "TPM", "NumReads", "EffectiveLength"),
    "kallisto": ("target_id", "tpm", "est_counts", "eff_length"),
    "rsem": ("transcript_id", "TPM", "expected_count", "effective_length"),
    "rsem_genes": ("gene_id", "TPM", "expected_count", "effective_length"),
}
FILE_HINT = {
    "salmon": "point `tximport.files` at Salmon's quant.sf files (one folder per sample)",
    "kallisto": "point `tximport.files` at kallisto's abundance.tsv files (abundance.h5 needs HDF5; use the .tsv)",
    "rsem": "point `tximport.files` at RSEM's isoforms.results (with tx2gene) or genes.results files",
}


@dataclass
class TxImport:
    """Gene-level estimates (genes x samples), as R's ``tximport`` list."""

    counts: pd.DataFrame
    abundance: pd.DataFrame
    length: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _text(path: Path) -> str:
    if not path.exists():
        raise CountsError(
            "quantification file not found",
            file=path,
            hint="check `tximport.files` and that every sample of the sheet was quantified "
            "(`{sample}` is replaced by each sample ID of the sheet)",
        )
    raw = path.read_bytes()
    try:
        return (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise CountsError(
            "quantification file is not readable text (truncated gzip or binary)",
            file=path,
            hint="re-copy the quantifier's output",
        ) from exc


def read_quant(path: str | Path, kind: str) -> pd.DataFrame:
    """One quantification file: ``abundance``, ``counts``, ``length`` indexed by transcript (or gene).

    Raises
    ------
    CountsError
        For a missing or unreadable file, a header without the quantifier's columns, or a line
        with a missing, non-numeric or negative value (named by line).
    """
    path = Path(path)
    if kind == "kallisto" and path.suffix == ".h5":
        raise CountsError("kallisto's abundance.h5 is not read", file=path, hint=FILE_HINT["kallisto"])
    lines = _text(path).splitlines()
    if not lines:
        raise CountsError("quantification file is empty", file=path, hint="re-run or re-copy the quantifier")
    header = lines[0].split("\t")
    id_col, ab_col, ct_col, len_col = COLUMNS[kind]
    missing = [c for c in (id_col, ab_col, ct_col, len_col) if c not in header]
    if missing:
        raise CountsError(
            f"not a {kind.replace('_genes', '')} quantification: columns {', '.join(missing)} missing "
            f"(header: {', '.join(header[:6])})",
            file=path,
            row=1,
            hint=FILE_HINT[kind.replace("_genes", "")],
        )
    cols = [header.index(c) for c in (id_col, ab_col, ct_col, len_col)]
    ids: list[str] = []
    values = np.empty((len(lines) - 1, 3))
    for n, line in enumerate(lines[1:]):
        cells = line.split("\t")
        if len(cells) != len(header):
            raise CountsError(
                f"line has {len(cells)} fields, the header {len(header)}",
                file=path,
                row=n + 2,
                hint="the file is truncated or was edited; re-copy it",
            )
        ids.append(cells[cols[0]])
        try:
            values[n] = [float(cells[c]) for c in cols[1:]]
        except ValueError:
            bad = next(c for c in cols[1:] if not _is_number(cells[c]))
            raise CountsError(
                f"non-numeric value {cells[bad]!r}",
                file=path,
                row=n + 2,
                column=header[bad],
                hint="the file is damaged; re-copy the quantifier's output",
            ) from None
    bad_rows = ~np.isfinite(values).all(axis=1) | (values < 0).any(axis=1)
    if bad_rows.any():
        n = int(np.flatnonzero(bad_rows)[0])
        raise CountsError(
            f"missing or negative value for {ids[n]}",
            file=path,
            row=n + 2,
            hint="the file is damaged; re-copy the quantifier's output",
        )
    return pd.DataFrame(values, index=pd.Index(ids, name="id"), columns=["abundance", "counts", "length"])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_tx2gene(path: str | Path) -> pd.Series:
    """``tx2gene`` as R's tximport reads it: transcript (first column) -> gene (second); header optional.

    Raises
    ------
    CountsError
        For a missing file or fewer than two columns.
    """
    path = Path(path)
    text = _text(path)
    first = text.splitlines()[0] if text.strip() else ""
    delim = "\t" if "\t" in first else ","
    table = pd.read_csv(path, sep=delim, header=None, dtype=str, keep_default_na=False)
    if table.shape[1] < 2:
        raise CountsError(
            "tx2gene needs two columns: transcript ID, gene ID",
            file=path,
            row=1,
            hint="write one transcript and its gene per line (CSV or TSV)",
        )
    tx, gene = table.iloc[:, 0].str.strip(), table.iloc[:, 1].str.strip()
    looks_like_header = tx.iloc[0].lower() in {
        "tx",
        "txname",
        "tx_id",
        "transcript",
        "transcript_id",
        "target_id",
    }
    if looks_like_header:
        tx, gene = tx.iloc[1:], gene.iloc[1:]
    out = pd.Series(gene.to_numpy(), index=tx.to_numpy(), name="gene")
    return out[~out.index.duplicated()]  # R's cleanTx2Gene keeps the first row of a transcript


def _strip_ids(ids: pd.Index, ignore_tx_version: bool, ignore_after_bar: bool) -> pd.Index:
    if ignore_tx_version:
        return pd.Index([re.sub(r"\..*", "", i) for i in ids])
    if ignore_after_bar:
        return pd.Index([re.sub(r"\|.*", "", i) for i in ids])
    return ids


def tximport(
    files: dict[str, Path],
    kind: str,
    tx2gene: str | Path | None = None,
    *,
    ignore_tx_version: bool = False,
    ignore_after_bar: bool = False,
    drop_unmapped: bool = False,
) -> TxImport:
    """Gene-level counts, abundances and average transcript lengths, as R's ``tximport``.

    Parameters
    ----------
    files
        Sample ID -> quantification file (order kept).
    kind
        ``salmon``, ``kallisto`` or ``rsem`` (RSEM ``genes.results`` are detected by their header).
    tx2gene
        Transcript-to-gene table (required except for RSEM ``genes.results``).
    ignore_tx_version, ignore_after_bar, drop_unmapped
        As R's ``ignoreTxVersion`` / ``ignoreAfterBar``; ``drop_unmapped`` drops transcripts
        absent from ``tx2gene`` as R does (refused otherwise).

    Raises
    ------
    CountsError
        Named by file and line: missing or malformed files, files listing other transcripts,
        transcripts absent from ``tx2gene``.
    """
    first = next(iter(files.values()))
    if kind == "rsem" and _text(first).split("\n", 1)[0].split("\t")[0] == "gene_id":
        return _rsem_genes(files)
    if tx2gene is None:
        raise CountsError(
            f"{kind} quantifications are per transcript: `tximport.tx2gene` is needed",
            file=first,
            hint="add `tx2gene:` (a CSV of transcript ID, gene ID) to the `tximport` block",
        )
    tables = _same_transcripts({s: read_quant(p, kind) for s, p in files.items()}, files)
    tx_ids = next(iter(tables.values())).index
    t2g = read_tx2gene(tx2gene)
    keys = _strip_ids(tx_ids, ignore_tx_version, ignore_after_bar)
    genes = t2g.reindex(keys)
    notes = []
    if genes.isna().all():
        raise CountsError(
            f"none of the transcripts is in tx2gene (files: {', '.join(tx_ids[:3])}; tx2gene: "
            f"{', '.join(t2g.index[:3])})",
            file=tx2gene,
            hint="use the annotation the quantifier's index was built from; versioned IDs "
            "(ENST...1) against unversioned ones: set `tximport.ignore_tx_version: true`",
        )
    if genes.isna().any():
        absent_mask = genes.isna().to_numpy()
        absent = list(tx_ids[absent_mask])
        reads = float(sum(t["counts"].to_numpy()[absent_mask].sum() for t in tables.values()))
        message = (
            f"{len(absent)} of {len(tx_ids)} transcripts are not in tx2gene (e.g. {', '.join(absent[:3])})"
        )
        if reads > 0 and not drop_unmapped:
            raise CountsError(
                f"{message}; they hold {reads:.0f} estimated reads, which R's tximport would drop",
                file=tx2gene,
                hint="use a tx2gene made from the index's annotation, or set "
                "`tximport.drop_unmapped: true` to drop them as R's tximport does",
            )
        why = "they hold no reads in any sample" if reads == 0 else "drop_unmapped: true"
        notes.append(f"{message}; dropped as R's tximport does ({why})")
        logger.warning("%s: %s", Path(tx2gene).name, notes[-1])
    keep = genes.notna().to_numpy()
    gene_of = genes.to_numpy()[keep].astype(str)
    mats = {
        what: pd.DataFrame({s: t[what].to_numpy()[keep] for s, t in tables.items()}, index=tx_ids[keep])
        for what in ("abundance", "counts", "length")
    }
    return _summarize_to_gene(mats, gene_of, notes)


def _same_transcripts(tables: dict[str, pd.DataFrame], files: dict[str, Path]) -> dict[str, pd.DataFrame]:
    """R's tximport requires every file to list the first file's transcripts, in its order."""
    ref_sample, ref = next(iter(tables.items()))
    for sample, t in tables.items():
        if len(t) != len(ref) or not (t.index == ref.index).all():
            n = min(len(t), len(ref))
            differs = np.flatnonzero(t.index[:n] != ref.index[:n])
            row = int(differs[0]) + 2 if differs.size else n + 2
            raise CountsError(
                f"lists other transcripts than {files[ref_sample].name} of sample '{ref_sample}' "
                f"({len(t)} vs {len(ref)} rows; first difference at line {row})",
                file=files[sample],
                row=row,
                hint="quantify every sample against the same index",
            )
    return tables


def _summarize_to_gene(mats: dict[str, pd.DataFrame], gene_of: np.ndarray, notes: list[str]) -> TxImport:
    """Tximport's ``summarizeToGene`` with ``countsFromAbundance = "no"``."""
    abundance = mats["abundance"].groupby(gene_of).sum()
    counts = mats["counts"].groupby(gene_of).sum()
    weighted = (mats["abundance"] * mats["length"]).groupby(gene_of).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        length = weighted / abundance
    ave_gene = mats["length"].mean(axis=1).groupby(gene_of).mean()
    length = _replace_missing_length(length, ave_gene.reindex(length.index))
    return TxImport(counts=counts, abundance=abundance, length=length, notes=notes)


def _replace_missing_length(length: pd.DataFrame, ave_gene: pd.Series) -> pd.DataFrame:
    """Tximport's ``replaceMissingLength``: fill the lengths of genes without abundance.

    NaN -> geometric mean of the gene's other samples, or the gene's mean transcript length when
    the gene has no abundance anywhere.
    """
    values = length.to_numpy(dtype=float).copy()
    nan = np.isnan(values)
    all_nan = nan.all(axis=1)
    values[all_nan] = ave_gene.to_numpy()[all_nan][:, None]
    part = nan.any(axis=1) & ~all_nan
    if part.any():
        with np.errstate(divide="ignore"):
            logs = np.where(nan[part], np.nan, np.log(values[part]))
        geo = np.exp(np.nanmean(logs, axis=1))
        values[part] = np.where(nan[part], geo[:, None], values[part])
    return pd.DataFrame(values, index=length.index, columns=length.columns)


def _rsem_genes(files: dict[str, Path]) -> TxImport:
    """RSEM ``genes.results`` (R: ``txIn = FALSE``), zero effective lengths set to 1 with a note."""
    tables = _same_transcripts({s: read_quant(p, "rsem_genes") for s, p in files.items()}, files)
    ids = next(iter(tables.values())).index
    mats = {
        what: pd.DataFrame({s: t[what].to_numpy() for s, t in tables.items()}, index=ids)
        for what in ("abundance", "counts", "length")
    }
    zero = mats["length"].to_numpy() == 0
    notes = []
    if zero.any():
        genes = int(zero.any(axis=1).sum())
        with_reads = int((zero & (mats["counts"].to_numpy() > 0)).any(axis=1).sum())
        mats["length"] = mats["length"].mask(zero, 1.0)
        notes.append(
            f"RSEM reports effective length 0 for {genes} gene(s) ({with_reads} with reads); set to 1 "
            "as DESeq2's author advises (DESeq2 refuses lengths of 0; tximeta issue 94)"
        )
    return TxImport(counts=mats["counts"], abundance=mats["abundance"], length=mats["length"], notes=notes)
