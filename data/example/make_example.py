"""Generate the bundled example study (simulated T2DM vs control BMSCs).

    .venv/bin/python data/example/make_example.py

Writes counts.tsv.gz, samples.tsv and truth.tsv beside this script. Fully determined by SEED and
the package's shipped gene-ID table and curated gene sets; re-running reproduces the committed
files byte for byte (checked by tests/test_example_data.py).
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd

from bmsc_dge.genesets import load_curated
from bmsc_dge.io import human_id_table
from bmsc_dge.simulate import simulate_two_group

HERE = Path(__file__).resolve().parent
SEED = 20261128
N_GENES = 20_000

# Strong single-gene effects reported in T2DM BMSCs (log2 fold change, T2DM vs control) and a
# realistic expected count at 20 M reads for each (BMSCs express COL1A1 massively; BGLAP, SOST,
# LEP and FTMT are low).
STRONG: dict[str, tuple[float, float, str]] = {
    "FOXQ1": (-2.5, 1500, "FOXQ1"),
    "RUNX2": (-1.0, 2500, "osteogenic"),
    "SP7": (-1.3, 300, "osteogenic"),
    "ALPL": (-1.2, 2000, "osteogenic"),
    "BGLAP": (-1.4, 250, "osteogenic"),
    "COL1A1": (-0.8, 80000, "osteogenic"),
    "SPP1": (-1.1, 1500, "osteogenic"),
    "LRP5": (-0.9, 1200, "wnt"),
    "LEF1": (-1.1, 400, "wnt"),
    "TCF7": (-1.0, 350, "wnt"),
    "DKK1": (1.4, 3000, "wnt_antagonist"),
    "SOST": (1.6, 150, "wnt_antagonist"),
    "BMP2": (-1.0, 900, "bmp"),
    "SMAD1": (-0.7, 1800, "bmp"),
    "SMAD5": (-0.6, 2200, "bmp"),
    "ID1": (-0.9, 4000, "bmp"),
    "TFRC": (1.0, 5000, "ferroptosis_driver"),
    "ACSL4": (0.9, 2500, "ferroptosis_driver"),
    "NCOA4": (0.8, 3500, "ferroptosis_driver"),
    "GPX4": (-0.9, 6000, "ferroptosis_suppressor"),
    "SLC7A11": (-1.2, 800, "ferroptosis_suppressor"),
    "FTMT": (-1.3, 200, "ferroptosis_suppressor"),
    "NIPA2": (-1.0, 1200, "mitophagy_axis"),
    "PPARGC1A": (-1.3, 400, "mitophagy_axis"),
    "FOXO3": (-0.8, 3000, "mitophagy_axis"),
    "TNF": (1.3, 200, "inflammation"),
    "IL6": (1.5, 1500, "inflammation"),
    "NFKB1": (0.7, 2500, "inflammation"),
    "PPARG": (1.1, 700, "adipogenic"),
    "CEBPA": (1.0, 500, "adipogenic"),
    "LEP": (1.8, 120, "adipogenic"),
    "ADIPOQ": (-1.5, 300, "adipogenic"),
}

# Modest coordinated shifts (mean log2FC, fraction of members shifted) for the curated sets
# whose direction the literature reports (library v2); other curated sets stay null, except the
# contrary trap below.
COORDINATED: dict[str, tuple[float, float]] = {
    "BMSC_FERROPTOSIS_DRIVERS": (0.45, 0.75),
    "BMSC_FERROPTOSIS_SUPPRESSORS": (-0.45, 0.75),
    "BMSC_NIPA2_PGC1A_FOXO3A_REGULATORS": (-0.45, 0.75),
    "BMSC_MITOPHAGY_EFFECTORS": (0.4, 0.75),
    "BMSC_WNT_AGONISTS": (-0.4, 0.75),
    "BMSC_WNT_FEEDBACK_TARGETS": (-0.45, 0.75),
    "BMSC_OSTEOBLAST_DIFFERENTIATION": (-0.45, 0.75),
    "BMSC_INFLAMMATION_TNF_IL6_NFKB": (0.4, 0.75),
    "BMSC_FOXQ1_PROGRAM": (-0.45, 0.75),
    # trap: a curated set moving AGAINST its expected direction (the review reports mitochondrial
    # apoptosis up in T2DM; here it goes down); the run must report it as opposing
    "BMSC_MITOCHONDRIAL_APOPTOSIS": (-0.55, 0.85),
}

# Traps beside the planted biology (tests/test_flow.py checks that the ranking sees through each):
# curated, literature-backed genes that do not change (a prior-driven ranking would lift them) ...
TRAP_NULL_CURATED: dict[str, float] = {
    "CTNNB1": 9000,
    "AIFM2": 2500,
    "GCH1": 1500,
    "DHODH": 2000,
    "SIRT1": 3000,
    "PRKAA1": 2500,
    "ANXA2": 20000,
    "FTH1": 30000,
}
# ... strong changes in genes outside every curated set (novel candidates) ...
TRAP_NOVEL: dict[str, tuple[float, float]] = {
    "POSTN": (2.2, 6000),
    "COMP": (-2.0, 2500),
    "CHI3L1": (2.5, 1500),
    "MGP": (-1.8, 8000),
    "THBS2": (1.9, 3000),
}
# ... and one gene carried by a single donor: a small shift in every T2DM donor plus a 3-fold spike
# in one (T2DM_03), drawn with a low dispersion (0.01) so that it is "significant" in the full data
# but not without that donor (a larger spike inflates the dispersion and loses significance).
TRAP_OUTLIER = ("HMOX1", 4000.0, 0.4, "T2DM_03", 3.0, 0.01)

SEX_SPECIFIC = {
    "XIST": "F",
    "RPS4Y1": "M",
    "DDX3Y": "M",
    "UTY": "M",
    "KDM5D": "M",
    "EIF1AY": "M",
    "USP9Y": "M",
    "ZFY": "M",
}
# Primary-assembly Ensembl IDs for genes that also have alternate-haplotype IDs in the table.
PRIMARY = {"TNF": "ENSG00000232810", "AGER": "ENSG00000204305"}


def choose_genes() -> pd.DataFrame:
    """~20,000 real genes: all protein-coding symbols with an Ensembl ID, then ncRNAs."""
    t = human_id_table().dropna(subset=["ENSEMBL"])
    t = t[~t["ENSEMBL"].duplicated()]
    first = t.groupby("SYMBOL", sort=False).head(1).set_index("SYMBOL")["ENSEMBL"].to_dict()
    first.update(PRIMARY)
    kinds = t.drop_duplicates("SYMBOL").set_index("SYMBOL")["GENETYPE"]
    pc = sorted(s for s in first if kinds.get(s) == "protein-coding")
    nc = sorted(s for s in first if kinds.get(s) == "ncRNA")
    needed = set(STRONG) | set(SEX_SPECIFIC) | set(TRAP_NULL_CURATED) | set(TRAP_NOVEL) | {TRAP_OUTLIER[0]}
    missing = needed - set(pc) - set(nc)
    if missing:
        raise SystemExit(f"planted genes missing from the ID table: {sorted(missing)}")
    rng = np.random.default_rng(SEED)
    forced = sorted(needed & set(nc))  # e.g. XIST
    pool = [s for s in nc if s not in forced]
    n_nc = max(0, N_GENES - len(pc) - 2 - len(forced))
    nc_pick = sorted(forced + rng.choice(pool, size=min(n_nc, len(pool)), replace=False).tolist())
    symbols = pc + nc_pick
    genes = pd.DataFrame({"gene_id": [first[s] for s in symbols], "symbol": symbols})
    # Two alternate-haplotype rows, as annotation sets with alt loci produce (near-zero counts).
    alts = t[(t["SYMBOL"].isin(PRIMARY)) & (~t["ENSEMBL"].isin(PRIMARY.values()))]
    alts = alts.groupby("SYMBOL").head(1)
    genes = pd.concat([genes, pd.DataFrame({"gene_id": alts["ENSEMBL"], "symbol": alts["SYMBOL"]})])
    return genes.sort_values("gene_id").reset_index(drop=True)


def planted_effects(genes: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.DataFrame]:
    """log2 effects and baselines per gene_id, with the truth annotation."""
    rng = np.random.default_rng(SEED + 1)
    by_symbol = genes.drop_duplicates("symbol").set_index("symbol")["gene_id"]
    by_symbol.update(pd.Series(PRIMARY))
    alt_ids = set(genes["gene_id"]) - set(by_symbol.values)
    votes: dict[str, list[tuple[float, str]]] = {}
    for s in load_curated("human"):
        if s.id not in COORDINATED:
            continue
        mu, frac = COORDINATED[s.id]
        for g in s.genes:
            if g in TRAP_NULL_CURATED or g == TRAP_OUTLIER[0]:
                continue
            if g in by_symbol.index and rng.random() < frac:
                votes.setdefault(g, []).append((float(rng.normal(mu, 0.12)), s.id))
    lfc: dict[str, float] = {}
    source: dict[str, str] = {}
    category: dict[str, str] = {}
    for g, v in votes.items():
        signs = {np.sign(x) for x, _ in v}
        if len(signs) > 1:
            continue  # member of sets that move in opposite directions: left null
        lfc[g] = float(np.mean([x for x, _ in v]))
        source[g] = "coordinated"
        category[g] = ";".join(sid for _, sid in v)
    base: dict[str, float] = {}
    for g, (eff, b, cat) in STRONG.items():
        lfc[g] = eff
        base[g] = b
        source[g] = "strong"
        category[g] = cat
    for g, b in TRAP_NULL_CURATED.items():
        lfc[g] = 0.0
        base[g] = b
        source[g] = "trap_null_curated"
        category[g] = "trap: curated, unchanged"
    for g, (eff, b) in TRAP_NOVEL.items():
        lfc[g] = eff
        base[g] = b
        source[g] = "trap_novel"
        category[g] = "trap: strong change outside every curated set"
    g, b, shift, donor, spike, disp = TRAP_OUTLIER
    lfc[g] = shift
    base[g] = b
    source[g] = "trap_outlier"
    category[g] = (
        f"trap: log2FC {shift} in every T2DM donor, x{spike} more in {donor} alone (dispersion {disp})"
    )
    for g in lfc:
        if g not in base:
            base[g] = float(np.exp(rng.normal(np.log(800), 0.8)))
    gid = by_symbol.reindex(list(lfc)).to_numpy()
    effects = pd.Series(list(lfc.values()), index=gid)
    base_counts = pd.Series([base[g] for g in lfc], index=gid)
    for a in alt_ids:
        base_counts[a] = 0.5
    ann = pd.DataFrame(
        {"gene_id": gid, "effect": [source[g] for g in lfc], "category": [category[g] for g in lfc]}
    )
    return effects, base_counts, ann


def outlier_row(counts: pd.DataFrame, samples: pd.DataFrame, genes: pd.DataFrame) -> pd.Series:
    """The single-donor trap gene's counts: NB with a low dispersion, spiked in one T2DM donor."""
    gene, base, shift, donor, spike, disp = TRAP_OUTLIER
    gid = genes.loc[genes["symbol"] == gene, "gene_id"].iloc[0]
    rng = np.random.default_rng(SEED + 2)
    lib = counts.sum(axis=0)
    sf = (lib / lib.mean()).to_numpy()
    is_case = (samples.loc[counts.columns, "condition"] == "T2DM").to_numpy()
    mu = base * sf * np.where(is_case, 2.0**shift, 1.0)
    mu[list(counts.columns).index(donor)] *= spike
    shape = 1.0 / disp
    return pd.Series(rng.poisson(rng.gamma(shape, mu / shape)), index=counts.columns, name=gid)


