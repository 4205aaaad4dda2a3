import os
import subprocess
import sys

import pytest

from bmsc_dge.errors import GeneSetError
from bmsc_dge.genesets import (
    get_set,
    load_builtin,
    load_curated,
    load_for_study,
    read_gmt,
    restrict_to_data,
    sets_as_gmt,
    write_gmt,
)

from ..conftest import ROOT

REFERENCE = ROOT.parent / "shared" / "reference"

SENTINELS = {
    "BMSC_FOXQ1_PROGRAM": ["FOXQ1", "ANXA2", "CTNNB1"],
    "BMSC_NIPA2_PGC1A_FOXO3A_REGULATORS": ["NIPA2", "PPARGC1A", "FOXO3"],
    "BMSC_MITOPHAGY_EFFECTORS": ["PINK1", "PRKN", "BNIP3", "MAP1LC3B"],
    "BMSC_FERROPTOSIS_SUPPRESSORS": ["GPX4", "SLC7A11", "FTMT"],
    "BMSC_FERROPTOSIS_DRIVERS": ["TFRC", "ACSL4", "NCOA4", "FTH1", "FTL"],
    "BMSC_WNT_AGONISTS": ["CTNNB1", "LRP5"],
    "BMSC_WNT_ANTAGONISTS": ["DKK1", "SOST", "LRP4"],
    "BMSC_WNT_FEEDBACK_TARGETS": ["AXIN2", "NKD1", "NOTUM"],
    "BMSC_BMP_SMAD_SIGNALLING": ["BMP2", "SMAD1"],
    "BMSC_OSTEOBLAST_DIFFERENTIATION": ["RUNX2", "SP7"],
    "BMSC_VITAMIN_D_RECEPTOR": ["VDR"],
    "BMSC_ADIPOKINES": ["LEP", "ADIPOQ"],
    "BMSC_AGE_RAGE_SIGNALLING": ["AGER"],
    "BMSC_INFLAMMATION_TNF_IL6_NFKB": ["TNF", "IL6"],
}


def test_sentinel_membership():
    sets = {s.id: s for s in load_curated("human")}
    for set_id, genes in SENTINELS.items():
        for g in genes:
            assert g in sets[set_id].genes, (set_id, g)
    assert "NIPA2" not in sets["BMSC_MITOPHAGY"].genes  # focused axis set is separate


def test_every_curated_gene_has_evidence_and_provenance():
    for s in load_curated("human"):
        assert s.version and s.licence and s.description and s.expected_t2dm in {"up", "down", "mixed"}
        for g in s.genes:
            assert s.evidence[g], (s.id, g)
        # genes that no public collection holds are backed by a literature reference
    axis = get_set("BMSC_NIPA2_PGC1A_FOXO3A_REGULATORS")
    assert axis.evidence["NIPA2"] == ["DOI:10.3389/fendo.2024.1483512", "PMID:32080264"]
    foxq1 = get_set("BMSC_FOXQ1_PROGRAM")
    assert foxq1.evidence["FOXQ1"] == [
        "DOI:10.3389/fendo.2024.1483512",
        "DOI:10.1186/s13287-020-01928-9",
        "DOI:10.1186/s13018-022-03291-2",
    ]


def test_direction_split_sets_are_disjoint():
    sets = {s.id: set(s.genes) for s in load_curated("human")}
    assert not sets["BMSC_FERROPTOSIS_DRIVERS"] & sets["BMSC_FERROPTOSIS_SUPPRESSORS"]
    assert not sets["BMSC_WNT_AGONISTS"] & sets["BMSC_WNT_ANTAGONISTS"]
    assert not sets["BMSC_NIPA2_PGC1A_FOXO3A_REGULATORS"] & sets["BMSC_MITOPHAGY_EFFECTORS"]
    assert not sets["BMSC_WNT_FEEDBACK_TARGETS"] & sets["BMSC_WNT_ANTAGONISTS"]
    assert not sets["BMSC_PI3K_AKT_INSULIN"] & sets["BMSC_PI3K_AKT_NEGATIVE_REGULATORS"]


def test_mouse_sets_use_mgi_symbols_and_report_missing_orthologs():
    mouse = {s.id: s for s in load_curated("mouse")}
    axis = mouse["BMSC_NIPA2_PGC1A_FOXO3A_REGULATORS"].genes
    for g in ("Nipa2", "Ppargc1a", "Foxo3"):
        assert g in axis
    assert "Foxq1" in mouse["BMSC_FOXQ1_PROGRAM"].genes
    assert "Gpx4" in mouse["BMSC_FERROPTOSIS_SUPPRESSORS"].genes
    assert "CXCL8" in mouse["BMSC_INFLAMMATION_TNF_IL6_NFKB"].unmapped  # no mouse IL-8


def test_gmt_export_round_trips(tmp_path):
    for species in ("human", "mouse"):
        sets = load_curated(species)
        path = write_gmt(sets_as_gmt(sets), tmp_path / f"{species}.gmt")
        back = read_gmt(path)
        assert list(back) == [s.id for s in sets]
        for s in sets:
            assert back[s.id][1] == list(s.genes)


def test_builtin_collections_load():
    hallmark = load_builtin("hallmark", "human")
    assert len(hallmark) == 50 and all(len(s.genes) >= 30 for s in hallmark)
    go = load_builtin("go_bp", "mouse")
    assert any("Pink1" in s.genes for s in go)


def test_coverage_report_warns_below_half(caplog):
    sets = [s for s in load_curated("human") if s.id == "BMSC_FOXQ1_PROGRAM"]
    matched, cov = restrict_to_data(sets, ["FOXQ1", "ANXA2", "XYZ"], "human")
    assert matched["BMSC_FOXQ1_PROGRAM"] == ["FOXQ1", "ANXA2"]
    row = cov.iloc[0]
    assert row["found"] == 2 and row["size"] == 11 and bool(row["low_coverage"])
    assert "only 2 of 11 genes" in caplog.text


def test_rat_fallback_matches_case_insensitively():
    sets = [s for s in load_curated("rat") if s.id == "BMSC_FOXQ1_PROGRAM"]
    matched, _ = restrict_to_data(sets, ["Foxq1", "ANXA2"], "rat")
    assert matched["BMSC_FOXQ1_PROGRAM"] == ["Foxq1", "ANXA2"]


def test_user_gmt_errors(tmp_path):
    bad = tmp_path / "bad.gmt"
    bad.write_text("SET_A desc GENE1 GENE2\n")
    with pytest.raises(GeneSetError, match="tabs") as exc:
        read_gmt(bad)
    assert "row 1" in str(exc.value)
    with pytest.raises(GeneSetError, match="not found"):
        read_gmt(tmp_path / "missing.gmt")
    good = tmp_path / "mine.gmt"
    good.write_text("MY_SET\tmine\tFOXQ1\tGPX4\n")
    colls = load_for_study(["curated"], [good], "human")
    assert set(colls) == {"curated", "gmt:mine"}


def test_builtin_collections_need_a_known_species():
    with pytest.raises(GeneSetError, match="species: other"):
        load_for_study(["curated"], [], "other")


@pytest.mark.skipif(
    not REFERENCE.is_dir() and not os.environ.get("CI"),
    reason="../shared/reference is only present in the development workspace and CI",
)
def test_bundled_sets_match_a_fresh_build_from_the_reference():
    """The committed package data is exactly what scripts/build_genesets.py makes from the spec."""
    assert REFERENCE.is_dir(), "CI must provide ../shared/reference"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "build_genesets.py"),
            "--check",
            "--reference",
            str(REFERENCE),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
