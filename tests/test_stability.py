"""Leave-one-sample-out stability on a small seeded study with an outlier-driven trap gene."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from bmsc_dge.config import Contrast, DEConfig, GeneSetConfig
from bmsc_dge.deseq2 import contrast_table, fit_deseq2
from bmsc_dge.simulate import nb_counts
from bmsc_dge.targets import GENE_COLUMNS, SET_COLUMNS, leave_one_out

CONTRAST = Contrast(name="c", variable="condition", target="T2DM", reference="control")


@pytest.fixture(scope="module")
def study():
    rng = np.random.default_rng(42)
    n_genes, n = 400, 8
    cond = np.array(["control"] * 4 + ["T2DM"] * 4)
    base = np.exp(rng.normal(5.5, 1.0, n_genes))
    lfc = np.zeros(n_genes)
    lfc[:20] = rng.choice([-1, 1], 20) * rng.uniform(1.5, 2.5, 20)  # real, consistent effects
    mu = base[None, :] * rng.uniform(0.8, 1.2, n)[:, None] * 2 ** ((cond == "T2DM")[:, None] * lfc[None, :])
    counts = nb_counts(mu, np.full(n_genes, 0.05)[None, :], rng)
    # trap: one T2DM donor (S8) carries a 100-fold spike in gene 399, the others are null (Cook's
    # filter is off here so the test sees the stability check alone; it would also catch a spike this large)
    counts[7, 399] = int(counts[:, 399].mean() * 100)
    samples = [f"S{i + 1}" for i in range(n)]
    genes = [f"G{i:03d}" for i in range(n_genes)]
    adata = ad.AnnData(
        X=counts, obs=pd.DataFrame(index=samples), var=pd.DataFrame({"symbol": genes}, index=genes)
    )
    adata.layers["counts"] = counts.copy()
    frame = pd.DataFrame({"condition": cond}, index=samples)
    cfg = DEConfig(n_cpus=1, lfc_shrink=False, cooks_filter=False)
    fit = fit_deseq2(adata, frame, "~ condition", {"condition": "control"}, cfg)
    de = contrast_table(fit, CONTRAST, 0.05, cfg)
    return fit, de, cfg


def test_outlier_driven_gene_is_flagged_and_real_effects_are_stable(study):
    fit, de, cfg = study
    assert de.set_index("gene_id").loc["G399", "padj"] < 0.05  # the trap is "significant" in the full data
    res = leave_one_out(fit, "~ condition", CONTRAST, de, alpha=0.05, cfg=cfg)
    g = res.genes.set_index("gene_id")
    assert list(res.genes.columns) == GENE_COLUMNS
    assert res.left_out == [f"S{i + 1}" for i in range(8)] and res.skipped == []
    assert g.loc["G399", "stability_flag"] == "rests on one sample (S8)"
    assert g.loc["G399", "stability_driver"] == "S8"
    assert g.loc["G399", "stability_significant"] < 1.0
    real = [f"G{i:03d}" for i in range(20)]
    called = [x for x in real if de.set_index("gene_id").loc[x, "padj"] < 0.05]
    assert len(called) >= 15
    assert (g.loc[called, "stability_flag"] != "").all()
    assert (g.loc[called, "stability_flag"] == "stable").mean() >= 0.8
    assert (g.loc[called, "stability_rank_max"] <= 60).mean() >= 0.8
    null = g.loc[[f"G{i:03d}" for i in range(20, 399)]]
    assert (null["stability_flag"] == "").mean() > 0.9  # non-significant genes carry no flag


def test_samples_alone_in_a_level_are_skipped(study):
    fit, de, cfg = study
    fit.meta = fit.meta.assign(batch=["b1"] * 7 + ["b2"])  # S8 alone in batch b2
    try:
        res = leave_one_out(fit, "~ condition", CONTRAST, de, alpha=0.05, cfg=cfg)
    finally:
        fit.meta = fit.meta.drop(columns="batch")
    assert res.skipped == ["S8"] and "S8" not in res.left_out


def test_set_stability_copes_when_no_curated_set_is_testable(study):
    """Sets below min_size in every refit (a small panel) give empty set stability, not a crash."""
    fit, de, cfg = study
    curated = {"TINY_A": ["G000", "G001"], "TINY_B": ["G002", "G003", "G004"]}

    def refit_sets():
        return leave_one_out(
            fit,
            "~ condition",
            CONTRAST,
            de,
            alpha=0.05,
            cfg=cfg,
            curated=curated,
            gene_sets=GeneSetConfig(permutations=200, min_size=5),
        )

    res = refit_sets()
    assert res.sets.empty and list(res.sets.columns) == SET_COLUMNS
    # one testable set: its NES range is numeric
    curated["REAL"] = [f"G{i:03d}" for i in range(10)]
    res = refit_sets()
    row = res.sets.set_index("term").loc["REAL"]
    assert row["stability_nes_min"] <= row["stability_nes_max"] and 0 <= row["stability_enriched"] <= 1


def test_forked_refits_give_the_same_answer_as_in_process(study):
    fit, de, cfg = study
    curated = {"REAL": [f"G{i:03d}" for i in range(10)], "NULL": [f"G{i:03d}" for i in range(100, 130)]}
    kw = dict(alpha=0.05, cfg=cfg, curated=curated, gene_sets=GeneSetConfig(permutations=200, min_size=5))
    one = leave_one_out(fit, "~ condition", CONTRAST, de, **kw, processes=1)
    three = leave_one_out(fit, "~ condition", CONTRAST, de, **kw, processes=3)
    pd.testing.assert_frame_equal(one.genes, three.genes)
    pd.testing.assert_frame_equal(one.sets, three.sets)
    assert one.left_out == three.left_out


def test_a_refit_that_fails_in_a_process_is_skipped_and_named(study, monkeypatch, caplog):
    """A refit raising a bmsc-dge error (e.g. a design gone singular) is skipped with its sample named."""
    import os

    from bmsc_dge.errors import FitError
    from bmsc_dge.targets import _stability

    fit, de, cfg = study
    real_fit = _stability.de_mod.fit_deseq2
    parent = os.getpid()

    def fails_without_s3(adata, *args, **kwargs):
        if "S3" not in adata.obs_names:
            assert os.getpid() != parent  # the refit ran in a forked process
            raise FitError("singular without S3")
        return real_fit(adata, *args, **kwargs)

    monkeypatch.setattr(_stability.de_mod, "fit_deseq2", fails_without_s3)
    with caplog.at_level("WARNING", logger="bmsc_dge"):
        res = leave_one_out(fit, "~ condition", CONTRAST, de, alpha=0.05, cfg=cfg, processes=2)
    assert res.skipped == ["S3"] and "S3" not in res.left_out and len(res.left_out) == 7
    assert "refit without sample S3 failed (singular without S3)" in caplog.text


def _children() -> list[int]:
    """Live (non-zombie) child processes of this process."""
    import os

    from .procs import PPID, processes_where

    return processes_where(PPID, os.getpid())


def test_refits_started_early_match_and_a_failed_contrast_leaves_no_refit_running(study, monkeypatch):
    """The refits start before the contrast's Wald test (start_leave_one_out) and give what
    leave_one_out gives; when the contrast fails meanwhile, the refit processes are stopped."""
    from bmsc_dge.targets import start_leave_one_out

    fit, de, cfg = study
    before = set(_children())  # e.g. a Prefect server another test's fixture started
    pending = start_leave_one_out(fit, "~ condition", CONTRAST, alpha=0.05, cfg=cfg, processes=2)
    assert len(set(_children()) - before) == 2  # working while this process goes on
    early = pending.result(de)
    pd.testing.assert_frame_equal(
        early.genes, leave_one_out(fit, "~ condition", CONTRAST, de, alpha=0.05, cfg=cfg).genes
    )
    assert set(_children()) - before == set()

    from bmsc_dge.config import StudyConfig
    from bmsc_dge.tl import _contrast

    study_cfg = StudyConfig.model_validate(
        {
            "counts": "c.tsv",
            "samples": "s.tsv",
            "design": "~ condition",
            "contrasts": [CONTRAST.model_dump()],
            "alpha": 0.05,
            "de": cfg.model_dump(),
            "execution": {"stability_processes": 2},
        }
    )

    def broken_wald(*args, **kwargs):
        assert len(set(_children()) - before) == 2  # the refits are running when the Wald test starts
        raise RuntimeError("Wald test failed")

    monkeypatch.setattr(_contrast.de_mod, "contrast_table", broken_wald)
    with pytest.raises(RuntimeError, match="Wald test failed"):
        _contrast.analyse_contrast(fit, CONTRAST, study_cfg, {}, [])
    assert set(_children()) - before == set()


def test_refit_data_before_the_fit_equals_what_the_fit_used():
    """RefitData.before_fit predicts the fit's inputs (counts as the fit holds them, reference levels
    set, a numeric covariate standardised), so refits started before the fit compute the same; any
    difference in counts, frame or references makes ``same_as`` false."""
    from bmsc_dge.targets import RefitData

    rng = np.random.default_rng(5)
    n, n_genes = 8, 120
    counts = nb_counts(np.exp(rng.normal(5, 1, (n, n_genes))), np.full((1, n_genes), 0.1), rng)
    samples = [f"S{i}" for i in range(n)]
    genes = [f"G{i}" for i in range(n_genes)]
    adata = ad.AnnData(
        X=counts, obs=pd.DataFrame(index=samples), var=pd.DataFrame({"symbol": genes}, index=genes)
    )
    adata.layers["counts"] = counts.copy()
    frame = pd.DataFrame(
        {"condition": ["T2DM", "control"] * 4, "age": rng.uniform(40, 80, n)}, index=samples[::-1]
    )  # rows in another order than the counts
    design, refs = "~ age + condition", {"condition": "control"}
    cfg = DEConfig(n_cpus=1, lfc_shrink=False)
    predicted = RefitData.before_fit(adata, frame, design, refs)
    actual = RefitData.of_fit(fit_deseq2(adata, frame, design, refs, cfg))
    assert predicted.same_as(actual) and actual.same_as(predicted)
    assert predicted.meta["age"].abs().max() < 3  # standardised, as the fit standardises it

    other = adata.copy()
    other.layers["counts"][0, 0] += 1
    assert not RefitData.before_fit(other, frame, design, refs).same_as(actual)
    assert not RefitData.before_fit(adata, frame, design, {"condition": "T2DM"}).same_as(actual)
    older = frame.assign(age=frame["age"] + 1e-9 * frame["age"].rank())
    assert not RefitData.before_fit(adata, older, design, refs).same_as(actual)


def test_a_refits_set_table_equals_the_full_gsea_where_multilevel_p_values_would_run(study):
    """Refits skip the multilevel p-values (start_leave_one_out): the NES and FDR they keep must equal
    a GSEA with them on,
    here with a set strong enough that no permutation reaches it (so the multilevel step runs)."""
    from bmsc_dge.enrichment import ranking_from_de, run_prerank
    from bmsc_dge.targets import RefitData
    from bmsc_dge.targets._refit import refit_without

    fit, _, cfg = study
    data = RefitData.of_fit(fit)
    sub = ad.AnnData(  # the refit below, done in full: sample 0 left out
        X=data.counts[1:], obs=pd.DataFrame(index=data.samples[1:]), var=fit.dds.var[["symbol"]]
    )
    sub.layers["counts"] = data.counts[1:].copy()
    frame = fit.meta.iloc[1:].astype({"condition": str})
    de = contrast_table(fit_deseq2(sub, frame, "~ condition", fit.references, cfg), CONTRAST, 0.05, cfg)
    by_stat = list(de.sort_values("stat")["gene_id"])
    curated = {"TOP_UP": by_stat[-10:], "TOP_DOWN": by_stat[:10], "MIDDLE": by_stat[150:190]}
    settings = GeneSetConfig(permutations=200, min_size=5)
    as_started = settings.model_copy(update={"multilevel": False})  # as start_leave_one_out sets it
    outcome = refit_without(data, "~ condition", CONTRAST, 0.05, cfg, curated, as_started, seed=3)(0)
    assert not isinstance(outcome, str)
    table, sets_table = outcome
    pd.testing.assert_series_equal(de.set_index("gene_id")["padj"], table["padj"])
    full = run_prerank(
        ranking_from_de(de), curated, collection="curated", settings=settings, seed=3, curves=False
    ).table.set_index("term")
    assert (full["pval_method"] == "multilevel").any()  # the step the refits skip did run here
    assert sets_table is not None
    pd.testing.assert_frame_equal(sets_table, full.loc[sets_table.index, ["nes", "fdr"]])
