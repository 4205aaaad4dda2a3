"""One row per gene symbol: the rule GSEA ranking and ORA share."""

from __future__ import annotations

import pandas as pd


def collapse_by_symbol(table: pd.DataFrame, *, value: str = "baseMean") -> pd.DataFrame:
    """Keep one row per symbol: the one with the highest ``value``.

    Several data rows can map to one symbol (alternate-haplotype Ensembl IDs: TNF has 8, AGER 7);
    they stay separate genes for DESeq2, and the row with the highest mean normalised count
    represents the symbol in a ranking or a gene list.

    Parameters
    ----------
    table
        Must have ``symbol`` and ``value`` columns.
    value
        Column to maximise (default mean normalised count).

    Returns
    -------
    pandas.DataFrame
        Subset of ``table`` with unique symbols, original order kept.
    """
    order = table.sort_values(value, ascending=False, kind="mergesort")
    keep = order.loc[~order["symbol"].duplicated()].index
    return table.loc[table.index.isin(keep)]
