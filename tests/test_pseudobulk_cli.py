"""`bmsc-dge run` on a cells x genes .h5ad with a `pseudobulk:` block: one study per cell type,
DE equal to the Python API's, and clear refusals (log-normalised X, a per-cell design variable)."""

import json
import os
import subprocess

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import bmsc_dge as bd
from bmsc_dge.cli import app
from bmsc_dge.simulate import simulate_single_cell

from .conftest import small_genes
from .test_operations import BIN

EFFECTS = {"FOXQ1": -2.0, "GPX4": -1.5, "LEP": 2.0}


@pytest.fixture(scope="module")
def h5ad_study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sc")
    cells = simulate_single_cell(
        list(small_genes(n_background=250)["symbol"]),
        n_donors=8,
        cells_per_donor=40,
        log2_effects=EFFECTS,
        seed=5,
    )
    # X holds log-normalised values, as after scanpy's normalize_total + log1p; raw counts in a layer
    cells.X = np.log1p(cells.layers["counts"] / cells.layers["counts"].sum(axis=1, keepdims=True) * 1e4)
    cells.write_h5ad(folder / "cells.h5ad")
    config = {
        "name": "sc",
        "counts": "cells.h5ad",
        "design": "~ sex + condition",
        "contrasts": [
            {"name": "T2DM_vs_control", "variable": "condition", "target": "T2DM", "reference": "control"}
        ],
        "alpha": 0.05,
        "outdir": "results",
        "pseudobulk": {
            "sample_key": "donor",
            "cell_type_key": "cell_type",
            "cell_types": ["MSC", "T_cell"],
            "layer": "counts",
        },
        "gene_sets": {"collections": ["curated"], "permutations": 200},
        "targets": {"stability": False},
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    return folder, cells, config


def _write(folder, config, **changes):
    cfg = {**config, **changes}
    path = folder / f"variant_{len(list(folder.glob('variant_*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_log_normalised_x_is_refused_naming_the_counts_layer(h5ad_study):
    folder, _, config = h5ad_study
    pb = {**config["pseudobulk"], "layer": None}
    res = CliRunner().invoke(app, ["validate", str(_write(folder, config, pseudobulk=pb))])
    assert res.exit_code == 2
    assert "cells.h5ad" in res.output and "not raw counts" in res.output and "layer='counts'" in res.output


def test_a_per_cell_variable_cannot_enter_the_design(h5ad_study):
    folder, _, config = h5ad_study
    res = CliRunner().invoke(app, ["validate", str(_write(folder, config, design="~ phase + condition"))])
    assert res.exit_code == 2 and "'phase' varies within a donor" in res.output


def test_validate_checks_every_cell_type(h5ad_study, monkeypatch):
    """Both cell types are checked from one read of the .h5ad."""
    import anndata

    folder, _, _ = h5ad_study
    reads = []
    read = anndata.read_h5ad
    monkeypatch.setattr(anndata, "read_h5ad", lambda *a, **k: reads.append(a) or read(*a, **k))
    res = CliRunner().invoke(app, ["validate", str(folder / "config.yaml")])
    assert res.exit_code == 0, res.output
    assert len(reads) == 1
    assert "ok: sc_MSC: " in res.output and "ok: sc_T_cell: " in res.output and "8 samples" in res.output


@pytest.mark.e2e
def test_run_gives_one_study_per_cell_type_equal_to_the_api(h5ad_study):
    folder, cells, _ = h5ad_study
    env = {**os.environ, "BMSC_DGE_LOCAL_SERVER": "off", "PREFECT_HOME": str(folder / ".prefect")}
    env.pop("PREFECT_API_URL", None)
    run = subprocess.run(
        [str(BIN / "bmsc-dge"), "run", "config.yaml"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    reports = [ln.split(": ", 1)[1] for ln in run.stdout.splitlines() if ln.startswith("report: ")]
    assert len(reports) == 2 and all(os.path.isfile(r) for r in reports)
    assert "/results/MSC/runs/" in reports[0] and "/results/T_cell/runs/" in reports[1]
    msc = pd.read_csv(
        folder / "results" / "MSC" / "latest" / "tables" / "de" / "T2DM_vs_control.deseq2.tsv", sep="\t"
    )
    # the API on the same cells gives the same table
    pb = bd.pp.pseudobulk(cells, sample_key="donor", groups_key="cell_type", layer="counts")
    api = bd.tl.deseq2(
        pb[pb.obs["cell_type"] == "MSC"].copy(),
        design="~ sex + condition",
        contrast=["condition", "T2DM", "control"],
    ).set_index("gene_id")
    cli = msc.set_index("gene_id").loc[api.index]
    for col in ["log2FoldChange", "lfcSE", "pvalue", "padj"]:
        np.testing.assert_allclose(cli[col], api[col], rtol=1e-8, atol=1e-12, equal_nan=True, err_msg=col)
    # the effect was planted in MSCs only
    t_cell = pd.read_csv(
        folder / "results" / "T_cell" / "latest" / "tables" / "de" / "T2DM_vs_control.deseq2.tsv", sep="\t"
    )
    assert msc.set_index("symbol").loc["FOXQ1", "padj"] < 0.05
    assert not t_cell.set_index("symbol").loc["FOXQ1", "padj"] < 0.05
    manifest = json.loads((folder / "results" / "MSC" / "latest" / "manifest.json").read_text())
    assert manifest["config"]["pseudobulk"]["cell_types"] == ["MSC"] and manifest["study"] == "sc_MSC"
    assert "samples" not in manifest["inputs"]
