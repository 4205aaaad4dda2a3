"""Gene-level meta-analysis of several studies' DE tables, across species.

Each study contributes its **MLE** ``log2FoldChange`` and ``lfcSE`` (not the shrunken values: the
meta-analysis needs unbiased estimates with their sampling variances) of the named contrast.

Matching genes across studies
-----------------------------
* Studies of the report species that share one ID type (e.g. all human Ensembl) are matched on
  their gene IDs (version suffixes stripped), as an R user would merge them.
* Otherwise every study is taken to the report species' symbols: a study's rows sharing a symbol
  are collapsed to the one with the highest ``baseMean`` (as for GSEA), and mouse / rat studies are
  mapped through the shipped **one-to-one** human-mouse orthologs (Alliance ``best`` in both
  directions, one partner each; rat symbols are matched to the mouse symbols case-insensitively,
  see :mod:`bmsc_dge.genesets.orthologs`). Genes without a one-to-one ortholog are counted and
  listed (``unmapped``), never merged.
"""

from __future__ import annotations

import gzip
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files

import numpy as np
import pandas as pd

from bmsc_dge.deseq2 import bh_adjust
from bmsc_dge.errors import InputError
from bmsc_dge.meta._rma import rma

logger = logging.getLogger(__name__)

META_COLUMNS = [
    "gene_id",
    "symbol",
    "n_studies",
    "log2FoldChange",
    "lfcSE",
    "stat",
    "pvalue",
    "padj",
    "tau2",
    "I2",
    "Q",
    "Q_pvalue",
    "n_up",
    "n_down",
    "converged",
]
SPECIES = ("human", "mouse", "rat")


class MetaError(InputError):
    """Studies that cannot be combined (no overlap, no ortholog map, too few studies, ...)."""


@dataclass
class GeneMeta:
    """The gene table and what matching the studies took."""

    table: pd.DataFrame
    key: str
    unmapped: pd.DataFrame = field(default_factory=pd.DataFrame)
    per_study: dict[str, int] = field(default_factory=dict)


@lru_cache(maxsize=1)
def one_to_one_orthologs() -> pd.DataFrame:
    """Human-mouse pairs that are each other's only best ortholog (``human``, ``mouse`` symbols)."""
    path = files("bmsc_dge.genesets") / "data" / "human_mouse_orthologs.tsv.gz"
    with path.open("rb") as raw, gzip.open(raw, "rt") as fh:
        df = pd.read_csv(fh, sep="\t", dtype=str)
    best = df[(df["best"] == "Yes") & (df["bestReverse"] == "Yes")][
        ["fromSymbol", "toSymbol"]
    ].drop_duplicates()
    best = best[~best["fromSymbol"].duplicated(keep=False) & ~best["toSymbol"].duplicated(keep=False)]
    return best.rename(columns={"fromSymbol": "human", "toSymbol": "mouse"}).reset_index(drop=True)


def to_species(symbols: pd.Index, source: str, target: str) -> tuple[pd.Series, pd.Series]:
    """Map ``source``-species symbols to ``target`` through one-to-one orthologs.

    Returns
    -------
    tuple
        Target symbol per input symbol (NaN where none) and the reason for each NaN.

    Raises
    ------
    MetaError
        For a species without an ortholog map (only human, mouse and rat ship one).
    """
    for sp in (source, target):
        if sp not in SPECIES:
            raise MetaError(
                f"no ortholog map for species '{sp}' (maps ship for {', '.join(SPECIES)})",
                hint="give studies of human, mouse or rat, or report in the studies' own species",
            )
    syms = pd.Series(symbols.astype(str), index=symbols)
    none = pd.Series("", index=symbols)
    if source == target or {source, target} == {"mouse", "rat"}:
        return syms, none  # rat symbols are the mouse symbols in the vast majority (orthologs.py)
    pairs = one_to_one_orthologs()
    if source == "human":
        mapped = syms.map(pairs.set_index("human")["mouse"])
    else:
        lower = pairs.assign(key=pairs["mouse"].str.lower()).drop_duplicates("key").set_index("key")
        mapped = syms.str.lower().map(lower["human"])
    reason = pd.Series(np.where(mapped.isna(), f"no one-to-one {target} ortholog", ""), index=symbols)
    return mapped, reason


def _study_rows(de: pd.DataFrame, by_id: bool) -> pd.DataFrame:
    """One row per gene with a finite MLE log2FC and SE; collapsed by symbol unless matched by ID."""
    rows = de[np.isfinite(de["log2FoldChange"]) & np.isfinite(de["lfcSE"]) & (de["lfcSE"] > 0)]
    if by_id:
        ids = rows["gene_id"].astype(str).map(lambda g: re.sub(r"\.\d+$", "", g))
        return rows.assign(key=ids.to_numpy()).drop_duplicates("key")
    order = rows.sort_values("baseMean", ascending=False, kind="mergesort")
    return order.loc[~order["symbol"].astype(str).duplicated()].assign(key=lambda d: d["symbol"].astype(str))


