"""Engines are registered objects: the fit and GSEA dispatch through them, and the methods text and
manifest name what ran, for both engine choices."""

from importlib.metadata import version

import numpy as np
import pandas as pd
import pytest
from pydeseq2.dds import DeseqDataSet

from bmsc_dge import engines
from bmsc_dge.config import DEConfig, GeneSetConfig, load_config
from bmsc_dge.deseq2 import fit_deseq2
from bmsc_dge.deseq2._dataset import RDeseqDataSet
from bmsc_dge.enrichment import GseaResult, run_prerank
from bmsc_dge.errors import ConfigError
from bmsc_dge.report import methods_text

from .conftest import ROOT


def test_registry_lists_both_engines_of_each_kind():
    assert [e.name for e in engines.available("deseq2")] == ["bmsc-dge", "pydeseq2"]
    assert [e.name for e in engines.available("gsea")] == ["bmsc-dge", "gseapy"]
    stock = engines.get("deseq2", "pydeseq2")
    assert stock.version() == version("pydeseq2")
    assert stock.record()["reference"].endswith("10.1093/bioinformatics/btad547")
    with pytest.raises(ConfigError, match=r"unknown gsea engine 'fgsea'.*bmsc-dge, gseapy"):
        engines.get("gsea", "fgsea")


@pytest.mark.parametrize(
    ("de_engine", "gsea_engine", "expected", "absent"),
    [
        (
            "bmsc-dge",
            "bmsc-dge",
            ["bmsc-dge's DESeq2 engine", "bmsc-dge's pre-ranked GSEA"],
            ["stock PyDESeq2", "GSEApy prerank"],
        ),
        (
            "pydeseq2",
            "gseapy",
            [f"stock PyDESeq2 {version('pydeseq2')}", f"GSEApy prerank {version('gseapy')}"],
            ["bmsc-dge's"],
        ),
    ],
)
def test_methods_text_names_the_engines_that_ran(de_engine, gsea_engine, expected, absent):
    cfg = load_config(ROOT / "configs" / "example.yaml")
    cfg = cfg.model_copy(
        update={
            "de": cfg.de.model_copy(update={"engine": de_engine}),
            "gene_sets": cfg.gene_sets.model_copy(update={"engine": gsea_engine}),
        }
    )
    text = methods_text(cfg, {"scanpy": "x", "prefect": "y"})
    for phrase in expected:
        assert phrase in text
    for phrase in absent:
        assert phrase not in text


def _tiny_adata():
    import anndata as ad

    rng = np.random.default_rng(3)
    counts = rng.negative_binomial(5, 0.05, size=(6, 60))
    genes = [f"G{i}" for i in range(60)]
    a = ad.AnnData(
        X=counts,
        obs=pd.DataFrame(index=[f"S{i}" for i in range(6)]),
        var=pd.DataFrame({"symbol": genes}, index=genes),
    )
    a.layers["counts"] = counts
    frame = pd.DataFrame({"condition": ["a", "a", "a", "b", "b", "b"]}, index=a.obs_names)
    return a, frame


@pytest.mark.parametrize(("name", "cls"), [("bmsc-dge", RDeseqDataSet), ("pydeseq2", DeseqDataSet)])
def test_fit_dispatches_through_the_registry(name, cls):
    adata, frame = _tiny_adata()
    fit = fit_deseq2(adata, frame, "~ condition", {"condition": "a"}, DEConfig(engine=name, n_cpus=1))
    assert type(fit.dds) is cls


def test_gsea_dispatches_through_the_registry(monkeypatch):
    calls = []

    def fake(ranking, sets, **kw):
        calls.append((sorted(sets), kw["collection"], kw["settings"].permutations))
        return GseaResult(pd.DataFrame(), ranking)

    monkeypatch.setitem(
        engines._REGISTRY,
        ("gsea", "fake"),
        engines.Engine("gsea", "fake", "bmsc-dge", "fake", "a stand-in", "none", implementation=fake),
    )
    ranking = pd.Series(np.linspace(2, -2, 30), index=[f"G{i}" for i in range(30)])
    run_prerank(
        ranking,
        {"S": [f"G{i}" for i in range(6)]},
        collection="c",
        settings=GeneSetConfig.model_construct(
            permutations=10, min_size=5, max_size=50, engine="fake", multilevel=True
        ),
        seed=1,
    )
    assert calls == [(["S"], "c", 10)]


def test_an_unknown_engine_is_refused_before_any_input_is_read(small_study):
    from bmsc_dge.config import load_config
    from bmsc_dge.study import load_study

    from .conftest import edit_config

    edit_config(small_study["config"], de={"engine": "edgeR"})
    small_study["counts"].unlink()  # not reached: the engine is checked first
    with pytest.raises(
        ConfigError, match=r"key 'de.engine': unknown deseq2 engine 'edgeR' -> use one of: bmsc-dge, pydeseq2"
    ):
        load_study(load_config(small_study["config"]))


def test_a_registered_engine_needs_no_config_change(small_study, monkeypatch):
    """Adding an engine touches its own module and the import line that registers it: the config
    takes any registered name."""
    from bmsc_dge.config import load_config
    from bmsc_dge.study import check_engines

    from .conftest import edit_config

    monkeypatch.setitem(
        engines._REGISTRY,
        ("gsea", "fake"),
        engines.Engine("gsea", "fake", "bmsc-dge", "fake", "a stand-in", "none", implementation=None),
    )
    edit_config(small_study["config"], gene_sets={"engine": "fake"})
    check_engines(load_config(small_study["config"]))  # no error
