"""Leave-one-sample-out stability of DE calls and curated-set enrichment.

BMSC studies have three to six donors per group, so one donor can carry a "significant" gene. For
each sample, the contrast is refitted without it (the whole DESeq2 fit: size factors, dispersions,
Wald test, independent filtering) and the curated sets are re-tested; per gene and per set the
module reports how often the call survives and how far the estimates move.

Per gene (``stability_*`` columns of the targets table):

``stability_significant``
    Share of the leave-one-out fits in which ``padj < alpha``.
``stability_rank_min`` / ``stability_rank_max``
    Best and worst rank of the gene by p-value over the leave-one-out fits (1 = smallest p).
``stability_lfc_min`` / ``stability_lfc_max``
    Range of the (MLE) log2 fold change.
``stability_driver``
    The sample whose removal moves the log2 fold change most.
``stability_flag``
    For genes significant in the full data: ``stable`` when they stay significant in every fit;
    ``rests on one sample (<id>)`` when they lose significance without that sample and leaving it
    out moves the log2 fold change at least :data:`DRIVER_RATIO` times more than leaving out a
    typical other sample (and by at least :data:`DRIVER_MIN_SHARE` of it); ``fragile`` when they
    lose significance in some fit without such a single driver (borderline calls). Empty for
    non-significant genes.

Per curated set (columns added to the GSEA table): ``stability_nes_min``, ``stability_nes_max``
and ``stability_enriched`` (share of fits with FDR below the enrichment threshold).

Leaving out a sample that is the only one of a design level would make the design rank-deficient;
such samples are skipped and named in :attr:`StabilityResult.skipped`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bmsc_dge import deseq2 as de_mod
from bmsc_dge._fork import ForkedMap, fork_map_start
from bmsc_dge.calls import significant
from bmsc_dge.config import Contrast, DEConfig, GeneSetConfig
from bmsc_dge.errors import StabilityError
from bmsc_dge.targets._refit import RefitData, RefitOutcome, refit_without

#: GSEA settings of the set re-tests when none are given (200 permutations)
STABILITY_GSEA = GeneSetConfig(permutations=200)

logger = logging.getLogger(__name__)

#: a sample "carries" a gene when leaving it out moves the log2 fold change at least this many
#: times more than leaving out a typical (median) other sample ...
DRIVER_RATIO = 3.0
#: ... and by at least this share of the full-data log2 fold change
DRIVER_MIN_SHARE = 0.25

GENE_COLUMNS = [
    "gene_id",
    "stability_significant",
    "stability_rank_min",
    "stability_rank_max",
    "stability_lfc_min",
    "stability_lfc_max",
    "stability_driver",
    "stability_flag",
]
SET_COLUMNS = ["term", "stability_nes_min", "stability_nes_max", "stability_enriched"]


@dataclass
class StabilityResult:
    """Per-gene and per-set leave-one-out summaries, and which samples were left out."""

    genes: pd.DataFrame
    sets: pd.DataFrame
    left_out: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _droppable(meta: pd.DataFrame, sample: str) -> bool:
    """True when every level of every categorical design variable keeps a sample without ``sample``."""
    rest = meta.drop(index=sample)
    for col in meta.columns:
        categorical = isinstance(meta[col].dtype, pd.CategoricalDtype) or meta[col].dtype == object
        if categorical and set(meta[col].astype(str)) - set(rest[col].astype(str)):
            return False
    return True


def leave_one_out(
    fit: de_mod.DEFit,
    design: str,
    contrast: Contrast,
    full_de: pd.DataFrame,
    *,
    alpha: float,
    cfg: DEConfig,
    curated: Mapping[str, Sequence[str]] | None = None,
    gene_sets: GeneSetConfig | None = None,
    seed: int = 0,
    processes: int = 1,
) -> StabilityResult:
    """Refit ``contrast`` leaving out each sample in turn and summarise what moves.

    Parameters
    ----------
    fit
        The full-data fit (its counts, sample table and reference levels are reused).
    design
        The design formula of the fit.
    contrast
        The contrast to re-test.
    full_de
        The full-data DE table of the contrast (:data:`bmsc_dge.deseq2._fit.DE_COLUMNS`).
    alpha
        DE significance threshold.
    cfg
        DE settings (LFC shrinkage is skipped in the refits: only calls and MLE changes are used).
    curated
        Curated sets (term -> genes in the data's symbols) to re-test; ``None`` skips set stability.
    gene_sets
        GSEA settings of the set re-tests (default: ``gene_sets`` defaults with 200 permutations,
        :data:`STABILITY_GSEA`; fewer permutations than the main run: NES barely depends on the
        permutation count, the FDR share is an approximate read-out). No multilevel p-values:
        only NES and FDR are kept.
    seed
        Permutation seed of the set re-tests.
    processes
        Forked processes the refits are dealt to (:func:`bmsc_dge._fork.fork_map_start`; 1: in
        this process). The results do not depend on it.

    See Also
    --------
    start_leave_one_out : the same in two steps, so the refits run while the caller goes on.
    """
    pending = start_leave_one_out(
        fit,
        design,
        contrast,
        alpha=alpha,
        cfg=cfg,
        curated=curated,
        gene_sets=gene_sets,
        seed=seed,
        processes=processes,
    )
    return pending.result(full_de)


def start_leave_one_out(
    fit: de_mod.DEFit | RefitData,
    design: str,
    contrast: Contrast,
    *,
    alpha: float,
    cfg: DEConfig,
    curated: Mapping[str, Sequence[str]] | None = None,
    gene_sets: GeneSetConfig | None = None,
    seed: int = 0,
    processes: int = 1,
) -> PendingStability:
    """Start the leave-one-out refits of :func:`leave_one_out` in forked processes and return.

    The refits need only the fit's inputs, so they can start before the contrast's own Wald
    test and GSEA (``fit`` a :class:`~bmsc_dge.deseq2.DEFit`), or even before the fit itself
    (``fit`` the :class:`RefitData` it will be fitted on, :meth:`RefitData.before_fit`); the
    caller then goes on beside them. :meth:`PendingStability.result` takes the full-data DE
    table and summarises. Collect (or cancel) it in the thread that started it.
    """
    data = fit if isinstance(fit, RefitData) else RefitData.of_fit(fit)
    processes = max(1, processes)
    settings = (gene_sets or STABILITY_GSEA).model_copy(update={"multilevel": False})  # NES and FDR only
    # LFC shrinkage is not used; with several processes each fits on one thread
    refit_cfg = cfg.model_copy(update={"lfc_shrink": False, **({"n_cpus": 1} if processes > 1 else {})})
    refit = refit_without(data, design, contrast, alpha, refit_cfg, curated, settings, seed)
    samples, meta = data.samples, data.meta
    candidates = [i for i, s in enumerate(samples) if _droppable(meta, s)]
    skipped = [s for s in samples if not _droppable(meta, s)]
    # The refits hold the GIL for much of their time (two threads gave no gain), so they are dealt
    # to forked processes; inside each, numpy runs on one thread.
    work = fork_map_start(refit, candidates, processes, "leave-one-out refits", StabilityError)
    started = {
        "design": design,
        "contrast": contrast,
        "alpha": alpha,
        "cfg": cfg,
        "curated": curated,
        "gene_sets": gene_sets,
        "seed": seed,
        "processes": processes,
    }
    return PendingStability(
        work, [samples[i] for i in candidates], skipped, alpha, settings.fdr, data, started
    )


class PendingStability:
    """Leave-one-out refits under way (:func:`start_leave_one_out`)."""

    def __init__(
        self,
        work: ForkedMap[RefitOutcome],
        candidates: list[str],
        skipped: list[str],
        alpha: float,
        gsea_fdr: float,
        data: RefitData,
        started: dict[str, object],
    ) -> None:
        self._work = work
        self._data = data
        self._started = started
        self._candidates = candidates
        self._skipped = skipped
        self._alpha = alpha
        self._gsea_fdr = gsea_fdr

    def cancel(self) -> None:
        """Stop the refits (the caller failed before :meth:`result`)."""
        self._work.cancel()

    def started_as(self, data: RefitData, **arguments: object) -> bool:
        """True when these refits are what :func:`start_leave_one_out` would start now for ``data``.

        ``arguments``: every other argument of :func:`start_leave_one_out`, by name (equal values
        and the same ``processes``, so the refits compute the same). Lets refits started before
        the fit stand in for the fit's own.
        """
        return arguments == self._started and data.same_as(self._data)

    def result(self, full_de: pd.DataFrame) -> StabilityResult:
        """Wait for the refits and summarise them against the full-data DE table ``full_de``."""
        alpha = self._alpha
        full = full_de.set_index("gene_id")
        genes = full.index
        sig_full = significant(full, alpha)
        lfc_full = full["log2FoldChange"].to_numpy(dtype=float)
        skipped = list(self._skipped)
        calls, ranks, lfcs, left_out = [], [], [], []
        nes_rows: list[pd.Series] = []
        enriched_rows: list[pd.Series] = []
        for sample, outcome in zip(self._candidates, self._work.result(), strict=True):
            if isinstance(outcome, str):
                logger.warning("stability: refit without sample %s failed (%s); skipped", sample, outcome)
                skipped.append(sample)
                continue
            table, sets_table = outcome
            table = table.reindex(genes)
            left_out.append(sample)
            calls.append(significant(table, alpha))
            ranks.append(table["pvalue"].rank(method="min", na_option="keep").to_numpy(dtype=float))
            lfcs.append(table["log2FoldChange"].to_numpy(dtype=float))
            if sets_table is not None:
                nes_rows.append(sets_table["nes"].rename(sample))
                enriched_rows.append((sets_table["fdr"] < self._gsea_fdr).rename(sample))
        if not left_out:
            logger.warning("stability: no sample could be left out (every sample is alone in a design level)")
            empty = pd.DataFrame({"gene_id": genes})
            for col in GENE_COLUMNS[1:]:
                empty[col] = np.nan if col != "stability_flag" else ""
            return StabilityResult(empty, pd.DataFrame(columns=SET_COLUMNS), left_out, skipped)
        out, flags = _gene_summary(
            np.vstack(calls), np.vstack(ranks), np.vstack(lfcs), genes, sig_full, lfc_full, left_out
        )
        sets = _set_summary(nes_rows, enriched_rows)
        logger.info(
            "stability: %d leave-one-out refits (%s skipped); %d significant genes rest on one sample",
            len(left_out),
            ", ".join(skipped) or "none",
            sum(f.startswith("rests") for f in flags),
        )
        return StabilityResult(out, sets, left_out, skipped)


def _driver_flags(
    c: np.ndarray, lf: np.ndarray, sig_full: np.ndarray, lfc_full: np.ndarray, left_out: list[str]
) -> tuple[list[str], np.ndarray]:
    """``stability_flag`` per gene and the index of the sample whose removal moves its LFC most."""
    with np.errstate(invalid="ignore"):
        moved = np.abs(lf - lfc_full[None, :])
    driver_idx = np.argmax(np.where(np.isfinite(moved), moved, -1.0), axis=0)
    flags = []
    for g in range(lf.shape[1]):
        if not sig_full[g]:
            flags.append("")
            continue
        lost = ~c[:, g]
        if not lost.any():
            flags.append("stable")
            continue
        d = np.where(np.isfinite(moved[:, g]), moved[:, g], 0.0)
        k = int(driver_idx[g])
        others = np.delete(d, k)
        typical = float(np.median(others)) if others.size else 0.0
        dominant = d[k] >= DRIVER_RATIO * typical and d[k] >= DRIVER_MIN_SHARE * abs(lfc_full[g])
        flags.append(f"rests on one sample ({left_out[k]})" if lost[k] and dominant else "fragile")
    return flags, driver_idx


def _gene_summary(
    c: np.ndarray,
    r: np.ndarray,
    lf: np.ndarray,
    genes: pd.Index,
    sig_full: np.ndarray,
    lfc_full: np.ndarray,
    left_out: list[str],
) -> tuple[pd.DataFrame, list[str]]:
    """Per-gene stability columns from the refits' calls ``c``, p-value ranks ``r`` and LFCs ``lf``."""
    flags, driver_idx = _driver_flags(c, lf, sig_full, lfc_full, left_out)
    with np.errstate(invalid="ignore"), pd.option_context("mode.chained_assignment", None):
        out = pd.DataFrame(
            {
                "gene_id": genes,
                "stability_significant": c.mean(axis=0).round(4),
                "stability_rank_min": np.nanmin(np.where(np.isfinite(r), r, np.inf), axis=0),
                "stability_rank_max": np.nanmax(np.where(np.isfinite(r), r, -np.inf), axis=0),
                "stability_lfc_min": np.nanmin(lf, axis=0).round(4) if np.isfinite(lf).any() else np.nan,
                "stability_lfc_max": np.nanmax(lf, axis=0).round(4) if np.isfinite(lf).any() else np.nan,
                "stability_driver": [left_out[int(k)] for k in driver_idx],
                "stability_flag": flags,
            }
        )
    for col in ("stability_rank_min", "stability_rank_max"):
        out[col] = out[col].replace([np.inf, -np.inf], np.nan)
    return out, flags


def _set_summary(nes_rows: list[pd.Series], enriched_rows: list[pd.Series]) -> pd.DataFrame:
    """Per-set NES range and share of refits with the set enriched."""
    sets = pd.DataFrame(columns=SET_COLUMNS)
    # a refit where no curated set reaches min_size returns an empty (object-typed) table
    nes = pd.concat(nes_rows, axis=1).astype(float) if nes_rows else pd.DataFrame()
    if not nes.empty:
        enr = pd.concat(enriched_rows, axis=1).astype(float)
        sets = pd.DataFrame(
            {
                "term": nes.index.astype(str),
                "stability_nes_min": nes.min(axis=1).round(4).to_numpy(),
                "stability_nes_max": nes.max(axis=1).round(4).to_numpy(),
                "stability_enriched": enr.mean(axis=1).round(4).to_numpy(),
            }
        )
    return sets
