"""Run bmsc-dge's DE on the committed R-reference datasets and compare (used by test_parity)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from bmsc_dge.config import Contrast, DEConfig
from bmsc_dge.deseq2 import DEFit, contrast_table, fit_deseq2

DATA = Path(__file__).resolve().parent / "data" / "deseq2"

CASES: dict[str, dict] = {
    "two_group": {
        "design": "~ condition",
        "refs": {"condition": "control"},
        "contrast": Contrast(name="c", variable="condition", target="T2DM", reference="control"),
    },
    "batch": {
        "design": "~ batch + condition",
        "refs": {"condition": "control", "batch": "b1"},
        "contrast": Contrast(name="c", variable="condition", target="T2DM", reference="control"),
    },
    "continuous": {
        "design": "~ age + condition",
        "refs": {"condition": "control"},
        "contrast": Contrast(name="c", variable="condition", target="T2DM", reference="control"),
    },
    "lowcount": {
        "design": "~ condition",
        "refs": {"condition": "control"},
        "contrast": Contrast(name="c", variable="condition", target="T2DM", reference="control"),
    },
    "outliers": {
        "design": "~ condition",
        "refs": {"condition": "control"},
        "contrast": Contrast(name="c", variable="condition", target="T2DM", reference="control"),
    },
    "interaction": {
        "design": "~ sex + condition + sex:condition",
        "refs": {"condition": "control", "sex": "F"},
        "contrast": Contrast(name="i", coefficient="sexM.conditionT2DM"),
    },
    "lrt": {
        "design": "~ batch + glucose",
        "refs": {"batch": "b1", "glucose": "normal"},
        "contrast": Contrast(name="l", test="lrt", reduced="~ batch"),
    },
}

#: Shallow, zero-heavy and few-residual-df datasets (make_datasets_fewdf.py / make_reference_fewdf.R).
FEWDF_CASES: dict[str, dict] = {
    "shallow_donor": {
        "design": "~ donor + status",
        "refs": {"donor": "d1", "status": "undiff"},
        "contrast": Contrast(name="c", variable="status", target="osteo", reference="undiff"),
    },
    "shallow_two": {
        "design": "~ condition",
        "refs": {"condition": "control"},
        "contrast": Contrast(name="c", variable="condition", target="T2DM", reference="control"),
    },
    "sex_3v3": {
        "design": "~ sex + condition",
        "refs": {"condition": "control", "sex": "F"},
        "contrast": Contrast(name="c", variable="condition", target="T2DM", reference="control"),
    },
    "one_df": {
        "design": "~ batch + condition",
        "refs": {"condition": "control", "batch": "b1"},
        "contrast": Contrast(name="c", variable="condition", target="T2DM", reference="control"),
    },
    "poscounts": {
        "design": "~ condition",
        "refs": {"condition": "control"},
        "contrast": Contrast(name="c", variable="condition", target="T2DM", reference="control"),
        "size_factors": "poscounts",
    },
}
CASES.update(FEWDF_CASES)

ALT_HYPOTHESES = ("greaterAbs", "lessAbs", "greater", "less")
THRESHOLD = float(np.log2(1.5))


def load_dataset(name: str) -> tuple[ad.AnnData, pd.DataFrame]:
    counts = pd.read_csv(DATA / f"{name}.counts.csv", index_col=0)
    coldata = pd.read_csv(DATA / f"{name}.coldata.csv", index_col=0)
    frame = coldata.copy()
    for c in frame.columns:
        frame[c] = frame[c].astype(float) if pd.api.types.is_numeric_dtype(frame[c]) else frame[c].astype(str)
    mat = counts.to_numpy(dtype=np.int64).T
    adata = ad.AnnData(
        X=mat,
        obs=pd.DataFrame(index=counts.columns.astype(str)),
        var=pd.DataFrame({"symbol": counts.index.astype(str)}, index=counts.index.astype(str)),
    )
    adata.layers["counts"] = mat.copy()
    return adata, frame


@dataclass
class Comparison:
    name: str
    n_genes: int
    pvalue_nan_mismatch: int
    padj_nan_mismatch: int
    lfc_spearman: float
    call_agreement: float
    calls_ours: int
    calls_r: int
    threshold_ours: float
    threshold_r: float
    size_factor_max_rel_diff: float

    def row(self) -> dict:
        return self.__dict__.copy()


def run_case(name: str, cfg: DEConfig | None = None) -> tuple[pd.DataFrame, DEFit]:
    case = CASES[name]
    adata, frame = load_dataset(name)
    cfg = cfg or DEConfig(n_cpus=1, lfc_shrink=False, size_factors=case.get("size_factors", "ratio"))
    fit = fit_deseq2(adata, frame, case["design"], case["refs"], cfg)
    table = contrast_table(fit, case["contrast"], 0.05, cfg)
    return table, fit


def r_prior_variance(name: str) -> float:
    """R's ``dispPriorVar`` recorded in ``<name>.r_meta.csv`` (new references only)."""
    meta = pd.read_csv(DATA / f"{name}.r_meta.csv").set_index("key")["value"]
    return float(meta["dispPriorVar"])


def compare(name: str, ours: pd.DataFrame, fit: DEFit, alpha: float = 0.05) -> Comparison:
    r = pd.read_csv(DATA / f"{name}.r_results.csv").set_index("gene")
    meta = pd.read_csv(DATA / f"{name}.r_meta.csv").set_index("key")["value"]
    o = ours.set_index("gene_id").reindex(r.index)
    p_mis = int((o["pvalue"].isna() != r["pvalue"].isna()).sum())
    a_mis = int((o["padj"].isna() != r["padj"].isna()).sum())
    both = o["log2FoldChange"].notna() & r["log2FoldChange"].notna()
    rho = float(spearmanr(o.loc[both, "log2FoldChange"], r.loc[both, "log2FoldChange"]).statistic)
    call_o = (o["padj"] < alpha).fillna(False).to_numpy()
    call_r = (r["padj"] < alpha).fillna(False).to_numpy()
    sf_r = pd.read_csv(DATA / f"{name}.r_sizefactors.csv").set_index("sample")["sizeFactor"]
    sf_o = pd.Series(np.asarray(fit.dds.obs["size_factors"]), index=fit.dds.obs_names).reindex(sf_r.index)
    thr_r = float(meta.get("filterThreshold", np.nan)) if pd.notna(meta.get("filterThreshold")) else np.nan
    return Comparison(
        name=name,
        n_genes=len(r),
        pvalue_nan_mismatch=p_mis,
        padj_nan_mismatch=a_mis,
        lfc_spearman=rho,
        call_agreement=float((call_o == call_r).mean()),
        calls_ours=int(call_o.sum()),
        calls_r=int(call_r.sum()),
        threshold_ours=float(ours.attrs.get("filter_threshold", np.nan)),
        threshold_r=thr_r,
        size_factor_max_rel_diff=float((sf_o / sf_r - 1).abs().max()),
    )
