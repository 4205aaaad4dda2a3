"""bmsc-dge: differential expression, GSEA and target ranking for T2DM vs control BMSCs.

The library is organised by role; each sub-package's ``__init__`` is its public API and private
``_module.py`` files hold the code. Lower layers never import higher ones (the engine knows
nothing of studies or reports).

``io``          reading and checking inputs -> a validated study (AnnData + design frame)
``pp``          low-count filters and per-sample QC (scanpy)
``deseq2``      the DESeq2 engine, R DESeq2 1.38's statistics for all genes at once
``enrichment``  pre-ranked GSEA on the Wald statistic
``genesets``    the curated, versioned gene-set library and broad collections
``targets``     target ranking with evidence, and leave-one-sample-out stability
``tl``          one contrast from fit to targets: the code path shared by CLI, flows and Dask
``report``      tables, figures, summary, HTML report and Prefect artifacts of a run
``pl``          plotting functions (matplotlib figures)
``runs``        run folders, provenance, fingerprints, changes, progress, the local server
``engines``     registered DESeq2 / GSEA engines with name, version and reference
``config``      YAML -> validated, typed study configuration; ``errors``: domain errors
``simulate``    seeded negative-binomial study simulator (bundled example, tests)

In a notebook (docs/api.md)::

    import bmsc_dge as bd
    pb = bd.pp.pseudobulk(adata, sample_key="donor", groups_key="cell_type")
    de = bd.tl.deseq2(pb[pb.obs.cell_type == "MSC"].copy(), design="~ sex + condition",
                      contrast=["condition", "T2DM", "control"])
    gs = bd.tl.gsea(de, collections=["curated"])
    tg = bd.tl.rank_targets(de, gs)
    bd.pl.volcano(de); bd.pl.gsea_dotplot(gs)
"""

import importlib
from typing import Any

#: sub-packages imported on first use (``import bmsc_dge as bd; bd.tl.deseq2``), so that the CLI
#: and ``bmsc-dge --help`` do not pay for scanpy and PyDESeq2 imports they do not need
_SUBPACKAGES = (
    "io",
    "pp",
    "deseq2",
    "enrichment",
    "genesets",
    "targets",
    "tl",
    "report",
    "pl",
    "runs",
    "engines",
)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bmsc-dge")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def __getattr__(name: str) -> Any:
    if name == "__version__":  # read on first use: importlib.metadata costs ~40 ms, and the
        # `bmsc-dge` command that hands a run to a warm worker imports this package (bmsc_dge._warm)
        globals()["__version__"] = value = _version()
        return value
    if name in _SUBPACKAGES:
        return importlib.import_module(f"bmsc_dge.{name}")
    raise AttributeError(f"module 'bmsc_dge' has no attribute {name!r}")


__all__ = ["__version__", *_SUBPACKAGES]
