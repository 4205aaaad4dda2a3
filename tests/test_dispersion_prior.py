"""R's dispersion prior variance: loess replica, simulated variance, trigamma branch."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import polygamma

from bmsc_dge.deseq2._prior import (
    _FINE,
    _GRID,
    PRIOR_VAR_FLOOR,
    dispersion_prior_variance,
    loess_interpolated,
    simulated_densities,
    simulated_prior_variance,
)

DATA = Path(__file__).resolve().parent / "data" / "rng"


@pytest.mark.parametrize("rep", [1, 2, 3])
def test_loess_equals_r_predict(rep):
    ref = pd.read_csv(DATA / "loess.csv")
    ref = ref[ref["rep"] == rep]
    y = ref["y"].to_numpy()[:200]
    ours = loess_interpolated(_GRID, y, _FINE)
    np.testing.assert_allclose(ours, ref["fit"].to_numpy(), rtol=0, atol=1e-12)


def test_simulated_densities_are_histograms():
    dens = simulated_densities(3)
    assert dens.shape == (200, 40)
    np.testing.assert_allclose(dens.sum(axis=1) * 0.5, 1.0)  # densities over 0.5-wide bins
    # wider spread with larger added variance: the central bin loses mass along the grid
    assert dens[0].max() > dens[-1].max()


@pytest.mark.parametrize("df", [1, 2, 3])
def test_simulated_prior_variance_recovers_added_variance(df):
    rng = np.random.default_rng(5)
    obs = np.log(rng.chisquare(df, 20000) / df) + rng.normal(0, np.sqrt(1.5), 20000)
    v = simulated_prior_variance(obs, df)
    assert 1.0 < v < 2.0
    pure = np.log(rng.chisquare(df, 20000) / df)
    assert simulated_prior_variance(pure, df) == PRIOR_VAR_FLOOR


def test_trigamma_branch_above_three_df():
    v = dispersion_prior_variance(np.zeros(10), 2.0, n_samples=12, n_coefs=2)
    assert v == pytest.approx(2.0 - float(polygamma(1, 5.0)))
    assert dispersion_prior_variance(np.zeros(10), 0.1, n_samples=12, n_coefs=2) == PRIOR_VAR_FLOOR
