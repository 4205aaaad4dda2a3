"""End-to-end runs of the Prefect flow (against a temporary Prefect server)."""

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flows.analysis import run_config

from .conftest import ROOT, example_checksums, launch_chromium, write_study

DE_COLS = [
    "gene_id",
    "symbol",
    "baseMean",
    "log2FoldChange",
    "lfcSE",
    "stat",
    "pvalue",
    "padj",
    "log2FoldChange_shrunk",
]
GSEA_COLS = ["term", "collection", "size", "es", "nes", "pval", "fdr", "leading_edge"]


@pytest.fixture(scope="module")
def small_runs(prefect_harness, tmp_path_factory):
    paths = write_study(tmp_path_factory.mktemp("small") / "s", coordinated=0.5)
    return paths, run_config(paths["config"]), run_config(paths["config"])


@pytest.mark.e2e
def test_small_study_outputs_and_reruns(small_runs):
    _, first, second = small_runs
    name = "T2DM_vs_control"
    de = pd.read_csv(first / "tables" / "de" / f"{name}.deseq2.tsv", sep="\t")
    gsea = pd.read_csv(first / "tables" / "gsea" / f"{name}.gsea.tsv", sep="\t")
    targets = pd.read_csv(first / "tables" / "targets" / f"{name}.targets.tsv", sep="\t")
    assert list(de.columns)[: len(DE_COLS)] == DE_COLS
    assert set(GSEA_COLS) <= set(gsea.columns)
    assert list(targets.columns[:4]) == ["rank", "gene_id", "symbol", "score"] and "evidence" in targets
    assert "FOXQ1" in set(targets["symbol"].head(10))
    for f in (
        "summary.md",
        "manifest.json",
        "warnings.txt",
        "small.xlsx",
        "tables/qc/samples.tsv",
        "tables/genesets/coverage.tsv",
    ):
        assert (first / f).is_file(), f
    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["inputs"]["counts"]["sha256"] and manifest["seeds"]["gsea_permutations"] == 3
    assert manifest["versions"]["pydeseq2"] == "0.5.4"
    # the CPU-dependent arithmetic that moves the last bits (docs/statistics.md)
    from bmsc_dge.runs._provenance import arithmetic

    assert manifest["versions"]["arithmetic"] == arithmetic() and "numpy SIMD up to" in arithmetic()
    assert (
        manifest["engines"]["deseq2"]["name"] == "bmsc-dge"
        and manifest["engines"]["gsea"]["name"] == "bmsc-dge"
    )
    assert manifest["engines"]["deseq2"]["reference"].endswith("10.1186/s13059-014-0550-8")
    assert second != first and first.is_dir()
    assert (second.parent.parent / "latest").resolve() == second.resolve()
    # same seed, same inputs -> identical tables
    for sub in ("de", "gsea", "targets"):
        a = (first / "tables" / sub).iterdir().__next__()
        assert a.read_bytes() == (second / "tables" / sub / a.name).read_bytes()
    assert not list((first.parent.parent).glob(".partial-*"))


@pytest.fixture(scope="module")
def example_run(prefect_harness, tmp_path_factory):
    out = tmp_path_factory.mktemp("example")
    return run_config(ROOT / "configs" / "example.yaml", out)


