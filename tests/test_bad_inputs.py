"""The bad-input corpus: every case must fail cleanly through the CLI.

Each case starts from a valid small study (counts.tsv, samples.tsv, config.yaml), breaks one thing,
and runs ``bmsc-dge run``. Asserted for every case: a non-zero exit; exactly one line on stderr
starting with ``error:`` that names the file and (where one is at fault) the row or column, and
says what to do (``->``); no traceback; no result files. Values that can be fixed safely are fixed
with a warning instead (last tests).
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from bmsc_dge.cli import app

from .conftest import write_study

runner = CliRunner()


def _counts(p: dict[str, Path]) -> pd.DataFrame:
    return pd.read_csv(p["counts"], sep="\t", index_col=0, dtype=str)


def _write_counts(p: dict[str, Path], df: pd.DataFrame) -> None:
    df.to_csv(p["counts"], sep="\t")


def _cell(row: int, col: str, value: str) -> Callable[[dict[str, Path]], None]:
    def f(p: dict[str, Path]) -> None:
        df = _counts(p)
        df.iloc[row, df.columns.get_loc(col)] = value
        _write_counts(p, df)

    return f


def _config(**changes: object) -> Callable[[dict[str, Path]], None]:
    def f(p: dict[str, Path]) -> None:
        cfg = yaml.safe_load(p["config"].read_text())
        cfg.update(changes)
        p["config"].write_text(yaml.safe_dump(cfg))

    return f


def _sheet(fn: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[dict[str, Path]], None]:
    def f(p: dict[str, Path]) -> None:
        df = pd.read_csv(p["samples"], sep="\t", dtype=str)
        fn(df).to_csv(p["samples"], sep="\t", index=False)

    return f


def _raw(target: str, data: bytes) -> Callable[[dict[str, Path]], None]:
    def f(p: dict[str, Path]) -> None:
        p[target].write_bytes(data)

    return f


def _dup_gene(p):
    df = _counts(p)
    _write_counts(p, pd.concat([df, df.iloc[[3]]]))


def _empty_gene(p):
    df = _counts(p)
    df.index = ["" if i == 2 else g for i, g in enumerate(df.index)]
    _write_counts(p, df)


def _dup_column(p):
    text = p["counts"].read_text().splitlines()
    text[0] = text[0].replace("CTRL_02", "CTRL_01")
    p["counts"].write_text("\n".join(text) + "\n")


def _extra_column(p):
    df = _counts(p)
    df["EXTRA_01"] = df["CTRL_01"]
    _write_counts(p, df)


def _missing_column(p):
    _write_counts(p, _counts(p).drop(columns=["T2DM_02"]))


def _truncated_gz(p):
    data = gzip.compress(p["counts"].read_bytes())
    gz = p["counts"].with_suffix(".tsv.gz")
    gz.write_bytes(data[: len(data) // 2])
    _config(counts=gz.name)(p)


def _space_delimited(p):
    p["counts"].write_text(p["counts"].read_text().replace("\t", " "))


def _confounded(df):
    df["batch"] = ["B1" if c == "control" else "B2" for c in df["condition"]]
    return df


def _one_replicate(df):
    return df[~df["sample"].isin(["T2DM_02", "T2DM_03", "T2DM_04"])]


def _drop_samples_from_counts_too(p):
    _sheet(_one_replicate)(p)
    _write_counts(p, _counts(p).drop(columns=["T2DM_02", "T2DM_03", "T2DM_04"]))


def _mouse_ids(p):
    df = _counts(p)
    df.index = [f"Gene{i}" for i in range(len(df))]
    df["gene_name"] = [s.capitalize() for s in df["gene_name"]]
    df = df.set_index("gene_name")
    _write_counts(p, df)


def _gmt_without_data_genes(p):
    gmt = p["config"].parent / "mine.gmt"
    gmt.write_text("SET_A\tx\tNOTAGENE1\tNOTAGENE2\nSET_B\ty\tNOTAGENE3\tNOTAGENE4\n")
    cfg = yaml.safe_load(p["config"].read_text())
    cfg["gene_sets"]["gmt"] = ["mine.gmt"]
    p["config"].write_text(yaml.safe_dump(cfg))


def _gmt_spaces(p):
    gmt = p["config"].parent / "bad.gmt"
    gmt.write_text("SET_A x FOXQ1 GPX4\n")
    cfg = yaml.safe_load(p["config"].read_text())
    cfg["gene_sets"]["gmt"] = ["bad.gmt"]
    p["config"].write_text(yaml.safe_dump(cfg))


def _gmt_missing(p):
    cfg = yaml.safe_load(p["config"].read_text())
    cfg["gene_sets"]["gmt"] = ["nowhere.gmt"]
    p["config"].write_text(yaml.safe_dump(cfg))


def _yaml_object(p):
    p["config"].write_text(p["config"].read_text() + "evil: !!python/object/apply:os.system ['true']\n")


def _yaml_syntax(p):
    p["config"].write_text(p["config"].read_text() + "contrasts: [unclosed\n")


def _no_design(p):
    cfg = yaml.safe_load(p["config"].read_text())
    del cfg["design"]
    p["config"].write_text(yaml.safe_dump(cfg))


def _donor_numbers(p):
    """Donors numbered as labs number them (720, 714, ...) and put in the design undeclared."""
    df = pd.read_csv(p["samples"], sep="\t", dtype=str)
    df["donor"] = [str(720 - 3 * (i // 2)) for i in range(len(df))]
    df.to_csv(p["samples"], sep="\t", index=False)
    _config(design="~ donor + condition")(p)


# (case id, mutation, file that must be named, extra words the message must contain)
CASES: list[tuple[str, Callable[[dict[str, Path]], None], str, list[str]]] = [
    ("non_integer", _cell(4, "CTRL_03", "7.5"), "counts.tsv", ["row 6", "CTRL_03", "non-integer"]),
    ("negative", _cell(2, "T2DM_01", "-3"), "counts.tsv", ["row 4", "T2DM_01", "negative"]),
    ("missing_empty", _cell(7, "CTRL_01", ""), "counts.tsv", ["row 9", "CTRL_01", "missing"]),
    ("missing_na", _cell(1, "CTRL_02", "NA"), "counts.tsv", ["row 3", "missing"]),
    ("non_numeric", _cell(3, "T2DM_04", "lots"), "counts.tsv", ["row 5", "non-numeric"]),
    ("thousands_separator", _cell(5, "CTRL_04", "1,234"), "counts.tsv", ["row 7", "thousands"]),
    ("infinite", _cell(5, "CTRL_04", "inf"), "counts.tsv", ["row 7", "non-numeric"]),
    ("duplicated_gene", _dup_gene, "counts.tsv", ["appears 2 times", "gene_id"]),
    ("empty_gene_id", _empty_gene, "counts.tsv", ["row 4", "empty gene ID"]),
    ("duplicated_sample_column", _dup_column, "counts.tsv", ["CTRL_01", "appears twice"]),
    ("empty_counts_file", _raw("counts", b""), "counts.tsv", ["empty"]),
    ("header_only_counts", _raw("counts", b"gene_id\tCTRL_01\tCTRL_02\n"), "counts.tsv", ["no rows"]),
    ("space_delimited", _space_delimited, "counts.tsv", ["delimiter"]),
    ("binary_counts", _raw("counts", b"\x00\x01\x02garbage" * 100), "counts.tsv", ["binary"]),
    ("excel_counts", _raw("counts", b"PK\x03\x04" + b"\x00" * 200), "counts.tsv", ["Excel"]),
    ("truncated_gzip", _truncated_gz, "counts.tsv.gz", ["truncated"]),
    ("extra_sample_in_counts", _extra_column, "samples.tsv", ["EXTRA_01", "no row in the sample sheet"]),
    ("sample_missing_from_counts", _missing_column, "counts.tsv", ["T2DM_02", "no column in the counts"]),
    ("duplicated_sample_id", _sheet(lambda d: pd.concat([d, d.iloc[[0]]])), "samples.tsv", ["appears twice"]),
    (
        "sample_case_mismatch",
        _sheet(lambda d: d.assign(sample=d["sample"].str.lower())),
        "samples.tsv",
        ["case-sensitive"],
    ),
    ("empty_sample_sheet", _raw("samples", b""), "samples.tsv", ["empty"]),
    ("design_variable_missing", _config(design="~ donor_age + condition"), "samples.tsv", ["donor_age"]),
    (
        "design_value_missing",
        _sheet(lambda d: d.assign(batch=["", *d["batch"].iloc[1:]])),
        "samples.tsv",
        ["missing value", "batch"],
    ),
    (
        "contrast_level_missing",
        _config(
            contrasts=[{"name": "c", "variable": "condition", "target": "obese", "reference": "control"}]
        ),
        "samples.tsv",
        ["obese", "levels present"],
    ),
    ("one_level_only", _sheet(lambda d: d.assign(batch="B1")), "samples.tsv", ["only one level", "batch"]),
    ("one_replicate", _drop_samples_from_counts_too, "samples.tsv", ["1 sample(s)", "condition"]),
    ("batch_confounded", _sheet(_confounded), "samples.tsv", ["fully confounded", "batch", "condition"]),
    ("unknown_config_key", _config(colour="blue"), "config.yaml", ["unknown key 'colour'"]),
    ("wrong_type", _config(alpha="high"), "config.yaml", ["key 'alpha'"]),
    ("yaml_python_object", _yaml_object, "config.yaml", ["not valid YAML"]),
    ("yaml_syntax", _yaml_syntax, "config.yaml", ["not valid YAML", "row"]),
    ("missing_required_key", _no_design, "config.yaml", ["required key 'design'"]),
    (
        "contrast_name_escapes",
        _config(
            contrasts=[
                {"name": "../../etc/x", "variable": "condition", "target": "T2DM", "reference": "control"}
            ]
        ),
        "config.yaml",
        ["contrast name"],
    ),
    ("study_name_escapes", _config(name="../outside"), "config.yaml", ["key 'name'"]),
    ("species_mismatch", _mouse_ids, "counts.tsv", ["species 'human'", "gene_id"]),
    ("gmt_no_genes_in_data", _gmt_without_data_genes, "mine.gmt", ["none of the 2 gene sets shares a gene"]),
    ("gmt_wrong_delimiter", _gmt_spaces, "bad.gmt", ["row 1", "tabs"]),
    ("gmt_missing", _gmt_missing, "nowhere.gmt", ["not found"]),
    ("counts_file_missing", _config(counts="nowhere.tsv"), "nowhere.tsv", ["not found"]),
    (
        "undeclared_whole_number_donor",
        _donor_numbers,
        "samples.tsv",
        ["column 'donor'", "whole numbers", "variables: {donor: factor}", "variables: {donor: numeric}"],
    ),
]


@pytest.mark.parametrize(("case", "mutate", "file", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_fails_cleanly(tmp_path, case, mutate, file, words):
    paths = write_study(tmp_path / "s", n_background=60)
    mutate(paths)
    result = runner.invoke(app, ["run", str(paths["config"])])
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    err = result.stderr
    lines = [ln for ln in err.splitlines() if ln.strip()]
    message = " ".join(err.split())
    assert lines and lines[0].startswith("error:"), err
    assert "Traceback" not in result.output + err
    assert file in message, message
    for w in words:
        assert w in message, (w, message)
    assert "->" in message, message  # says what to do
    results = paths["config"].parent / "results"
    assert not results.exists() or not any(p.is_file() for p in results.rglob("*")), (
        "result files were written"
    )


def test_corpus_is_at_least_thirty_cases():
    assert len(CASES) >= 30


def test_fixable_values_are_fixed_with_a_warning(tmp_path, caplog):
    paths = write_study(tmp_path / "s", n_background=60)
    text = paths["counts"].read_text().splitlines()
    cells = text[3].split("\t")
    cells[2] = f"{cells[2]}.0"  # integral float
    cells[0] = f" {cells[0]} "  # whitespace around a gene ID
    text[3] = "\t".join(cells)
    paths["counts"].write_text("\n".join(text) + "\n")
    sheet = paths["samples"].read_text().replace("CTRL_01\t", "CTRL_01 \t")
    paths["samples"].write_text(sheet)
    result = runner.invoke(app, ["validate", str(paths["config"])])
    assert result.exit_code == 0, result.output
    assert "ok:" in result.output
    assert "integral decimals" in caplog.text
    assert "removed whitespace around gene IDs" in caplog.text
    assert "whitespace from sample sheet values" in caplog.text
