"""The vectorised GLM pieces against PyDESeq2's per-gene reference code."""

import numpy as np
import pytest
from pydeseq2 import utils

from bmsc_dge.deseq2._glm import (
    _gradient_hessian,
    _log_posterior_terms,
    linear_model_mu,
    shrink_lfc_map,
    wald_test,
)


@pytest.fixture(scope="module")
def nb_data():
    rng = np.random.default_rng(11)
    n_genes, n = 400, 10
    x = np.column_stack([np.ones(n), np.repeat([0.0, 1.0], n // 2), np.tile([0.0, 1.0], n // 2)])
    sf = rng.uniform(0.6, 1.6, n)
    base = np.exp(rng.uniform(0, 9, n_genes))
    lfc = np.where(rng.random(n_genes) < 0.2, rng.normal(0, 1.5, n_genes), 0.0)
    disp = 0.02 + 1.0 / base + rng.gamma(2, 0.03, n_genes)
    mu = (
        sf[:, None]
        * base[None, :]
        * np.exp(np.outer(x[:, 1], lfc) + np.outer(x[:, 2], rng.normal(0, 0.3, n_genes)))
    )
    y = rng.negative_binomial(1 / disp[None, :], 1 / (1 + mu * disp[None, :])).astype(float)
    keep = y.sum(axis=0) > 0
    return x, sf, y[:, keep], disp[keep]


def test_linear_model_mu_equals_pydeseq2_per_gene(nb_data):
    x, sf, y, _ = nb_data
    ours = linear_model_mu(y, sf, x, 0.5)
    ref = np.column_stack([utils.fit_lin_mu(y[:, i], sf, x, 0.5) for i in range(y.shape[1])])
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)


def test_wald_test_equals_pydeseq2_per_gene(nb_data):
    x, sf, y, disp = nb_data
    rng = np.random.default_rng(2)
    beta = np.column_stack([np.log(y.mean(axis=0) + 1), rng.normal(0, 1, (y.shape[1], 2))])
    mu = sf[:, None] * np.exp(x @ beta.T)
    ridge = np.diag([1e-6, 2e-6, 3e-6])
    c = np.array([0.0, 1.0, -0.5])
    p, stat, se = wald_test(x, disp, beta, mu, ridge, c, lfc_null=0.1)
    ref = np.array(
        [utils.wald_test(x, disp[i], beta[i], mu[:, i], ridge, c, 0.1, None) for i in range(y.shape[1])]
    )
    np.testing.assert_allclose(p, ref[:, 0], rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(stat, ref[:, 1], rtol=1e-9)
    np.testing.assert_allclose(se, ref[:, 2], rtol=1e-9)


def test_shrinkage_reaches_at_least_pydeseq2s_optimum(nb_data):
    x, sf, y, disp = nb_data
    off = np.log(sf)
    beta, _, conv = shrink_lfc_map(x, y, 1 / disp, off, 15.0, 0.5, 1)
    assert conv.all()
    ref = np.array(
        [
            utils.nbinomGLM(x, y[:, i], 1 / disp[i], off, 15.0, 0.5, "L-BFGS-B", 1)[0]
            for i in range(y.shape[1])
        ]
    )
    size = np.broadcast_to(1 / disp, y.shape)
    ours_obj = _log_posterior_terms(beta, x, y, size, off, 15.0, 0.5, 1)
    ref_obj = _log_posterior_terms(ref, x, y, size, off, 15.0, 0.5, 1)
    # never worse than L-BFGS-B (which stops at a relative tolerance of 1e-8) ...
    assert np.all(ours_obj <= ref_obj + 1e-7 * np.abs(ref_obj))
    # ... and the same optimum: shrunk LFCs agree to 1e-4 (median) and 0.02 (worst; L-BFGS-B's stop)
    d = np.abs(beta[:, 1] - ref[:, 1]) / np.log(2)
    assert np.median(d) < 1e-4 and d.max() < 0.02


def test_shrinkage_converges_on_the_gradient_not_on_rounding(nb_data):
    """Near the optimum a Newton step of ~1e-6 changes the objective by less than its rounding; the
    search must still take it (the gradient resolves it), so the answer does not depend on where
    it started: the remaining Newton step is below the tolerance, and fitting genes one by one
    (other last bits in the least-squares start) gives the same coefficients."""
    x, sf, y, disp = nb_data
    off = np.log(sf)
    size = 1 / disp
    beta, _, conv = shrink_lfc_map(x, y, size, off, 15.0, 0.5, 1)
    assert conv.all()
    grad, hess = _gradient_hessian(beta, x, y, np.broadcast_to(size, y.shape), off, 15.0, 0.5, 1)
    remaining = np.abs(np.linalg.solve(hess, grad[..., None])[..., 0]).max(axis=1)
    assert remaining.max() < 1e-8, remaining.max()
    idx = np.arange(0, y.shape[1], 7)
    single = np.vstack([shrink_lfc_map(x, y[:, [i]], size[[i]], off, 15.0, 0.5, 1)[0] for i in idx])
    np.testing.assert_allclose(single, beta[idx], rtol=0, atol=1e-10)


def test_shrinkage_standard_error_is_the_inverse_hessian(nb_data):
    x, sf, y, disp = nb_data
    off = np.log(sf)
    idx = np.arange(0, y.shape[1], 20)
    beta, inv, _ = shrink_lfc_map(x, y[:, idx], 1 / disp[idx], off, 15.0, 0.5, 1)
    size = np.broadcast_to(1 / disp[idx], (y.shape[0], idx.size))
    h = 1e-4
    num = np.zeros((idx.size, 3, 3))
    for a in range(3):
        for b in range(3):
            ea, eb = np.eye(3)[a] * h, np.eye(3)[b] * h

            def f(d, ea=ea, eb=eb):
                return _log_posterior_terms(beta + d, x, y[:, idx], size, off, 15.0, 0.5, 1)

            num[:, a, b] = (f(ea + eb) - f(ea - eb) - f(eb - ea) + f(-ea - eb)) / (4 * h * h)
    np.testing.assert_allclose(inv[:, 1, 1], np.linalg.inv(num)[:, 1, 1], rtol=1e-3)
    assert np.all(inv[:, 1, 1] > 0)