@pytest.mark.e2e
def test_example_recovers_the_planted_biology(example_run):
    name = "T2DM_vs_control"
    targets = pd.read_csv(example_run / "tables" / "targets" / f"{name}.targets.tsv", sep="\t")
    assert "FOXQ1" in set(targets["symbol"].head(10))
    gsea = pd.read_csv(example_run / "tables" / "gsea" / f"{name}.gsea.tsv", sep="\t")
    cur = gsea[gsea["collection"] == "curated"].set_index("term")
    up = ["BMSC_FERROPTOSIS_DRIVERS"]
    # planted up, but the library calls mitophagy contested (mixed): enriched, with no verdict
    mito = cur.loc["BMSC_MITOPHAGY_EFFECTORS"]
    assert mito["nes"] > 0 and mito["fdr"] < 0.05 and mito["expected_t2dm"] == "mixed"
    assert pd.isna(mito["direction_vs_expected"]) or mito["direction_vs_expected"] == ""
    down = [
        "BMSC_FERROPTOSIS_SUPPRESSORS",
        "BMSC_NIPA2_PGC1A_FOXO3A_REGULATORS",
        "BMSC_WNT_AGONISTS",
        "BMSC_OSTEOBLAST_DIFFERENTIATION",
    ]
    for t in up:
        assert cur.loc[t, "nes"] > 0 and cur.loc[t, "fdr"] < 0.05, t
        assert cur.loc[t, "direction_vs_expected"] == "agrees", t
    for t in down:
        assert cur.loc[t, "nes"] < 0 and cur.loc[t, "fdr"] < 0.05, t
        assert cur.loc[t, "direction_vs_expected"] == "agrees", t
    assert (gsea[["pval", "fdr", "fwer"]] > 0).all().all()  # permutation p-values are never 0


@pytest.mark.e2e
def test_example_traps_are_seen_through(example_run):
    """The bundled example plants traps beside the biology (data/example/make_example.py)."""
    name = "T2DM_vs_control"
    t = pd.read_csv(example_run / "tables" / "targets" / f"{name}.targets.tsv", sep="\t")
    truth = pd.read_csv(ROOT / "data" / "example" / "truth.tsv", sep="\t").set_index("symbol")["effect"]
    by = t.set_index("symbol")
    # curated, literature-backed genes that do not change stay out of the top 50
    null_curated = truth[truth == "trap_null_curated"].index
    assert (by.loc[null_curated, "rank"] > 50).all(), by.loc[null_curated, "rank"].to_dict()
    # significant genes always rank above non-significant ones
    sig = t["supported_by_data"].astype(bool).to_numpy()
    assert sig[: int(sig.sum())].all()
    # strong changes outside every curated set surface as novel candidates in the top 20
    novel = t[t["novel_candidate"].astype(bool)]
    assert set(novel["symbol"]) >= set(truth[truth == "trap_novel"].index)
    assert (novel["rank"] <= 20).any()
    # the gene carried by one donor is flagged, naming that donor
    assert by.loc["HMOX1", "stability_flag"] == "rests on one sample (T2DM_03)"
    assert by.loc["FOXQ1", "stability_flag"] == "stable"
    # the curated set planted against its literature direction is reported as opposing it
    gsea = pd.read_csv(example_run / "tables" / "gsea" / f"{name}.gsea.tsv", sep="\t").set_index("term")
    assert gsea.loc["BMSC_MITOCHONDRIAL_APOPTOSIS", "direction_vs_expected"] == "opposes"
    summary = (example_run / "summary.md").read_text()
    assert "against their expected T2DM direction**: BMSC_MITOCHONDRIAL_APOPTOSIS" in summary
    assert "rest on one sample: HMOX1" in summary or "HMOX1" in summary.split("rest on one sample")[1][:200]
    report = (example_run / "report.html").read_text()
    assert "rests on one sample (T2DM_03)" in report and "novel candidate" in report
    # a curated gene changing the way its set expects, with only a review behind its direction
    # (TFRC: planted up, grade C), earns no direction credit; a grade-A gene (GPX4) does
    tfrc, gpx4 = by.loc["TFRC"], by.loc["GPX4"]
    assert truth["TFRC"] != "null" and bool(tfrc["supported_by_data"]) and tfrc["direction"] == "up"
    assert (tfrc["literature_direction"], tfrc["evidence_grade"]) == ("unknown", "C")
    assert tfrc["prior_score"] == 0.75  # member 0.5 + checked membership reference 0.25, no direction
    assert "no gene-level direction (grade C" in tfrc["evidence"]
    assert (gpx4["literature_direction"], gpx4["evidence_grade"]) == ("down", "A")
    assert gpx4["prior_score"] == 1.0 and "Ma H 2020" in gpx4["evidence"]
    assert gpx4["direction_sources"] == "DOI:10.1155/2020/9067610"


