"""bmsc-dge: differential expression, GSEA and target ranking for T2DM vs control BMSCs.

The library is organised in small modules of one responsibility each:

``config``      YAML -> validated, typed study configuration
``io``          count matrices and sample sheets -> AnnData (no statistics)
``ids``         gene identifier detection and mapping to HGNC / MGI symbols
``validation``  input and design checks that fail with a clear message
``filtering``   low-count gene filtering (edgeR ``filterByExpr`` semantics)
``qc``          per-sample QC metrics (scanpy)
``de``          PyDESeq2 fits and contrasts -> tidy DE tables
``gsea``        gseapy prerank on the Wald statistic -> tidy GSEA tables
``targets``     target ranking with an evidence column
``export``      TSV / XLSX writers
``rundir``      atomic, never-overwriting run folders
``genesets``    the curated, versioned gene-set library and broad collections
``simulate``    seeded negative-binomial study simulator (bundled example, tests)
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bmsc-dge")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]
