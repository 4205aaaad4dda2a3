"""Benchmark bmsc-dge against stock PyDESeq2, plain gseapy and (optionally) R DESeq2.

    .venv/bin/python benchmarks/run.py [--repeats 3] [--sizes 20000x6,20000x12,60000x12,20000x200]
                                       [--gsea] [--flow [--startup]] [--r] [--batch] [--pseudobulk]
                                       [--scale]

Every measurement runs in a fresh process on the same seeded simulated study (5% of genes changed);
the table reports the median wall time over ``--repeats`` runs and the peak resident memory of
the measured process. Rows:

* ``de:bmsc-dge``     our DE engine (R-faithful dispersions, IRLS, Wald, Cook's, R independent
                      filtering, apeGLM-style LFC shrinkage), ``fit_deseq2`` + ``contrast_table``
* ``de:pydeseq2``     stock PyDESeq2 0.5.4 (``deseq2()`` + ``summary()`` + ``lfc_shrink()``, 2 cpus)
* ``de:R DESeq2``     (``--r``) ``Rscript benchmarks/r_deseq2.R``: DESeq + results + lfcShrink(normal),
                      whole process (R start-up and ``library(DESeq2)`` included)
* ``gsea:*``          (``--gsea``) 71 sets (curated + Hallmark) and 1,000 random sets (sizes
                      log-uniform 15-500), 1,000 permutations, 20,000 genes; bmsc-dge vs gseapy
* ``flow:*``          (``--flow``) the whole ``bmsc-dge run configs/example.yaml`` process (DE, GSEA on
                      curated + Hallmark + GO BP, leave-one-out stability, targets, tables, workbook,
                      h5ad, figures, report) as a one-off run (no server configured: the first in a
                      new folder starts its background server, a later one reuses it), against a
                      running Prefect server (how scheduled runs execute) and with Prefect's
                      temporary server; with ``--r``, R DESeq2 alone on the same example files and
                      design, measured in turn with them in every repeat (``x vs R`` = R / flow).
                      Warm workers are on (``bmsc_dge._warm``; the benchmark's own, stopped at its
                      end): one unmeasured run per setup starts them, so these rows are later runs;
                      the ``cold`` row is a later one-off run in its own process (BMSC_DGE_WARM=off)
* ``start-up:*``      (``--flow --startup``, diagnostic) how much of each side is start-up: the
                      example run timed as the *second* run in one Python process (everything
                      already imported: ``bmsc_dge.cli.app`` called twice; the first starts the
                      folder's background server and sets ``PREFECT_API_URL``, which the second
                      uses), and, with ``--r``, R's start-up and ``library(DESeq2)`` alone.
                      Neither is a way to run either tool; they show what a run costs without its
                      imports, measured in turn with the rows above
* ``batch:*``         (``--batch``) ``bmsc-dge batch`` of 20 simulated studies (2,000 or 300
                      genes x 8 samples each, curated + Hallmark, stability on), 4 at a time, against a
                      ``bmsc-dge server`` on SQLite and on a throw-away PostgreSQL cluster
                      (Debian's postgresql); the whole batch process, and the run count recorded
* ``pseudobulk:*``    (``--pseudobulk``) ``bd.pp.pseudobulk`` of a sparse 200,000-cell x 20,000-gene
                      AnnData (1,000 detected genes per cell, 20 donors x 5 cell types), then
                      ``bd.tl.deseq2`` of each cell type (20 donors, ``~ condition``), timed together;
                      peak memory includes the simulated AnnData
* ``scale:bmsc-dge``  (``--scale``) DE on 60,000 genes x 1,000 samples, one run

``us/gene/sample`` divides the DE time by genes x samples: flat means linear cost.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _study(n_genes: int, n_samples: int, seed: int = 7):
    import numpy as np
    import pandas as pd

    from bmsc_dge.io import human_id_table
    from bmsc_dge.simulate import simulate_two_group

    table = human_id_table().dropna(subset=["ENSEMBL"]).drop_duplicates("SYMBOL").drop_duplicates("ENSEMBL")
    real = table.head(min(n_genes, len(table)))
    ids = list(real["ENSEMBL"]) + [f"SIM{i:06d}" for i in range(n_genes - len(real))]
    syms = list(real["SYMBOL"]) + [f"SIM{i:06d}" for i in range(n_genes - len(real))]
    genes = pd.DataFrame({"gene_id": ids, "symbol": syms})
    rng = np.random.default_rng(seed)
    de = rng.choice(n_genes, n_genes // 20, replace=False)
    effects = pd.Series(
        rng.choice([-1, 1], de.size) * rng.uniform(0.5, 2, de.size), index=[ids[i] for i in de]
    )
    return genes, simulate_two_group(genes, n_per_group=n_samples // 2, seed=seed, log2_effects=effects)


def _adata(genes, study):
    import anndata as ad
    import numpy as np
    import pandas as pd

    mat = study.counts.to_numpy(dtype=np.int64).T
    a = ad.AnnData(
        X=mat,
        obs=pd.DataFrame(index=study.counts.columns),
        var=pd.DataFrame({"symbol": genes["symbol"].to_numpy()}, index=genes["gene_id"].to_numpy()),
    )
    a.layers["counts"] = mat
    return a


def _random_sets(genes, n_sets: int = 1000, seed: int = 5) -> dict[str, list[str]]:
    import numpy as np

    rng = np.random.default_rng(seed)
    sizes = np.exp(rng.uniform(np.log(15), np.log(500), n_sets)).astype(int)
    pool = np.asarray(genes)
    return {f"RANDOM_{i:04d}": list(rng.choice(pool, s, replace=False)) for i, s in enumerate(sizes)}


def one(kind: str, n_genes: int, n_samples: int) -> dict[str, float]:
    """Run one measurement in this process; return seconds and peak MiB."""
    import warnings

    warnings.filterwarnings("ignore")
    if kind == "pseudobulk:bmsc-dge":  # GENES = cells, SAMPLES = genes here
        return _pseudobulk_one(n_genes, n_samples)
    if kind == "flow:warm":
        return _warm_flow_one()
    genes, study = _study(n_genes, n_samples)
    frame = study.samples[["condition"]].astype(str)
    t = time.perf_counter()
    if kind == "de:bmsc-dge":
        from bmsc_dge.config import Contrast, DEConfig
        from bmsc_dge.deseq2 import contrast_table, fit_deseq2

        adata = _adata(genes, study)
        del study
        t = time.perf_counter()
        cfg = DEConfig(n_cpus=2)
        fit = fit_deseq2(adata, frame, "~ condition", {"condition": "control"}, cfg)
        contrast_table(
            fit, Contrast(name="c", variable="condition", target="T2DM", reference="control"), 0.05, cfg
        )
    elif kind == "de:pydeseq2":
        from pydeseq2.dds import DeseqDataSet
        from pydeseq2.default_inference import DefaultInference
        from pydeseq2.ds import DeseqStats

        from bmsc_dge.deseq2 import with_references

        dds = DeseqDataSet(
            counts=study.counts.T,
            metadata=with_references(frame, {"condition": "control"}),
            design="~ condition",
            quiet=True,
            inference=DefaultInference(n_cpus=2),
        )
        dds.deseq2()
        ds = DeseqStats(dds, contrast=["condition", "T2DM", "control"], alpha=0.05, quiet=True)
        ds.summary()
        ds.lfc_shrink(coeff="condition[T.T2DM]")
    elif kind.startswith("gsea:"):
        import numpy as np
        import pandas as pd

        from bmsc_dge.config import GeneSetConfig
        from bmsc_dge.enrichment import run_prerank
        from bmsc_dge.genesets import load_builtin, restrict_to_data

        engine, which = kind.split(":")[1:]
        rng = np.random.default_rng(1)
        ranking = pd.Series(rng.normal(size=n_genes), index=genes["symbol"]).sort_values(ascending=False)
        if which == "71":
            sets = {}
            for coll in ("curated", "hallmark"):
                sets[coll] = restrict_to_data(load_builtin(coll, "human"), list(ranking.index), "human")[0]
        else:
            sets = {"random": _random_sets(list(ranking.index))}
        t = time.perf_counter()
        for coll, matched in sets.items():
            run_prerank(
                ranking,
                matched,
                collection=coll,
                settings=GeneSetConfig(permutations=1000, engine=engine, multilevel=False),
                seed=1,
                curves=False,
            )
    else:
        raise SystemExit(f"unknown kind {kind}")
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mib": peak}


def _warm_flow_one() -> dict[str, float]:
    """The example's ``bmsc-dge run`` twice in this process (cwd: the run folder); time the second."""
    from bmsc_dge.cli import app
    from bmsc_dge.cli._app import own_process

    own_process()  # as bmsc_dge.cli.main: the command's own process (start-up objects frozen)
    argv = ["run", str(ROOT / "configs" / "example.yaml"), "--outdir", os.getcwd()]
    seconds = 0.0
    for _ in range(2):
        t = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries the JSON answer
            app(argv, standalone_mode=False)
        seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mib": peak}


