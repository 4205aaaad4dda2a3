"""Shared pieces of the config models: strict base model, names, species and collections."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

Species = Literal["human", "mouse", "rat", "other"]
#: how a design variable enters the model: one coefficient per level, or one slope per unit
VariableType = Literal["factor", "numeric"]
Collection = Literal["curated", "hallmark", "go_bp"]

DEFAULT_COLLECTIONS: tuple[Collection, ...] = ("curated", "hallmark", "go_bp")

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
