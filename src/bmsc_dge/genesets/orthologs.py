"""Human -> mouse / rat symbol conversion for gene sets.

Mouse: Alliance of Genome Resources HGNC->MGI pairs flagged ``best == Yes`` (shipped as
``human_mouse_orthologs.tsv.gz``). A human gene with several best mouse orthologs maps to all of
them; one without any is reported and dropped.

Rat (documented fallback): no rat ortholog table ships offline. Human genes are mapped to their
mouse ortholog symbol, which is then matched case-insensitively to the rat symbols present in the
data. RGD names 1:1 orthologs with the same symbol as MGI in the vast majority of cases (e.g.
Foxq1, Gpx4, Ppargc1a), so coverage is high but not complete; genes whose rat symbol differs are
reported as not found by the coverage table.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from importlib.resources import files

import pandas as pd


@lru_cache(maxsize=1)
def human_to_mouse() -> dict[str, list[str]]:
    """Map each human HGNC symbol to its best mouse ortholog symbols."""
    path = files("bmsc_dge.genesets") / "data" / "human_mouse_orthologs.tsv.gz"
    with path.open("rb") as raw, gzip.open(raw, "rt") as fh:
        df = pd.read_csv(fh, sep="\t", dtype=str)
    best = df[df["best"] == "Yes"]
    out: dict[str, list[str]] = {}
    for h, m in best[["fromSymbol", "toSymbol"]].itertuples(index=False, name=None):
        out.setdefault(h, [])
        if m not in out[h]:
            out[h].append(m)
    return out


def convert_genes(genes: list[str], species: str) -> tuple[list[str], list[str]]:
    """Convert human symbols to ``species`` symbols.

    Parameters
    ----------
    genes
        Human HGNC symbols.
    species
        ``human`` (identity), ``mouse`` or ``rat``.

    Returns
    -------
    tuple
        Converted symbols (order kept, duplicates dropped) and the human genes without an
        ortholog.
    """
    if species == "human":
        return list(dict.fromkeys(genes)), []
    table = human_to_mouse()
    converted: list[str] = []
    missing: list[str] = []
    for g in genes:
        hits = table.get(g)
        if not hits:
            missing.append(g)
            continue
        converted.extend(hits)
    return list(dict.fromkeys(converted)), missing