def _sparse_cells(n_cells: int, n_genes: int, per_cell: int = 1000, seed: int = 3):
    """Sparse cells x genes counts (``per_cell`` detected genes per cell), 20 donors x 5 cell types."""
    import anndata as ad
    import numpy as np
    import pandas as pd
    from scipy import sparse

    rng = np.random.default_rng(seed)
    indices = np.sort(rng.integers(0, n_genes, size=(n_cells, per_cell), dtype=np.int32), axis=1).ravel()
    data = (1 + rng.poisson(0.5, size=indices.size)).astype(np.float32)
    indptr = np.arange(0, n_cells * per_cell + 1, per_cell, dtype=np.int64)
    x = sparse.csr_matrix((data, indices, indptr), shape=(n_cells, n_genes))
    donors = np.array([f"D{i:02d}" for i in range(20)])
    donor = donors[rng.integers(0, 20, n_cells)]
    obs = pd.DataFrame(
        {
            "donor": donor,
            "cell_type": np.array(["MSC", "T", "B", "Mono", "Ery"])[rng.integers(0, 5, n_cells)],
            "condition": np.where(np.isin(donor, donors[:10]), "T2DM", "control"),
        },
        index=[f"c{i}" for i in range(n_cells)],
    )
    return ad.AnnData(X=x, obs=obs, var=pd.DataFrame(index=[f"GENE{i:05d}" for i in range(n_genes)]))


