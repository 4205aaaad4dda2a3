"""Seeded negative-binomial RNA-seq study simulator.

Used to make the bundled example (``data/example/make_example.py``), test data and benchmark
studies; :func:`simulate_single_cell` makes a donors x cell types single-cell study for pseudobulk. Counts follow DESeq2's model: ``K_ij ~ NB(mean = s_j * q_ij, dispersion = a_i)`` with
``log2 q_ij = log2 q_i0 + sum of effects``. Per-gene dispersions scatter log-normally around the
parametric trend ``a(mu) = asympt + extra / mu`` that DESeq2 fits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd


@dataclass
class SimulatedStudy:
    """Counts (genes x samples), sample sheet and per-gene truth."""

    counts: pd.DataFrame
    samples: pd.DataFrame
    truth: pd.DataFrame


def dispersion_trend(mean: np.ndarray, *, asympt: float = 0.06, extra: float = 1.0) -> np.ndarray:
    """Parametric mean-dispersion trend ``asympt + extra / mean``."""
    return asympt + extra / np.maximum(mean, 1e-8)


def baseline_abundance(
    n_genes: int, rng: np.random.Generator, *, sigma: float = 2.0, low_fraction: float = 0.15
) -> np.ndarray:
    """Relative expression per gene (sums to 1): log-normal, with a share of barely expressed genes."""
    log_a = rng.normal(0.0, sigma, n_genes)
    low = rng.random(n_genes) < low_fraction
    log_a[low] = rng.normal(-7.0, 1.5, int(low.sum()))
    a = np.exp(log_a)
    return np.asarray(a / a.sum())


def nb_counts(mean: np.ndarray, dispersion: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Negative-binomial draws with mean ``mean`` and dispersion ``dispersion`` (broadcast)."""
    mean = np.asarray(mean, dtype=float)
    disp = np.broadcast_to(np.asarray(dispersion, dtype=float), mean.shape)
    shape = 1.0 / disp
    lam = rng.gamma(shape, mean / shape)
    return np.asarray(rng.poisson(lam), dtype=np.int64)


def simulate_two_group(
    genes: pd.DataFrame,
    *,
    n_per_group: int = 6,
    seed: int = 1,
    log2_effects: pd.Series | None = None,
    base_counts: pd.Series | None = None,
    lib_size_range: tuple[float, float] = (15e6, 30e6),
    batch_sd: float = 0.15,
    n_batches: int = 2,
    disp_asympt: float = 0.06,
    disp_extra: float = 1.0,
    disp_scatter_sd: float = 0.5,
    sex_genes: dict[str, str] | None = None,
    condition_levels: tuple[str, str] = ("control", "T2DM"),
) -> SimulatedStudy:
    """Simulate a balanced control-vs-case study with sex and batch.

    Parameters
    ----------
    genes
        ``gene_id`` and ``symbol`` columns, one row per gene.
    n_per_group
        Donors per condition (split evenly over batches and sexes).
    seed
        Seed of the only random generator used.
    log2_effects
        log2 fold change (case vs control) per ``gene_id``; missing genes are null.
    base_counts
        Expected count at a 20 M-read library per ``gene_id`` (overrides the random baseline).
    lib_size_range
        Uniform range of library sizes.
    batch_sd
        SD of per-gene log2 batch effects (unrelated to condition).
    n_batches
        Number of batches.
    disp_asympt, disp_extra, disp_scatter_sd
        Dispersion trend and the SD of per-gene log-normal scatter around it.
    sex_genes
        ``gene_id -> "F" or "M"``: genes expressed in one sex only (e.g. XIST, RPS4Y1).
    condition_levels
        (reference, case) labels.

    Returns
    -------
    SimulatedStudy
        Counts, samples and a truth table (``gene_id``, ``symbol``, ``log2FoldChange``,
        ``base_mean_20M``, ``dispersion``, ``batch_log2_effect``).
    """
    rng = np.random.default_rng(seed)
    n_genes = len(genes)
    gid = genes["gene_id"].astype(str).to_numpy()
    ref, case = condition_levels
    n = 2 * n_per_group
    conds = np.array([ref] * n_per_group + [case] * n_per_group)
    sexes = np.array(["F", "M"] * n_per_group)
    # each batch holds both conditions and both sexes (first half of each group in B1, ...)
    batches = np.array([f"B{i * n_batches // n_per_group + 1}" for i in range(n_per_group)] * 2)
    prefix = {ref: "CTRL", case: case.upper()}
    ids = [f"{prefix[c]}_{i % n_per_group + 1:02d}" for i, c in enumerate(conds)]
    samples = pd.DataFrame({"sample": ids, "condition": conds, "sex": sexes, "batch": batches})

    abundance = baseline_abundance(n_genes, rng)
    base20 = abundance * 20e6
    if base_counts is not None:
        bc = base_counts.reindex(gid).to_numpy(dtype=float)
        base20 = np.where(np.isfinite(bc), bc, base20)
    trend = dispersion_trend(base20, asympt=disp_asympt, extra=disp_extra)
    disp = trend * np.exp(rng.normal(0.0, disp_scatter_sd, n_genes))
    lfc = np.zeros(n_genes)
    if log2_effects is not None:
        lfc = log2_effects.reindex(gid).fillna(0.0).to_numpy(dtype=float)
    batch_eff = rng.normal(0.0, batch_sd, (n_batches, n_genes))
    batch_eff[0] = 0.0
    lib = rng.uniform(*lib_size_range, n)
    log2q = np.log2(base20 / 20e6)[None, :] + np.where(conds == case, 1.0, 0.0)[:, None] * lfc[None, :]
    bidx = np.array([int(b[1:]) - 1 for b in batches])
    log2q = log2q + batch_eff[bidx]
    q = 2.0**log2q
    if sex_genes:
        pos = {g: i for i, g in enumerate(gid)}
        for g, sex in sex_genes.items():
            if g in pos:
                q[sexes != sex, pos[g]] *= 1e-4
    q = q / q.sum(axis=1, keepdims=True)
    mean = q * lib[:, None]
    counts = nb_counts(mean, disp[None, :], rng)
    count_df = pd.DataFrame(counts.T, index=pd.Index(gid, name="gene_id"), columns=ids)
    truth = pd.DataFrame(
        {
            "gene_id": gid,
            "symbol": genes["symbol"].astype(str).to_numpy(),
            "log2FoldChange": lfc,
            "base_mean_20M": np.round(base20, 3),
            "dispersion": np.round(disp, 5),
            "batch_log2_effect": np.round(batch_eff[-1], 4),
        }
    )
    return SimulatedStudy(count_df, samples.set_index("sample"), truth)