def main() -> None:
    genes = choose_genes()
    effects, base_counts, ann = planted_effects(genes)
    sex_ids = genes[genes["symbol"].isin(SEX_SPECIFIC)].set_index("gene_id")["symbol"].map(SEX_SPECIFIC)
    study = simulate_two_group(
        genes,
        n_per_group=6,
        seed=SEED,
        log2_effects=effects,
        base_counts=base_counts,
        sex_genes=sex_ids.to_dict(),
        batch_sd=0.15,
        disp_asympt=0.06,
        disp_extra=1.0,
    )
    counts = study.counts.copy()
    counts.loc[outlier_row(counts, study.samples, genes).name] = outlier_row(counts, study.samples, genes)
    counts.insert(0, "gene_name", genes.set_index("gene_id")["symbol"].reindex(counts.index).to_numpy())
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as fh:
        fh.write(counts.to_csv(sep="\t").encode())
    (HERE / "counts.tsv.gz").write_bytes(buf.getvalue())
    study.samples.to_csv(HERE / "samples.tsv", sep="\t")
    truth = study.truth.merge(ann, on="gene_id", how="left")
    truth["effect"] = truth["effect"].fillna("null")
    truth["category"] = truth["category"].fillna("")
    truth = truth[truth["effect"] != "null"].sort_values(["effect", "symbol"], ascending=[False, True])
    truth.to_csv(HERE / "truth.tsv", sep="\t", index=False)
    lib = study.counts.sum(axis=0)
    print(
        f"{len(counts)} genes x {counts.shape[1] - 1} samples; library sizes "
        f"{lib.min() / 1e6:.1f}-{lib.max() / 1e6:.1f} M; {len(truth)} planted effects"
    )


if __name__ == "__main__":
    main()