def _pseudobulk_one(n_cells: int, n_genes: int) -> dict[str, float]:
    """Pseudobulk of a sparse AnnData, then DESeq2 of each of its 5 cell types (timed together)."""
    import warnings

    import bmsc_dge as bd

    warnings.filterwarnings("ignore")
    cells = _sparse_cells(n_cells, n_genes)
    t = time.perf_counter()
    pb = bd.pp.pseudobulk(cells, sample_key="donor", groups_key="cell_type", min_counts=0)
    for ct in ("MSC", "T", "B", "Mono", "Ery"):
        bd.tl.deseq2(
            pb[pb.obs["cell_type"] == ct].copy(),
            design="~ condition",
            contrast=["condition", "T2DM", "control"],
            species="other",
            de={"lfc_shrink": False},
        )
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mib": peak}


def _measure(args: list[str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _timed(cmd: list[str], **kw) -> tuple[float, float]:
    """Wall seconds and peak MiB (GNU time) of a whole process."""
    t = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True, check=True, **kw
    )
    return time.perf_counter() - t, int(proc.stderr.strip().splitlines()[-1]) / 1024


def _row(row: str, times: list[float], peaks: list[float], **extra: object) -> dict[str, object]:
    return {
        "row": row,
        "median_s": statistics.median(times),
        "peak_mib": max(peaks),
        "runs": len(times),
        **extra,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


R_EXAMPLE = [
    "Rscript",
    str(ROOT / "benchmarks" / "r_deseq2.R"),
    str(ROOT / "data" / "example" / "counts.tsv.gz"),
    str(ROOT / "data" / "example" / "samples.tsv"),
    "~ batch + sex + condition",
    "condition",
    "T2DM",
    "control",
]
FLOW_ROWS = {
    "r": "R DESeq2 alone on the example (20000 x 12)",
    "first": "flow:example, one-off run, first in a new folder (background server started)",
    "later": "flow:example, one-off run, later (background server reused)",
    "served": "flow:example, Prefect server running (PREFECT_API_URL set)",
    "temporary": "flow:example, Prefect's temporary server (--temporary-server)",
    "cold": "flow:example, one-off run, later, in its own process (BMSC_DGE_WARM=off)",
    "r-startup": "start-up:R, Rscript start-up and library(DESeq2) alone",
    "warm": "start-up:flow:example, second run in one process (everything imported; diagnostic)",
}
R_STARTUP = ["Rscript", "-e", "suppressPackageStartupMessages(library(DESeq2))"]


def _flow_rows(repeats: int, with_r: bool, startup: bool = False) -> list[dict[str, object]]:
    """The example run every way it can be started, side by side with R DESeq2 alone.

    Each repeat runs every variant once, in turn (R first), so machine noise falls on all of them
    alike; a one-off run is ``bmsc-dge run`` with no server configured (the first in a new folder
    starts the folder's background server, the later one reuses it). ``startup`` adds the
    diagnostic ``start-up:*`` rows (module docstring).
    """
    exe = str(Path(sys.executable).with_name("bmsc-dge"))
    config = str(ROOT / "configs" / "example.yaml")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PREFECT_API_URL", "PREFECT_HOME", "BMSC_DGE_LOCAL_SERVER")
    }
    env |= {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "BMSC_DGE_WARM": "on"}
    state = tempfile.mkdtemp(prefix="bmsc-dge-bench-state-")  # this benchmark's warm workers
    env["XDG_STATE_HOME"] = state
    cold = {**env, "BMSC_DGE_WARM": "off"}
    times: dict[str, list[float]] = {k: [] for k in FLOW_ROWS}
    peaks: dict[str, list[float]] = {k: [] for k in FLOW_ROWS}

    def record(kind: str, measured: tuple[float, float]) -> None:
        times[kind].append(measured[0])
        peaks[kind].append(measured[1])

    with tempfile.TemporaryDirectory() as home:
        port = _free_port()
        server = subprocess.Popen(
            [exe, "server", "--port", str(port)],
            env={**env, "PREFECT_HOME": home},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        served = {**env, "PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}
        try:
            import urllib.request

            for _ in range(120):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1)
                    break
                except OSError:
                    time.sleep(0.5)
            # unmeasured: a run of each setup starts its warm worker, so the rows show later runs;
            # the `cold` row is a run in its own process
            for setup in (env, served):
                with tempfile.TemporaryDirectory() as tmp:
                    subprocess.run(
                        [exe, "run", config, "--outdir", tmp],
                        cwd=tmp,
                        env=setup,
                        check=True,
                        capture_output=True,
                    )
                    subprocess.run([exe, "server", "--stop"], cwd=tmp, env=setup, capture_output=True)
            for _ in range(repeats):
                if with_r:
                    record("r", _timed(R_EXAMPLE))
                with tempfile.TemporaryDirectory() as tmp:
                    try:
                        record("first", _timed([exe, "run", config, "--outdir", tmp], cwd=tmp, env=env))
                        record("later", _timed([exe, "run", config, "--outdir", tmp], cwd=tmp, env=env))
                        record("cold", _timed([exe, "run", config, "--outdir", tmp], cwd=tmp, env=cold))
                    finally:
                        subprocess.run([exe, "server", "--stop"], cwd=tmp, env=env, capture_output=True)
                with tempfile.TemporaryDirectory() as tmp:
                    record("served", _timed([exe, "run", config, "--outdir", tmp], cwd=tmp, env=served))
                if startup:
                    if with_r:
                        record("r-startup", _timed(R_STARTUP))
                    with tempfile.TemporaryDirectory() as tmp:
                        try:
                            t0 = time.perf_counter()
                            warm = subprocess.run(
                                [sys.executable, __file__, "--one", "flow:warm", "0", "0"],
                                cwd=tmp,
                                env=env,
                                capture_output=True,
                                text=True,
                                check=True,
                            )
                            answer = json.loads(warm.stdout.strip().splitlines()[-1])
                            record("warm", (answer["seconds"], answer["peak_mib"]))
                            whole = time.perf_counter() - t0
                            print(f"  (warm process: {whole:.1f} s in all)", file=sys.stderr)
                        finally:
                            subprocess.run([exe, "server", "--stop"], cwd=tmp, env=env, capture_output=True)
                with tempfile.TemporaryDirectory() as tmp:
                    record(
                        "temporary",
                        _timed([exe, "run", "--temporary-server", config, "--outdir", tmp], cwd=tmp, env=env),
                    )
        finally:
            server.terminate()
            server.wait(timeout=30)
            from bmsc_dge._workers import stop_workers

            stop_workers(env)
    r_median = statistics.median(times["r"]) if times["r"] else None
    rows = []
    for kind, label in FLOW_ROWS.items():
        if not times[kind]:
            continue
        extra = {}
        if r_median and kind not in ("r", "r-startup"):
            extra["x vs R"] = r_median / statistics.median(times[kind])
        rows.append(_row(label, times[kind], peaks[kind], **extra))
    return rows


def _batch_studies(folder: Path, n: int = 20, genes: int = 2000) -> list[str]:
    """Write ``n`` simulated studies (``genes`` x 8 samples) with configs; return the config paths."""
    import yaml

    configs = []
    for i in range(n):
        table, study = _study(genes, 8, seed=100 + i)
        d = folder / f"study{i:02d}"
        d.mkdir(parents=True)
        counts = study.counts.copy()
        counts.insert(0, "gene_name", table.set_index("gene_id")["symbol"].reindex(counts.index).to_numpy())
        counts.to_csv(d / "counts.tsv", sep="\t")
        study.samples.to_csv(d / "samples.tsv", sep="\t")
        cfg = {
            "name": f"batch{i:02d}",
            "counts": "counts.tsv",
            "samples": "samples.tsv",
            "design": "~ condition",
            "contrasts": [
                {"name": "T2DM_vs_control", "variable": "condition", "target": "T2DM", "reference": "control"}
            ],
            "species": "human",
            "alpha": 0.05,
            "seed": 1,
            "outdir": "results",
            "gene_sets": {"collections": ["curated", "hallmark"]},
            "de": {"n_cpus": 1},
        }
        (d / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        configs.append(str(d / "config.yaml"))
    return configs


def _batch_rows(repeats: int) -> list[dict[str, object]]:
    from bmsc_dge.testing import prefect_server, throwaway_postgres

    rows: list[dict[str, object]] = []
    exe = str(Path(sys.executable).with_name("bmsc-dge"))
    base = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_HOME")}
    base.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    for genes, database in ((2000, "SQLite"), (2000, "PostgreSQL"), (300, "SQLite"), (300, "PostgreSQL")):
        times, peaks = [], []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
                url = stack.enter_context(throwaway_postgres()).url if database == "PostgreSQL" else None
                home = Path(tmp) / "home"
                api = stack.enter_context(prefect_server(home, url, exe=exe))
                configs = _batch_studies(Path(tmp) / "studies", genes=genes)
                env = {**base, "PREFECT_HOME": str(home), "PREFECT_API_URL": api}
                s, m = _timed([exe, "batch", *configs, "--max-concurrency", "4"], cwd=tmp, env=env)
                times.append(s)
                peaks.append(m)
        rows.append(_row(f"batch:20 studies ({genes} x 8), 4 at a time, {database} server", times, peaks))
    return rows


def _r_row(g: int, s: int, repeats: int) -> dict[str, object]:
    genes, study = _study(g, s)
    with tempfile.TemporaryDirectory() as tmp:
        counts = study.counts.copy()
        counts.insert(0, "gene_id", genes["gene_id"].to_numpy())
        counts.to_csv(Path(tmp) / "counts.tsv", sep="\t", index=False)
        study.samples[["condition"]].to_csv(Path(tmp) / "samples.tsv", sep="\t")
        runs = [
            _timed(
                [
                    "Rscript",
                    str(ROOT / "benchmarks" / "r_deseq2.R"),
                    f"{tmp}/counts.tsv",
                    f"{tmp}/samples.tsv",
                    "~ condition",
                    "condition",
                    "T2DM",
                    "control",
                ]
            )
            for _ in range(repeats)
        ]
    return _row(f"de:R DESeq2 ({g} x {s})", [r[0] for r in runs], [r[1] for r in runs])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--one", nargs=3, metavar=("KIND", "GENES", "SAMPLES"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sizes", default="20000x6,20000x12,60000x12,20000x200")
    ap.add_argument(
        "--gsea", action="store_true", help="GSEA rows (gseapy on 1,000 sets takes ~80 s per run)"
    )
    ap.add_argument("--flow", action="store_true", help="whole example flow rows")
    ap.add_argument(
        "--startup", action="store_true", help="with --flow: diagnostic rows without start-up imports"
    )
    ap.add_argument("--r", action="store_true", help="R DESeq2 rows (needs Rscript with DESeq2)")
    ap.add_argument("--batch", action="store_true", help="20-study batch on SQLite and PostgreSQL servers")
    ap.add_argument(
        "--pseudobulk", action="store_true", help="200,000 cells x 20,000 genes pseudobulk + DE row"
    )
    ap.add_argument("--scale", action="store_true", help="60,000 x 1,000 DE row (one run, several minutes)")
    args = ap.parse_args()
    if args.one:
        kind, g, s = args.one
        print(json.dumps(one(kind, int(g), int(s))))
        return
    import pandas as pd

    if args.r and not shutil.which("Rscript"):
        raise SystemExit("--r needs Rscript with DESeq2 (apt-get install r-bioc-deseq2)")
    rows: list[dict[str, object]] = []

    def add(row: dict[str, object]) -> None:
        rows.append(row)
        print(f"  {row}", file=sys.stderr, flush=True)

    for size in filter(None, args.sizes.split(",")):  # --sizes "" skips the DE rows
        g, s = (int(x) for x in size.split("x"))
        for kind in ("de:bmsc-dge", "de:pydeseq2"):
            res = [_measure(["--one", kind, str(g), str(s)]) for _ in range(args.repeats)]
            add(_row(f"{kind} ({g} x {s})", [r["seconds"] for r in res], [r["peak_mib"] for r in res]))
        if args.r:
            add(_r_row(g, s, args.repeats))
    if args.gsea:
        for which, label in (("71", "71 curated + Hallmark sets"), ("1000", "1,000 sets")):
            for engine in ("bmsc-dge", "gseapy"):
                reps = args.repeats if engine == "bmsc-dge" or which == "71" else 1
                res = [_measure(["--one", f"gsea:{engine}:{which}", "20000", "12"]) for _ in range(reps)]
                add(
                    _row(
                        f"gsea:{engine}, {label} x 1000 permutations (20000 genes)",
                        [r["seconds"] for r in res],
                        [r["peak_mib"] for r in res],
                    )
                )
    if args.pseudobulk:
        res = [_measure(["--one", "pseudobulk:bmsc-dge", "200000", "20000"]) for _ in range(args.repeats)]
        add(
            _row(
                "pseudobulk:bmsc-dge, 200000 cells x 20000 genes (sparse, 20 donors x 5 cell types) + DE",
                [r["seconds"] for r in res],
                [r["peak_mib"] for r in res],
            )
        )
    if args.scale:
        res = _measure(["--one", "de:bmsc-dge", "60000", "1000"])
        add(_row("scale:bmsc-dge (60000 x 1000)", [res["seconds"]], [res["peak_mib"]]))
    if args.flow:
        for row in _flow_rows(args.repeats, args.r, args.startup):
            add(row)
    if args.batch:
        for row in _batch_rows(args.repeats):
            add(row)
    table = pd.DataFrame(rows)
    for i, row in table.iterrows():
        name = str(row["row"])
        if name.startswith(("de:", "scale:")) and "(" in name:
            g, s = (int(x) for x in name.rsplit("(", 1)[1].rstrip(")").split(" x "))
            table.loc[i, "us/gene/sample"] = 1e6 * float(row["median_s"]) / (g * s)
        if name.startswith("de:bmsc-dge"):
            size = name.split("(", 1)[1]
            for other, col in (("de:pydeseq2", "x vs pydeseq2"), ("de:R DESeq2", "x vs R")):
                ref = table.loc[table["row"] == f"{other} ({size}", "median_s"]
                if len(ref):
                    table.loc[i, col] = float(ref.iloc[0]) / float(row["median_s"])
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}", na_rep=""))


if __name__ == "__main__":
    main()
