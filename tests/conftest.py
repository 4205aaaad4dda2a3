"""Shared fixtures: small seeded studies written to temporary folders."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bmsc_dge.genesets import load_curated
from bmsc_dge.io import human_id_table
from bmsc_dge.simulate import simulate_two_group

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# CLI runs in tests use Prefect's per-run temporary server (each test has its own PREFECT_HOME);
# tests/test_localserver.py switches the project's background server on explicitly.
os.environ.setdefault("BMSC_DGE_LOCAL_SERVER", "off")
# a `bmsc-dge run` in a test runs in its own process, as before warm workers (bmsc_dge._warm);
# tests/test_warm.py switches them on explicitly
os.environ.setdefault("BMSC_DGE_WARM", "off")
# background servers started by tests are listed in a registry of the test session, not the user's
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="bmsc-dge-test-state-")

SENTINEL_EFFECTS = {
    "FOXQ1": -2.5,
    "RUNX2": -1.2,
    "SP7": -1.3,
    "GPX4": -1.0,
    "SLC7A11": -1.3,
    "TFRC": 1.2,
    "ACSL4": 1.1,
    "NIPA2": -1.1,
    "PPARGC1A": -1.3,
    "DKK1": 1.4,
    "IL6": 1.5,
    "LEP": 1.8,
}


def example_checksums():
    """scripts/example_checksums.py as a module (the golden record's checksums and pinning)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "example_checksums", ROOT / "scripts" / "example_checksums.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def small_genes(n_background: int = 500, seed: int = 7) -> pd.DataFrame:
    """Curated-set genes plus random protein-coding background genes, with Ensembl IDs."""
    t = human_id_table().dropna(subset=["ENSEMBL"])
    t = t[(t["GENETYPE"] == "protein-coding") & ~t["ENSEMBL"].duplicated()]
    first = t.drop_duplicates("SYMBOL").set_index("SYMBOL")["ENSEMBL"]
    curated = sorted({g for s in load_curated("human") for g in s.genes} & set(first.index))
    rng = np.random.default_rng(seed)
    rest = sorted(set(first.index) - set(curated))
    bg = sorted(rng.choice(rest, n_background, replace=False).tolist())
    syms = curated + bg
    return pd.DataFrame({"gene_id": first.loc[syms].to_numpy(), "symbol": syms})


def write_study(
    folder: Path,
    *,
    n_per_group: int = 4,
    seed: int = 11,
    n_background: int = 500,
    effects: dict[str, float] | None = None,
    coordinated: float = 0.0,
) -> dict[str, Path]:
    """Simulate a study and write counts.tsv, samples.tsv and config.yaml into ``folder``."""
    genes = small_genes(n_background)
    eff = dict(SENTINEL_EFFECTS if effects is None else effects)
    if coordinated:
        rng = np.random.default_rng(seed)
        for s in load_curated("human"):
            if s.expected_t2dm in ("up", "down") and s.id in {
                "BMSC_FERROPTOSIS_DRIVERS",
                "BMSC_FERROPTOSIS_SUPPRESSORS",
                "BMSC_FOXQ1_PROGRAM",
                "BMSC_WNT_AGONISTS",
            }:
                sign = 1.0 if s.expected_t2dm == "up" else -1.0
                for g in s.genes:
                    eff.setdefault(g, sign * coordinated * float(rng.uniform(0.7, 1.3)))
    by_sym = genes.set_index("symbol")["gene_id"]
    lfc = pd.Series({by_sym[g]: v for g, v in eff.items() if g in by_sym.index})
    base = pd.Series(1000.0, index=lfc.index)
    study = simulate_two_group(
        genes,
        n_per_group=n_per_group,
        seed=seed,
        log2_effects=lfc,
        base_counts=base,
        lib_size_range=(2e6, 4e6),
    )
    folder.mkdir(parents=True, exist_ok=True)
    counts = study.counts.copy()
    counts.insert(0, "gene_name", genes.set_index("gene_id")["symbol"].reindex(counts.index).to_numpy())
    counts.to_csv(folder / "counts.tsv", sep="\t")
    study.samples.to_csv(folder / "samples.tsv", sep="\t")
    cfg = {
        "name": "small",
        "counts": "counts.tsv",
        "samples": "samples.tsv",
        "design": "~ batch + condition",
        "contrasts": [
            {"name": "T2DM_vs_control", "variable": "condition", "target": "T2DM", "reference": "control"}
        ],
        "species": "human",
        "alpha": 0.05,
        "seed": 3,
        "outdir": "results",
        "gene_sets": {"collections": ["curated"], "permutations": 200},
        "de": {"n_cpus": 1},
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return {
        "counts": folder / "counts.tsv",
        "samples": folder / "samples.tsv",
        "config": folder / "config.yaml",
        "truth": folder / "truth",
    }


def edit_config(path: Path, **changes: object) -> Path:
    """Rewrite keys of a YAML config in place."""
    cfg = yaml.safe_load(path.read_text())
    cfg.update(changes)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture
def small_study(tmp_path: Path) -> dict[str, Path]:
    return write_study(tmp_path / "study")


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory):
    """A temporary Prefect server/database for flow tests (one per session)."""
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect_home"))
    # as `bmsc-dge` sets it (cli.prefect_environment): the one SQLite database of the whole
    # session answers 503 (busy) under the 20-studies-at-once test; the client retries those
    os.environ.setdefault("PREFECT_CLIENT_MAX_RETRIES", "10")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch_chromium(playwright):
    """Debian's Chromium, headless, with the flags this offline machine needs."""
    return playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
