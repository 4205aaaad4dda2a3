"""bmsc-dge's DE and VST against committed R DESeq2 1.38.3 outputs (tests/data/deseq2/README.md).

Thresholds (issue: statistical fidelity): NaN pattern of pvalue and padj identical, log2FC Spearman
>= 0.999, padj < 0.05 call agreement >= 99.9%. Beyond those, we hold the pieces we made R-faithful
to tighter, measured tolerances: size factors and the independent-filtering threshold to 1e-6
relative, the dispersion trend coefficients to 1e-6 relative, final dispersions to 1e-4 relative at
the median, VST to 1e-8 absolute. Measured on this machine: LFC Spearman >= 0.99996, call
agreement 100% on all seven datasets, median relative dispersion difference <= 1e-9.

Our last bits depend on the CPU (OpenBLAS picks its kernels per CPU), R's do
not (its references regenerate byte-identically on another CPU). These tolerances were set on an
earlier machine (its CPU features were not recorded); on an AVX2 one without AVX-512
(2026-12-02, OpenBLAS "Haswell" kernels) two things moved, each named where it is tested: one
knife-edge gene in shallow_two (see
``test_shallow_two_knife_edge_gene_is_decided_by_rounding_noise``), and genes whose IRLS stops at
R's deviance tolerance on a flat likelihood ending at another iterate (covariate tests).
"""

import numpy as np
import pandas as pd
import pytest

from bmsc_dge.config import DEConfig
from bmsc_dge.deseq2 import contrast_table, fit_deseq2, vst

from .parity_helpers import (
    ALT_HYPOTHESES,
    CASES,
    DATA,
    FEWDF_CASES,
    THRESHOLD,
    compare,
    load_dataset,
    r_prior_variance,
    run_case,
)

# shallow_two's one knife-edge gene (gene02100) takes the other branch of R's gene-wise rule than R
# did, so the 2 vs 2 trend moves by 0.41% (measured on the AVX2 machine; < 1e-6 on the earlier one)
# and with it every dispersion (median 7.6e-5 relative) and standard error (largest 0.19%)
TREND_RTOL = {"shallow_two": 1e-2}
SE_RTOL = {"shallow_two": 5e-3}


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    table, fit = run_case(request.param)
    return request.param, table, fit


def test_parity_thresholds(case):
    name, table, fit = case
    c = compare(name, table, fit)
    assert c.pvalue_nan_mismatch == 0, c
    assert c.padj_nan_mismatch == 0, c
    assert c.lfc_spearman >= 0.999, c
    assert c.call_agreement >= 0.999, c
    assert c.size_factor_max_rel_diff < 1e-6, c
    if np.isfinite(c.threshold_r):
        assert c.threshold_ours == pytest.approx(c.threshold_r, rel=1e-6), c


def test_dispersions_match_r(case):
    name, _, fit = case
    r = pd.read_csv(DATA / f"{name}.r_results.csv").set_index("gene")
    v = fit.dds.var.reindex(r.index)
    ok = r["baseMean"] > 0
    trend_r = np.linalg.lstsq(
        np.column_stack([np.ones(ok.sum()), 1 / r.loc[ok, "baseMean"]]), r.loc[ok, "dispFit"], rcond=None
    )[0]
    if name != "outliers":  # R reports post-refit gene-wise estimates there; the trend is compared below
        np.testing.assert_allclose(
            fit.dds.uns["trend_coeffs"].to_numpy(), trend_r, rtol=TREND_RTOL.get(name, 1e-6)
        )
    else:
        np.testing.assert_allclose(fit.dds.uns["trend_coeffs"].to_numpy(), trend_r, rtol=1e-4)
    rel = (v.loc[ok, "dispersions"] / r.loc[ok, "dispersion"] - 1).abs()
    assert rel.median() < 1e-4
    assert (rel > 0.01).mean() < 0.005
    # R's dispOutlier of Cook's-replaced genes comes from the refit; compare the others
    keep = ok & ~r["replaced"].eq(True)
    flags = v.loc[keep, "_outlier_genes"].astype(bool).to_numpy()
    assert (flags != r.loc[keep, "dispOutlier"].eq(True).to_numpy()).sum() == 0


