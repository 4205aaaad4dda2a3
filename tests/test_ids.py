import pandas as pd
import pytest

from bmsc_dge.enrichment import collapse_by_symbol
from bmsc_dge.errors import IdMappingError
from bmsc_dge.io import detect_id_type, map_to_symbols, strip_version


def test_detect_id_types():
    assert detect_id_type(["ENSG00000164379", "ENSG00000141510.18"]) == "ensembl_human"
    assert detect_id_type(["ENSMUSG00000038415"]) == "ensembl_mouse"
    assert detect_id_type(["94234", "7157"]) == "entrez"
    assert detect_id_type(["FOXQ1", "GPX4", "TP53"]) == "symbol_human"
    assert detect_id_type(["Foxq1", "Gpx4", "Trp53"]) == "symbol_mouse_like"


def test_strip_version():
    assert strip_version("ENSG00000141510.18") == "ENSG00000141510"
    assert strip_version("ENSG00000141510") == "ENSG00000141510"


def test_human_ensembl_versioned_entrez_and_symbols_map():
    ids = pd.Index(["ENSG00000164379.7", "ENSG00000167468", "ENSG99999999999"])
    sym, rep = map_to_symbols(ids, "human")
    assert list(sym) == ["FOXQ1", "GPX4", "ENSG99999999999"]
    assert rep.n_mapped == 2 and rep.id_type == "ensembl_human"
    sym, _ = map_to_symbols(pd.Index(["94234", "2879"]), "human")
    assert list(sym) == ["FOXQ1", "GPX4"]


def test_alt_haplotype_ids_share_symbol_and_collapse_by_basemean():
    ids = pd.Index(["ENSG00000232810", "ENSG00000228978"])  # TNF primary + alternate haplotype
    sym, rep = map_to_symbols(ids, "human")
    assert list(sym) == ["TNF", "TNF"]
    assert rep.n_duplicated_symbols == 1
    table = pd.DataFrame({"symbol": sym.to_numpy(), "baseMean": [300.0, 0.4]}, index=ids)
    kept = collapse_by_symbol(table)
    assert list(kept.index) == ["ENSG00000232810"]


def test_mouse_symbols_on_human_species_say_what_was_seen():
    with pytest.raises(IdMappingError) as exc:
        map_to_symbols(pd.Index(["Foxq1", "Gpx4", "Nipa2"]), "human", source="counts.tsv")
    msg = str(exc.value)
    assert "symbol_mouse_like" in msg and "species 'human'" in msg and "counts.tsv" in msg


def test_human_ensembl_on_mouse_species():
    with pytest.raises(IdMappingError, match="set `species: human`"):
        map_to_symbols(pd.Index(["ENSG00000164379"]), "mouse")


def test_mouse_ensembl_needs_symbol_column():
    with pytest.raises(IdMappingError, match="symbol column"):
        map_to_symbols(pd.Index(["ENSMUSG00000038415"]), "mouse")
    sym, rep = map_to_symbols(
        pd.Index(["ENSMUSG00000038415"]), "mouse", symbols=pd.Series({"ENSMUSG00000038415": "Foxq1"})
    )
    assert list(sym) == ["Foxq1"] and rep.rate == 1.0


def test_human_symbols_on_mouse_species_fail():
    with pytest.raises(IdMappingError, match="MGI symbols"):
        map_to_symbols(pd.Index(["FOXQ1", "GPX4"]), "mouse")
