"""GSEA of any ranked list (``bmsc-dge gsea --rnk``): the run's GSEA on a list made elsewhere.

Each GMT file is one collection (``gmt:<file stem>``, its own FDR family, as in a run); every
collection goes through :func:`bmsc_dge.enrichment.run_prerank` - the same statistic, the same
seeded gene-label permutations, the same multilevel estimate of p-values below the permutation
floor - so a ranked list from DESeq2's Wald statistic gives the run's own GSEA table.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bmsc_dge.config import GeneSetConfig
from bmsc_dge.enrichment._gsea import GSEA_COLUMNS, run_prerank
from bmsc_dge.enrichment._prerank import running_score
from bmsc_dge.errors import GeneSetError

logger = logging.getLogger(__name__)


@dataclass
class RankedGsea:
    """GSEA of one ranked list over one or more collections."""

    table: pd.DataFrame
    ranking: pd.Series
    #: ``collection -> (sets in the file, sets tested)``
    tested: dict[str, tuple[int, int]] = field(default_factory=dict)


def gsea_ranked_list(
    ranking: pd.Series,
    collections: Mapping[str, Mapping[str, Sequence[str]]],
    *,
    settings: GeneSetConfig,
    seed: int,
) -> RankedGsea:
    """Pre-ranked GSEA of ``ranking`` on every collection.

    Parameters
    ----------
    ranking
        Gene -> metric (:func:`bmsc_dge.io.read_rnk`).
    collections
        ``collection -> {term: genes}`` (e.g. one GMT file each).
    settings
        As a run's ``gene_sets`` (permutations, sizes - counting the genes present in the
        ranking -, engine, multilevel p-values).
    seed
        Seed of the permutations.

    Returns
    -------
    RankedGsea
        Table with columns :data:`GSEA_COLUMNS`, collections in the given order, each sorted by
        NES (descending).

    Raises
    ------
    GeneSetError
        When no set of any collection has ``min_size`` genes in the ranking, saying whether the
        identifiers would match ignoring case.
    """
    present = set(ranking.index.astype(str))
    tables, tested = [], {}
    for name, sets in collections.items():
        result = run_prerank(
            ranking,
            sets,
            collection=name,
            settings=settings,
            seed=seed,
            curves=False,
        )
        tested[name] = (len(sets), len(result.table))
        tables.append(result.table)
    if not any(n for _, n in tested.values()):
        raise GeneSetError(
            _no_set_message(ranking, collections, settings.min_size, settings.max_size),
            hint=_hint(present, collections),
        )
    table = pd.concat([t for t in tables if len(t)], ignore_index=True)[GSEA_COLUMNS]
    return RankedGsea(table, ranking.sort_values(ascending=False, kind="mergesort"), tested)


def _no_set_message(
    ranking: pd.Series, collections: Mapping[str, Mapping[str, Sequence[str]]], min_size: int, max_size: int
) -> str:
    present = set(ranking.index.astype(str))
    best = max(
        (len(present & set(map(str, genes))) for sets in collections.values() for genes in sets.values()),
        default=0,
    )
    return (
        f"no gene set has between {min_size} and {max_size} genes in the ranked list "
        f"({len(present)} genes; the best set overlaps it by {best})"
    )


def _hint(present: set[str], collections: Mapping[str, Mapping[str, Sequence[str]]]) -> str:
    upper = {g.upper() for g in present}
    members = {str(g) for sets in collections.values() for genes in sets.values() for g in genes}
    if len(present & members) < len(upper & {m.upper() for m in members}) / 2:
        return "the identifiers match when case is ignored: use the same case in the list and the GMT"
    return "use the same identifier type in the list and the GMT (symbols, Entrez or Ensembl), or lower --min-size"


def running_curves(ranking: pd.Series, gene_sets: Mapping[str, Sequence[str]], terms: Sequence[str]) -> dict:
    """Running-score curves (for plots) of ``terms`` on the decreasingly sorted ``ranking``."""
    order = ranking.sort_values(ascending=False, kind="mergesort")
    index = pd.Index(order.index.astype(str))
    weights = np.abs(order.to_numpy(dtype=float))
    curves = {}
    for term in terms:
        hits = np.unique(index.get_indexer(pd.Index([str(g) for g in gene_sets[term]])))
        hits = hits[hits >= 0]
        curves[term] = {"res": running_score(hits, weights), "hits": hits}
    return curves
