"""Leave-one-out refits started before the fit (``tl.start_refits_early``) and adopted by the run."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from bmsc_dge import deseq2 as de_mod
from bmsc_dge.config import CURATED, StudyConfig, load_config
from bmsc_dge.genesets import load_for_study, restrict_to_data
from bmsc_dge.study import Study, apply_prefilter, load_study
from bmsc_dge.tl import _early, analyse_fit_group, start_refits_early

from ..conftest import write_study
from ..procs import PPID, processes_where


def _children() -> set[int]:
    return set(processes_where(PPID, os.getpid()))


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[StudyConfig, Study]:
    paths = write_study(tmp_path_factory.mktemp("early"), n_per_group=3, n_background=300)
    cfg = load_config(paths["config"])
    return cfg, load_study(cfg)


def _analyse(cfg: StudyConfig, study: Study) -> pd.DataFrame:
    """The first contrast's targets table (with its stability columns), as the flow computes it."""
    adata, _ = apply_prefilter(study, cfg)
    sets = load_for_study([CURATED], [], cfg.species)[CURATED]
    matched = {CURATED: restrict_to_data(sets, list(adata.var["symbol"].astype(str)), cfg.species)[0]}
    refs = de_mod.fit_references(cfg.contrasts[0], cfg.reference_levels)
    group = analyse_fit_group(adata, study.frame, cfg, refs, cfg.contrasts, matched, sets)
    result = group.results[0]
    return pd.concat([result.targets.set_index("gene_id"), result.gsea.set_index("term")], axis=0)


@pytest.fixture
def adoptions(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each refit start of the flow adopted refits started early."""
    seen: list[bool] = []
    adopt = _early.RefitPlan.adopt

    def spy(self: _early.RefitPlan, fit: de_mod.DEFit):  # type: ignore[no-untyped-def]
        got = adopt(self, fit)
        seen.append(got is not None)
        return got

    monkeypatch.setattr(_early.RefitPlan, "adopt", spy)
    return seen


def test_refits_started_before_the_fit_are_adopted_and_give_the_same_tables(checked, adoptions):
    cfg, study = checked
    plain = _analyse(cfg, study)
    assert adoptions == [False]
    before = _children()
    early = start_refits_early(cfg, study)
    assert len(early) == 1 and len(_children() - before) == 2  # working before any fit exists
    adopted = _analyse(cfg, study)
    assert adoptions == [False, True]
    pd.testing.assert_frame_equal(adopted, plain)  # exact: the same refits, only started earlier
    assert _children() - before == set() and not _early._STARTED
    early.cancel_unadopted()  # nothing left to stop


def test_refits_started_with_other_settings_are_stopped_not_adopted(checked, adoptions):
    cfg, study = checked
    before = _children()
    early = start_refits_early(cfg, study)
    other = cfg.model_copy(update={"seed": cfg.seed + 1})  # the set re-tests' permutations differ
    _analyse(other, study)
    assert adoptions == [False]
    assert _children() - before == set() and not _early._STARTED  # stopped when they proved useless
    early.cancel_unadopted()


def test_cancel_unadopted_stops_refits_no_run_took(checked):
    cfg, study = checked
    before = _children()
    early = start_refits_early(cfg, study)
    assert len(_children() - before) == 2
    early.cancel_unadopted()
    assert _children() - before == set() and not _early._STARTED


@pytest.mark.parametrize(
    "change",
    [
        {"targets": {"stability": False}},
        {"execution": {"stability_processes": 1}},
        {"execution": {"engine": "dask"}},
    ],
    ids=["stability off", "one process", "dask"],
)
def test_nothing_starts_early_when_the_refits_would_not_run_beside_the_flow(checked, change):
    cfg, study = checked
    changed = StudyConfig.model_validate({**cfg.model_dump(), **change})
    before = _children()
    assert len(start_refits_early(changed, study)) == 0
    assert _children() - before == set() and not _early._STARTED
