"""Simulated quantifier outputs in the formats labs hold, for the R references of issue 21.

    .venv/bin/python tests/data/inputs/make_inputs.py      (seeded; rewrites the committed files)

One simulated study (14 samples: 7 control, 7 T2DM, in two numbered batches ``1``/``2``; 900 human
genes with 1-4 transcripts each) written as

* ``salmon/<sample>/quant.sf.gz``: Salmon (``Name Length EffectiveLength TPM NumReads``), versioned
  GENCODE-style IDs (``ENST...1`` -> ``ENSG....7``); per-sample fragment lengths make effective
  lengths differ between samples; 15% of genes switch isoforms with condition, so the average
  transcript length of a gene differs between groups (the case length offsets exist for); estimated
  counts are fractional; some genes have no abundance in some samples (tximport's missing-length
  rule) or in all; one chrY pseudoautosomal copy ``..._PAR_Y`` with no reads; five genes carry a
  20-fold outlier in one sample (Cook's replacement with 7 replicates per group);
* ``kallisto/<sample>/abundance.tsv.gz``: the same estimates in kallisto's columns;
* ``rsem/<sample>.genes.results.gz``: gene-level RSEM output (effective length 0 where a gene is
  shorter than the fragments);
* ``htseq/<sample>.txt`` and ``star/<sample>.ReadsPerGene.out.tab``: integer gene counts with
  htseq's ``__`` counters and STAR's four ``N_`` lines and three strand columns (reverse-stranded
  library: the fourth column holds the reads);
* ``tx2gene.csv``, ``gene_names.tsv`` (for the nf-core tables), ``samples.tsv`` (``sample, condition, batch``) and ``samples_nfcore.csv`` (an
  nf-core/rnaseq sheet: FASTQ columns, one sample sequenced on two lanes).

The nf-core merged tables (``nfcore/salmon.merged.gene_counts.tsv`` / ``gene_lengths.tsv``) are
written by ``make_reference.R`` with R's tximport, as nf-core/rnaseq writes them.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SEED = 20261201
N_GENES = 900


def _genes(rng: np.random.Generator) -> pd.DataFrame:
    table = pd.read_csv(
        HERE.parents[2] / "src" / "bmsc_dge" / "genesets" / "data" / "gene_ids_human.tsv.gz",
        sep="\t",
        dtype=str,
    )
    table = table.dropna(subset=["ENSEMBL"]).drop_duplicates("ENSEMBL").drop_duplicates("SYMBOL")
    table = table[table["GENETYPE"] == "protein-coding"]
    pick = table.sample(N_GENES - 1, random_state=int(rng.integers(1 << 31))).sort_values("ENSEMBL")
    ids = [f"{e}.{int(v)}" for e, v in zip(pick["ENSEMBL"], rng.integers(1, 20, len(pick)), strict=True)]
    out = pd.DataFrame({"gene_id": ids, "symbol": pick["SYMBOL"].to_numpy()})
    par = pd.DataFrame({"gene_id": ["ENSG00000182378.14_PAR_Y"], "symbol": ["PLCXD1"]})
    return pd.concat([out, par], ignore_index=True)


def _transcripts(rng: np.random.Generator, genes: pd.DataFrame) -> pd.DataFrame:
    rows = []
    n = 0
    for gene in genes["gene_id"]:
        for _ in range(int(rng.integers(1, 5))):
            n += 1
            suffix = "_PAR_Y" if gene.endswith("_PAR_Y") else ""
            rows.append(
                (f"ENST9{n:010d}.{int(rng.integers(1, 6))}{suffix}", gene, int(rng.integers(300, 6000)))
            )
    return pd.DataFrame(rows, columns=["tx", "gene", "length"])


def simulate(rng: np.random.Generator) -> dict[str, object]:
    genes = _genes(rng)
    tx = _transcripts(rng, genes)
    samples = pd.DataFrame(
        {
            "condition": ["control"] * 7 + ["T2DM"] * 7,
            "batch": ["1", "2", "1", "2", "1", "2", "1", "2", "1", "2", "1", "2", "1", "2"],
        },
        index=pd.Index(
            [f"CTRL_{i:02d}" for i in range(1, 8)] + [f"T2DM_{i:02d}" for i in range(1, 8)], name="sample"
        ),
    )
    t2dm = (samples["condition"] == "T2DM").to_numpy()
    batch2 = (samples["batch"] == "2").to_numpy()
    n_s, n_g = len(samples), len(genes)
    abundance = np.exp(rng.normal(0.0, 1.8, n_g))
    abundance /= abundance.sum()
    lfc = np.where(rng.random(n_g) < 0.12, rng.normal(0.0, 1.2, n_g), 0.0)
    batch_eff = rng.normal(0.0, 0.2, n_g)
    lib = rng.uniform(4e6, 12e6, n_s)
    mu = lib[:, None] * abundance[None, :] * 2.0 ** (np.outer(t2dm, lfc) + np.outer(batch2, batch_eff))
    disp = (0.05 + 1.0 / np.maximum(mu.mean(axis=0), 1e-3)) * np.exp(rng.normal(0.0, 0.4, n_g))
    size = 1.0 / disp
    gene_counts = rng.negative_binomial(size[None, :], size[None, :] / (size[None, :] + mu)).astype(float)
    gene_counts[:, rng.choice(n_g - 1, 25, replace=False)] *= (
        rng.random((n_s, 25)) < 0.6
    )  # absent in some samples
    gene_counts[:, rng.choice(n_g - 1, 6, replace=False)] = 0  # absent everywhere
    gene_counts[:, n_g - 1] = 0  # the _PAR_Y copy: reads go to chrX
    for j in rng.choice(n_g - 1, 5, replace=False):  # Cook's outliers
        gene_counts[int(rng.integers(n_s)), j] = max(gene_counts[:, j].mean(), 50.0) * 20
    gene_of_tx = tx["gene"].map({g: i for i, g in enumerate(genes["gene_id"])}).to_numpy()
    frac = np.zeros((n_s, len(tx)))
    switch = rng.random(n_g) < 0.15
    for gi in range(n_g):
        idx = np.flatnonzero(gene_of_tx == gi)
        base = rng.dirichlet(np.ones(idx.size))
        alt = rng.dirichlet(np.ones(idx.size)) if switch[gi] and idx.size > 1 else base
        for s in range(n_s):
            p = alt if t2dm[s] else base
            frac[s, idx] = rng.dirichlet(p * 200 + 0.05)
    num_reads = gene_counts[:, gene_of_tx] * frac
    num_reads = np.round(num_reads, 3)
    frag = rng.uniform(170, 260, n_s)
    eff = np.maximum(tx["length"].to_numpy()[None, :] - frag[:, None] + 1.0, 1.0)
    eff = np.round(eff, 3)
    rate = num_reads / eff
    tpm = np.round(rate / rate.sum(axis=1, keepdims=True) * 1e6, 6)
    return {
        "genes": genes,
        "tx": tx,
        "samples": samples,
        "reads": num_reads,
        "eff": eff,
        "tpm": tpm,
        "frag": frag,
        "gene_total": gene_counts.sum(axis=0),
    }


def _write_gz(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(path, "wb", mtime=0) as fh:  # mtime 0: byte-identical re-runs
        fh.write(text.encode())


def write(sim: dict[str, object]) -> None:
    genes, tx, samples = sim["genes"], sim["tx"], sim["samples"]
    assert (
        isinstance(genes, pd.DataFrame) and isinstance(tx, pd.DataFrame) and isinstance(samples, pd.DataFrame)
    )
    reads, eff, tpm = (np.asarray(sim[k]) for k in ("reads", "eff", "tpm"))
    frag = np.asarray(sim["frag"])
    samples.to_csv(HERE / "samples.tsv", sep="\t")
    genes.rename(columns={"symbol": "gene_name"}).to_csv(HERE / "gene_names.tsv", sep="\t", index=False)
    tx[["tx", "gene"]].rename(columns={"tx": "TXNAME", "gene": "GENEID"}).to_csv(
        HERE / "tx2gene.csv", index=False
    )
    lengths = tx["length"].to_numpy()
    gene_of_tx = tx["gene"].to_numpy()
    for s, sample in enumerate(samples.index):
        rows = [
            f"{t}\t{L}\t{e:g}\t{p:g}\t{r:g}"
            for t, L, e, p, r in zip(tx["tx"], lengths, eff[s], tpm[s], reads[s], strict=True)
        ]
        _write_gz(
            HERE / "salmon" / sample / "quant.sf.gz",
            "Name\tLength\tEffectiveLength\tTPM\tNumReads\n" + "\n".join(rows) + "\n",
        )
        rows = [
            f"{t}\t{L}\t{e:g}\t{r:g}\t{p:g}"
            for t, L, e, p, r in zip(tx["tx"], lengths, eff[s], tpm[s], reads[s], strict=True)
        ]
        _write_gz(
            HERE / "kallisto" / sample / "abundance.tsv.gz",
            "target_id\tlength\teff_length\test_counts\ttpm\n" + "\n".join(rows) + "\n",
        )
        by_gene = pd.DataFrame(
            {"gene": gene_of_tx, "reads": reads[s], "tpm": tpm[s], "len": lengths, "w": tpm[s] * lengths}
        )
        g = by_gene.groupby("gene", sort=False).agg(
            reads=("reads", "sum"), tpm=("tpm", "sum"), w=("w", "sum"), mean_len=("len", "mean")
        )
        glen = np.where(g["tpm"] > 0, g["w"] / g["tpm"].where(g["tpm"] > 0, 1.0), g["mean_len"])
        # RSEM reports effective length 0 where no fragment fits; here: the genes without any read
        geff = np.where(
            (glen < frag[s])
            | (np.asarray(sim["gene_total"])[g.index.map(genes.set_index("gene_id").index.get_loc)] == 0),
            0.0,
            glen - frag[s] + 1.0,
        )
        txs = tx.groupby("gene", sort=False)["tx"].agg(",".join).reindex(g.index)
        rows = [
            f"{gid}\t{t}\t{L:.2f}\t{e:.2f}\t{r:.2f}\t{p:.2f}\t{p * 0.8:.2f}"
            for gid, t, L, e, r, p in zip(g.index, txs, glen, geff, g["reads"], g["tpm"], strict=True)
        ]
        _write_gz(
            HERE / "rsem" / f"{sample}.genes.results.gz",
            "gene_id\ttranscript_id(s)\tlength\teffective_length\texpected_count\tTPM\tFPKM\n"
            + "\n".join(rows)
            + "\n",
        )
        ints = np.rint(g["reads"].to_numpy()).astype(int)
        (HERE / "htseq").mkdir(exist_ok=True)
        body = "\n".join(f"{gid}\t{c}" for gid, c in zip(g.index, ints, strict=True))
        counters = "\n".join(
            f"__{k}\t{100 + 7 * s + i}"
            for i, k in enumerate(
                ["no_feature", "ambiguous", "too_low_aQual", "not_aligned", "alignment_not_unique"]
            )
        )
        (HERE / "htseq" / f"{sample}.txt").write_text(body + "\n" + counters + "\n")
        (HERE / "star").mkdir(exist_ok=True)
        forward = np.rint(ints * 0.03).astype(int)
        head = "\n".join(
            f"{k}\t{v}\t{v}\t{v}"
            for k, v in zip(
                ["N_unmapped", "N_multimapping", "N_noFeature", "N_ambiguous"],
                [5000 + s, 4000 + s, 3000 + s, 2000 + s],
                strict=True,
            )
        )
        body = "\n".join(
            f"{gid}\t{c + f}\t{f}\t{c}" for gid, c, f in zip(g.index, ints, forward, strict=True)
        )
        (HERE / "star" / f"{sample}.ReadsPerGene.out.tab").write_text(head + "\n" + body + "\n")
    nf = samples.reset_index()
    nf.insert(1, "fastq_1", [f"{s}_R1.fastq.gz" for s in nf["sample"]])
    nf.insert(2, "fastq_2", [f"{s}_R2.fastq.gz" for s in nf["sample"]])
    nf.insert(3, "strandedness", "reverse")
    lane2 = nf.iloc[[0]].assign(fastq_1="CTRL_01_L2_R1.fastq.gz", fastq_2="CTRL_01_L2_R2.fastq.gz")
    pd.concat([nf.iloc[:1], lane2, nf.iloc[1:]]).to_csv(HERE / "samples_nfcore.csv", index=False)


if __name__ == "__main__":
    write(simulate(np.random.default_rng(SEED)))
