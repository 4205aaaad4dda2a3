"""Gene-level meta-analysis equals metafor 3.8-1 (tests/data/meta/README.md): REML, DL and FE,
with tau^2 = 0 genes, two-study genes, genes whose REML Fisher scoring does not converge and genes
metafor resets to tau^2 = 0 (ll0check)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bmsc_dge.meta import rma

DATA = Path(__file__).resolve().parents[1] / "data" / "meta"
EFFECTS = pd.read_csv(DATA / "effects.csv")
Y = EFFECTS.pivot(index="gene", columns="study", values="yi")
V = EFFECTS.pivot(index="gene", columns="study", values="vi").reindex_like(Y)
KIND = EFFECTS.drop_duplicates("gene").set_index("gene")["kind"].reindex(Y.index)


@pytest.mark.parametrize(("method", "r_name"), [("reml", "REML"), ("dl", "DL"), ("fixed", "FE")])
def test_equals_metafor(method, r_name):
    r = pd.read_csv(DATA / f"reference_{r_name}.csv").set_index("gene").reindex(Y.index)
    res = rma(Y.to_numpy(), V.to_numpy(), method)
    ours = pd.DataFrame(
        {
            "estimate": res.estimate,
            "se": res.se,
            "pval": res.pvalue,
            "tau2": res.tau2,
            "zval": res.z,
            "I2": res.i2,
        },
        index=Y.index,
    )
    failed = r["error"].fillna("") != ""
    assert (ours.loc[failed].isna().all(axis=1)).all()  # metafor stops: no estimate
    assert not res.converged[failed.to_numpy()].any() and res.converged[~failed.to_numpy()].all()
    for col in ("estimate", "se", "pval", "zval"):
        np.testing.assert_allclose(
            ours.loc[~failed, col], r.loc[~failed, col], rtol=1e-6, atol=1e-300, err_msg=col
        )
    # tau^2 (and I^2) relative to 1e-6; exactly 0 where metafor truncates or resets
    np.testing.assert_allclose(ours.loc[~failed, "tau2"], r.loc[~failed, "tau2"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(ours.loc[~failed, "I2"], r.loc[~failed, "I2"], rtol=1e-6, atol=1e-9)
    assert ((ours["tau2"] == 0) == (r["tau2"] == 0)).loc[~failed].all()
    np.testing.assert_allclose(res.q_pvalue, r["QEp"].where(~failed, res.q_pvalue), rtol=1e-6, atol=1e-300)
    assert (res.k == r["k"]).all()


def test_the_reference_holds_every_case():
    r = pd.read_csv(DATA / "reference_REML.csv").set_index("gene").reindex(Y.index)
    assert (r.loc[KIND == "homogeneous", "tau2"] == 0).all()
    assert (r.loc[KIND == "heterogeneous", "tau2"] > 0).mean() > 0.8
    assert (r["k"] == 2).sum() == 400
    assert (r["error"].fillna("").str.contains("did not converge")).sum() >= 1
    assert (r["warning"].fillna("").str.contains("local maximum")).sum() >= 1


def test_ll0check_resets_are_flagged():
    r = pd.read_csv(DATA / "reference_REML.csv").set_index("gene").reindex(Y.index)
    res = rma(Y.to_numpy(), V.to_numpy(), "reml")
    warned = r["warning"].fillna("").str.contains("local maximum").to_numpy()
    assert (res.ll0check == warned).all()
    assert (res.tau2[warned] == 0).all()


def test_genes_with_fewer_than_two_studies_get_no_estimate():
    y = np.array([[0.5, np.nan, np.nan], [0.5, 0.7, np.nan]])
    v = np.array([[0.1, 0.1, 0.1], [0.1, np.nan, 0.2]])
    res = rma(y, v)
    assert np.isnan(res.estimate).all()
    assert list(res.k) == [1, 1]
