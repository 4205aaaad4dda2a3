import numpy as np
import pandas as pd
import pytest

from bmsc_dge.config import Contrast, DEConfig, load_config
from bmsc_dge.deseq2 import DE_COLUMNS, contrast_table, fit_deseq2, reorder_reference
from bmsc_dge.study import apply_prefilter, load_study


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    from .conftest import write_study

    paths = write_study(tmp_path_factory.mktemp("de") / "s", n_per_group=4, seed=5)
    cfg = load_config(paths["config"])
    study = load_study(cfg)
    adata, _ = apply_prefilter(study, cfg)
    c = cfg.contrasts[0]
    fit = fit_deseq2(adata, study.frame, cfg.design, {c.variable: c.reference}, DEConfig(n_cpus=1))
    return cfg, fit, contrast_table(fit, c, cfg.alpha, DEConfig(n_cpus=1))


def test_reference_level_comes_first_even_when_it_sorts_last():
    f = pd.DataFrame({"condition": ["T2DM", "control", "T2DM"], "batch": ["b", "a", "a"]})
    out = reorder_reference(f, "condition", "control")
    assert list(out["condition"].cat.categories) == ["control", "T2DM"]
    assert list(out["batch"].cat.categories) == ["a", "b"]


def test_coefficient_is_named_for_target(fitted):
    _, fit, _ = fitted
    assert "condition[T.T2DM]" in list(fit.dds.varm["LFC"].columns)


def test_table_columns_and_planted_effects(fitted):
    cfg, _, de = fitted
    assert list(de.columns) == DE_COLUMNS
    by = de.set_index("symbol")
    # sign of log2FC is T2DM vs control: FOXQ1 planted at -2.5, LEP at +1.8
    assert by.loc["FOXQ1", "log2FoldChange"] < -1.5 and by.loc["FOXQ1", "padj"] < 1e-6
    assert by.loc["LEP", "log2FoldChange"] > 1.0 and by.loc["LEP", "padj"] < cfg.alpha
    # shrinkage pulls towards zero and never flips a clear sign
    sig = de[de["padj"] < cfg.alpha]
    assert (np.sign(sig["log2FoldChange_shrunk"]) == np.sign(sig["log2FoldChange"])).all()
    assert (sig["log2FoldChange_shrunk"].abs() <= sig["log2FoldChange"].abs() + 1e-6).mean() > 0.95
    # sorted by p-value, NaN last
    p = de["pvalue"].to_numpy()
    finite = p[np.isfinite(p)]
    assert (np.diff(finite) >= 0).all()


def test_null_genes_are_rarely_called(fitted):
    from .conftest import SENTINEL_EFFECTS

    cfg, _, de = fitted
    null = de[~de["symbol"].isin(SENTINEL_EFFECTS)]
    assert (null["padj"] < cfg.alpha).mean() < 0.02


def test_flipped_contrast_flips_signs(fitted):
    cfg, fit, de = fitted
    flipped = contrast_table(
        fit,
        Contrast(name="rev", variable="condition", target="control", reference="T2DM"),
        cfg.alpha,
        DEConfig(n_cpus=1, lfc_shrink=False),
    )
    a = de.set_index("gene_id")["log2FoldChange"]
    b = flipped.set_index("gene_id")["log2FoldChange"].reindex(a.index)
    np.testing.assert_allclose(a.to_numpy(), -b.to_numpy(), atol=1e-8)


