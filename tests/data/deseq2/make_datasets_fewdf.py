"""Shallow, zero-heavy and few-residual-df datasets for the second set of R references.

    .venv/bin/python tests/data/deseq2/make_datasets_fewdf.py

Unlike ``make_datasets.py`` (deep libraries, dispersions near the trend), these mimic what public
BMSC/MSC studies look like: heavy-tailed gene abundances with a few genes taking a large share of
the reads, libraries of 30 k - 300 k reads (most genes zero in some sample), strong donor effects,
donor-specific genes (sex chromosomes: zero in some donors), dispersions scattered widely around
the trend (so R's simulated prior variance exceeds its 0.25 floor), and designs with 1, 2 or 3
residual degrees of freedom. Seeded; the committed CSVs are the ones R was run on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bmsc_dge.simulate import nb_counts

HERE = Path(__file__).resolve().parent


def _write(name: str, counts: np.ndarray, coldata: pd.DataFrame) -> None:
    genes = [f"gene{i + 1:05d}" for i in range(counts.shape[1])]
    pd.DataFrame(counts.T, index=pd.Index(genes, name="gene"), columns=coldata.index).to_csv(
        HERE / f"{name}.counts.csv"
    )
    coldata.to_csv(HERE / f"{name}.coldata.csv")


def _abundance(rng: np.random.Generator, n_genes: int, sigma: float = 2.3) -> np.ndarray:
    a = np.exp(rng.normal(0.0, sigma, n_genes))
    a[rng.choice(n_genes, 10, replace=False)] *= 300.0  # mitochondrial / ribosomal-like giants
    return np.asarray(a / a.sum())


def _counts(rng, mu: np.ndarray, asympt: float, scatter: float) -> np.ndarray:
    mean = mu.mean(axis=0)
    disp = (asympt + 1.0 / np.maximum(mean, 1e-3)) * np.exp(rng.normal(0.0, scatter, mu.shape[1]))
    return nb_counts(mu, disp[None, :], rng)


def _effects(rng, n_genes: int, frac: float, sd: float) -> np.ndarray:
    lfc = np.zeros(n_genes)
    idx = rng.choice(n_genes, int(frac * n_genes), replace=False)
    lfc[idx] = rng.normal(0.0, sd, idx.size)
    return lfc


def _samples(names: list[str], **cols: list[str]) -> pd.DataFrame:
    return pd.DataFrame(cols, index=pd.Index(names, name="sample"))


def shallow_donor(rng, n_genes: int = 6000) -> None:
    """3 donors x undifferentiated / osteogenic, ``~ donor + status`` (2 residual df), 50-260 k reads."""
    a = _abundance(rng, n_genes)
    donors = np.repeat(["d1", "d2", "d3"], 2)
    status = np.tile(["undiff", "osteo"], 3)
    donor_eff = {d: rng.normal(0.0, 0.8, n_genes) for d in ("d1", "d2", "d3")}
    sex_genes = rng.choice(n_genes, 15, replace=False)
    donor_eff["d3"][sex_genes] = -12.0  # Y-chromosome genes: absent in the female donor
    lfc = _effects(rng, n_genes, 0.3, 1.8)
    lib = rng.uniform(5e4, 2.6e5, 6)
    log_mu = np.stack([donor_eff[d] for d in donors]) + (status == "osteo")[:, None] * lfc * np.log(2)
    mu = lib[:, None] * a[None, :] * np.exp(log_mu)
    names = [f"{d}_{s}" for d, s in zip(donors, status, strict=True)]
    _write(
        "shallow_donor", _counts(rng, mu, 0.08, 0.9), _samples(names, donor=list(donors), status=list(status))
    )


def shallow_two(rng, n_genes: int = 8000) -> None:
    """2 vs 2, ``~ condition`` (2 residual df), 30-80 k reads: most genes have zeros."""
    a = _abundance(rng, n_genes, sigma=2.6)
    cond = np.array(["control", "control", "T2DM", "T2DM"])
    lfc = _effects(rng, n_genes, 0.15, 1.5)
    lib = rng.uniform(3e4, 8e4, 4)
    mu = lib[:, None] * a[None, :] * 2 ** ((cond == "T2DM")[:, None] * lfc[None, :])
    _write(
        "shallow_two",
        _counts(rng, mu, 0.1, 1.6),
        _samples([f"s{i + 1}" for i in range(4)], condition=list(cond)),
    )


def sex_3v3(rng, n_genes: int = 5000) -> None:
    """3 T2DM vs 3 control with sex, ``~ sex + condition`` (3 residual df), 1-4 M reads."""
    a = _abundance(rng, n_genes, sigma=2.0)
    cond = np.array(["control"] * 3 + ["T2DM"] * 3)
    sex = np.array(["F", "M", "M", "F", "F", "M"])
    sex_eff = rng.normal(0.0, 0.3, n_genes)
    lfc = _effects(rng, n_genes, 0.1, 1.2)
    lib = rng.uniform(1e6, 4e6, 6)
    mu = lib[:, None] * a[None, :] * 2 ** ((cond == "T2DM")[:, None] * lfc + (sex == "M")[:, None] * sex_eff)
    _write(
        "sex_3v3",
        _counts(rng, mu, 0.05, 1.0),
        _samples([f"s{i + 1}" for i in range(6)], sex=list(sex), condition=list(cond)),
    )


def one_df(rng, n_genes: int = 4000) -> None:
    """4 samples, ``~ batch + condition`` (1 residual df), 0.5-2 M reads."""
    a = _abundance(rng, n_genes, sigma=2.0)
    cond = np.array(["control", "control", "T2DM", "T2DM"])
    batch = np.array(["b1", "b2", "b1", "b2"])
    beff = rng.normal(0.0, 0.4, n_genes)
    lfc = _effects(rng, n_genes, 0.1, 1.5)
    lib = rng.uniform(5e5, 2e6, 4)
    mu = lib[:, None] * a[None, :] * 2 ** ((cond == "T2DM")[:, None] * lfc + (batch == "b2")[:, None] * beff)
    _write(
        "one_df",
        _counts(rng, mu, 0.05, 1.6),
        _samples([f"s{i + 1}" for i in range(4)], batch=list(batch), condition=list(cond)),
    )


def poscounts(rng, n_genes: int = 3000) -> None:
    """5 vs 5 sparse (pseudobulk-like) study in which every gene has a zero: R needs ``sfType = "poscounts"``."""
    a = _abundance(rng, n_genes, sigma=1.8)
    cond = np.array(["control"] * 5 + ["T2DM"] * 5)
    lfc = _effects(rng, n_genes, 0.1, 1.2)
    lib = rng.uniform(2e5, 8e5, 10)
    mu = lib[:, None] * a[None, :] * 2 ** ((cond == "T2DM")[:, None] * lfc[None, :])
    counts = _counts(rng, mu, 0.08, 0.6)
    dropout = rng.integers(0, 10, n_genes)  # one forced zero per gene (dropout)
    counts[dropout, np.arange(n_genes)] = 0
    _write("poscounts", counts, _samples([f"s{i + 1}" for i in range(10)], condition=list(cond)))


def main() -> None:
    for i, f in enumerate((shallow_donor, shallow_two, sex_3v3, one_df, poscounts)):
        f(np.random.default_rng(2000 + i))


if __name__ == "__main__":
    main()
