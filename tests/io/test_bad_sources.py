"""Bad inputs of the new doors fail through the CLI with one line naming file, row or column, and
write nothing (issue 21: missing quant file, transcripts absent from tx2gene, lengths whose samples
or genes differ, fractional counts outside nf-core's shape, htseq/STAR files that disagree, ...)."""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from bmsc_dge.cli import app

from .test_sources import DATA, SOURCES

runner = CliRunner()


def _study(tmp: Path, name: str, **extra: object) -> Path:
    """A copy of the committed inputs in ``tmp`` and a config using ``name``'s source."""
    data = tmp / "inputs"
    shutil.copytree(DATA, data, ignore=shutil.ignore_patterns("reference", "*.py", "*.R"))
    source, design = SOURCES[name]
    cfg = {
        "name": "bad",
        "samples": "inputs/samples.tsv",
        "design": design,
        **({"variables": {"batch": "factor"}} if "batch" in design else {}),
        "contrasts": [{"name": "c", "variable": "condition", "target": "T2DM", "reference": "control"}],
        "alpha": 0.05,
        "outdir": "results",
        **{
            k: (
                {kk: f"inputs/{vv}" if kk in ("files", "tx2gene") else vv for kk, vv in v.items()}
                if isinstance(v, dict)
                else (f"inputs/{v}" if k in ("counts", "lengths") else v)
            )
            for k, v in source.items()
        },
        **extra,
    }
    path = tmp / "study.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _gz_lines(path: Path, edit: Callable[[list[str]], list[str]]) -> None:
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    path.write_bytes(gzip.compress(("\n".join(edit(lines)) + "\n").encode()))


def _lines(path: Path, edit: Callable[[list[str]], list[str]]) -> None:
    path.write_text("\n".join(edit(path.read_text().splitlines())) + "\n")


def _table(path: Path, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    edit(pd.read_csv(path, sep="\t", dtype=str)).to_csv(path, sep="\t", index=False)


# (case, source, mutation of the copied inputs folder, config changes, file named, words)
CASES: list[tuple[str, str, Callable[[Path], None], dict, str, list[str]]] = [
    (
        "missing_quant_file",
        "salmon",
        lambda d: (d / "salmon/T2DM_03/quant.sf.gz").unlink(),
        {},
        "T2DM_03/quant.sf.gz",
        ["not found"],
    ),
    (
        "transcripts_absent_from_tx2gene",
        "salmon",
        lambda d: _lines(d / "tx2gene.csv", lambda ls: ls[:1] + ls[4:]),
        {},
        "tx2gene.csv",
        ["3 of", "not in tx2gene", "drop_unmapped"],
    ),
    (
        "quant_file_with_other_transcripts",
        "salmon",
        lambda d: _gz_lines(d / "salmon/CTRL_02/quant.sf.gz", lambda ls: ls[:10] + ls[11:]),
        {},
        "CTRL_02/quant.sf.gz",
        ["row 11", "other transcripts"],
    ),
    (
        "quant_line_damaged",
        "kallisto_bad",
        lambda d: _gz_lines(
            d / "salmon/CTRL_04/quant.sf.gz",
            lambda ls: [*ls[:6], ls[6].rsplit("\t", 1)[0] + "\tx12", *ls[7:]],
        ),
        {},
        "CTRL_04/quant.sf.gz",
        ["row 7", "NumReads", "non-numeric"],
    ),
    (
        "lengths_samples_differ",
        "nfcore",
        lambda d: _table(d / "nfcore/salmon.merged.gene_lengths.tsv", lambda t: t.drop(columns=["T2DM_05"])),
        {},
        "salmon.merged.gene_lengths.tsv",
        ["column 'T2DM_05'", "lengths and counts differ"],
    ),
    (
        "lengths_genes_differ",
        "nfcore",
        lambda d: _table(d / "nfcore/salmon.merged.gene_lengths.tsv", lambda t: t.iloc[5:]),
        {},
        "salmon.merged.gene_lengths.tsv",
        ["5 gene(s) of the counts missing", "gene_id"],
    ),
    (
        "lengths_not_positive",
        "nfcore",
        lambda d: _table(
            d / "nfcore/salmon.merged.gene_lengths.tsv",
            lambda t: t.assign(CTRL_03=["0", *list(t["CTRL_03"].iloc[1:])]),
        ),
        {},
        "salmon.merged.gene_lengths.tsv",
        ["column 'CTRL_03'", "not positive"],
    ),
    (
        "fractional_counts_outside_nfcore_shape",
        "nfcore",
        lambda d: shutil.copy(d / "nfcore/salmon.merged.gene_counts.tsv", d / "counts.tsv"),
        {"counts": "inputs/counts.tsv", "lengths": None},
        "counts.tsv",
        ["non-integer count", "row", "tximport"],
    ),
    (
        "htseq_file_with_other_genes",
        "htseq",
        lambda d: _lines(d / "htseq/T2DM_02.txt", lambda ls: ls[1:]),
        {},
        "T2DM_02.txt",
        ["row 1", "other genes"],
    ),
    (
        "htseq_malformed_line",
        "htseq",
        lambda d: _lines(
            d / "htseq/CTRL_05.txt", lambda ls: [*ls[:3], ls[3].split("\t")[0] + "\t12.5", *ls[4:]]
        ),
        {},
        "CTRL_05.txt",
        ["row 4", "not a non-negative integer"],
    ),
    (
        "htseq_file_missing",
        "htseq",
        lambda d: (d / "htseq/CTRL_07.txt").unlink(),
        {},
        "CTRL_07.txt",
        ["not found"],
    ),
    (
        "star_without_strand",
        "star",
        lambda d: None,
        {"star_strand": None},
        "ReadsPerGene.out.tab",
        ["star_strand"],
    ),
    (
        "undeclared_whole_number_batch",
        "htseq",
        lambda d: None,
        {"variables": {}},
        "samples.tsv",
        ["column 'batch'", "variables: {batch: factor}"],
    ),
]


@pytest.mark.parametrize(
    ("case", "name", "mutate", "extra", "file", "words"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_source_fails_cleanly(tmp_path, case, name, mutate, extra, file, words):
    path = _study(tmp_path, name.replace("kallisto_bad", "salmon"), **extra)
    cfg = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({k: v for k, v in cfg.items() if v is not None}))
    mutate(tmp_path / "inputs")
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 2, result.output
    err = " ".join(result.stderr.split())
    assert (
        result.stderr.startswith("error:")
        and len([ln for ln in result.stderr.splitlines() if ln.strip()]) == 1
    ), result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert file in err and "->" in err, err
    for w in words:
        assert w in err, (w, err)
    results = tmp_path / "results"
    assert not results.exists() or not any(p.is_file() for p in results.rglob("*"))