def test_coefficient_and_lrt_contrasts_through_load_study(tmp_path):
    import yaml

    from bmsc_dge.errors import DesignError

    from .conftest import write_study

    paths = write_study(tmp_path / "s", n_per_group=4, seed=8, n_background=150)
    cfg_yaml = yaml.safe_load(paths["config"].read_text())
    cfg_yaml["contrasts"] = [
        {"name": "coef", "coefficient": "condition[T.T2DM]"},
        {"name": "lrt", "test": "lrt", "reduced": "~ batch"},
    ]
    cfg_yaml["reference_levels"] = {"condition": "control"}
    paths["config"].write_text(yaml.safe_dump(cfg_yaml))
    cfg = load_config(paths["config"])
    study = load_study(cfg)
    adata, _ = apply_prefilter(study, cfg)
    fit = fit_deseq2(adata, study.frame, cfg.design, {"condition": "control"}, DEConfig(n_cpus=1))
    coef = contrast_table(fit, cfg.contrasts[0], 0.05, DEConfig(n_cpus=1)).set_index("gene_id")
    lrt = contrast_table(fit, cfg.contrasts[1], 0.05, DEConfig(n_cpus=1)).set_index("gene_id")
    # one degree of freedom: the LRT and the Wald test agree closely on strong genes
    strong = coef.index[coef["padj"] < 0.001]
    assert len(strong) >= 5 and (lrt.loc[strong, "padj"] < 0.05).all()
    both = coef["stat"].notna() & lrt["stat"].reindex(coef.index).notna()
    from scipy.stats import spearmanr

    rho = spearmanr(coef.loc[both, "stat"] ** 2, lrt.loc[coef.index[both], "stat"]).statistic
    assert rho > 0.95
    assert coef.loc["ENSG00000164379", "log2FoldChange"] < -1.5  # FOXQ1
    # bad coefficient / non-nested reduced design are refused before fitting
    cfg_yaml["contrasts"] = [{"name": "bad", "coefficient": "conditionT2D"}]
    paths["config"].write_text(yaml.safe_dump(cfg_yaml))
    with pytest.raises(DesignError, match="available coefficients"):
        load_study(load_config(paths["config"]))
    cfg_yaml["contrasts"] = [{"name": "bad", "test": "lrt", "reduced": "~ batch + condition"}]
    paths["config"].write_text(yaml.safe_dump(cfg_yaml))
    with pytest.raises(DesignError, match="not nested"):
        load_study(load_config(paths["config"]))


def test_stock_pydeseq2_engine_is_selectable_and_agrees(fitted):
    cfg, _, de = fitted
    from bmsc_dge.study import apply_prefilter, load_study

    study = load_study(cfg)
    adata, _ = apply_prefilter(study, cfg)
    c = cfg.contrasts[0]
    stock_cfg = DEConfig(n_cpus=1, engine="pydeseq2")
    stock_fit = fit_deseq2(adata, study.frame, cfg.design, {c.variable: c.reference}, stock_cfg)
    assert type(stock_fit.dds).__name__ == "DeseqDataSet"
    stock = contrast_table(stock_fit, c, cfg.alpha, stock_cfg).set_index("gene_id").reindex(de["gene_id"])
    ours = de.set_index("gene_id")
    ok = ours["log2FoldChange"].notna() & stock["log2FoldChange"].notna()
    # same model, different optimisers (PyDESeq2 reaches the dispersion optimum, R stops earlier)
    assert np.corrcoef(ours.loc[ok, "log2FoldChange"], stock.loc[ok, "log2FoldChange"])[0, 1] > 0.999
    a, b = set(ours.index[ours["padj"] < 0.05]), set(stock.index[stock["padj"] < 0.05])
    assert len(a & b) / len(a | b) > 0.85


def test_gene_blocks_give_the_same_answers(fitted, monkeypatch):
    """Large studies are fitted in gene blocks (bounded memory); blocks must not change results."""
    import bmsc_dge.deseq2._blocks as de_mod
    from bmsc_dge.study import apply_prefilter, load_study

    cfg, _, de = fitted
    study = load_study(cfg)
    adata, _ = apply_prefilter(study, cfg)
    assert adata.n_vars > 600  # at least three blocks below
    monkeypatch.setattr(de_mod, "CHUNK_ELEMENTS", 256 * adata.n_obs)
    monkeypatch.setattr(de_mod, "MIN_BLOCK_GENES", 256)
    c = cfg.contrasts[0]
    fit = fit_deseq2(adata, study.frame, cfg.design, {c.variable: c.reference}, DEConfig(n_cpus=2))
    blocked = contrast_table(fit, c, cfg.alpha, DEConfig(n_cpus=1)).set_index("gene_id").loc[de["gene_id"]]
    whole = de.set_index("gene_id")
    for col in ["baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj", "log2FoldChange_shrunk"]:
        # the shrinkage's Newton search starts from a least-squares fit of the whole block, whose
        # last bits depend on the block's width; it converges on the gradient, so they do not
        # reach the answer (stopping on an unresolvable objective change left 1.5e-6 on AVX-512)
        np.testing.assert_allclose(
            blocked[col].to_numpy(), whole[col].to_numpy(), rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=col
        )


