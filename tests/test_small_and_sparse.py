"""Targeted panels and sparse studies run through the CLI to the end (issue: small gene panels)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from .test_cli import run_cli

PANEL = ["RUNX2", "SP7", "ALPL", "BGLAP", "COL1A1", "SPP1", "FOXQ1", "GPX4", "SLC7A11", "TFRC"]


def _write(folder: Path, counts: pd.DataFrame, samples: pd.DataFrame, **extra) -> Path:
    counts.to_csv(folder / "counts.tsv", sep="\t")
    samples.to_csv(folder / "samples.tsv", sep="\t", index=False)
    cfg = {
        "name": folder.name,
        "counts": "counts.tsv",
        "samples": "samples.tsv",
        "design": "~ condition",
        "contrasts": [
            {"name": "T2DM_vs_control", "variable": "condition", "target": "T2DM", "reference": "control"}
        ],
        "species": "human",
        "alpha": 0.05,
        "outdir": "results",
        **extra,
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _panel(folder: Path) -> Path:
    rng = np.random.default_rng(3)
    cond = np.array(["control"] * 4 + ["T2DM"] * 4)
    base = np.exp(rng.normal(6, 1.5, len(PANEL)))
    effect = np.array([-1.5, -1, 0, 0, 0, 0, -2, -1, 0, 1.5])
    mu = base[None, :] * rng.uniform(0.7, 1.3, 8)[:, None] * 2 ** ((cond == "T2DM")[:, None] * effect)
    y = rng.negative_binomial(10, 10 / (10 + mu))
    samples = [f"S{i + 1}" for i in range(8)]
    counts = pd.DataFrame(y.T, index=pd.Index(PANEL, name="gene_id"), columns=samples)
    return _write(folder, counts, pd.DataFrame({"sample": samples, "condition": cond}))


def _all_genes_zero(folder: Path) -> Path:
    rng = np.random.default_rng(4)
    from bmsc_dge.io import human_id_table

    symbols = human_id_table().query("GENETYPE == 'protein-coding'")["SYMBOL"].dropna().unique()[:800]
    cond = np.array(["control"] * 4 + ["T2DM"] * 4)
    mu = np.exp(rng.normal(3, 1.5, symbols.size))[None, :] * rng.uniform(0.6, 1.4, 8)[:, None]
    y = rng.negative_binomial(5, 5 / (5 + mu))
    y[rng.integers(0, 8, symbols.size), np.arange(symbols.size)] = 0  # a zero in every gene
    samples = [f"S{i + 1}" for i in range(8)]
    counts = pd.DataFrame(y.T, index=pd.Index(symbols, name="gene_id"), columns=samples)
    assert (counts == 0).any(axis=1).all()
    return _write(
        folder,
        counts,
        pd.DataFrame({"sample": samples, "condition": cond}),
        gene_sets={"collections": ["curated"]},
    )


@pytest.mark.e2e
@pytest.mark.parametrize("make", [_panel, _all_genes_zero], ids=["10-gene panel", "every gene has a zero"])
def test_runs_to_the_end(tmp_path, make):
    config = make(tmp_path)
    proc = run_cli("run", str(config), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    run = (tmp_path / "results" / "latest").resolve()
    de = pd.read_csv(run / "tables" / "de" / "T2DM_vs_control.deseq2.tsv", sep="\t")
    assert de["pvalue"].notna().any() and (de["pvalue"].dropna() > 0).all()
    assert (run / "report.html").is_file()
    qc = pd.read_csv(run / "tables" / "qc" / "samples.tsv", sep="\t")
    assert len(qc) == 8
    warnings = (run / "warnings.txt").read_text()
    if make is _panel:
        assert (qc["pct_counts_top_50"] == 100).all()  # a 10-gene panel has all its reads in its top 50
        assert warnings.count("\n") < 15, warnings  # coverage reported per collection, not per set
    else:
        assert "poscounts" in warnings
