"""The notebook API (bd.pp / bd.tl / bd.pl) on a simulated single-cell study: pseudobulk DE equals the
CLI's DE on the hand-summed matrix, and each call returns the CLI's table."""

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.axes import Axes

import bmsc_dge as bd
from bmsc_dge.config import load_config
from bmsc_dge.deseq2 import DE_COLUMNS, contrast_table, fit_deseq2, fit_references
from bmsc_dge.errors import ConfigError, DesignError
from bmsc_dge.simulate import simulate_single_cell
from bmsc_dge.study import apply_prefilter, load_study
from bmsc_dge.targets import TARGET_COLUMNS

from ..conftest import small_genes

EFFECTS = {"FOXQ1": -2.0, "GPX4": -1.5, "LEP": 2.0, "RUNX2": -1.2}


@pytest.fixture(scope="module")
def cells():
    symbols = list(small_genes(n_background=250)["symbol"])
    return simulate_single_cell(symbols, n_donors=8, cells_per_donor=40, log2_effects=EFFECTS, seed=9)


@pytest.fixture(scope="module")
def msc(cells):
    pb = bd.pp.pseudobulk(cells, sample_key="donor", groups_key="cell_type")
    return pb[pb.obs["cell_type"] == "MSC"].copy()


@pytest.fixture(scope="module")
def de(msc):
    return bd.tl.deseq2(msc, design="~ sex + condition", contrast=["condition", "T2DM", "control"])


def test_pseudobulk_de_equals_the_cli_path_on_hand_summed_counts(cells, de, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bulk")
    msc_cells = cells[cells.obs["cell_type"] == "MSC"]
    summed = (
        pd.DataFrame(msc_cells.X, columns=msc_cells.var_names)
        .groupby(msc_cells.obs["donor"].to_numpy())
        .sum()
    )
    counts = summed.T
    counts.index.name = "gene_id"
    counts.to_csv(folder / "counts.tsv", sep="\t")
    sheet = msc_cells.obs.drop_duplicates("donor").set_index("donor")[["condition", "sex"]]
    sheet.index.name = "sample"
    sheet.to_csv(folder / "samples.tsv", sep="\t")
    config = {
        "counts": "counts.tsv",
        "samples": "samples.tsv",
        "design": "~ sex + condition",
        "contrasts": [
            {"name": "T2DM_vs_control", "variable": "condition", "target": "T2DM", "reference": "control"}
        ],
        "alpha": 0.05,
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    cfg = load_config(folder / "config.yaml")
    study = load_study(cfg)
    filtered, _ = apply_prefilter(study, cfg)
    c = cfg.contrasts[0]
    fit = fit_deseq2(filtered, study.frame, cfg.design, fit_references(c, cfg.reference_levels), cfg.de)
    bulk = contrast_table(fit, c, cfg.alpha, cfg.de).set_index("gene_id")
    ours = de.set_index("gene_id").loc[bulk.index]
    assert len(bulk) == len(de) > 200
    for col in ["baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj", "log2FoldChange_shrunk"]:
        np.testing.assert_allclose(ours[col], bulk[col], rtol=1e-10, atol=1e-12, equal_nan=True, err_msg=col)


def test_deseq2_returns_the_de_table_and_stores_it(msc, de):
    assert list(de.columns)[: len(DE_COLUMNS)] == DE_COLUMNS
    assert msc.uns["deseq2"] is de
    called = de.set_index("symbol")
    assert called.loc["FOXQ1", "padj"] < 0.05 and called.loc["FOXQ1", "log2FoldChange"] < -1
    assert called.loc["LEP", "log2FoldChange"] > 1


def test_a_variable_that_varies_within_a_donor_cannot_enter_the_design(cells):
    pb = bd.pp.pseudobulk(cells, sample_key="donor", groups_key="cell_type")
    with pytest.raises(DesignError, match="'phase' varies within a donor"):
        bd.tl.deseq2(pb, design="~ phase + condition", contrast=["condition", "T2DM", "control"])


def test_options_are_checked_as_config_keys(msc):
    with pytest.raises(ConfigError, match=r"unknown key 'de\.shrink'"):
        bd.tl.deseq2(
            msc, design="~ condition", contrast=["condition", "T2DM", "control"], de={"shrink": False}
        )
    with pytest.raises(ConfigError, match=r"contrast must be \[variable, target, reference\]"):
        bd.tl.deseq2(msc, design="~ condition", contrast=["condition", "T2DM"])


def test_gsea_targets_and_plots(de):
    gs = bd.tl.gsea(de, collections=["curated"], permutations=200)
    assert {"term", "collection", "nes", "pval", "fdr", "leading_edge", "expected_t2dm"} <= set(gs.columns)
    assert (gs["collection"] == "curated").all() and len(gs) > 5
    tg = bd.tl.rank_targets(de, gs)
    assert list(tg.columns) == TARGET_COLUMNS
    top = tg.set_index("symbol")
    assert bool(top.loc["FOXQ1", "supported_by_data"])
    # significance first: every significant gene ranks above every non-significant one
    sig = tg["supported_by_data"].to_numpy()
    assert not np.any(np.diff(sig.astype(int)) > 0)
    assert isinstance(bd.pl.volcano(de), Axes)
    assert isinstance(bd.pl.gsea_dotplot(gs), Axes)


def test_whole_number_obs_column_reaching_the_design_needs_a_declaration(msc):
    """Pseudobulk obs columns obey the config's rule: a batch numbered 1/2 is refused undeclared."""
    pb = msc.copy()
    order = pb.obs.groupby("condition", observed=True).cumcount().to_numpy()
    pb.obs["batch"] = order % 2 + 1  # alternate within each condition: not confounded
    contrast = ["condition", "T2DM", "control"]
    with pytest.raises(DesignError, match=r"'batch' holds only whole numbers .*variables: \{batch: factor\}"):
        bd.tl.deseq2(pb, design="~ batch + condition", contrast=contrast, key_added=None)
    as_factor = bd.tl.deseq2(
        pb, design="~ batch + condition", contrast=contrast, key_added=None, variables={"batch": "factor"}
    )
    as_c = bd.tl.deseq2(pb, design="~ C(batch) + condition", contrast=contrast, key_added=None)
    pd.testing.assert_frame_equal(as_factor, as_c)


def test_ora_of_the_de_lists_and_its_plot(de):
    from bmsc_dge.enrichment import ORA_COLUMNS, hypergeom_tail

    ov = bd.tl.ora(de, collections=["curated"], min_size=3)
    assert list(ov.columns) == ORA_COLUMNS and set(ov["direction"]) <= {"up", "down"}
    assert (ov["collection"] == "curated").all() and len(ov) > 5
    n_sig = int((de["padj"] < 0.05).sum())
    assert ov.groupby("direction")["de_genes"].first().sum() == n_sig  # no duplicated symbols here
    assert ov["universe"].iloc[0] == int(de["padj"].notna().sum())
    for _, g in ov.groupby("direction"):
        tail = hypergeom_tail(
            g["overlap"], int(g["universe"].iloc[0]), g["set_size"], int(g["de_genes"].iloc[0])
        )
        np.testing.assert_array_equal(g["pval"], tail)
    down = ov[ov["direction"] == "down"].set_index("term")
    foxq1 = down.loc["BMSC_FOXQ1_PROGRAM"]
    assert "FOXQ1" in foxq1["overlap_genes"].split(";")
    assert isinstance(bd.pl.ora_dotplot(ov), Axes)
