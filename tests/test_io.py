import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bmsc_dge import io as io
from bmsc_dge.errors import CountsError, SampleSheetError


def _table(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_tsv_csv_and_gzip_read_alike(tmp_path):
    tsv = _table(tmp_path, "c.tsv", "gene_id\tS1\tS2\nG1\t1\t2\nG2\t3\t4\n")
    csv = _table(tmp_path, "c.csv", "gene_id,S1,S2\nG1,1,2\nG2,3,4\n")
    gz = tmp_path / "c.tsv.gz"
    gz.write_bytes(gzip.compress(tsv.read_bytes()))
    frames = [io.read_counts(p)[0] for p in (tsv, csv, gz)]
    for f in frames[1:]:
        pd.testing.assert_frame_equal(frames[0], f)
    assert list(frames[0].columns) == ["S1", "S2"]


def test_featurecounts_table(tmp_path):
    text = (
        '# Program:featureCounts v2.0.3; Command:"featureCounts" ...\n'
        "Geneid\tChr\tStart\tEnd\tStrand\tLength\t/data/bam/S1Aligned.sortedByCoord.out.bam\t/data/bam/S2.bam\n"
        "ENSG00000164379\tchr6\t1312440\t1314758\t+\t2319\t10\t20\n"
    )
    counts, symbols, fmt = io.read_counts(_table(tmp_path, "fc.txt", text))
    assert fmt == "featurecounts"
    assert list(counts.columns) == ["S1", "S2"]
    assert symbols is None
    assert counts.loc["ENSG00000164379", "S2"] == "20"


def test_symbol_column_is_split_off(tmp_path):
    counts, symbols, _ = io.read_counts(
        _table(tmp_path, "c.tsv", "gene_id\tgene_name\tS1\nENSG00000164379\tFOXQ1\t5\n")
    )
    assert list(counts.columns) == ["S1"]
    assert symbols is not None and symbols.iloc[0] == "FOXQ1"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "file is empty"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03trunc", "gzip file is truncated"),
        (b"PK\x03\x04xlsxdata", "Excel"),
        (b"gene_id\x00S1\x00", "binary"),
        (b"gene_id S1 S2\nG1 1 2\n", "delimiter"),
        (b"gene_id\tS1\tS2\n", "no rows"),
    ],
)
def test_unreadable_count_files(tmp_path, content, needle):
    p = tmp_path / ("x.tsv.gz" if content.startswith(b"\x1f\x8b") else "x.tsv")
    p.write_bytes(content)
    with pytest.raises(CountsError, match=needle) as exc:
        io.read_counts(p)
    assert str(p) in str(exc.value)


def test_samples_whitespace_stripped(tmp_path, caplog):
    p = _table(tmp_path, "s.tsv", "sample\tcondition\n S1 \tT2DM \nS2\tcontrol\n")
    sheet = io.read_samples(p)
    assert list(sheet.index) == ["S1", "S2"]
    assert sheet.loc["S1", "condition"] == "T2DM"
    assert "whitespace" in caplog.text


def test_missing_sample_sheet(tmp_path):
    with pytest.raises(SampleSheetError, match="file not found"):
        io.read_samples(tmp_path / "nope.tsv")


def test_build_anndata_layout():
    counts = pd.DataFrame({"S1": [1, 2], "S2": [3, 4]}, index=["G1", "G2"])
    obs = pd.DataFrame({"condition": ["a", "b"]}, index=["S1", "S2"])
    adata = io.build_anndata(counts, obs, pd.Series({"G1": "X", "G2": "Y"}))
    assert adata.shape == (2, 2)
    np.testing.assert_array_equal(adata.layers["counts"], [[1, 2], [3, 4]])
    assert adata.layers["counts"].dtype == np.int64
    assert list(adata.var["symbol"]) == ["X", "Y"]
    assert list(adata.obs["condition"]) == ["a", "b"]


def test_a_handed_over_study_is_taken_once_and_only_while_its_files_are_unchanged(small_study):
    import os

    from bmsc_dge.config import load_config
    from bmsc_dge.study import hand_over, load_study, take_over

    cfg = load_config(small_study["config"])
    study = load_study(cfg)
    token = hand_over(cfg, study)
    handed = take_over(token)
    assert handed is not None and handed.study is study and handed.cfg is cfg  # no re-parse, no re-read
    assert take_over(token) is None  # once
    assert take_over(None) is None
    token = hand_over(cfg, study)
    st = os.stat(cfg.counts)
    os.utime(cfg.counts, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # the file changed
    handed = take_over(token)
    assert handed is not None and handed.cfg is cfg and handed.study is None  # read again
    config_only = take_over(hand_over(cfg))
    assert config_only is not None and config_only.study is None


def test_read_counts_reads_a_bulk_h5ad_as_the_cli_does(small_study, tmp_path):
    """A samples x genes .h5ad (counts in layers['counts'], symbols in var) gives the same study."""
    from bmsc_dge.config import load_config
    from bmsc_dge.io import read_counts
    from bmsc_dge.study import load_study

    cfg = load_config(small_study["config"])
    study = load_study(cfg)
    a = study.adata.copy()
    a.X = np.log1p(a.layers["counts"].astype(float))  # X normalised: the counts layer is used
    a.write_h5ad(tmp_path / "bulk.h5ad")
    raw, symbols, fmt = read_counts(tmp_path / "bulk.h5ad")
    assert fmt == "h5ad" and list(raw.columns) == list(a.obs_names)
    assert list(symbols) == list(a.var["symbol"])
    again = load_study(cfg.model_copy(update={"counts": tmp_path / "bulk.h5ad"}))
    np.testing.assert_array_equal(again.adata.layers["counts"], study.adata.layers["counts"])
    assert list(again.adata.var["symbol"]) == list(study.adata.var["symbol"])