@pytest.mark.e2e
def test_example_random_sets_stay_null(example_run):
    """>= 95% of random gene sets of the curated sizes stay at FDR >= 0.05 on the example."""
    from bmsc_dge.config import GeneSetConfig
    from bmsc_dge.enrichment import ranking_from_de, run_prerank

    de = pd.read_csv(example_run / "tables" / "de" / "T2DM_vs_control.deseq2.tsv", sep="\t")
    ranking = ranking_from_de(de)
    gsea = pd.read_csv(example_run / "tables" / "gsea" / "T2DM_vs_control.gsea.tsv", sep="\t")
    sizes = gsea.loc[gsea["collection"] == "curated", "size"].to_numpy()
    rng = np.random.default_rng(2026)
    genes = ranking.index.to_numpy()
    sets = {
        f"RANDOM_{i:03d}": list(rng.choice(genes, int(rng.choice(sizes)), replace=False)) for i in range(200)
    }
    res = run_prerank(
        ranking, sets, collection="random", settings=GeneSetConfig(permutations=1000), seed=20261128
    )
    share_null = (res.table["fdr"] >= 0.05).mean()
    assert len(res.table) == 200
    assert share_null >= 0.95, share_null


@pytest.mark.e2e
def test_exports_parquet_h5ad_figures(small_runs):
    import anndata as ad

    _, run, _ = small_runs
    de_tsv = pd.read_csv(run / "tables" / "de" / "T2DM_vs_control.deseq2.tsv", sep="\t")
    de_pq = pd.read_parquet(run / "tables" / "de" / "T2DM_vs_control.deseq2.parquet")
    pd.testing.assert_frame_equal(
        de_tsv[["gene_id", "baseMean"]], de_pq[["gene_id", "baseMean"]], check_exact=False
    )
    h5 = ad.read_h5ad(run / "matrices" / "filtered_normalized.h5ad")
    assert {"counts", "normalized", "vst"} <= set(h5.layers) and h5.n_obs == 8
    assert h5.n_vars == len(de_tsv)
    manifest = json.loads((run / "manifest.json").read_text())
    figs = [v for k, v in manifest["files"].items() if k.startswith("figure:")]
    assert any(f.endswith("volcano.png") for f in figs) and any("BMSC_FERROPTOSIS_DRIVERS" in f for f in figs)
    for f in figs:
        assert (run / f).is_file() and (run / f).with_suffix(".svg").is_file(), f
    assert {"figures", "report", "qc"} <= set(manifest["timings_seconds"])


@pytest.mark.e2e
def test_artifacts_listed_through_the_api(small_runs):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from bmsc_dge.report import artifact_keys

    _, _, second = small_runs
    keys = artifact_keys("small", ["T2DM_vs_control"])
    assert keys["targets:T2DM_vs_control"] == "small-targets-t2dm-vs-control"
    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=list(keys.values())))
        )
    by_key: dict[str, list] = {}
    for a in arts:
        by_key.setdefault(a.key, []).append(a)
    assert set(by_key) == set(keys.values())
    assert {a.type for a in by_key[keys["targets:T2DM_vs_control"]]} == {"table"}
    assert any(str(second) in str(a.data) for a in by_key[keys["report"]])
    assert any("FOXQ1" in str(a.data) for a in by_key[keys["targets:T2DM_vs_control"]])


@pytest.mark.e2e
def test_report_renders_in_headless_chromium(small_runs):
    from playwright.sync_api import sync_playwright

    _, run, _ = small_runs
    url = (run / "report.html").resolve().as_uri()
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector("text=Ranked targets with evidence")
        for heading in (
            "Run summary and inputs",
            "Sample QC",
            "Differential expression",
            "Gene-set enrichment",
            "Ranked targets with evidence",
            "Methods",
            "Warnings raised during the run",
        ):
            assert page.get_by_role("heading", name=heading).first.is_visible(), heading
        page.get_by_text("Running-score plots of the curated sets").first.click()
        images = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth])")
        browser.close()
    assert len(images) >= 10
    assert all(done and width > 0 for done, width in images), images


