"""`bmsc-dge gsea --rnk`: equal to fgsea 1.31.6 on a committed list (tests/data/gsea/README.md).

Enrichment scores, set sizes and leading edges must be identical; NES (1,000 permutations here,
100,000 in fgseaSimple) within permutation noise; p-values beyond the permutations (multilevel)
within the log2err both sides state.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bmsc_dge.cli import app
from bmsc_dge.enrichment import GSEA_COLUMNS, simple_log2err

DATA = Path(__file__).resolve().parents[1] / "data" / "gsea"
runner = CliRunner()


def _run(outdir: Path, *extra: str):
    return runner.invoke(
        app,
        [
            "gsea",
            "--rnk",
            str(DATA / "ranked.rnk"),
            "--gmt",
            str(DATA / "sets.gmt"),
            "--outdir",
            str(outdir),
            *extra,
        ],
    )


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("gsea")
    res = _run(outdir)
    assert res.exit_code == 0, res.output
    return outdir / "latest"


@pytest.fixture(scope="module")
def table(run_folder):
    t = pd.read_csv(run_folder / "tables" / "gsea" / "ranked.gsea.tsv", sep="\t", dtype={"leading_edge": str})
    return t.set_index("term")


def _fgsea(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"{name}.tsv", sep="\t", dtype={"leadingEdge": str}).set_index("pathway")


def test_enrichment_scores_sizes_and_leading_edges_equal_fgsea(table):
    ref = _fgsea("fgsea_multilevel")
    assert list(table.reset_index().columns) == GSEA_COLUMNS
    assert sorted(table.index) == sorted(ref.index)  # SET_TINY (< 15) and SET_HUGE (> 500) not tested
    t = table.loc[ref.index]
    np.testing.assert_allclose(t["es"], ref["ES"], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(t["size"], ref["size"])
    for term in ref.index:  # identifiers like 170942 stay strings; order of the edge is fgsea's too
        assert t.loc[term, "leading_edge"].split(";") == ref.loc[term, "leadingEdge"].split(";"), term


def test_nes_within_permutation_noise_of_fgsea(table):
    """1,000 permutations here vs fgseaSimple's 100,000: the NES divides the ES by the mean of
    ~500 same-sign null scores, whose relative standard error is ~1-2%; 6% is over 3 of those."""
    ref = _fgsea("fgsea_simple")
    rel = ((table.loc[ref.index, "nes"] - ref["NES"]) / ref["NES"]).abs()
    assert rel.max() < 0.06 and rel.median() < 0.015, rel.describe()
    assert np.corrcoef(table.loc[ref.index, "nes"], ref["NES"])[0, 1] > 0.999


def test_small_pvalues_are_multilevel_estimates_within_their_stated_error(table):
    """Sets beyond every permutation get fgsea's multilevel p-value; two independent Monte Carlo
    estimates differ in log2 by about the root sum of squares of their log2err."""
    ref = _fgsea("fgsea_multilevel")
    t = table.loc[ref.index]
    floor = 1 / 1001
    ml = t["pval_method"] == "multilevel"
    assert ml.sum() >= 10 and (t.loc[ml, "pval"] < floor).any()
    assert (t.loc[~ml, "pval"] >= floor).all() and (t.loc[~ml, "pval_method"] == "permutation").all()
    # fgsea's eps (1e-50) stops our estimate; fgsea's reference ran with eps = 0
    bound = t["pval_bound"].astype(bool)
    assert (
        np.allclose(t.loc[bound, "pval"], 1e-50, rtol=1e-9, atol=0)
        and (ref.loc[bound[bound].index, "pval"] < 1e-50).all()
    )
    assert t.loc[bound, "log2err"].isna().all()
    ok = ~bound
    d = np.log2(t.loc[ok, "pval"]) - np.log2(ref.loc[ok[ok].index, "pval"])
    z = d.abs() / np.sqrt(t.loc[ok, "log2err"] ** 2 + ref.loc[ok[ok].index, "log2err"] ** 2)
    assert z.max() < 4 and z.median() < 1.5, z.describe()
    assert abs(d.mean()) < 0.5  # no systematic bias


def test_permutation_log2err_is_fgseas_formula():
    grid = pd.read_csv(DATA / "simple_log2err.tsv", sep="\t")
    got = simple_log2err(grid["n_more_extreme"].to_numpy(), grid["n"].to_numpy())
    np.testing.assert_allclose(got, grid["log2err"], rtol=1e-12)


def test_outputs_a_run_folder_and_never_clobbers(run_folder, tmp_path):
    for rel in (
        "ranked.gsea.xlsx",
        "tables/gsea/ranked.gsea.parquet",
        "figures/gsea/ranked.dotplot.png",
        "summary.md",
        "manifest.json",
    ):
        assert (run_folder / rel).is_file(), rel
    running = list((run_folder / "figures" / "gsea" / "ranked").glob("*.running.png"))
    assert len(running) == 20
    manifest = (run_folder / "manifest.json").read_text()
    assert '"seed": 20261128' in manifest and "sha256" in manifest
    first, second = _run(tmp_path, "--seed", "7"), _run(tmp_path, "--seed", "7")
    assert first.exit_code == 0 and second.exit_code == 0
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 2  # a second call adds a run, the first stays
    a, b = (pd.read_csv(r / "tables" / "gsea" / "ranked.gsea.tsv", sep="\t") for r in runs)
    pd.testing.assert_frame_equal(a, b)  # seeded: identical


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (
            "ID\tt\nA\t1\nB\t2\nA\t3\n",
            ["row 4", "gene A is listed twice (lines 2 and 4)", "collapse duplicates"],
        ),
        ("A\t1\nB\tx\nC\t3\n", ["row 2", "metric 'x' of B is not a finite number"]),
        ("A\t1\t9\nB\t2\n", ["row 1", "3 tab-separated column(s)"]),
        ("A\t1\nB\tnan\n", ["row 2", "not a finite number"]),
        ("# only a comment\n", ["0 ranked gene(s)"]),
    ],
)
def test_bad_ranked_lists_are_refused_naming_the_line(tmp_path, content, words):
    rnk = tmp_path / "bad.rnk"
    rnk.write_text(content)
    res = runner.invoke(
        app, ["gsea", "--rnk", str(rnk), "--gmt", str(DATA / "sets.gmt"), "--outdir", str(tmp_path / "o")]
    )
    assert res.exit_code == 2
    for w in [str(rnk), *words]:
        assert w in res.output, (w, res.output)
    assert not (tmp_path / "o").exists()  # nothing written


def test_no_overlap_says_why(tmp_path):
    gmt = tmp_path / "lower.gmt"
    genes = [line.split("\t")[0] for line in (DATA / "ranked.rnk").read_text().splitlines()[2:200]]
    gmt.write_text("S1\td\t" + "\t".join(f"x{g}" for g in genes) + "\n")
    res = runner.invoke(
        app, ["gsea", "--rnk", str(DATA / "ranked.rnk"), "--gmt", str(gmt), "--outdir", str(tmp_path / "o")]
    )
    assert res.exit_code == 2 and "no gene set has between 15 and 500 genes in the ranked list" in res.output
    assert "identifier type" in res.output and not (tmp_path / "o").exists()
