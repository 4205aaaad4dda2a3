"""Read a pre-ranked gene list (GSEA's ``.rnk``) for ``bmsc-dge gsea``.

The format (GSEA user guide, "RNK: Ranked list file format"): two tab-separated columns, a gene
identifier and its ranking metric, one gene per line; lines starting with ``#`` are comments. A
first line whose second field is not a number is taken as a header (fgsea's and GSEApy's example
files have one). Identifiers are kept as written (``170942`` stays a string, case is kept).

Refused, naming the file and line: fewer or more than two columns, an empty identifier, a
metric that is not a finite number, a gene listed twice (GSEA and fgsea both reject duplicates:
collapse them first), fewer than two genes.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pandas as pd

from bmsc_dge.errors import InputError

logger = logging.getLogger(__name__)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value


def read_rnk(path: str | Path) -> pd.Series:
    """A ranked list: gene -> metric, in decreasing order (ties keep the file's order).

    Parameters
    ----------
    path
        The ``.rnk`` (or any two-column tab-separated) file.

    Returns
    -------
    pandas.Series
        Indexed by gene identifier (strings), named after the header's second field or ``metric``.

    Raises
    ------
    InputError
        For every malformed line, naming the file and line number and what to do.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise InputError("file not found", file=path, hint="give the path of a .rnk file") from None
    except UnicodeDecodeError:
        raise InputError("not a text file", file=path, hint="a .rnk file is tab-separated text") from None
    genes: list[str] = []
    values: list[float] = []
    seen: dict[str, int] = {}
    name = "metric"
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise InputError(
                f"{len(fields)} tab-separated column(s); a ranked list has exactly two (gene, metric)",
                file=path,
                row=number,
                hint="save the list as two tab-separated columns",
            )
        gene, text = fields[0].strip(), fields[1].strip()
        value = _number(text)
        if value is None and not genes and name == "metric":
            name = text or "metric"  # the header line
            continue
        if not gene:
            raise InputError("empty gene identifier", file=path, row=number, hint="remove or fill the line")
        if value is None or not math.isfinite(value):
            raise InputError(
                f"metric {text!r} of {gene} is not a finite number",
                file=path,
                row=number,
                hint="give every gene a numeric ranking metric (drop genes without one)",
            )
        if gene in seen:
            raise InputError(
                f"gene {gene} is listed twice (lines {seen[gene]} and {number})",
                file=path,
                row=number,
                hint="collapse duplicates to one value per gene (e.g. keep the most extreme) and re-run",
            )
        seen[gene] = number
        genes.append(gene)
        values.append(value)
    if len(genes) < 2:
        raise InputError(f"{len(genes)} ranked gene(s)", file=path, hint="a ranked list needs many genes")
    ranking = pd.Series(values, index=pd.Index(genes, dtype=object), name=name)
    ranking = ranking.sort_values(ascending=False, kind="mergesort")
    tied = int(ranking.duplicated(keep=False).sum())
    if tied:
        logger.info(
            "%s: %d of %d genes share their metric with another gene (%.2f%%); ties keep the file's order",
            path.name,
            tied,
            len(ranking),
            100 * tied / len(ranking),
        )
    return ranking
