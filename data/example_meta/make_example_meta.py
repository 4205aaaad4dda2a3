"""Generate the bundled meta-analysis example: three small simulated studies in two species.

    .venv/bin/python data/example_meta/make_example_meta.py

Writes, beside this script, for each study ``<study>/counts.tsv.gz`` and ``<study>/samples.tsv``
(the study configs ``<study>.yaml`` are committed by hand) and ``truth.tsv``. Seeded; re-running
reproduces the committed files byte for byte.

Studies (what the field holds: many tiny studies, none decisive alone):

* ``patients``: human BMSCs, 4 T2DM vs 4 control donors, Ensembl IDs with a ``gene_name`` column;
* ``dbdb_mouse``: db/db vs wild-type mouse BMSCs, 5 vs 5, MGI symbols;
* ``high_glucose``: human BMSC cultures of 4 donors numbered ``11`` to ``14`` in normal vs high
  glucose (paired: ``~ donor + condition``, the donor declared a factor).

Planted (T2DM / db/db / high glucose vs control):

* **consistent**: FOXQ1 down (-1.6 log2) in all three studies; the meta-analysis must rank it
  first and it must survive leaving out any one study;
* **single-study evidence**: THBS2 up +1.6 where it is measured: well expressed in the patients,
  barely expressed (imprecise) in the high-glucose cultures and below the low-count filter in the
  mouse. Significant in the meta on the strength of the patients alone, it must be flagged by
  leave-one-study-out (``rests on patients``);
* **species discordance**: GPX4 down in both human studies, up in the mouse: heterogeneous
  (high I^2), low consistency, not a confident target;
* **null curated trap**: CTNNB1, SIRT1 and AIFM2 unchanged everywhere;
* a modest consistent shift (-0.35) of the curated ferroptosis suppressors and Wnt agonists so
  the set-level meta has something to find; every other gene is null.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd

from bmsc_dge.genesets import load_curated
from bmsc_dge.io import human_id_table
from bmsc_dge.meta import one_to_one_orthologs
from bmsc_dge.simulate import simulate_two_group

HERE = Path(__file__).resolve().parent
SEED = 20261203
N_GENES = 4000

PLANTED: dict[str, dict[str, float]] = {
    "FOXQ1": {"patients": -1.6, "dbdb_mouse": -1.6, "high_glucose": -1.6},
    "THBS2": {"patients": 1.6, "dbdb_mouse": 1.6, "high_glucose": 1.6},
    "GPX4": {"patients": -1.0, "dbdb_mouse": 1.0, "high_glucose": -1.0},
}
#: expected count at 20 M reads of the planted genes per study: THBS2 is measured well only in the
#: patients (barely expressed in the cultures and the mouse), so one study carries its evidence
BASE = {
    "patients": {"FOXQ1": 3000.0, "THBS2": 20000.0, "GPX4": 6000.0},
    "dbdb_mouse": {"FOXQ1": 3000.0, "THBS2": 2.0, "GPX4": 6000.0},
    "high_glucose": {"FOXQ1": 3000.0, "THBS2": 15.0, "GPX4": 6000.0},
}
NULL_TRAPS = ("CTNNB1", "SIRT1", "AIFM2")
SHIFTED_SETS = ("BMSC_FERROPTOSIS_SUPPRESSORS", "BMSC_WNT_AGONISTS")
STUDIES = {"patients": 4, "dbdb_mouse": 5, "high_glucose": 4}


def genes(rng: np.random.Generator) -> pd.DataFrame:
    """Human protein-coding genes with one Ensembl ID, most with a one-to-one mouse ortholog."""
    table = human_id_table()
    table = table[table["GENETYPE"] == "protein-coding"].dropna(subset=["ENSEMBL"])
    table = table.drop_duplicates("SYMBOL").drop_duplicates("ENSEMBL")
    curated = {g for s in load_curated("human") for g in s.genes}
    must = sorted((curated | set(PLANTED) | set(NULL_TRAPS)) & set(table["SYMBOL"]))
    rest = table[~table["SYMBOL"].isin(must)].sample(
        N_GENES - len(must), random_state=int(rng.integers(1 << 31))
    )
    picked = pd.concat([table[table["SYMBOL"].isin(must)], rest]).sort_values("ENSEMBL")
    mouse = one_to_one_orthologs().set_index("human")["mouse"]
    return pd.DataFrame(
        {
            "gene_id": picked["ENSEMBL"].to_numpy(),
            "symbol": picked["SYMBOL"].to_numpy(),
            "mouse": picked["SYMBOL"].map(mouse).to_numpy(),
        }
    )


def effects(g: pd.DataFrame, study: str) -> pd.Series:
    lfc = pd.Series(0.0, index=g["symbol"].to_numpy())
    for s in load_curated("human"):
        if s.id in SHIFTED_SETS:
            lfc[lfc.index.isin(s.genes)] = -0.35
    for sym in NULL_TRAPS:
        lfc[sym] = 0.0
    for sym, by_study in PLANTED.items():
        lfc[sym] = by_study[study]
    return lfc


def write_study(study: str, n: int, g: pd.DataFrame, seed: int) -> pd.DataFrame:
    folder = HERE / study
    folder.mkdir(exist_ok=True)
    lfc = effects(g, study)
    mouse = study == "dbdb_mouse"
    use = g.dropna(subset=["mouse"]) if mouse else g
    ids = use["mouse"] if mouse else use["gene_id"]
    sim_genes = pd.DataFrame(
        {"gene_id": ids.to_numpy(), "symbol": (use["mouse"] if mouse else use["symbol"]).to_numpy()}
    )
    levels = {"patients": ("control", "T2DM"), "dbdb_mouse": ("wt", "dbdb"), "high_glucose": ("NG", "HG")}[
        study
    ]
    sim = simulate_two_group(
        sim_genes,
        n_per_group=n,
        seed=seed,
        log2_effects=pd.Series(lfc.reindex(use["symbol"]).to_numpy(), index=sim_genes["gene_id"].to_numpy()),
        base_counts=pd.Series(
            use["symbol"].map(BASE[study]).to_numpy(), index=sim_genes["gene_id"].to_numpy()
        ),
        lib_size_range=(8e6, 16e6),
        disp_asympt=0.05,
        condition_levels=levels,
    )
    counts = sim.counts.copy()
    if not mouse:
        counts.insert(0, "gene_name", use["symbol"].to_numpy())
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as fh:
        fh.write(counts.to_csv(sep="\t").encode())
    (folder / "counts.tsv.gz").write_bytes(buf.getvalue())
    sheet = sim.samples.reset_index()[["sample", "condition"]].copy()
    if study == "high_glucose":
        sheet["donor"] = [str(11 + i % n) for i in range(len(sheet))]  # paired: donor i in NG and HG
    sheet.to_csv(folder / "samples.tsv", sep="\t", index=False)
    return pd.DataFrame(
        {
            "study": study,
            "symbol": use["symbol"].to_numpy(),
            "log2FoldChange": lfc.reindex(use["symbol"]).to_numpy(),
        }
    )


if __name__ == "__main__":
    rng = np.random.default_rng(SEED)
    g = genes(rng)
    truth = pd.concat([write_study(s, n, g, SEED + i) for i, (s, n) in enumerate(STUDIES.items())])
    truth[truth["log2FoldChange"] != 0].to_csv(HERE / "truth.tsv", sep="\t", index=False)
