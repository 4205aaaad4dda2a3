import subprocess
import sys

import pandas as pd

from bmsc_dge.simulate import dispersion_trend

from .conftest import ROOT

EX = ROOT / "data" / "example"


def test_generator_reproduces_committed_files(tmp_path):
    before = {p: (EX / p).read_bytes() for p in ("counts.tsv.gz", "samples.tsv", "truth.tsv")}
    try:
        subprocess.run([sys.executable, str(EX / "make_example.py")], check=True, capture_output=True)
        after = {p: (EX / p).read_bytes() for p in before}
    finally:
        for p, data in before.items():
            (EX / p).write_bytes(data)
    assert after == before


def test_example_looks_like_the_real_thing():
    counts = pd.read_csv(EX / "counts.tsv.gz", sep="\t", index_col=0)
    samples = pd.read_csv(EX / "samples.tsv", sep="\t", index_col=0)
    truth = pd.read_csv(EX / "truth.tsv", sep="\t")
    assert 19_500 <= len(counts) <= 20_500
    assert counts.index.str.match(r"^ENSG\d{11}$").all()
    assert samples["condition"].value_counts().to_dict() == {"control": 6, "T2DM": 6}
    assert {"sex", "batch"} <= set(samples.columns)
    lib = counts.drop(columns="gene_name").sum()
    assert lib.between(15e6, 30e6).all()
    strong = truth[truth["effect"] == "strong"].set_index("symbol")["log2FoldChange"]
    assert strong["FOXQ1"] <= -2 and strong["DKK1"] > 0 and strong["SOST"] > 0 and strong["ADIPOQ"] < 0
    for g in (
        "RUNX2",
        "SP7",
        "ALPL",
        "BGLAP",
        "COL1A1",
        "SPP1",
        "LRP5",
        "LEF1",
        "TCF7",
        "BMP2",
        "SMAD1",
        "SMAD5",
        "ID1",
        "GPX4",
        "SLC7A11",
        "FTMT",
        "NIPA2",
        "PPARGC1A",
        "FOXO3",
    ):
        assert strong[g] < 0, g
    for g in ("TFRC", "ACSL4", "NCOA4", "TNF", "IL6", "NFKB1", "PPARG", "CEBPA", "LEP"):
        assert strong[g] > 0, g
    assert (truth["effect"] == "coordinated").sum() >= 50
    # dispersions scatter around the parametric trend used to simulate them
    ratio = truth["dispersion"] / dispersion_trend(truth["base_mean_20M"].to_numpy())
    assert 0.7 < ratio.median() < 1.4
    # sex genes: XIST in females only
    xist = counts.loc[counts["gene_name"] == "XIST"].drop(columns="gene_name").iloc[0]
    female = samples.index[samples["sex"] == "F"]
    male = samples.index[samples["sex"] == "M"]
    assert xist[female].min() > 100 * (xist[male].max() + 1)
    # the traps are in the truth table with their kind
    kinds = truth.set_index("symbol")["effect"]
    assert {"CTNNB1", "AIFM2", "GCH1", "DHODH", "SIRT1", "PRKAA1", "ANXA2", "FTH1"} <= set(
        kinds[kinds == "trap_null_curated"].index
    )
    assert set(kinds[kinds == "trap_novel"].index) == {"POSTN", "COMP", "CHI3L1", "MGP", "THBS2"}
    assert kinds["HMOX1"] == "trap_outlier"
    hm = counts.loc[counts["gene_name"] == "HMOX1"].drop(columns="gene_name").iloc[0]
    assert hm["T2DM_03"] > 1.4 * hm.drop("T2DM_03").max()  # the single-donor spike


def test_meta_example_generator_reproduces_committed_files():
    ex = ROOT / "data" / "example_meta"
    files = [
        "truth.tsv",
        *(
            f"{s}/{f}"
            for s in ("patients", "dbdb_mouse", "high_glucose")
            for f in ("counts.tsv.gz", "samples.tsv")
        ),
    ]
    before = {p: (ex / p).read_bytes() for p in files}
    try:
        subprocess.run([sys.executable, str(ex / "make_example_meta.py")], check=True, capture_output=True)
        after = {p: (ex / p).read_bytes() for p in files}
    finally:
        for p, data in before.items():
            (ex / p).write_bytes(data)
    assert after == before


def test_inputs_generator_reproduces_committed_quantifications():
    data = ROOT / "tests" / "data" / "inputs"
    files = [
        str(p.relative_to(data))
        for p in data.rglob("*")
        if p.is_file()
        and p.parent.name != "reference"
        and p.suffix not in (".py", ".R", ".md")
        and "nfcore" not in p.parts
    ]
    before = {p: (data / p).read_bytes() for p in files}
    try:
        subprocess.run([sys.executable, str(data / "make_inputs.py")], check=True, capture_output=True)
        after = {p: (data / p).read_bytes() for p in files}
    finally:
        for p, content in before.items():
            (data / p).write_bytes(content)
    assert len(files) > 60 and after == before
