"""Files <-> AnnData. Reading only; checks live in :mod:`bmsc_dge.io._validate`.

Accepted count matrices
-----------------------
* A table (CSV, TSV, or whitespace-free TXT; gzip allowed) whose first column holds gene IDs
  and whose other columns are samples. Known annotation columns (``symbol``, ``gene_name``,
  ``gene_symbol``, ``description``, ``gene_biotype``, ``Chr``, ``Start``, ``End``, ``Strand``,
  ``Length``) are set aside; ``symbol``/``gene_name``/``gene_symbol`` supply symbols.
* featureCounts output: ``#`` comment line, then ``Geneid Chr Start End Strand Length`` and one
  column per BAM. BAM column names are reduced to sample IDs by dropping the folder and the
  ``.bam`` suffix together with STAR's ``Aligned.sortedByCoord.out`` and ``.sorted``.

The AnnData returned by :func:`build_anndata` has samples as observations: ``layers["counts"]``
(int64) and ``X`` hold the raw counts, ``obs`` the sample sheet, ``var`` columns ``gene_id`` and
``symbol``.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import re
import zlib
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from bmsc_dge.errors import CountsError, InputError, SampleSheetError

logger = logging.getLogger(__name__)

SYMBOL_COLUMNS = ("symbol", "gene_name", "gene_symbol", "Symbol", "SYMBOL", "GeneSymbol")
ANNOTATION_COLUMNS = frozenset(
    {
        *SYMBOL_COLUMNS,
        "description",
        "gene_biotype",
        "biotype",
        "Chr",
        "Start",
        "End",
        "Strand",
        "Length",
        "chr",
        "start",
        "end",
        "strand",
        "length",
        "gene_type",
        "transcript_id",
        "transcript_id(s)",
    }
)
FEATURECOUNTS_HEAD = ["Geneid", "Chr", "Start", "End", "Strand", "Length"]


def _read_text(path: Path, error: type[InputError]) -> str:
    if not path.exists():
        raise error(
            "file not found", file=path, hint="check the path in the config (relative to the config file)"
        )
    if path.is_dir():
        raise error("expected a file, found a folder", file=path, hint="point the config at the file itself")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise error(
                "gzip file is truncated or corrupt",
                file=path,
                hint="re-export or re-download the file, then check it with `gzip -t`",
            ) from exc
    elif path.suffix == ".gz":
        raise error(
            "file name ends in .gz but the file is not gzip-compressed",
            file=path,
            hint="rename the file or compress it with gzip",
        )
    if raw[:4] in (b"PK\x03\x04",):
        raise error(
            "this looks like an Excel/ZIP file, not a text table",
            file=path,
            hint="export the sheet as CSV or TSV",
        )
    if b"\x00" in raw[:4096]:
        raise error("file is binary, not a text table", file=path, hint="export it as CSV or TSV")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error("file is not UTF-8 text", file=path, hint="save it as UTF-8 CSV or TSV") from exc
    if not text.strip():
        raise error("file is empty", file=path, hint="check that the export finished")
    return text


def _sniff_delimiter(lines: list[str], path: Path, error: type[InputError]) -> str:
    head = [ln for ln in lines if ln.strip()][:5]
    counts = {d: min(ln.count(d) for ln in head) for d in ("\t", ",", ";")}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        raise error(
            "cannot find a column delimiter (tab, comma or semicolon)",
            file=path,
            row=1,
            hint="save the table as TSV or CSV with one column per sample",
        )
    return best


def read_table(path: str | Path, *, error: type[InputError] = InputError) -> tuple[pd.DataFrame, str]:
    """Read a delimited text table as strings, keeping the first column as a column.

    Returns
    -------
    tuple
        The table (all cells as ``str``) and a label of its format (``table`` or
        ``featurecounts``).
    """
    path = Path(path)
    text = _read_text(path, error)
    lines = text.splitlines()
    fmt = "table"
    body = [ln for ln in lines if not ln.startswith("#")]
    if (lines and lines[0].startswith("#") and body and body[0].split("\t")[:6] == FEATURECOUNTS_HEAD) or (
        body and body[0].split("\t")[:6] == FEATURECOUNTS_HEAD
    ):
        fmt = "featurecounts"
    if not body:
        raise error("file holds only comment lines", file=path, hint="check the export")
    delim = "\t" if fmt == "featurecounts" else _sniff_delimiter(body, path, error)
    header = next(csv.reader([body[0]], delimiter=delim))
    seen: set[str] = set()
    for name in (h.strip() for h in header):
        if name and name in seen:
            raise error(
                f"column '{name}' appears twice in the header",
                file=path,
                row=1,
                column=name,
                hint="each sample (and annotation column) must appear once",
            )
        seen.add(name)
    try:
        df = pd.read_csv(
            io.StringIO("\n".join(body)),
            sep=delim,
            dtype=str,
            keep_default_na=False,
            na_values=[],
            quoting=csv.QUOTE_MINIMAL,
            skipinitialspace=False,
        )
    except pd.errors.ParserError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise error(
            f"rows have different numbers of fields ({exc})",
            file=path,
            row=int(m.group(1)) if m else None,
            hint="check for stray delimiters or quotes in that row",
        ) from exc
    if df.shape[0] == 0:
        raise error("table has a header but no rows", file=path, hint="check that the export finished")
    if df.shape[1] < 2:
        raise error(
            "table has a single column",
            file=path,
            row=1,
            hint="check the delimiter: columns must be separated by tabs or commas",
        )
    return df, fmt


def featurecounts_sample_name(column: str) -> str:
    """Reduce a featureCounts BAM column to a sample ID (``/x/S1Aligned.sortedByCoord.out.bam`` -> ``S1``)."""
    name = column.replace("\\", "/").rsplit("/", 1)[-1]
    for suffix in (".bam", "Aligned.sortedByCoord.out", ".Aligned.sortedByCoord.out", ".sorted", "_sorted"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name.rstrip("._")


def _read_h5ad_counts(path: Path) -> tuple[pd.DataFrame, pd.Series | None, str]:
    """A samples x genes ``.h5ad`` as :func:`read_counts` returns a table (values checked later)."""
    import anndata as ad

    try:
        adata = ad.read_h5ad(path)
    except (OSError, KeyError, ValueError) as exc:
        raise CountsError(f"cannot read the h5ad file ({exc})", file=path, hint="check the file") from exc
    m = adata.layers.get("counts", adata.X)
    dense = np.asarray(m.toarray() if hasattr(m, "toarray") else m)
    if np.all(np.isfinite(dense)) and np.all(dense == np.round(dense)):
        dense = dense.astype(np.int64)  # counts stored as floats: no "12.0" warnings downstream
    df = pd.DataFrame(dense.T, index=adata.var_names.astype(str), columns=adata.obs_names.astype(str))
    df = df.astype(str)
    symbols = None
    if "symbol" in adata.var.columns:
        symbols = pd.Series(adata.var["symbol"].astype(str).to_numpy(), index=df.index)
    return df, symbols, "h5ad"


def read_counts(
    path: str | Path, *, fmt: str = "auto", symbol_column: str | None = None
) -> tuple[pd.DataFrame, pd.Series | None, str]:
    """Read a count matrix (genes x samples), as strings, without checking values.

    Parameters
    ----------
    path
        Count file: a table (CSV/TSV, gzip), featureCounts output, or an ``.h5ad`` of samples x
        genes (raw counts in ``layers["counts"]`` if present, else ``X``; symbols from
        ``var["symbol"]``). Single-cell ``.h5ad`` files go through a ``pseudobulk`` config or
        :func:`bmsc_dge.pp.pseudobulk` first.
    fmt
        ``auto``, ``table`` or ``featurecounts``.
    symbol_column
        Column holding gene symbols, if any (default: first of :data:`SYMBOL_COLUMNS`).

    Returns
    -------
    tuple
        Counts as a string DataFrame indexed by gene ID (columns = samples), symbols (or None)
        and the detected format.
    """
    path = Path(path)
    if path.suffix == ".h5ad":
        return _read_h5ad_counts(path)
    df, detected = read_table(path, error=CountsError)
    if fmt == "featurecounts" and detected != "featurecounts":
        raise CountsError(
            "expected featureCounts output (header Geneid Chr Start End Strand Length)",
            file=path,
            row=1,
            hint="set `counts_format: table` for a plain count table",
        )
    gene_col = df.columns[0]
    genes = df[gene_col].astype(str)
    df = df.drop(columns=[gene_col])
    if detected == "featurecounts":
        df = df.drop(columns=[c for c in FEATURECOUNTS_HEAD[1:] if c in df.columns])
        df.columns = [featurecounts_sample_name(c) for c in df.columns]
    symbols = None
    sym_col = symbol_column or next((c for c in SYMBOL_COLUMNS if c in df.columns), None)
    if symbol_column and symbol_column not in df.columns:
        raise CountsError(
            f"symbol column '{symbol_column}' not found",
            file=path,
            row=1,
            hint=f"columns are: {', '.join(map(str, df.columns[:10]))}",
        )
    if sym_col:
        sym = df[sym_col].str.strip()
        symbols = pd.Series(sym.mask(sym == "").to_numpy(), index=genes.to_numpy())
    df = df.drop(columns=[c for c in df.columns if c in ANNOTATION_COLUMNS or c == sym_col])
    df.index = pd.Index(genes.values, name="gene_id")
    return df, symbols, detected


def read_samples(path: str | Path) -> pd.DataFrame:
    """Read a sample sheet; the first column holds sample IDs (becomes the index).

    Leading/trailing whitespace around IDs and values is removed (with a warning).
    """
    path = Path(path)
    df, _ = read_table(path, error=SampleSheetError)
    id_col = df.columns[0]
    stripped = df.apply(lambda col: col.str.strip())
    changed = (stripped != df).any(axis=None)
    if changed:
        logger.warning("%s: removed leading/trailing whitespace from sample sheet values", path)
    df = stripped
    df.columns = [str(c).strip() for c in df.columns]
    df = df.set_index(df.columns[0])
    df.index.name = "sample"
    del id_col
    return df


def coerce_obs_types(obs: pd.DataFrame) -> pd.DataFrame:
    """Turn sample-sheet columns that are entirely numeric into floats; keep the rest as text."""
    out = obs.copy()
    for col in out.columns:
        values = out[col].mask(out[col] == "")
        num = pd.to_numeric(values, errors="coerce")
        if values.notna().any() and num.notna().sum() == values.notna().sum():
            out[col] = num.astype(float)
        else:
            out[col] = values
    return out


def build_anndata(counts: pd.DataFrame, obs: pd.DataFrame, symbols: pd.Series) -> ad.AnnData:
    """Assemble the study AnnData (samples x genes).

    Parameters
    ----------
    counts
        Validated integer counts, genes x samples, columns ordered like ``obs``.
    obs
        Sample sheet indexed by sample ID.
    symbols
        Symbol per gene ID.

    Returns
    -------
    anndata.AnnData
        ``X`` and ``layers["counts"]`` hold int64 counts; ``var`` has ``gene_id`` and ``symbol``.
    """
    mat = counts.to_numpy(dtype=np.int64).T.copy()
    var = pd.DataFrame(
        {"gene_id": counts.index.astype(str), "symbol": symbols.reindex(counts.index).astype(str).values},
        index=counts.index.astype(str),
    )
    var.index.name = None
    obs = obs.loc[counts.columns].copy()
    obs.index = obs.index.astype(str)
    obs.index.name = None
    adata = ad.AnnData(X=mat, obs=obs, var=var)
    adata.layers["counts"] = mat.copy()
    return adata
