"""Leave-one-out refits started before the run that needs them, and adopted by it.

The refits are the largest piece of work in a run (a full DESeq2 fit per sample left out) and
need only the filtered counts, the design frame and the curated sets, not the full fit.
``bmsc-dge run`` reads and checks the inputs before it imports Prefect and starts the flow, which
leaves one core idle for seconds; :func:`start_refits_early` starts the first contrast's refits
there. :func:`bmsc_dge.tl.analyse_contrast` then adopts them instead of starting its own, but only
when they were started with equal inputs and settings
(:meth:`bmsc_dge.targets.PendingStability.started_as` compares the counts, samples, genes, design
frame, reference levels, contrast, DE and GSEA settings, seed and process count), so the results
are those of refits the flow starts itself.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, fields

from bmsc_dge import deseq2 as de_mod
from bmsc_dge.config import CURATED, Contrast, DEConfig, GeneSetConfig, StudyConfig
from bmsc_dge.genesets import load_for_study, restrict_to_data
from bmsc_dge.study import Study, apply_prefilter
from bmsc_dge.targets import PendingStability, RefitData, start_leave_one_out

logger = logging.getLogger(__name__)

_STARTED: list[PendingStability] = []
_LOCK = threading.Lock()


@dataclass(frozen=True)
class RefitPlan:
    """Every argument of :func:`bmsc_dge.targets.start_leave_one_out` but the fit, for one contrast."""

    design: str
    contrast: Contrast
    alpha: float
    cfg: DEConfig
    curated: dict[str, list[str]] | None
    gene_sets: GeneSetConfig
    seed: int
    processes: int

    @classmethod
    def of(
        cls, contrast: Contrast, cfg: StudyConfig, curated: dict[str, list[str]] | None, processes: int
    ) -> RefitPlan:
        """The refits of ``contrast`` as a run of ``cfg`` starts them (``curated``: matched sets)."""
        return cls(
            design=cfg.design,
            contrast=contrast,
            alpha=cfg.alpha,
            cfg=cfg.de,
            curated=curated,
            gene_sets=cfg.gene_sets.model_copy(update={"permutations": cfg.targets.stability_permutations}),
            seed=cfg.seed,
            processes=processes,
        )

    def start(self, data: RefitData | de_mod.DEFit) -> PendingStability:
        """Start the refits of ``data`` (a fit, or what a fit will be fitted on)."""
        return start_leave_one_out(
            data,
            self.design,
            self.contrast,
            alpha=self.alpha,
            cfg=self.cfg,
            curated=self.curated,
            gene_sets=self.gene_sets,
            seed=self.seed,
            processes=self.processes,
        )

    def adopt(self, fit: de_mod.DEFit) -> PendingStability | None:
        """Refits started early exactly as :meth:`start` would start them for ``fit`` (taken once).

        Refits started early are meant for the first refits a run starts: any that do not match
        are stopped here.
        """
        data = RefitData.of_fit(fit)
        arguments = {f.name: getattr(self, f.name) for f in fields(self)}
        with _LOCK:
            matching = [p for p in _STARTED if p.started_as(data, **arguments)]
            others = [p for p in _STARTED if not any(p is q for q in matching)]
            _STARTED[:] = matching[1:]
        for pending in others:  # started for these refits, but with other inputs: of no use now
            logger.info("leave-one-out refits started early differ from the run's (inputs changed?): stopped")
            pending.cancel()
        return matching[0] if matching else None


class EarlyRefits:
    """Refits started by :func:`start_refits_early`; :meth:`cancel_unadopted` stops those no run took."""

    def __init__(self, started: list[PendingStability]) -> None:
        self._started = started

    def __len__(self) -> int:
        return len(self._started)

    def cancel_unadopted(self) -> None:
        """Kill the refits no run adopted (it failed first, or its inputs changed)."""
        with _LOCK:
            left = [p for p in self._started if any(p is q for q in _STARTED)]
            _STARTED[:] = [q for q in _STARTED if not any(p is q for p in left)]
        for pending in left:
            logger.info("leave-one-out refits started early were not used: stopped")
            pending.cancel()
        self._started = []


def start_refits_early(cfg: StudyConfig, study: Study) -> EarlyRefits:
    """Start the leave-one-out refits of the first contrast of ``cfg`` on ``study`` in forked processes.

    Nothing starts when stability is off, the fits run on Dask (``execution.engine: dask``) or
    ``execution.stability_processes`` is 1 (the refits would run in the adopting step anyway).
    Call :meth:`EarlyRefits.cancel_unadopted` when the run has ended, in the thread that called this.
    """
    if not cfg.targets.stability or cfg.execution.engine == "dask" or cfg.execution.stability_processes < 2:
        return EarlyRefits([])
    contrast = cfg.contrasts[0]
    adata, _ = apply_prefilter(study, cfg)
    curated = None
    if CURATED in cfg.gene_sets.collections:
        sets = load_for_study([CURATED], [], cfg.species)[CURATED]
        curated = restrict_to_data(sets, list(adata.var["symbol"].astype(str)), cfg.species)[0]
    references = de_mod.fit_references(contrast, cfg.reference_levels)
    data = RefitData.before_fit(adata, study.frame, cfg.design, references)
    pending = RefitPlan.of(contrast, cfg, curated, cfg.execution.stability_processes).start(data)
    with _LOCK:
        _STARTED.append(pending)
    return EarlyRefits([pending])
