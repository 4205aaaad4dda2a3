"""What one leave-one-sample-out refit reads, and the refit itself.

The refits need the full fit's *inputs* only (counts, samples, genes, the design frame with its
reference levels), not its estimates, so :class:`RefitData` can be taken from a finished fit
(:meth:`RefitData.of_fit`) or, before the fit, from the filtered study it will be fitted on
(:meth:`RefitData.before_fit`). Both give equal values for the same study; :meth:`RefitData.same_as`
tells whether refits started from one can stand for refits of the other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd

from bmsc_dge import deseq2 as de_mod
from bmsc_dge import enrichment as gsea_mod
from bmsc_dge.config import CURATED, Contrast, DEConfig, GeneSetConfig
from bmsc_dge.errors import BmscDgeError

#: one refit's outcome: its DE columns and curated-set table, or why it failed
RefitOutcome = tuple[pd.DataFrame, pd.DataFrame | None] | str


@dataclass(frozen=True)
class RefitData:
    """The inputs of a DESeq2 fit that the leave-one-out refits reuse."""

    #: samples x genes raw counts, as the fit holds them
    counts: np.ndarray
    samples: list[str]
    gene_ids: pd.Index
    symbols: np.ndarray
    #: the design frame as the fit used it (reference levels set, covariates standardised)
    meta: pd.DataFrame
    references: dict[str, str]

    @classmethod
    def of_fit(cls, fit: de_mod.DEFit) -> RefitData:
        """What ``fit`` was fitted on."""
        dds = fit.dds
        return cls(
            counts=np.asarray(dds.X),
            samples=[str(s) for s in dds.obs_names],
            gene_ids=pd.Index(dds.var_names),
            symbols=dds.var["symbol"].astype(str).to_numpy(),
            meta=fit.meta,
            references=dict(fit.references),
        )

    @classmethod
    def before_fit(
        cls, adata: ad.AnnData, frame: pd.DataFrame, design: str, references: Mapping[str, str]
    ) -> RefitData:
        """What :func:`bmsc_dge.deseq2.fit_deseq2` will fit on for the same arguments.

        Prepared by the fit's own :func:`bmsc_dge.deseq2.fit_inputs`, so the two cannot drift apart.
        """
        counts, meta, _ = de_mod.fit_inputs(adata, frame, design, references)
        return cls(
            counts=counts.to_numpy(),
            samples=[str(s) for s in adata.obs_names],
            gene_ids=pd.Index(adata.var_names),
            symbols=adata.var["symbol"].astype(str).to_numpy(),
            meta=meta,
            references=dict(references),
        )

    def same_as(self, other: RefitData) -> bool:
        """True when refits of ``self`` and of ``other`` compute the same thing (equal values and types)."""
        return (
            self.samples == other.samples
            and self.references == other.references
            and self.counts.dtype == other.counts.dtype
            and np.array_equal(self.counts, other.counts)
            and self.gene_ids.equals(other.gene_ids)
            and np.array_equal(self.symbols, other.symbols)
            and list(self.meta.columns) == list(other.meta.columns)
            and list(self.meta.dtypes) == list(other.meta.dtypes)
            and self.meta.equals(other.meta)
        )


def refit_without(
    data: RefitData,
    design: str,
    contrast: Contrast,
    alpha: float,
    cfg: DEConfig,
    curated: Mapping[str, Sequence[str]] | None,
    settings: GeneSetConfig,
    seed: int,
) -> Callable[[int], RefitOutcome]:
    """The refit of ``contrast`` without sample ``i`` (a function of ``i``, run in a forked child)."""

    def refit(i: int) -> RefitOutcome:
        keep = np.arange(len(data.samples)) != i
        sub = ad.AnnData(
            X=data.counts[keep],
            obs=pd.DataFrame(index=[s for j, s in enumerate(data.samples) if keep[j]]),
            var=pd.DataFrame({"symbol": data.symbols}, index=data.gene_ids),
        )
        sub.layers["counts"] = data.counts[keep].copy()
        frame = data.meta.loc[sub.obs_names].copy()
        for col in frame.columns:
            if isinstance(frame[col].dtype, pd.CategoricalDtype):
                frame[col] = frame[col].astype(str)
        try:
            loo_fit = de_mod.fit_deseq2(sub, frame, design, data.references, cfg)
            table = de_mod.contrast_table(loo_fit, contrast, alpha, cfg).set_index("gene_id")
        except BmscDgeError as exc:  # e.g. a design that becomes rank-deficient
            return str(exc)
        sets_table = None
        if curated:
            sets_table = gsea_mod.run_prerank(
                gsea_mod.ranking_from_de(table.reset_index()),
                {k: list(v) for k, v in curated.items()},
                collection=CURATED,
                settings=settings,
                seed=seed,
                curves=False,
            ).table.set_index("term")[["nes", "fdr"]]
        return table[["padj", "pvalue", "log2FoldChange"]], sets_table

    return refit
