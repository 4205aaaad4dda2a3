"""Curated, versioned gene-set library and broad collections (see :mod:`.registry`)."""

from bmsc_dge.genesets.gmt import read_gmt, write_gmt
from bmsc_dge.genesets.orthologs import convert_genes, human_to_mouse
from bmsc_dge.genesets.registry import (
    BUILTIN_COLLECTIONS,
    GeneSet,
    collections_meta,
    get_set,
    library_version,
    load_builtin,
    load_curated,
    load_for_study,
    load_user_gmt,
    restrict_to_data,
    sets_as_gmt,
)

__all__ = [
    "BUILTIN_COLLECTIONS",
    "GeneSet",
    "collections_meta",
    "convert_genes",
    "get_set",
    "human_to_mouse",
    "library_version",
    "load_builtin",
    "load_curated",
    "load_for_study",
    "load_user_gmt",
    "read_gmt",
    "restrict_to_data",
    "sets_as_gmt",
    "write_gmt",
]