def test_cooks_replacement_active_in_outlier_study():
    _, fit = run_case("outliers")
    r = pd.read_csv(DATA / "outliers.r_results.csv").set_index("gene")
    replaced_r = set(r.index[r["replaced"].eq(True)])  # NA for all-zero genes
    replaced_o = set(fit.dds.var_names[fit.dds.var["replaced"].to_numpy(dtype=bool)])
    assert len(replaced_r) >= 10
    assert replaced_o == replaced_r


def test_independent_filtering_active_in_lowcount_study():
    table, _ = run_case("lowcount")
    assert table.attrs["filter_threshold"] > 1.0
    assert table["padj"].isna().sum() > 0.3 * len(table)


@pytest.mark.parametrize("name", ["two_group", "batch"])
def test_vst_blind_matches_r(name):
    adata, _ = load_dataset(name)
    ours = vst(adata).T
    r = pd.read_csv(DATA / f"{name}.r_vst.csv", index_col=0)
    np.testing.assert_allclose(ours.loc[r.index, r.columns].to_numpy(), r.to_numpy(), atol=1e-8)


# ---- shallow, zero-heavy, few residual df (make_datasets_fewdf.py / make_reference_fewdf.R) ----


@pytest.mark.parametrize("name", list(FEWDF_CASES))
def test_prior_variance_equals_r(name):
    """R simulates the prior variance for 1-3 residual df; we reproduce its draws and loess."""
    _, fit = run_case(name)
    assert fit.dds.uns["prior_disp_var"] == pytest.approx(r_prior_variance(name), rel=1e-12)


@pytest.mark.parametrize("name", list(FEWDF_CASES))
def test_no_zero_pvalue_unless_r_has_one(name):
    table, _ = run_case(name)
    r = pd.read_csv(DATA / f"{name}.r_results.csv").set_index("gene")
    o = table.set_index("gene_id").reindex(r.index)
    assert ((o["pvalue"] == 0) & (r["pvalue"] != 0)).sum() == 0
    assert ((o["padj"] == 0) & (r["padj"] != 0)).sum() == 0
    # Standard errors: R forms them from means clamped at minmu (the cause of the old p = 0 calls in
    # shallow data) and refits IRLS non-convergers with optim. Measured: largest relative SE
    # difference 5e-7 over these five datasets (except shallow_two on an AVX2 machine: SE_RTOL).
    both = o["lfcSE"].notna() & r["lfcSE"].notna()
    np.testing.assert_allclose(o.loc[both, "lfcSE"], r.loc[both, "lfcSE"], rtol=SE_RTOL.get(name, 1e-5))


def test_fewdf_regime_is_exercised():
    """The references cover 1, 2 and 3 residual df, the simulated variance above its floor, and
    shallow libraries in which most genes have a zero."""
    dfs = {
        n: int(pd.read_csv(DATA / f"{n}.r_meta.csv").set_index("key")["value"]["residualDf"])
        for n in FEWDF_CASES
    }
    assert {1, 2, 3} <= set(dfs.values())
    assert r_prior_variance("one_df") > 0.25 and r_prior_variance("sex_3v3") > 0.25
    counts = pd.read_csv(DATA / "shallow_donor.counts.csv", index_col=0)
    assert counts.sum().max() < 400_000
    assert (counts == 0).any(axis=1).mean() > 0.5


