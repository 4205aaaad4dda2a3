import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bmsc_dge.cli import app
from bmsc_dge.genesets import read_gmt

from .conftest import edit_config

BIN = Path(sys.executable).parent / "bmsc-dge"
runner = CliRunner()


def run_cli(*args: str, cwd: Path, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PREFECT_HOME": str(cwd / ".prefect"), **(extra_env or {})}
    return subprocess.run([str(BIN), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=600)


def _assert_clean_failure(proc, *needles, outdir: Path):
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    msg = " ".join(proc.stderr.split())
    for n in needles:
        assert n in msg, msg
    assert not outdir.exists() or not any(outdir.rglob("*.tsv"))


def test_bad_counts_fail_cleanly(small_study):
    folder = small_study["counts"].parent
    text = small_study["counts"].read_text().splitlines()
    cells = text[5].split("\t")
    cells[3] = "7.5"
    text[5] = "\t".join(cells)
    small_study["counts"].write_text("\n".join(text) + "\n")
    proc = run_cli("run", str(small_study["config"]), cwd=folder)
    _assert_clean_failure(proc, "counts.tsv", "row 6", "non-integer count 7.5", outdir=folder / "results")


def test_missing_design_variable_fails_cleanly(small_study):
    folder = small_study["counts"].parent
    edit_config(small_study["config"], design="~ donor_age + condition")
    proc = run_cli("run", str(small_study["config"]), cwd=folder)
    _assert_clean_failure(proc, "samples.tsv", "donor_age", outdir=folder / "results")


def test_unknown_config_key_fails_cleanly(small_study):
    folder = small_study["counts"].parent
    edit_config(small_study["config"], alhpa=0.1)
    proc = run_cli("run", str(small_study["config"]), cwd=folder)
    _assert_clean_failure(proc, "config.yaml", "unknown key 'alhpa'", outdir=folder / "results")


def test_validate_command(small_study):
    res = runner.invoke(app, ["validate", str(small_study["config"])])
    assert res.exit_code == 0, res.output
    assert "ok:" in res.output and "samples" in res.output


def test_genesets_list_and_show():
    res = runner.invoke(app, ["genesets", "list", "--species", "human"])
    assert res.exit_code == 0
    assert "BMSC_NIPA2_PGC1A_FOXO3A_REGULATORS" in res.output
    res = runner.invoke(app, ["genesets", "show", "BMSC_FERROPTOSIS_SUPPRESSORS"], env={"COLUMNS": "250"})
    assert res.exit_code == 0
    assert "FTMT" in res.output and "KEGG:hsa04216" in res.output
    # gene-level direction, grade and source per gene
    gpx4 = next(line for line in res.output.splitlines() if line.startswith("│ GPX4"))
    assert "down" in gpx4 and " A " in gpx4 and "DOI:10.1155/2020/9067610" in gpx4
    assert "grade A:" in res.output
    res = runner.invoke(app, ["genesets", "show", "NOPE"])
    assert res.exit_code == 2 and "no gene set with id 'NOPE'" in res.output


def test_genesets_export_mouse(tmp_path):
    out = tmp_path / "mouse.gmt"
    res = runner.invoke(app, ["genesets", "export", "--species", "mouse", "--out", str(out)])
    assert res.exit_code == 0, res.output
    sets = read_gmt(out)
    assert "Foxq1" in sets["BMSC_FOXQ1_PROGRAM"][1]
    assert "Nipa2" in sets["BMSC_NIPA2_PGC1A_FOXO3A_REGULATORS"][1]
    assert "no mouse ortholog" in res.output and "CXCL8" in res.output


@pytest.mark.e2e
def test_run_prints_results_path(small_study):
    folder = small_study["counts"].parent
    cfg = yaml.safe_load(small_study["config"].read_text())
    assert cfg["outdir"] == "results"
    proc = run_cli("run", str(small_study["config"]), cwd=folder)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "results:" in proc.stdout
    latest = folder / "results" / "latest"
    assert latest.is_symlink()
    assert (latest / "tables" / "de" / "T2DM_vs_control.deseq2.tsv").is_file()
    assert str(latest.resolve()) in proc.stdout.replace("\n", "")


@pytest.mark.e2e
def test_run_output_fits_one_screen_and_ends_with_the_report_path(small_study):
    """Stage lines with times, headline numbers, and the report path whole on the last line, even
    on a 40-column terminal; Prefect's per-task state lines only with --verbose."""
    folder = small_study["counts"].parent
    env = {"COLUMNS": "40"}
    proc = run_cli("run", str(small_study["config"]), cwd=folder, extra_env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    assert len(lines) <= 24, proc.stdout
    assert "Finished in state" not in proc.stdout + proc.stderr
    assert any(ln.startswith("ok DESeq2 fit") for ln in lines)
    assert any("genes at padj < 0.05" in ln for ln in lines)
    last = lines[-1]
    assert last.startswith("report: ") and last.endswith("report.html")
    assert Path(last.removeprefix("report: ")).is_file()
    verbose = run_cli("run", "--verbose", str(small_study["config"]), cwd=folder, extra_env=env)
    assert verbose.returncode == 0 and "Finished in state" in verbose.stdout + verbose.stderr


def test_a_temporary_server_gets_as_long_to_start_as_a_background_one(monkeypatch, tmp_path):
    """Prefect gives its temporary server 20 s, which a busy 2-core machine once exceeded; the CLI
    gives it the 120 s of the background server, unless the user set a value."""
    from prefect.settings import Settings

    from bmsc_dge.cli._app import prefect_environment

    key = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
    for name in ("PREFECT_HOME", "PREFECT_LOGGING_EXTRA_LOGGERS", "PREFECT_UI_ENABLED", key):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    prefect_environment()
    assert Settings().server.ephemeral.startup_timeout_seconds == 120
    monkeypatch.setenv(key, "45")
    prefect_environment()
    assert Settings().server.ephemeral.startup_timeout_seconds == 45