@pytest.mark.e2e
def test_example_tables_match_the_golden_record(prefect_harness, tmp_path):
    """The example's TSV tables are byte-identical to tests/data/example_tables.sha256, so a change
    that only moves code proves it changed no result (scripts/example_checksums.py says how the
    record was made and when it may be regenerated).

    The last bits depend on the CPU's OpenBLAS kernels and numpy SIMD paths, so the example runs
    as `bmsc-dge run` in a fresh process pinned to the arithmetic the record's first line names,
    and the checksum script, pinned alike, must print the record whole, that line included."""
    import subprocess
    import sys

    from prefect.settings import PREFECT_API_URL

    module = example_checksums()
    record = (ROOT / "tests" / "data" / "example_tables.sha256").read_text()
    made_on = record.splitlines()[0]
    env = {**os.environ, **module.pinning(made_on), "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    bin_dir = Path(sys.executable).parent
    run = subprocess.run(
        [str(bin_dir / "bmsc-dge"), "run", str(ROOT / "configs" / "example.yaml"), "--outdir", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    sums = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "example_checksums.py"), str(tmp_path / "latest")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    got = sums.stdout.splitlines()
    assert got[0] == made_on, f"the pinned process does not do the record's arithmetic: {got[0]}"
    changed = sorted(set(got[1:]) ^ set(record.splitlines()[1:]))
    assert not changed, (
        f"example tables differ from the golden record ({made_on[2:]}; unpinned, this machine is "
        f"{module.machine()}): {changed}"
    )


@pytest.mark.e2e
def test_cli_run_reads_the_counts_once(prefect_harness, small_study, monkeypatch):
    """`bmsc-dge run` checks the inputs before Prefect starts and hands the study to the flow: the
    count matrix is parsed once per run."""
    from typer.testing import CliRunner

    import bmsc_dge.cli as cli
    import bmsc_dge.cli._run as cli_run
    import bmsc_dge.io._validate as validate

    calls = []
    parse = validate.parse_counts

    def counting(*args, **kwargs):
        calls.append(args[1])
        return parse(*args, **kwargs)

    monkeypatch.setattr(validate, "parse_counts", counting)
    monkeypatch.setattr(cli_run, "_logging", lambda verbose: None)
    monkeypatch.setenv("BMSC_DGE_LOCAL_SERVER", "off")
    res = CliRunner().invoke(cli.app, ["run", str(small_study["config"])])
    assert res.exit_code == 0, res.output
    assert len(calls) == 1, calls


@pytest.mark.e2e
def test_cli_run_adopts_the_refits_it_started_before_prefect(prefect_harness, small_study, monkeypatch):
    """`bmsc-dge run` starts the leave-one-out refits while Prefect imports; the flow adopts them
    (no second set of refits) and every table equals that of a flow run that started its own."""
    from typer.testing import CliRunner

    import bmsc_dge.cli as cli
    import bmsc_dge.cli._run as cli_run
    from bmsc_dge.tl import _early

    adopted: list[bool] = []
    adopt = _early.RefitPlan.adopt

    def spy(self, fit):
        got = adopt(self, fit)
        adopted.append(got is not None)
        return got

    monkeypatch.setattr(_early.RefitPlan, "adopt", spy)
    monkeypatch.setattr(cli_run, "_logging", lambda verbose: None)
    monkeypatch.setenv("BMSC_DGE_LOCAL_SERVER", "off")
    res = CliRunner().invoke(
        cli.app, ["run", str(small_study["config"]), "--outdir", str(small_study["config"].parent / "cli")]
    )
    assert res.exit_code == 0, res.output
    assert adopted == [True]
    own = run_config(small_study["config"], small_study["config"].parent / "flow")
    assert adopted == [True, False]
    cli_run_folder = (small_study["config"].parent / "cli" / "latest").resolve()
    tables = sorted((own / "tables").rglob("*.tsv"))
    assert any(t.parent.name == "targets" for t in tables)  # the table with the stability columns
    for table in tables:
        other = cli_run_folder / table.relative_to(own)
        assert other.read_bytes() == table.read_bytes(), table.name