@pytest.mark.parametrize("alt", ALT_HYPOTHESES)
def test_fold_change_threshold_matches_r(alt):
    adata, frame = load_dataset("sex_3v3")
    cfg = DEConfig(n_cpus=1, lfc_shrink=False)
    case = CASES["sex_3v3"]
    fit = fit_deseq2(adata, frame, case["design"], case["refs"], cfg)
    contrast = case["contrast"].model_copy(update={"lfc_threshold": THRESHOLD, "alt_hypothesis": alt})
    table = contrast_table(fit, contrast, 0.05, cfg).set_index("gene_id")
    r = pd.read_csv(DATA / f"sex_3v3.r_threshold_{alt}.csv").set_index("gene")
    o = table.reindex(r.index)
    for col in ("pvalue", "padj"):
        assert (o[col].isna() != r[col].isna()).sum() == 0, col
    ok = r["pvalue"].notna()
    np.testing.assert_allclose(o.loc[ok, "pvalue"], r.loc[ok, "pvalue"], rtol=1e-4, atol=1e-300)
    np.testing.assert_allclose(o.loc[ok, "stat"], r.loc[ok, "stat"], rtol=1e-5, atol=1e-12)
    calls_o = (o["padj"] < 0.05).fillna(False)
    calls_r = (r["padj"] < 0.05).fillna(False)
    assert (calls_o == calls_r).mean() >= 0.999
    thr_r = r["filterThreshold"].iloc[0]
    if np.isfinite(thr_r):
        assert table.attrs["filter_threshold"] == pytest.approx(thr_r, rel=1e-6)


# --- numeric covariates are centred and scaled inside the fit (issue 21, part 1) -----------------


def _continuous_table(frame: pd.DataFrame, contrast) -> pd.DataFrame:
    adata, _ = load_dataset("continuous")
    cfg = DEConfig(n_cpus=1, lfc_shrink=False)
    fit = fit_deseq2(adata, frame, "~ age + condition", {"condition": "control"}, cfg)
    return contrast_table(fit, contrast, 0.05, cfg).set_index("gene_id")


# IRLS stops once the deviance changes by < 1e-8 relative (R's rule); a gene whose path shifts by
# a bit (another CPU's BLAS kernels) stops at another iterate. Largest difference measured over the
# 2000 genes: < 1e-8 on the earlier machine, 1.1e-7 (one gene, lfcSE) on the AVX2 one.
IRLS_RTOL = 1e-6


def test_covariate_with_large_mean_equals_r_on_the_scaled_covariate():
    """Raw ages (mean 70.6) in; R was run on scale(age): the tables agree to numerical precision."""
    _, frame = load_dataset("continuous")
    assert frame["age"].mean() >= 50
    ours = _continuous_table(frame, CASES["continuous"]["contrast"])
    r = pd.read_csv(DATA / "continuous.r_results.csv").set_index("gene")
    o = ours.reindex(r.index)
    for col in ("log2FoldChange", "lfcSE", "stat", "pvalue", "padj"):
        np.testing.assert_allclose(o[col], r[col], rtol=IRLS_RTOL, equal_nan=True, err_msg=col)


def test_covariate_slope_is_reported_per_original_unit():
    from bmsc_dge.config import Contrast

    _, frame = load_dataset("continuous")
    ours = _continuous_table(frame, Contrast(name="age", coefficient="age"))
    r = pd.read_csv(DATA / "continuous.r_age.csv").set_index("gene")  # R's per-SD slope / SD(age)
    o = ours.reindex(r.index)
    for col in ("log2FoldChange", "lfcSE", "stat", "pvalue"):
        np.testing.assert_allclose(o[col], r[col], rtol=IRLS_RTOL, equal_nan=True, err_msg=col)


def test_raw_and_centred_covariate_give_the_same_table():
    _, frame = load_dataset("continuous")
    centred = frame.assign(age=frame["age"] - frame["age"].mean())
    contrast = CASES["continuous"]["contrast"]
    a = _continuous_table(frame, contrast)
    b = _continuous_table(centred, contrast).reindex(a.index)
    # the standardised ages differ in their last bits ((x - mean) / sd from other inputs) and IRLS
    # stops at R's deviance tolerance (1e-8), so the fits agree to ~1e-8 relative (measured 7.5e-9
    # on the earlier machine, 1.1e-7 for one gene's lfcSE on the AVX2 one)
    for col in ("baseMean", "log2FoldChange", "lfcSE", "pvalue", "padj"):
        np.testing.assert_allclose(a[col], b[col], rtol=1e-6, equal_nan=True, err_msg=col)


