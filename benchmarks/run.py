"""Benchmark bmsc-dge against stock PyDESeq2 and plain gseapy on simulated studies.

    .venv/bin/python benchmarks/run.py [--repeats 3] [--sizes 20000x6,20000x12,60000x12,20000x200] [--flow]

Every measurement runs in a fresh Python process (so peak RSS is that measurement's own) on the
same seeded simulated study; the table reports the median wall time over ``--repeats`` and the
peak resident memory. Rows:

* ``de:bmsc-dge``   our DE (R-faithful dispersions, Wald test, R independent filtering, LFC shrinkage)
* ``de:pydeseq2``   stock PyDESeq2 0.5.4 (DeseqDataSet.deseq2 + DeseqStats.summary + lfc_shrink)
* ``gsea:curated+hallmark``  gseapy prerank, 71 sets (21 curated + 50 Hallmark), 1000 permutations
* ``flow:example``  the whole `bmsc-dge run configs/example.yaml` (with --flow; Prefect start-up included)
* ``flow:inbox-unchanged``  an incremental inbox re-run with unchanged inputs (with --flow)
"""

from __future__ import annotations

import argparse
import json
import resource
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

    from bmsc_dge.ids import human_id_table
    from bmsc_dge.simulate import simulate_two_group

    table = human_id_table().dropna(subset=["ENSEMBL"]).drop_duplicates("SYMBOL").drop_duplicates("ENSEMBL")
    real = table.head(min(n_genes, len(table)))
    ids = list(real["ENSEMBL"]) + [f"SIM{i:06d}" for i in range(n_genes - len(real))]
    syms = list(real["SYMBOL"]) + [f"SIM{i:06d}" for i in range(n_genes - len(real))]
    genes = pd.DataFrame({"gene_id": ids, "symbol": syms})
    rng = np.random.default_rng(seed)
    de = rng.choice(n_genes, n_genes // 20, replace=False)
    effects = pd.Series(rng.choice([-1, 1], de.size) * rng.uniform(0.5, 2, de.size), index=[ids[i] for i in de])
    return genes, simulate_two_group(genes, n_per_group=n_samples // 2, seed=seed, log2_effects=effects)


def _adata(genes, study):
    import anndata as ad
    import numpy as np
    import pandas as pd

    mat = study.counts.to_numpy(dtype=np.int64).T
    a = ad.AnnData(X=mat, obs=pd.DataFrame(index=study.counts.columns),
                   var=pd.DataFrame({"symbol": genes["symbol"].to_numpy()}, index=genes["gene_id"].to_numpy()))
    a.layers["counts"] = mat.copy()
    return a


def one(kind: str, n_genes: int, n_samples: int) -> dict[str, float]:
    """Run one measurement in this process; return seconds and peak MiB."""
    import warnings

    warnings.filterwarnings("ignore")
    genes, study = _study(n_genes, n_samples)
    frame = study.samples[["condition"]].astype(str)
    t = time.perf_counter()
    if kind == "de:bmsc-dge":
        from bmsc_dge.config import Contrast, DEConfig
        from bmsc_dge.de import contrast_table, fit_deseq2

        cfg = DEConfig(n_cpus=2)
        fit = fit_deseq2(_adata(genes, study), frame, "~ condition", {"condition": "control"}, cfg)
        contrast_table(fit, Contrast(name="c", variable="condition", target="T2DM", reference="control"), 0.05, cfg)
    elif kind == "de:pydeseq2":
        from pydeseq2.dds import DeseqDataSet
        from pydeseq2.default_inference import DefaultInference
        from pydeseq2.ds import DeseqStats

        from bmsc_dge.de import with_references

        dds = DeseqDataSet(counts=study.counts.T, metadata=with_references(frame, {"condition": "control"}),
                           design="~ condition", quiet=True, inference=DefaultInference(n_cpus=2))
        dds.deseq2()
        ds = DeseqStats(dds, contrast=["condition", "T2DM", "control"], alpha=0.05, quiet=True)
        ds.summary()
        ds.lfc_shrink(coeff="condition[T.T2DM]")
    elif kind == "gsea:curated+hallmark":
        import numpy as np
        import pandas as pd

        from bmsc_dge.genesets import load_builtin, restrict_to_data
        from bmsc_dge.gsea import run_prerank

        rng = np.random.default_rng(1)
        ranking = pd.Series(rng.normal(size=n_genes), index=genes["symbol"]).sort_values(ascending=False)
        t = time.perf_counter()
        for coll in ("curated", "hallmark"):
            matched, _ = restrict_to_data(load_builtin(coll, "human"), list(ranking.index), "human")
            run_prerank(ranking, matched, collection=coll, permutations=1000, seed=1, min_size=5, max_size=600)
    else:
        raise SystemExit(f"unknown kind {kind}")
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mib": peak}


def _measure(args: list[str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _flow_rows(repeats: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    times, peaks = [], []
    exe = str(Path(sys.executable).with_name("bmsc-dge"))
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            proc = subprocess.run(["/usr/bin/time", "-f", "%M", exe, "run", str(ROOT / "configs" / "example.yaml"),
                                   "--outdir", tmp], capture_output=True, text=True, check=True, cwd=tmp)
            times.append(time.perf_counter() - t)
            peaks.append(int(proc.stderr.strip().splitlines()[-1]) / 1024)
    rows.append({"row": "flow:example (20000 x 12)", "median_s": statistics.median(times), "peak_mib": max(peaks),
                 "runs": repeats})
    code = (
        "import sys,time,shutil,yaml,pathlib;sys.path.insert(0,%r);"
        "from flows.inbox import inbox_flow;d=pathlib.Path(sys.argv[1]);"
        "[shutil.copy(%r+'/data/example/'+f, d) for f in ('counts.tsv.gz','samples.tsv')];"
        "c=yaml.safe_load(open(%r+'/configs/example.yaml'));c.update(counts='counts.tsv.gz',samples='samples.tsv',outdir='res');"
        "yaml.safe_dump(c,open(d/'study.yaml','w'));inbox_flow(str(d));t=time.perf_counter();inbox_flow(str(d));"
        "print('UNCHANGED', time.perf_counter()-t)"
    ) % (str(ROOT), str(ROOT), str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-c", code, tmp], capture_output=True, text=True, check=True, cwd=tmp)
        sec = float(next(ln for ln in out.stdout.splitlines() if ln.startswith("UNCHANGED")).split()[1])
    rows.append({"row": "flow:inbox re-run, inputs unchanged", "median_s": sec, "peak_mib": float("nan"), "runs": 1})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--one", nargs=3, metavar=("KIND", "GENES", "SAMPLES"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sizes", default="20000x6,20000x12,60000x12,20000x200")
    ap.add_argument("--flow", action="store_true", help="also time the whole example flow and an unchanged inbox re-run")
    args = ap.parse_args()
    if args.one:
        kind, g, s = args.one
        print(json.dumps(one(kind, int(g), int(s))))
        return
    import pandas as pd

    rows: list[dict[str, object]] = []
    for size in args.sizes.split(","):
        g, s = (int(x) for x in size.split("x"))
        kinds = ["de:bmsc-dge", "de:pydeseq2"] + (["gsea:curated+hallmark"] if s == 12 and g == 20000 else [])
        for kind in kinds:
            res = [_measure(["--one", kind, str(g), str(s)]) for _ in range(args.repeats)]
            rows.append({"row": f"{kind} ({g} x {s})", "median_s": statistics.median(r["seconds"] for r in res),
                         "peak_mib": max(r["peak_mib"] for r in res), "runs": args.repeats})
            print(f"  {rows[-1]}", file=sys.stderr, flush=True)
    if args.flow:
        rows.extend(_flow_rows(args.repeats))
    table = pd.DataFrame(rows)
    for size in args.sizes.split(","):
        g, s = size.split("x")
        ours = table.loc[table["row"] == f"de:bmsc-dge ({g} x {s})", "median_s"]
        stock = table.loc[table["row"] == f"de:pydeseq2 ({g} x {s})", "median_s"]
        if len(ours) and len(stock):
            table.loc[table["row"] == f"de:bmsc-dge ({g} x {s})", "speed-up vs stock"] = float(stock.iloc[0] / ours.iloc[0])
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