def test_genes_whose_fits_fail_are_named_with_the_reason(fitted, caplog):
    from bmsc_dge.deseq2 import fit_problems

    cfg, fit, _ = fitted
    var = fit.dds.var
    saved = var["_LFC_converged"].copy()
    try:
        var.loc[var_names := var.index[:2], "_LFC_converged"] = False
        problems = fit_problems(fit)
        (reason, genes), *rest = problems.items()
        assert not rest and "GLM fit did not converge" in reason
        assert genes == [str(s) for s in var.loc[var_names, "symbol"]]
        with caplog.at_level("WARNING", logger="bmsc_dge"):
            contrast_table(fit, cfg.contrasts[0], cfg.alpha, DEConfig(n_cpus=1, lfc_shrink=False))
        assert "2 gene(s) whose GLM fit did not converge" in caplog.text and genes[0] in caplog.text
    finally:
        var["_LFC_converged"] = saved


def test_no_numpy_runtime_warning_reaches_the_user_on_shallow_donor_data():
    """shallow_donor (100-350 k reads) with donors 720/714/713 declared *numeric* (valid input, if an
    odd model): before centring this gave ~30,000 overflow RuntimeWarnings and 0 calls; now none
    escapes the engine."""
    import warnings

    from .parity_helpers import load_dataset

    adata, frame = load_dataset("shallow_donor")
    frame = frame.assign(donor=frame["donor"].map({"d1": 720.0, "d2": 714.0, "d3": 713.0}))
    cfg = DEConfig(n_cpus=1)
    contrast = Contrast(name="c", variable="status", target="osteo", reference="undiff")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_deseq2(adata, frame, "~ donor + status", {"status": "undiff"}, cfg)
        table = contrast_table(fit, contrast, 0.05, cfg)
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], [
        str(w.message) for w in caught
    ][:3]
    assert (table["padj"] < 0.05).sum() > 0


def test_a_failing_parametric_trend_is_said_and_names_the_mean_fit(monkeypatch, caplog):
    """Shallow 2 vs 2 data where R's parametric (and local) trends fail: no traceback; the run says
    so, names de.fit_type: mean, and fits with the mean trend (as R's fitType = "mean")."""
    import bmsc_dge.deseq2._dataset as dataset
    from bmsc_dge.deseq2._trend import TrendFitError

    from .parity_helpers import CASES, load_dataset

    def failing(*args, **kwargs):
        raise TrendFitError("parametric dispersion fit did not converge in 10 iterations")

    monkeypatch.setattr(dataset, "parametric_trend_r", failing)
    adata, frame = load_dataset("shallow_two")
    cfg = DEConfig(n_cpus=1)
    with caplog.at_level("WARNING", logger="bmsc_dge"):
        fit = fit_deseq2(adata, frame, "~ condition", {"condition": "control"}, cfg)
        table = contrast_table(fit, CASES["shallow_two"]["contrast"], 0.05, cfg)
    assert "de.fit_type: mean" in caplog.text and "local fit" in caplog.text
    assert fit.dds.uns["disp_function_type"] == "mean"
    explicit = fit_deseq2(
        adata, frame, "~ condition", {"condition": "control"}, DEConfig(n_cpus=1, fit_type="mean")
    )
    mean_table = contrast_table(explicit, CASES["shallow_two"]["contrast"], 0.05, cfg)
    pd.testing.assert_frame_equal(table, mean_table)
