"""Keys and payloads of the Prefect artifacts a run publishes (the flow does the publishing).

Documented keys (``<study>`` and ``<contrast>`` lower-cased, other characters turned into ``-``):

``<study>-summary``                   markdown: DE counts, enriched curated sets, top targets
``<study>-report``                    link: ``file://`` URL of the run's report.html
``<study>-targets-<contrast>``        table: top targets with score and evidence
``<study>-gsea-curated-<contrast>``   table: curated-set GSEA (NES, FDR, leading edge)
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from bmsc_dge.config import CURATED
from bmsc_dge.tl import ContrastResult


def slug(text: str) -> str:
    """Lower-case ``text`` and keep only ``a-z``, ``0-9`` and single dashes (Prefect key rules)."""
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]", "-", text.lower())).strip("-") or "x"


def artifact_keys(study: str, contrasts: list[str]) -> dict[str, str]:
    """All artifact keys of a run, by role."""
    s = slug(study)
    keys = {"summary": f"{s}-summary", "report": f"{s}-report"}
    for c in contrasts:
        keys[f"targets:{c}"] = f"{s}-targets-{slug(c)}"
        keys[f"gsea:{c}"] = f"{s}-gsea-curated-{slug(c)}"
    return keys


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    clean = df.replace({np.nan: None})
    return [
        {str(k): (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()}
        for row in clean.to_dict(orient="records")
    ]


def targets_records(result: ContrastResult, top: int = 25) -> list[dict[str, Any]]:
    """Rows of the targets table artifact."""
    cols = [
        "rank",
        "symbol",
        "gene_id",
        "score",
        "direction",
        "log2FoldChange_shrunk",
        "padj",
        "supported_by_data",
        "literature_direction",
        "evidence_grade",
        "direction_sources",
        "stability_flag",
        "evidence",
    ]
    return _records(result.targets.head(top)[[c for c in cols if c in result.targets.columns]])


def gsea_records(result: ContrastResult) -> list[dict[str, Any]]:
    """Rows of the curated-GSEA table artifact."""
    cur = result.gsea[result.gsea["collection"] == CURATED].sort_values("fdr")
    cols = ["term", "size", "nes", "pval", "fdr", "direction_vs_expected", "leading_edge"]
    return _records(cur[[c for c in cols if c in cur.columns]])
