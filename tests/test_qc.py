import itertools

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from bmsc_dge.pp import flag_outliers, heatmap_matrix, pca_scores, run_qc, sample_correlation, sample_qc


def _vst(n_samples=10, n_genes=300, seed=0, outlier=None):
    rng = np.random.default_rng(seed)
    base = rng.normal(8, 2, n_genes)
    x = base[None, :] + rng.normal(0, 0.3, (n_samples, n_genes))
    x[n_samples // 2 :, :30] += 1.5  # group effect on 30 genes
    if outlier is not None:
        x[outlier] += rng.normal(0, 3.0, n_genes)
    idx = [f"S{i}" for i in range(n_samples)]
    obs = pd.DataFrame(
        {"condition": ["control"] * (n_samples // 2) + ["T2DM"] * (n_samples - n_samples // 2)}, index=idx
    )
    return pd.DataFrame(x, index=idx, columns=[f"g{i}" for i in range(n_genes)]), obs


def test_pca_separates_groups_and_is_deterministic():
    v, obs = _vst()
    a, ratio = pca_scores(v, obs)
    b, _ = pca_scores(v, obs)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns[:3]) == ["sample", "PC1", "PC2"] and "condition" in a
    means = a.groupby("condition")["PC1"].mean()
    assert abs(means["T2DM"] - means["control"]) > 3 * a["PC1"].std() / 2
    assert ratio["PC1"] > ratio["PC2"]


def test_outlier_sample_is_flagged_but_others_are_not():
    v, obs = _vst(n_samples=12, outlier=3)
    scores, _ = pca_scores(v, obs)
    flags = flag_outliers(scores).set_index("sample")
    assert bool(flags.loc["S3", "outlier"])
    assert flags["outlier"].sum() == 1


def test_correlation_is_symmetric_and_clustered():
    v, _ = _vst()
    c = sample_correlation(v)
    np.testing.assert_allclose(c.to_numpy(), c.to_numpy().T)
    assert list(c.index) == list(c.columns)
    np.testing.assert_allclose(np.diag(c.to_numpy()), 1.0)
    # clustering puts the two groups in contiguous blocks
    groups = ["T2DM" if int(s[1:]) >= 5 else "control" for s in c.index]
    changes = sum(1 for a, b in itertools.pairwise(groups) if a != b)
    assert changes == 1


def test_heatmap_rows_are_z_scores():
    v, _ = _vst()
    z = heatmap_matrix(v, ["g0", "g1"], labels=["A", "B"])
    assert list(z.index) == ["A", "B"]
    np.testing.assert_allclose(z.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=1), 1, atol=1e-12)


def test_run_qc_on_counts(caplog):
    rng = np.random.default_rng(3)
    counts = rng.negative_binomial(5, 5 / (5 + rng.uniform(50, 500, 400)), size=(8, 400))
    counts[5] = counts[5] * 8 + rng.integers(0, 500, 400)  # a wild library
    adata = ad.AnnData(
        X=counts, obs=pd.DataFrame({"condition": ["a"] * 4 + ["b"] * 4}, index=[f"S{i}" for i in range(8)])
    )
    adata.layers["counts"] = counts.copy()
    res = run_qc(adata, None, ["condition"])
    assert res.vst.shape == (8, 400)
    assert {"library_size", "detected_genes", "robust_distance", "outlier"} <= set(res.samples.columns)
    assert res.samples["library_size"].iloc[5] > res.samples["library_size"].drop(5).max()
    assert len(sample_qc(adata)) == 8


@pytest.mark.parametrize("n", [3, 4])
def test_pca_with_few_samples(n):
    v, obs = _vst(n_samples=n)
    scores, ratio = pca_scores(v, obs)
    # n samples span at most n - 1 principal components; their variance shares sum to at most 1
    assert len(scores) == n and 1 <= len(ratio) <= n - 1
    assert np.all(np.diff(ratio) <= 1e-12) and 0 < float(np.sum(ratio)) <= 1 + 1e-9