def test_donors_numbered_as_labs_number_them_equal_r_once_declared_factors():
    """shallow_donor with donors 720/714/713 (R used d1-d3 as factor levels): undeclared, the
    sheet is refused; with `variables: {donor: factor}` the status table equals R's."""
    from bmsc_dge.errors import DesignError
    from bmsc_dge.study import prepare_design_frame

    case = CASES["shallow_donor"]
    adata, frame = load_dataset("shallow_donor")
    numbered = frame.assign(donor=frame["donor"].map({"d1": "720", "d2": "714", "d3": "713"}))
    variables = ["donor", "status"]
    with pytest.raises(DesignError, match="whole numbers"):
        prepare_design_frame(numbered, variables, [case["contrast"]], case["design"], "samples.tsv")
    typed = prepare_design_frame(
        numbered, variables, [case["contrast"]], case["design"], "samples.tsv", variables={"donor": "factor"}
    )
    cfg = DEConfig(n_cpus=1, lfc_shrink=False)
    # donor 720 (R's d1) as reference, so both fits share one parametrisation (with 713 first the
    # status p-values move by ~1e-5 relative: the same model, IRLS stopping at another point)
    fit = fit_deseq2(adata, typed[variables], case["design"], {"status": "undiff", "donor": "720"}, cfg)
    table = contrast_table(fit, case["contrast"], 0.05, cfg)
    c = compare("shallow_donor", table, fit)
    assert c.call_agreement == 1.0 and c.calls_r > 0, c
    r = pd.read_csv(DATA / "shallow_donor.r_results.csv").set_index("gene")
    o = table.set_index("gene_id").reindex(r.index)
    ok = r["pvalue"].notna()
    np.testing.assert_allclose(o.loc[ok, "pvalue"], r.loc[ok, "pvalue"], rtol=1e-6)


def test_shallow_two_knife_edge_gene_is_decided_by_rounding_noise():
    """Why gene02100's gene-wise dispersion differs from R's (1.5e-6 against 0.0956).

    R's rule: the Armijo line search starts at the moments estimate (here 1.5e-6); a gene whose
    search ends after one iteration counts as not converged and goes to the grid search. At
    1/alpha = 6.5e5 the log posterior is a difference of lgamma values near 8e6, computed to
    ~1e-9, while the first step changes it by ~4e-10: whether that step is accepted (one
    iteration, then the grid: R's answer) or rejected (two iterations, converged: ours on an AVX2
    machine) is decided by rounding noise. Both are R's rule; the grid gives R's number exactly.
    """
    from scipy.special import gammaln

    from bmsc_dge.deseq2._dispersion import dlog_posterior, grid_search, log_posterior

    _, fit = run_case("shallow_two")
    dds = fit.dds
    j = list(dds.var_names).index("gene02100")
    y = np.asarray(dds.X[:, [j]], dtype=float)
    mu = dds.layers["_mu_hat"][:, [j]]
    x = np.asarray(dds.obsm["design_matrix"], dtype=float)
    a0 = np.log(dds.var["_MoM_dispersions"].to_numpy()[[j]])
    assert np.exp(a0[0]) == pytest.approx(1.5478e-6, rel=1e-3)
    step = dlog_posterior(a0, y, mu, x, None, 1.0)  # kappa_0 = 1
    expected_change = float(step[0] ** 2)  # first-order change of the log posterior
    noise = float(np.spacing(gammaln(y.max() + np.exp(-a0[0]))))  # one ulp of the terms that cancel
    assert expected_change < noise  # below one rounding step of the terms that cancel ...
    actual = float(
        (log_posterior(a0 + step, y, mu, x, None, 1.0) - log_posterior(a0, y, mu, x, None, 1.0))[0]
    )
    assert abs(actual) < 10 * noise  # ... and the computed change is of the size of that rounding
    r = pd.read_csv(DATA / "shallow_two.r_results.csv").set_index("gene")
    grid = float(np.exp(grid_search(y, x, mu, None, 1.0))[0])
    assert grid == pytest.approx(r.loc["gene02100", "dispGeneEst"], rel=1e-8)  # R went to the grid
    ours = float(fit.dds.var["genewise_dispersions"].iloc[j])  # one branch or the other, nothing else
    assert ours == pytest.approx(np.exp(a0[0]), rel=1e-12) or ours == pytest.approx(grid, rel=1e-12)
