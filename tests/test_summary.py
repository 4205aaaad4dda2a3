"""summary.md leads with the absence of signal before any list (issue: targets v2)."""

import numpy as np
import pandas as pd

from bmsc_dge.config import Contrast, StudyConfig, TargetWeights
from bmsc_dge.genesets import GeneSet
from bmsc_dge.report import summary_markdown
from bmsc_dge.targets import rank_targets
from bmsc_dge.tl import ContrastResult, no_signal_note


def _result(padj: list[float]) -> ContrastResult:
    de = pd.DataFrame(
        {
            "gene_id": ["a", "b", "c"],
            "symbol": ["RUNX2", "ID3", "X1"],
            "log2FoldChange": [-1.0, 0.5, 2.0],
            "log2FoldChange_shrunk": [-0.1, 0.05, 0.2],
            "stat": [-1.0, 0.5, 1.2],
            "padj": padj,
        }
    )
    sets = [
        GeneSet(
            id="S",
            name="s",
            description="",
            collection="curated",
            species="human",
            genes=("RUNX2", "ID3"),
            expected_t2dm="down",
            evidence={"RUNX2": ["DOI:x"], "ID3": ["GO:1"]},
        )
    ]
    gsea = pd.DataFrame(
        {"term": ["S"], "collection": ["curated"], "nes": [-1.0], "fdr": [0.6], "leading_edge": ["RUNX2"]}
    )
    targets = rank_targets(de, gsea, sets, alpha=0.05, gsea_fdr=0.05, weights=TargetWeights())
    c = Contrast(name="T2DM_vs_control", variable="condition", target="T2DM", reference="control")
    return ContrastResult(contrast=c, de=de, gsea=gsea, targets=targets)


def _cfg() -> StudyConfig:
    return StudyConfig.model_validate(
        {
            "name": "null_study",
            "counts": "c.tsv",
            "samples": "s.tsv",
            "design": "~ condition",
            "contrasts": [
                {"name": "T2DM_vs_control", "variable": "condition", "target": "T2DM", "reference": "control"}
            ],
            "alpha": 0.05,
        }
    )


def test_no_signal_is_said_first():
    res = _result([0.97, 0.99, 1.0])
    assert not res.targets["supported_by_data"].any()
    qc = pd.DataFrame({"library_size": [1e6, 2e6]})
    text = summary_markdown(_cfg(), [res], qc)
    first_list = text.index("| rank |")
    warning = text.index("No significant gene (padj < 0.05) in: T2DM_vs_control")
    assert warning < text.index("- design:") < first_list
    assert text.index(no_signal_note(res, 0.05) or "") < first_list
    assert "| 1 | RUNX2 |" not in text.split(no_signal_note(res, 0.05) or "")[0]


def test_signal_has_no_warning():
    res = _result([0.01, 0.99, np.nan])
    text = summary_markdown(_cfg(), [res], pd.DataFrame({"library_size": [1e6, 2e6]}))
    assert "No significant gene" not in text and "No gene reaches" not in text
    assert "| yes |" in text


def test_summary_lists_design_variables_and_input_notes():
    res = _result([0.01, 0.99, np.nan])
    inputs = {
        "design_variables": [
            {"variable": "donor", "type": "factor", "levels": {"713": 2, "714": 2, "720": 2}},
            {"variable": "age", "type": "numeric", "mean": 61.5, "sd": 7.25, "min": 50.0, "max": 70.0},
        ],
        "notes": ["counts rounded as DESeqDataSetFromTximport does"],
    }
    text = summary_markdown(_cfg(), [res], pd.DataFrame({"library_size": [1e6, 2e6]}), inputs)
    assert "donor: factor (713: 2, 714: 2, 720: 2)" in text
    assert "age: numeric, mean 61.5 +/- 7.25 SD" in text
    assert "- input: counts rounded as DESeqDataSetFromTximport does" in text
