"""Make the small datasets that R DESeq2 reference outputs are computed on.

    .venv/bin/python tests/data/deseq2/make_datasets.py

Writes <name>.counts.csv (genes x samples) and <name>.coldata.csv per dataset. Seeded; the
committed CSVs are the ones the committed R outputs were made from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bmsc_dge.simulate import baseline_abundance, dispersion_trend, nb_counts

HERE = Path(__file__).resolve().parent


def _base(rng, n_genes, lib=5e6, low_fraction=0.15):
    a = baseline_abundance(n_genes, rng, low_fraction=low_fraction)
    mean = a * lib
    disp = dispersion_trend(mean, asympt=0.05, extra=1.0) * np.exp(rng.normal(0, 0.4, n_genes))
    return mean, disp


def _write(name, counts, coldata):
    genes = [f"gene{i + 1:05d}" for i in range(counts.shape[1])]
    pd.DataFrame(counts.T, index=pd.Index(genes, name="gene"), columns=coldata.index).to_csv(
        HERE / f"{name}.counts.csv"
    )
    coldata.to_csv(HERE / f"{name}.coldata.csv")


def _effects(rng, n_genes, frac=0.1, sd=1.0):
    lfc = np.zeros(n_genes)
    idx = rng.choice(n_genes, int(frac * n_genes), replace=False)
    lfc[idx] = rng.normal(0, sd, idx.size) + np.sign(rng.normal(size=idx.size)) * 0.5
    return lfc


def two_group(rng, n_genes=2000, n=4, name="two_group"):
    mean, disp = _base(rng, n_genes)
    lfc = _effects(rng, n_genes)
    cond = np.array(["control"] * n + ["T2DM"] * n)
    sf = rng.uniform(0.6, 1.4, 2 * n)
    mu = sf[:, None] * mean[None, :] * 2 ** (np.where(cond == "T2DM", 1, 0)[:, None] * lfc[None, :])
    counts = nb_counts(mu, disp[None, :], rng)
    _write(
        name,
        counts,
        pd.DataFrame({"condition": cond}, index=pd.Index([f"s{i + 1}" for i in range(2 * n)], name="sample")),
    )


def batch(rng, n_genes=2000):
    mean, disp = _base(rng, n_genes)
    lfc = _effects(rng, n_genes)
    cond = np.array(["control"] * 6 + ["T2DM"] * 6)
    b = np.array(["b1", "b1", "b2", "b2", "b3", "b3"] * 2)
    beff = {k: rng.normal(0, 0.4, n_genes) for k in ("b1", "b2", "b3")}
    sf = rng.uniform(0.6, 1.4, 12)
    mu = (
        sf[:, None]
        * mean[None, :]
        * 2 ** (np.where(cond == "T2DM", 1, 0)[:, None] * lfc[None, :] + np.stack([beff[x] for x in b]))
    )
    counts = nb_counts(mu, disp[None, :], rng)
    _write(
        "batch",
        counts,
        pd.DataFrame(
            {"batch": b, "condition": cond}, index=pd.Index([f"s{i + 1}" for i in range(12)], name="sample")
        ),
    )


def continuous(rng, n_genes=2000):
    mean, disp = _base(rng, n_genes)
    lfc = _effects(rng, n_genes)
    age_slope = np.where(rng.random(n_genes) < 0.1, rng.normal(0, 0.04, n_genes), 0.0)
    cond = np.array(["control"] * 5 + ["T2DM"] * 5)
    age = np.round(rng.uniform(40, 80, 10), 1)
    sf = rng.uniform(0.6, 1.4, 10)
    mu = (
        sf[:, None]
        * mean[None, :]
        * 2
        ** (np.where(cond == "T2DM", 1, 0)[:, None] * lfc[None, :] + (age - 60)[:, None] * age_slope[None, :])
    )
    counts = nb_counts(mu, disp[None, :], rng)
    _write(
        "continuous",
        counts,
        pd.DataFrame(
            {"age": age, "condition": cond}, index=pd.Index([f"s{i + 1}" for i in range(10)], name="sample")
        ),
    )


def lowcount(rng, n_genes=3000):
    mean, disp = _base(rng, n_genes, lib=1.5e6, low_fraction=0.5)
    lfc = _effects(rng, n_genes, frac=0.15)
    cond = np.array(["control"] * 3 + ["T2DM"] * 3)
    sf = rng.uniform(0.7, 1.3, 6)
    mu = sf[:, None] * mean[None, :] * 2 ** (np.where(cond == "T2DM", 1, 0)[:, None] * lfc[None, :])
    counts = nb_counts(mu, disp[None, :], rng)
    _write(
        "lowcount",
        counts,
        pd.DataFrame({"condition": cond}, index=pd.Index([f"s{i + 1}" for i in range(6)], name="sample")),
    )


def outliers(rng, n_genes=2000):
    mean, disp = _base(rng, n_genes)
    lfc = _effects(rng, n_genes)
    cond = np.array(["control"] * 8 + ["T2DM"] * 8)
    sf = rng.uniform(0.6, 1.4, 16)
    mu = sf[:, None] * mean[None, :] * 2 ** (np.where(cond == "T2DM", 1, 0)[:, None] * lfc[None, :])
    counts = nb_counts(mu, disp[None, :], rng)
    expressed = np.flatnonzero(mean > 50)
    hit = rng.choice(expressed, 40, replace=False)
    for g in hit:  # one wild sample per gene: a 20-50x spike
        s = rng.integers(0, 16)
        counts[s, g] = int(counts[s, g] * rng.uniform(20, 50) + 100)
    _write(
        "outliers",
        counts,
        pd.DataFrame({"condition": cond}, index=pd.Index([f"s{i + 1}" for i in range(16)], name="sample")),
    )


def interaction(rng, n_genes=2000):
    mean, disp = _base(rng, n_genes)
    lfc = _effects(rng, n_genes)
    sex_eff = np.where(rng.random(n_genes) < 0.1, rng.normal(0, 1, n_genes), 0.0)
    inter = np.where(rng.random(n_genes) < 0.05, rng.normal(0, 1.5, n_genes), 0.0)
    cond = np.array((["control"] * 4 + ["T2DM"] * 4) * 2)
    sex = np.array(["F"] * 8 + ["M"] * 8)
    t = (cond == "T2DM").astype(float)
    m = (sex == "M").astype(float)
    sf = rng.uniform(0.6, 1.4, 16)
    mu = (
        sf[:, None]
        * mean[None, :]
        * 2 ** (t[:, None] * lfc + m[:, None] * sex_eff + (t * m)[:, None] * inter)
    )
    counts = nb_counts(mu, disp[None, :], rng)
    _write(
        "interaction",
        counts,
        pd.DataFrame(
            {"sex": sex, "condition": cond}, index=pd.Index([f"s{i + 1}" for i in range(16)], name="sample")
        ),
    )


def lrt(rng, n_genes=2000):
    mean, disp = _base(rng, n_genes)
    levels = ["normal", "high", "very_high"]
    glucose = np.array([lv for lv in levels for _ in range(4)])
    b = np.array(["b1", "b2"] * 6)
    dose = np.array([levels.index(g) for g in glucose], dtype=float)
    slope = np.where(rng.random(n_genes) < 0.1, rng.normal(0, 0.8, n_genes), 0.0)
    beff = rng.normal(0, 0.3, n_genes)
    sf = rng.uniform(0.6, 1.4, 12)
    mu = sf[:, None] * mean[None, :] * 2 ** (dose[:, None] * slope + (b == "b2")[:, None] * beff)
    counts = nb_counts(mu, disp[None, :], rng)
    _write(
        "lrt",
        counts,
        pd.DataFrame(
            {"batch": b, "glucose": glucose}, index=pd.Index([f"s{i + 1}" for i in range(12)], name="sample")
        ),
    )


def main():
    for i, f in enumerate((two_group, batch, continuous, lowcount, outliers, interaction, lrt)):
        f(np.random.default_rng(1000 + i))


if __name__ == "__main__":
    main()
