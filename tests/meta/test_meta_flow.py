"""`bmsc-dge meta` end to end on the bundled three-study, two-species example, and its refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from bmsc_dge.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _example(tmp: Path) -> Path:
    """The example's study data and configs in ``tmp`` with a meta config beside them."""
    shutil.copytree(
        ROOT / "data" / "example_meta", tmp / "example_meta", ignore=shutil.ignore_patterns("*.py")
    )
    for cfg in (tmp / "example_meta").glob("*.yaml"):
        raw = yaml.safe_load(cfg.read_text())
        raw["outdir"] = f"../results/{raw['name']}"
        cfg.write_text(yaml.safe_dump(raw))
    meta = yaml.safe_load((ROOT / "configs" / "example_meta.yaml").read_text())
    for s in meta["studies"]:
        s["config"] = s["config"].replace("../data/", "")
    meta["outdir"] = "results/meta"
    path = tmp / "meta.yaml"
    path.write_text(yaml.safe_dump(meta))
    return path


@pytest.fixture(scope="module")
def meta_runs(prefect_harness, tmp_path_factory):
    from flows.analysis import command_line_settings
    from flows.meta import meta_flow

    tmp = tmp_path_factory.mktemp("meta")
    config = _example(tmp)
    with command_line_settings():
        first = Path(meta_flow(str(config)))
        second = Path(meta_flow(str(config)))
    return tmp, first, second


@pytest.mark.e2e
def test_planted_consistent_gene_ranks_first_and_single_study_evidence_is_flagged(meta_runs):
    _, run, _ = meta_runs
    name = "t2dm_bmsc_meta"
    targets = pd.read_csv(run / "tables" / "meta" / f"{name}.targets.tsv", sep="\t").set_index("symbol")
    assert targets.index[0] == "FOXQ1"
    assert (
        targets.loc["FOXQ1", "loso_flag"] != targets.loc["FOXQ1", "loso_flag"]
        or not targets.loc["FOXQ1", "loso_flag"]
    )
    assert bool(targets.loc["THBS2", "supported_by_data"])
    assert targets.loc["THBS2", "loso_flag"] == "rests on patients"
    genes = pd.read_csv(run / "tables" / "meta" / f"{name}.meta.tsv", sep="\t").set_index("symbol")
    assert genes.loc["GPX4", "I2"] > 75  # opposite in the mouse: heterogeneous, not a confident target
    traps = [g for g in ("CTNNB1", "SIRT1", "AIFM2") if g in genes.index]
    assert len(traps) >= 2 and not (genes.loc[traps, "padj"] < 0.05).any()  # null curated traps
    sets = pd.read_csv(run / "tables" / "meta" / f"{name}.gsea_meta.tsv", sep="\t").set_index("term")
    for term in ("BMSC_FERROPTOSIS_SUPPRESSORS", "BMSC_WNT_AGONISTS", "BMSC_FOXQ1_PROGRAM"):
        assert sets.loc[term, "fdr"] < 0.05 and sets.loc[term, "z"] < 0 and sets.loc[term, "n_down"] == 3, (
            term
        )


@pytest.mark.e2e
def test_meta_run_folder_is_complete_and_studies_are_not_refitted_when_unchanged(meta_runs):
    tmp, first, second = meta_runs
    assert first != second and first.is_dir() and second.is_dir()
    for rel in (
        "report.html",
        "summary.md",
        "manifest.json",
        "warnings.txt",
        "t2dm_bmsc_meta.xlsx",
        "figures/meta/forest_FOXQ1.png",
        "figures/meta/forest_FOXQ1.svg",
        "figures/meta/heterogeneity.png",
    ):
        assert (first / rel).is_file(), rel
    manifest = json.loads((second / "manifest.json").read_text())
    assert set(manifest["studies"]) == {"patients", "dbdb_mouse", "high_glucose"}
    for study in ("patients", "dbdb_mouse", "high_glucose"):
        runs = list((tmp / "results" / study / "runs").iterdir())
        assert len(runs) == 1, study  # the second meta run reused the first study runs
    assert pd.read_csv(first / "tables" / "meta" / "t2dm_bmsc_meta.meta.tsv", sep="\t").equals(
        pd.read_csv(second / "tables" / "meta" / "t2dm_bmsc_meta.meta.tsv", sep="\t")
    )
    html = (first / "report.html").read_text()
    assert "Forest plots" in html and "data:image/png;base64," in html and "rests on patients" in html


def _bad(tmp: Path, edit) -> Path:
    config = _example(tmp)
    raw = yaml.safe_load(config.read_text())
    edit(raw, tmp)
    config.write_text(yaml.safe_dump(raw))
    return config


def _species_other(raw, tmp):
    study = tmp / "example_meta" / "dbdb_mouse.yaml"
    cfg = yaml.safe_load(study.read_text())
    cfg.update(species="other", gene_sets={"collections": []})
    study.write_text(yaml.safe_dump(cfg))


def _no_overlap(raw, tmp):
    """The mouse study's genes renamed to names no ortholog table knows."""
    path = tmp / "example_meta" / "dbdb_mouse" / "counts.tsv.gz"
    counts = pd.read_csv(path, sep="\t", index_col=0)
    counts.index = [f"Novel{i}" for i in range(len(counts))]
    counts.index.name = "gene_id"
    counts.to_csv(path, sep="\t", compression="gzip")


@pytest.mark.parametrize(
    ("case", "edit", "words"),
    [
        (
            "missing_contrast",
            lambda raw, tmp: raw["studies"][0].update(contrast="obese_vs_lean"),
            ["study 'patients' has no contrast 'obese_vs_lean'", "T2DM_vs_control", "patients.yaml"],
        ),
        (
            "one_study",
            lambda raw, tmp: raw.update(studies=raw["studies"][:1]),
            ["key 'studies'", "at least 2"],
        ),
        (
            "species_without_map",
            _species_other,
            ["study 'dbdb_mouse' has species 'other'", "dbdb_mouse.yaml"],
        ),
        (
            "no_overlap",
            _no_overlap,
            ["study 'dbdb_mouse' shares no gene symbol in human", "0 of its symbols", "dbdb_mouse.yaml"],
        ),
        (
            "repeated_names",
            lambda raw, tmp: [s.update(name="same") for s in raw["studies"]],
            ["study names repeat"],
        ),
    ],
)
def test_meta_refuses_what_cannot_be_combined(tmp_path, case, edit, words):
    config = _bad(tmp_path, edit)
    for command in ("validate", "meta"):
        result = runner.invoke(app, [command, str(config)])
        assert result.exit_code == 2, (command, result.output)
        err = " ".join(result.stderr.split())
        assert err.startswith("error:") and "->" in err and "Traceback" not in result.output, err
        for w in words:
            assert w in err, (w, err)
    assert not (tmp_path / "results").exists()
