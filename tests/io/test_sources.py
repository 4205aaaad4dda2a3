"""Studies as labs hold them (issue 21): tximport, nf-core/rnaseq tables, htseq-count and STAR files
through ``load_study`` and the DESeq2 engine, against R (tests/data/inputs/README.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import spearmanr

from bmsc_dge.config import Contrast, load_config
from bmsc_dge.deseq2 import NORM_FACTORS, contrast_table, fit_deseq2, vst
from bmsc_dge.io._tximport import tximport
from bmsc_dge.study import load_study

DATA = Path(__file__).resolve().parents[1] / "data" / "inputs"
REF = DATA / "reference"
SAMPLES = pd.read_csv(DATA / "samples.tsv", sep="\t", dtype=str)["sample"].tolist()

CONTRAST = Contrast(name="T2DM_vs_control", variable="condition", target="T2DM", reference="control")

#: source -> config keys (paths relative to tests/data/inputs) and the design R used
SOURCES: dict[str, tuple[dict, str]] = {
    "salmon": (
        {"tximport": {"type": "salmon", "files": "salmon/{sample}/quant.sf.gz", "tx2gene": "tx2gene.csv"}},
        "~ condition",
    ),
    "rsem": (
        {"tximport": {"type": "rsem", "files": "rsem/{sample}.genes.results.gz"}},
        "~ batch + condition",
    ),
    "nfcore": (
        {
            "counts": "nfcore/salmon.merged.gene_counts.tsv",
            "lengths": "nfcore/salmon.merged.gene_lengths.tsv",
        },
        "~ condition",
    ),
    "htseq": ({"counts": "htseq/{sample}.txt"}, "~ batch + condition"),
    "star": (
        {"counts": "star/{sample}.ReadsPerGene.out.tab", "star_strand": "reverse"},
        "~ batch + condition",
    ),
}


def write_config(folder: Path, source: dict, design: str, **extra: object) -> Path:
    """A study config in ``folder`` pointing at the committed inputs."""
    cfg = {
        "name": "door",
        "samples": str(DATA / "samples.tsv"),
        "design": design,
        **({"variables": {"batch": "factor"}} if "batch" in design else {}),
        "contrasts": [
            {"name": "T2DM_vs_control", "variable": "condition", "target": "T2DM", "reference": "control"}
        ],
        "alpha": 0.05,
        "prefilter": False,
        **extra,
    }
    for key, value in source.items():
        if isinstance(value, dict):
            cfg[key] = {k: (str(DATA / v) if k in ("files", "tx2gene") else v) for k, v in value.items()}
        elif key in ("counts", "lengths"):
            cfg[key] = str(DATA / value)
        else:
            cfg[key] = value
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize("kind", ["salmon", "kallisto", "rsem"])
def test_tximport_equals_r(kind):
    pattern = {
        "salmon": "salmon/{s}/quant.sf.gz",
        "kallisto": "kallisto/{s}/abundance.tsv.gz",
        "rsem": "rsem/{s}.genes.results.gz",
    }[kind]
    files = {s: DATA / pattern.format(s=s) for s in SAMPLES}
    txi = tximport(files, kind, None if kind == "rsem" else DATA / "tx2gene.csv")
    for what in ("counts", "length", "abundance"):
        r = pd.read_csv(REF / f"{kind}.txi_{what}.csv", index_col=0)
        ours = getattr(txi, what).reindex(index=r.index, columns=r.columns)
        assert ours.notna().all().all(), what
        np.testing.assert_allclose(ours.to_numpy(), r.to_numpy(), rtol=1e-12, err_msg=f"{kind} {what}")
    if kind == "rsem":
        assert txi.notes and "set to 1" in txi.notes[0]


@pytest.fixture(scope="module", params=list(SOURCES))
def fitted(request, tmp_path_factory):
    name = request.param
    source, design = SOURCES[name]
    cfg = load_config(write_config(tmp_path_factory.mktemp(name), source, design))
    study = load_study(cfg)
    c = cfg.contrasts[0]
    refs = {"condition": "control", **({"batch": "1"} if "batch" in design else {})}
    fit = fit_deseq2(study.adata, study.frame, cfg.design, refs, cfg.de)
    return name, study, fit, contrast_table(fit, c, cfg.alpha, cfg.de)


# sources whose flat-likelihood gene (ENSG00000197123) stops IRLS 3.0e-3 from R on an AVX2 machine
FLAT_GENE_BOUND = {"htseq": 5e-3, "star": 5e-3}


def test_de_equals_r(fitted):
    """Every door leads to R's table.

    Calls, NaN pattern, Cook's replacements and the independent-filtering threshold are identical;
    baseMean, dispersions of replaced genes and at least 98% of the genes' log2FC and p-values agree
    to 1e-6 relative. The rest (<= 16 of 900 genes, all converged, dispersions equal to 1e-9) differ
    by up to 7e-4 in log2FC (measured; p-values 2e-4 relative): IRLS stops once the deviance changes
    by < 1e-8 relative, which on flat likelihoods (e.g. a gene with many zeros at the dispersion
    cap 14) leaves both fits short of the optimum by different amounts (the same happens in the
    integer-count sources, so not from the length offsets). Where it stops depends on the last
    bits, so on the CPU: on an AVX2 machine (OpenBLAS Haswell kernels; the 7e-4 was measured on the
    earlier one) ENSG00000197123 (7 of 12 counts zero, dispersion at the cap) differs by 3.0e-3 in
    log2FC and p in the htseq and star sources, hence their 5e-3 bounds (the other sources keep
    1e-3: 4.3e-4 at most there). The issue asks for >= 99.9% call agreement and Spearman >= 0.999.
    """
    name, _, fit, table = fitted
    r = pd.read_csv(REF / f"{name}.de.csv").set_index("gene")
    o = table.set_index("gene_id").reindex(r.index)
    assert o["baseMean"].notna().all(), f"genes of R missing from ours ({name})"
    assert ((o["padj"] < 0.05) == (r["padj"] < 0.05)).all()
    assert (o["padj"] < 0.05).sum() >= 50
    assert (o["pvalue"].isna() == r["pvalue"].isna()).all() and (o["padj"].isna() == r["padj"].isna()).all()
    np.testing.assert_allclose(o["baseMean"], r["baseMean"], rtol=1e-10)
    ok = r["pvalue"].notna()
    for col in ("log2FoldChange", "pvalue"):
        rel = (o.loc[ok, col] / r.loc[ok, col] - 1).abs()
        assert (rel < 1e-6).mean() >= 0.98, (name, col)
    bound = FLAT_GENE_BOUND.get(name, 1e-3)
    assert (o.loc[ok, "log2FoldChange"] - r.loc[ok, "log2FoldChange"]).abs().max() < bound
    assert ((o.loc[ok, "pvalue"] / r.loc[ok, "pvalue"]) - 1).abs().max() < bound
    assert spearmanr(o.loc[ok, "log2FoldChange"], r.loc[ok, "log2FoldChange"]).statistic > 0.9999
    meta = pd.read_csv(REF / f"{name}.meta.csv").set_index("key")["value"]
    assert table.attrs["filter_threshold"] == pytest.approx(float(meta["filterThreshold"]), rel=1e-6)
    replaced = r["replaced"].eq(True)
    assert int(fit.dds.var["replaced"].sum()) == int(meta["replaced"]) == int(replaced.sum())
    if replaced.any():  # outliers replaced and refitted with the length offsets, as R
        np.testing.assert_allclose(
            o.loc[replaced, "log2FoldChange"], r.loc[replaced, "log2FoldChange"], rtol=1e-8
        )


def test_normalization_factors_equal_r(fitted):
    name, _, fit, _ = fitted
    path = REF / f"{name}.normfactors.csv"
    if not path.exists():  # integer sources: size factors
        r = pd.read_csv(REF / f"{name}.sizefactors.csv").set_index("sample")["sizeFactor"]
        np.testing.assert_allclose(fit.dds.obs["size_factors"].reindex(r.index), r, rtol=1e-10)
        assert NORM_FACTORS not in fit.dds.layers
        return
    r = pd.read_csv(path, index_col=0)
    nf = pd.DataFrame(
        np.asarray(fit.dds.layers[NORM_FACTORS]).T, index=fit.dds.var_names, columns=fit.dds.obs_names
    )
    np.testing.assert_allclose(nf.reindex(index=r.index, columns=r.columns), r, rtol=1e-10)


def test_vst_with_length_offsets_equals_r(fitted):
    name, study, _, _ = fitted
    r = pd.read_csv(REF / f"{name}.vst.csv", index_col=0)
    ours = vst(study.adata).T.reindex(index=r.index, columns=r.columns)
    np.testing.assert_allclose(ours, r, rtol=1e-8)


@pytest.mark.parametrize("name", ["salmon", "rsem", "nfcore"])
def test_length_offsets_matter_here(name, tmp_path):
    """A trap: the same counts without their lengths give another answer on this study (isoform
    switches between the groups), so the tests above fail if the offsets are dropped."""
    source, design = SOURCES[name]
    cfg = load_config(write_config(tmp_path, source, design))
    study = load_study(cfg)
    refs = {"condition": "control", **({"batch": "1"} if "batch" in design else {})}
    plain = study.adata.copy()
    del plain.layers["avg_tx_length"]
    tables = [
        contrast_table(fit_deseq2(a, study.frame, design, refs, cfg.de), CONTRAST, 0.05, cfg.de).set_index(
            "gene_id"
        )["pvalue"]
        for a in (study.adata, plain)
    ]
    moved = np.abs(np.log(tables[0] / tables[1].reindex(tables[0].index)))
    assert (moved > 0.1).sum() > 10


def test_transcripts_absent_from_tx2gene_without_reads_are_dropped_as_r_does(tmp_path):
    """tximportData's own tx2gene lacks three read-less transcripts: R drops them with a message;
    so does bmsc-dge (with a note), and nothing changes. With reads they stop the run
    (tests/io/test_bad_sources.py)."""
    files = {s: DATA / f"salmon/{s}/quant.sf.gz" for s in SAMPLES}
    tx2gene = pd.read_csv(DATA / "tx2gene.csv")
    quant = pd.concat(
        [pd.read_csv(p, sep="\t").set_index("Name")["NumReads"] for p in files.values()], axis=1
    )
    silent = quant.index[(quant == 0).all(axis=1)][:2]
    assert len(silent) == 2
    tx2gene[~tx2gene["TXNAME"].isin(silent)].to_csv(tmp_path / "tx2gene.csv", index=False)
    txi = tximport(files, "salmon", tmp_path / "tx2gene.csv")
    assert "2 of" in txi.notes[0] and "no reads" in txi.notes[0]
    full = tximport(files, "salmon", DATA / "tx2gene.csv")
    pd.testing.assert_frame_equal(txi.counts, full.counts.loc[txi.counts.index])