def meta_genes(
    des: Mapping[str, pd.DataFrame],
    species: Mapping[str, str],
    *,
    report_species: str = "human",
    method: str = "reml",
    min_studies: int = 2,
) -> GeneMeta:
    """Combine the DE tables of several studies gene by gene.

    Parameters
    ----------
    des
        Study name -> DE table (``gene_id``, ``symbol``, ``baseMean``, ``log2FoldChange``,
        ``lfcSE``, ``padj``), as :func:`bmsc_dge.tl.deseq2` or a run's ``tables/de`` give.
    species
        Study name -> ``human``, ``mouse`` or ``rat``.
    report_species
        Species whose genes the table reports.
    method
        ``reml``, ``dl`` or ``fixed`` (:func:`bmsc_dge.meta.rma`).
    min_studies
        Genes measured in fewer studies are left out.

    Raises
    ------
    MetaError
        Fewer than two studies, a species without ortholog map, or no gene in ``min_studies``
        studies (naming the studies' gene counts).
    """
    if len(des) < 2:
        raise MetaError(
            f"a meta-analysis needs at least two studies (got {len(des)})", hint="list two or more studies"
        )
    id_types = {s: _id_type(de) for s, de in des.items()}
    by_id = (
        all(species[s] == report_species for s in des)
        and len(set(id_types.values())) == 1
        and (next(iter(id_types.values())) not in ("symbol_human", "symbol_mouse_like"))
    )
    frames, unmapped, per_study = [], [], {}
    symbol_of: dict[str, str] = {}
    for study, de in des.items():
        rows = _study_rows(de, by_id)
        if not by_id and species[study] != report_species:
            mapped, reason = to_species(pd.Index(rows["key"]), species[study], report_species)
            lost = rows.loc[mapped.isna().to_numpy()]
            unmapped.append(
                pd.DataFrame(
                    {
                        "study": study,
                        "symbol": lost["symbol"].astype(str),
                        "reason": reason[mapped.isna()].to_numpy(),
                    }
                )
            )
            rows = rows.assign(key=mapped.to_numpy()).dropna(subset=["key"])
        per_study[study] = len(rows)
        for key, sym in zip(rows["key"], rows["symbol"].astype(str), strict=True):
            symbol_of.setdefault(key, sym if (by_id or species[study] == report_species) else key)
        frames.append(rows.set_index("key")[["log2FoldChange", "lfcSE", "padj"]].add_prefix(f"{study}_"))
    wide = pd.concat(frames, axis=1, sort=False)
    names = list(des)
    y = wide[[f"{s}_log2FoldChange" for s in names]].to_numpy(dtype=float)
    v = wide[[f"{s}_lfcSE" for s in names]].to_numpy(dtype=float) ** 2
    res = rma(y, v, method)
    keep = res.k >= min_studies
    if not keep.any():
        raise MetaError(
            f"no gene is measured in {min_studies} studies ({', '.join(f'{s}: {n} genes' for s, n in per_study.items())})",
            hint="check that the studies use one ID type or species symbols; lower min_studies",
        )
    table = pd.DataFrame(
        {
            "gene_id": wide.index.astype(str),
            "symbol": [symbol_of.get(k, k) for k in wide.index],
            "n_studies": res.k,
            "log2FoldChange": res.estimate,
            "lfcSE": res.se,
            "stat": res.z,
            "pvalue": res.pvalue,
            "padj": np.nan,
            "tau2": res.tau2,
            "I2": res.i2,
            "Q": res.q,
            "Q_pvalue": res.q_pvalue,
            "n_up": (y > 0).sum(axis=1),
            "n_down": (y < 0).sum(axis=1),
            "converged": res.converged,
        }
    )[keep]
    table["padj"] = bh_adjust(table["pvalue"].to_numpy())
    study_cols = [c for s in names for c in (f"{s}_log2FoldChange", f"{s}_lfcSE", f"{s}_padj")]
    table = pd.concat(
        [table.reset_index(drop=True), wide.loc[keep, study_cols].reset_index(drop=True)], axis=1
    )
    failed = ~table["converged"]
    if failed.any():
        logger.warning(
            "REML did not converge for %d gene(s) (metafor stops there; their estimates are empty): %s",
            int(failed.sum()),
            ", ".join(table.loc[failed, "symbol"].astype(str).head(10)),
        )
    table = table.sort_values(
        ["pvalue", "n_studies"], ascending=[True, False], na_position="last", kind="mergesort"
    )
    lost = (
        pd.concat(unmapped, ignore_index=True)
        if unmapped
        else pd.DataFrame(columns=["study", "symbol", "reason"])
    )
    for name, n in lost.groupby("study").size().items():
        logger.warning("%s: %d gene(s) without a one-to-one %s ortholog left out", name, n, report_species)
    return GeneMeta(
        table=table.reset_index(drop=True),
        key="gene_id" if by_id else "symbol",
        unmapped=lost,
        per_study=per_study,
    )


def _id_type(de: pd.DataFrame) -> str:
    from bmsc_dge.io import detect_id_type

    return detect_id_type(pd.Index(de["gene_id"].astype(str)))
