"""One count file per sample: htseq-count output and STAR ``ReadsPerGene.out.tab``.

``counts: "counts/{sample}.txt"``: ``{sample}`` is filled with each sample ID of the sheet.

* **htseq-count**: gene ID and count per line, tab-separated, no header (extra attribute columns
  allowed; the count is the last column, as R's ``DESeqDataSetFromHTSeqCount`` reads it). Rows
  whose ID starts with ``_`` (``__no_feature``, ``__ambiguous``, ``__too_low_aQual``,
  ``__not_aligned``, ``__alignment_not_unique``) and the old unprefixed names are counters, not
  genes: they go to the QC table ``count_file_counters``.
* **STAR** ``--quantMode GeneCounts``: gene ID and three counts (unstranded, read 1 on the RNA
  strand = htseq ``-s yes``, read 2 on the RNA strand = ``-s reverse``); the first four lines
  (``N_unmapped``, ``N_multimapping``, ``N_noFeature``, ``N_ambiguous``) are counters. Which
  column to use depends on the library: ``star_strand: unstranded | forward | reverse`` is required.

Every file must list the first file's genes in the same order (R: "Gene IDs (first column) differ
between files"); a missing file, a file with other genes and a malformed line are named by file
and line.
"""

from __future__ import annotations

import gzip
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bmsc_dge.errors import CountsError

logger = logging.getLogger(__name__)

HTSEQ_OLD_COUNTERS = frozenset(
    {"no_feature", "ambiguous", "too_low_aQual", "not_aligned", "alignment_not_unique"}
)
STAR_COUNTERS = ("N_unmapped", "N_multimapping", "N_noFeature", "N_ambiguous")
STAR_COLUMN = {"unstranded": 1, "forward": 2, "reverse": 3}


@dataclass
class CountFiles:
    """Counts (genes x samples), the counters per sample and the detected format."""

    counts: pd.DataFrame
    counters: pd.DataFrame
    fmt: str


def sample_files(pattern: str | Path, samples: list[str]) -> dict[str, Path]:
    """``{sample}`` of ``pattern`` filled with each sample ID (in sheet order)."""
    return {s: Path(str(pattern).replace("{sample}", s)) for s in samples}


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        raise CountsError(
            "count file not found" if not path.exists() else "expected a file, found a folder",
            file=path,
            hint="check `counts` (`{sample}` is replaced by each sample ID of the sheet)",
        )
    raw = path.read_bytes()
    try:
        text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise CountsError("count file is not readable text", file=path, hint="re-copy the file") from exc
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise CountsError("count file is empty", file=path, hint="re-run the counting step for this sample")
    return lines


def _format(lines: list[str], path: Path) -> str:
    first = lines[0].split("\t")
    if first[0] in STAR_COUNTERS and len(first) == 4:
        return "star"
    if len(first) >= 2:
        return "htseq"
    raise CountsError(
        "not an htseq-count or STAR ReadsPerGene file (expected tab-separated gene ID and count)",
        file=path,
        row=1,
        hint="give one htseq-count output or STAR ReadsPerGene.out.tab per sample",
    )


def _parse(lines: list[str], path: Path, fmt: str, column: int) -> tuple[list[str], np.ndarray]:
    ids: list[str] = []
    values = np.empty(len(lines), dtype=np.int64)
    width = 4 if fmt == "star" else len(lines[0].split("\t"))
    for n, line in enumerate(lines):
        cells = line.split("\t")
        if len(cells) != width:
            raise CountsError(
                f"line has {len(cells)} tab-separated fields, expected {width}",
                file=path,
                row=n + 1,
                hint="the file is truncated or was edited; re-run the counting step",
            )
        value = cells[column]
        if not value.isdigit():
            raise CountsError(
                f"count {value!r} for {cells[0]} is not a non-negative integer",
                file=path,
                row=n + 1,
                hint="the file is damaged; re-run the counting step",
            )
        ids.append(cells[0])
        values[n] = int(value)
    return ids, values


def read_count_files(files: dict[str, Path], star_strand: str | None = None) -> CountFiles:
    """Read one htseq-count or STAR file per sample into a genes x samples table.

    Raises
    ------
    CountsError
        Named by file and line: missing, empty or malformed files, mixed formats, STAR files
        without ``star_strand``, files listing other genes than the first.
    """
    first_sample, first_path = next(iter(files.items()))
    lines = {s: _lines(p) for s, p in files.items()}
    fmt = _format(lines[first_sample], first_path)
    if fmt == "star" and star_strand is None:
        raise CountsError(
            "STAR ReadsPerGene files need `star_strand` (which of the three count columns to use)",
            file=first_path,
            hint="set `star_strand: unstranded`, `forward` (htseq -s yes) or `reverse` (htseq -s "
            "reverse; most Illumina stranded kits, e.g. TruSeq Stranded)",
        )
    parsed: dict[str, tuple[list[str], np.ndarray]] = {}
    for sample, path in files.items():
        if _format(lines[sample], path) != fmt:
            raise CountsError(
                f"is not a {fmt} file like {first_path.name}",
                file=path,
                hint="use one counting tool for all samples",
            )
        column = (
            STAR_COLUMN[star_strand or "unstranded"]
            if fmt == "star"
            else len(lines[sample][0].split("\t")) - 1
        )
        parsed[sample] = _parse(lines[sample], path, fmt, column)
    ref_ids = parsed[first_sample][0]
    for sample, (ids, _) in parsed.items():
        if ids != ref_ids:
            n = next(
                (i for i, (a, b) in enumerate(zip(ids, ref_ids, strict=False)) if a != b),
                min(len(ids), len(ref_ids)),
            )
            raise CountsError(
                f"lists other genes than {first_path.name} of sample '{first_sample}' "
                f"({len(ids)} vs {len(ref_ids)} lines; first difference at line {n + 1})",
                file=files[sample],
                row=n + 1,
                hint="count every sample against the same annotation (GTF)",
            )
    table = pd.DataFrame({s: v for s, (_, v) in parsed.items()}, index=pd.Index(ref_ids, name="gene_id"))
    if fmt == "star":
        special = table.index.isin(STAR_COUNTERS)
    else:
        special = table.index.str.startswith("_") | table.index.isin(HTSEQ_OLD_COUNTERS)
    counters = table[special].rename_axis("counter").reset_index()
    logger.info(
        "read %d %s count files: %d genes, counters %s",
        len(files),
        fmt,
        int((~special).sum()),
        list(counters["counter"]),
    )
    return CountFiles(
        counts=table[~special],
        counters=counters,
        fmt="htseq-count" if fmt == "htseq" else f"STAR ({star_strand})",
    )
