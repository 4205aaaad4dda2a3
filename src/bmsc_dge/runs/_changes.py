"""What changed since the previous run: significance flips, NES shifts, target rank moves.

Written by every run that has a predecessor in the same ``outdir`` (``latest`` before the run) as
``tables/changes/<contrast>.changes.tsv`` with columns ``kind``, ``item``, ``gene_id``, ``before``,
``after``, ``change``:

``became_significant`` / ``no_longer_significant``
    genes crossing ``padj < alpha`` (before/after: padj);
``nes_shift``
    curated gene sets whose NES moved by at least ``min_nes_shift`` or whose FDR crossed the
    threshold (before/after: NES; change: NES difference);
``target_rank_move``
    genes in the top ``top_n`` targets now or before whose rank changed (change: positions gained).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bmsc_dge.calls import significant
from bmsc_dge.config import CURATED

CHANGE_COLUMNS = ["kind", "item", "gene_id", "before", "after", "change"]


def _read(folder: Path, sub: str, name: str, suffix: str) -> pd.DataFrame | None:
    p = folder / "tables" / sub / f"{name}.{suffix}.tsv"
    return pd.read_csv(p, sep="\t") if p.is_file() else None


def compare_contrast(
    previous: Path,
    name: str,
    de: pd.DataFrame,
    gsea: pd.DataFrame,
    targets: pd.DataFrame,
    *,
    alpha: float,
    fdr: float,
    top_n: int = 50,
    min_nes_shift: float = 0.5,
) -> pd.DataFrame | None:
    """Change table of one contrast against the run folder ``previous`` (None if it lacks the contrast)."""
    old_de = _read(previous, "de", name, "deseq2")
    if old_de is None:
        return None
    rows: list[dict[str, object]] = []
    a = old_de.set_index("gene_id")["padj"]
    b = de.set_index("gene_id")["padj"]
    sym = de.set_index("gene_id")["symbol"].combine_first(old_de.set_index("gene_id")["symbol"])
    ids = a.index.union(b.index)
    was = pd.Series(significant(a.reindex(ids), alpha), index=ids)
    now = pd.Series(significant(b.reindex(ids), alpha), index=ids)
    for kind, mask in (("became_significant", now & ~was), ("no_longer_significant", was & ~now)):
        for g in ids[mask.to_numpy()]:
            rows.append(
                {
                    "kind": kind,
                    "item": sym.get(g, g),
                    "gene_id": g,
                    "before": a.get(g, np.nan),
                    "after": b.get(g, np.nan),
                    "change": np.nan,
                }
            )
    old_g = _read(previous, "gsea", name, "gsea")
    if old_g is not None:
        o = old_g[old_g["collection"] == CURATED].set_index("term")
        n = gsea[gsea["collection"] == CURATED].set_index("term")
        for term in o.index.union(n.index):
            nb, na = o["nes"].get(term, np.nan), n["nes"].get(term, np.nan)
            fb, fa = o["fdr"].get(term, np.nan), n["fdr"].get(term, np.nan)
            crossed = (fb < fdr) != (fa < fdr)
            if crossed or abs(na - nb) >= min_nes_shift or np.isnan(na) != np.isnan(nb):
                rows.append(
                    {
                        "kind": "nes_shift",
                        "item": term,
                        "gene_id": "",
                        "before": nb,
                        "after": na,
                        "change": na - nb,
                    }
                )
    old_t = _read(previous, "targets", name, "targets")
    if old_t is not None:
        ro = old_t.set_index("gene_id")["rank"]
        rn = targets.set_index("gene_id")["rank"]
        tsym = targets.set_index("gene_id")["symbol"]
        top = set(ro[ro <= top_n].index) | set(rn[rn <= top_n].index)
        for g in sorted(top, key=lambda x: rn.get(x, 1e9)):
            before, after = ro.get(g, np.nan), rn.get(g, np.nan)
            if before != after:
                rows.append(
                    {
                        "kind": "target_rank_move",
                        "item": tsym.get(g, g),
                        "gene_id": g,
                        "before": before,
                        "after": after,
                        "change": before - after,
                    }
                )
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)


def previous_run(outdir: Path) -> Path | None:
    """The completed run ``outdir/latest`` points at, if any."""
    latest = outdir / "latest"
    return latest.resolve() if latest.is_symlink() and latest.resolve().is_dir() else None
