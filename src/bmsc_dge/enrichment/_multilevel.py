"""P-values below the permutation floor: fgsea's adaptive multilevel method, through GSEApy.

With ``n`` permutations a permutation p-value cannot go below ``1 / (n + 1)``: a set no
permutation reaches gets that bound, whatever its true p-value. Korotkevich et al.'s adaptive
multilevel splitting Monte Carlo (fgsea's ``fgseaMultilevel``; Korotkevich G, Sukhov V, Budin N,
Shpak B, Artyomov MN, Sergushichev A, "Fast gene set enrichment analysis", bioRxiv 2016-2021,
doi:10.1101/060012) estimates such p-values to any depth, with ``log2err``, the expected error of
the standard deviation of ``log2(p)``.

GSEApy (>= 1.3) ships a port of fgsea's C++ core (``gseapy.gse.fgsea_rs``, behind
``gseapy.prerank(method="multilevel")``); it is used here for the sets whose permutation p-value
hit the bound, with the same ranking, weight, seed and permutation count. Its agreement with
fgsea 1.31.6 itself is checked against committed fgsea outputs (``tests/data/gsea/``): enrichment
scores to 1e-12, ``log2(p)`` within the stated ``log2err``.

Permutation p-values get fgsea's simple-estimate error,
``log2err = sqrt(trigamma(b + 1) - trigamma(m + 1)) / log(2)`` for ``b`` extreme null scores among
``m`` of the same sign.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import polygamma

logger = logging.getLogger(__name__)

#: fgsea's default boundary: p-values below it are reported as it (with ``log2err`` NaN)
DEFAULT_EPS = 1e-50
#: fgsea's default sample size of each multilevel step
DEFAULT_SAMPLE_SIZE = 101


def simple_log2err(n_more_extreme: ArrayLike, n_same_sign: ArrayLike) -> np.ndarray:
    """Fgsea's error of a permutation p-value ``(b + 1) / (m + 1)`` on the log2 scale."""
    b = np.asarray(n_more_extreme, dtype=float)
    m = np.asarray(n_same_sign, dtype=float)
    with np.errstate(invalid="ignore"):
        out = np.sqrt(polygamma(1, b + 1) - polygamma(1, m + 1)) / np.log(2)
    return np.where(m >= b, out, np.nan)


def multilevel_pvalues(
    ranking: pd.Series,
    gene_sets: Mapping[str, Sequence[str]],
    *,
    seed: int,
    permutations: int,
    weight: float = 1.0,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    eps: float = DEFAULT_EPS,
) -> pd.DataFrame:
    """fgsea-multilevel p-values of ``gene_sets`` against ``ranking``.

    Parameters
    ----------
    ranking
        Gene -> metric, sorted in decreasing order (as the GSEA walk used it).
    gene_sets
        Term -> members present in ``ranking``.
    seed
        Seed of the multilevel sampling.
    permutations
        fgsea's ``nPermSimple`` (its preliminary simple estimate).
    weight
        GSEA weight ``p`` (fgsea's ``gseaParam``).
    sample_size
        fgsea's ``sampleSize``.
    eps
        fgsea's ``eps``: p-values below it are reported as ``eps`` with ``log2err`` NaN.

    Returns
    -------
    pandas.DataFrame
        Indexed by term: ``pval``, ``log2err``, ``es`` (the enrichment score, as a cross-check).
    """
    if not gene_sets:
        return pd.DataFrame(columns=["pval", "log2err", "es"])
    from gseapy.gse import fgsea_rs  # ~1 s of gseapy imports, only when a p-value hits the bound

    sizes = [len(g) for g in gene_sets.values()]
    res = fgsea_rs(
        [str(g) for g in ranking.index],
        ranking.to_numpy(dtype=float).tolist(),
        {str(k): [str(g) for g in v] for k, v in gene_sets.items()},
        float(weight),
        min(sizes),
        max(sizes),
        int(sample_size),
        int(permutations),
        float(eps),
        1,
        int(seed),
    )
    rows = {str(s.term): (float(s.pval), float(s.log2err), float(s.es)) for s in res.summaries}
    out = pd.DataFrame.from_dict(rows, orient="index", columns=["pval", "log2err", "es"])
    out.loc[out["pval"] <= eps, "log2err"] = np.nan
    logger.info("multilevel p-values for %d set(s) below the permutation floor", len(out))
    return out
