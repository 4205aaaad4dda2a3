"""Figures drawn in forked processes equal figures drawn in-process; failures surface."""

import os
import re
from pathlib import Path

import pytest

from bmsc_dge import tl as pipeline
from bmsc_dge.config import load_config
from bmsc_dge.errors import FigureError
from bmsc_dge.genesets import load_for_study, restrict_to_data
from bmsc_dge.pp import run_qc
from bmsc_dge.report import _figures as figures
from bmsc_dge.runs import RunDir
from bmsc_dge.study import apply_prefilter, load_study

from .procs import PPID, stat_fields


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    from .conftest import write_study

    paths = write_study(tmp_path_factory.mktemp("fig") / "s", n_per_group=3, seed=2)
    cfg = load_config(paths["config"])
    study = load_study(cfg)
    adata, _ = apply_prefilter(study, cfg)
    symbols = list(adata.var["symbol"].astype(str))
    colls = load_for_study(["curated"], [], cfg.species)
    matched = {"curated": restrict_to_data(colls["curated"], symbols, cfg.species)[0]}
    c = cfg.contrasts[0]
    group = pipeline.analyse_fit_group(
        adata, study.frame, cfg, {c.variable: c.reference}, [c], matched, colls["curated"]
    )
    qc = run_qc(adata, group.size_factors, cfg.design_variables, n_cpus=1)
    return cfg, group.results, qc


def _draw(cfg, results, qc, root, processes):
    run = RunDir(root)
    run.create()
    out = figures.write_figures(run, cfg, results, qc, processes=processes)
    files = {
        p.relative_to(run.partial).as_posix(): p.read_bytes()
        for p in sorted((run.partial / "figures").rglob("*"))
        if p.is_file()
    }
    run.abort()
    return out, files


def test_forked_drawing_equals_in_process(analysed, tmp_path):
    """Whichever process draws a figure (each goes to the first to reach it), its PNG is the same
    bytes; running-score figures too, though each process lays out its reused figure itself."""
    cfg, results, qc = analysed
    one, files_one = _draw(cfg, results, qc, tmp_path / "a", 1)
    for k, processes in enumerate((2, 3)):
        many, files_many = _draw(cfg, results, qc, tmp_path / f"b{k}", processes)
        assert list(one) == list(many)  # same labels in the same order
        assert one == many and list(files_one) == list(files_many)
        png = [f for f in files_one if f.endswith(".png")]
        assert [f for f in png if files_one[f] != files_many[f]] == []
    running = [k for k in one if k.startswith("gsea/") and k != "gsea/dotplot"]
    assert len(running) >= 3 and "qc/correlation" in one
    assert all(f.endswith((".png", ".svg")) for f in files_one) and len(files_one) == 2 * len(one)


def test_failure_in_a_drawing_process_is_reported(analysed, tmp_path, monkeypatch):
    """A figure that fails in a forked process surfaces as a FigureError with its traceback (in
    this process, which draws beside the children, as the error itself); no child is left."""
    cfg, results, qc = analysed

    def broken(*args, **kwargs):
        raise ValueError(f"boom in process {os.getpid()}")

    monkeypatch.setattr(figures.pl, "correlation_heatmap", broken)
    run = RunDir(tmp_path / "c")
    run.create()
    before = _children()  # other tests' servers may be children of this process too
    with pytest.raises((FigureError, ValueError), match="boom in process") as failed:
        figures.write_figures(run, cfg, results, qc, processes=2)
    run.abort()
    found = re.search(
        r"boom in process (\d+)", str(failed.value)
    )  # a child's traceback quotes the source line too
    assert found is not None
    pid = int(found.group(1))
    assert isinstance(failed.value, FigureError) == (pid != os.getpid())
    assert _children() <= before  # every drawing process ended and was reaped (no zombie either)


def _children() -> set[int]:
    """This process's children, zombies included."""
    out = set()
    for entry in Path("/proc").glob("[0-9]*"):
        fields = stat_fields(int(entry.name))
        if fields is not None and int(fields[PPID]) == os.getpid():
            out.add(int(entry.name))
    return out