def simulate_single_cell(
    symbols: Sequence[str],
    *,
    n_donors: int = 8,
    cell_types: Sequence[str] = ("MSC", "T_cell"),
    cells_per_donor: int = 60,
    log2_effects: Mapping[str, float] | None = None,
    effect_cell_type: str = "MSC",
    seed: int = 1,
    planted_expression: float = 2.0,
) -> ad.AnnData:
    """A seeded single-cell study: donors x cell types, half the donors T2DM, for pseudobulk tests.

    Each donor has a random expression offset per gene (donor-to-donor variation, NB dispersion
    0.05 at pseudobulk level); cells draw Poisson counts around their donor's profile with a random
    size factor. ``log2_effects`` (symbol -> log2 fold change) act in T2DM donors' ``effect_cell_type``
    cells only; planted genes get a mean of at least ``planted_expression`` counts per cell in every
    cell type, so the effect is testable and its absence elsewhere is a real null. ``obs``: ``donor``, ``cell_type``, ``condition`` and ``sex`` (donor-level) and
    ``phase`` (varies within a donor); ``X`` and ``layers["counts"]`` hold int64 counts (dense).
    """
    rng = np.random.default_rng(seed)
    genes = list(symbols)
    n_genes = len(genes)
    base = {ct: rng.lognormal(np.log(0.5), 1.2, n_genes) for ct in cell_types}  # mean counts per cell
    effects = np.array([float((log2_effects or {}).get(g, 0.0)) for g in genes])
    planted = np.array([g in (log2_effects or {}) for g in genes])
    for ct in cell_types:
        base[ct] = np.where(planted, np.maximum(base[ct], planted_expression), base[ct])
    donors = [f"D{i + 1:02d}" for i in range(n_donors)]
    condition = ["T2DM" if i % 2 else "control" for i in range(n_donors)]
    sex = ["F" if (i // 2) % 2 else "M" for i in range(n_donors)]
    rows, obs = [], []
    for d, cond, sx in zip(donors, condition, sex, strict=True):
        for ct in cell_types:
            donor_profile = base[ct] * rng.gamma(20.0, 1.0 / 20.0, n_genes)  # CV ~0.22 between donors
            if cond == "T2DM" and ct == effect_cell_type:
                donor_profile = donor_profile * 2.0**effects
            size = rng.lognormal(0.0, 0.3, cells_per_donor)
            rows.append(rng.poisson(size[:, None] * donor_profile[None, :]))
            obs += [
                {
                    "donor": d,
                    "cell_type": ct,
                    "condition": cond,
                    "sex": sx,
                    "phase": rng.choice(["G1", "S", "G2M"]),
                }
                for _ in range(cells_per_donor)
            ]
    counts = np.vstack(rows).astype(np.int64)
    frame = pd.DataFrame(obs, index=[f"cell{i:05d}" for i in range(len(obs))])
    adata = ad.AnnData(X=counts, obs=frame, var=pd.DataFrame(index=pd.Index(genes, name=None)))
    adata.layers["counts"] = counts.copy()
    return adata
