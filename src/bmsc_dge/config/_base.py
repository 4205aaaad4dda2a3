"""Shared pieces of the config models: strict base model, names, species and collections."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib.resources import files
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Species = Literal["human", "mouse", "rat", "other"]
#: how a design variable enters the model: one coefficient per level, or one slope per unit
VariableType = Literal["factor", "numeric"]
#: the name of a built-in gene-set collection (:func:`builtin_collections`)
Collection = str
#: the curated collection: the one whose sets carry expected directions and drive the targets
CURATED = "curated"


@lru_cache(maxsize=1)
def builtin_collections() -> dict[str, dict[str, Any]]:
    """The registry of built-in gene-set collections: name -> format, file(s), licence, version.

    One file, ``bmsc_dge/genesets/data/collections.json`` (written by ``scripts/build_genesets.py``),
    is read by config validation, the gene-set loader and the CLI; a new collection is a new
    entry there and its data file. Read as package data: no module of :mod:`bmsc_dge.genesets`
    is imported.
    """
    path = files("bmsc_dge") / "genesets" / "data" / "collections.json"
    return dict(json.loads(path.read_text()))


def default_collections() -> tuple[str, ...]:
    """The collections a run uses when ``gene_sets.collections`` is not given, in registry order."""
    return tuple(name for name, meta in builtin_collections().items() if meta.get("default"))


DEFAULT_COLLECTIONS: tuple[str, ...] = default_collections()

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
