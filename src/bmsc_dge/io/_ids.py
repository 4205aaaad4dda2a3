"""Gene identifier detection and offline mapping to symbols.

Human identifiers (Ensembl gene IDs with or without a version suffix, Entrez IDs, HGNC symbols)
map to current HGNC symbols through the table shipped in ``genesets/data/gene_ids_human.tsv.gz``
(org.Hs.eg.db 3.16.0). Rules, documented in docs/genesets.md:

* Ensembl version suffixes (``ENSG00000123456.7``) are stripped before lookup.
* An Ensembl or Entrez ID listed with several symbols takes the protein-coding one, then the one
  with the lowest Entrez ID.
* Several data rows may map to one symbol (alternate MHC haplotype IDs such as the eight Ensembl
  IDs of TNF). They stay separate genes for DESeq2; when a per-symbol value is needed (GSEA
  ranking, targets) the row with the highest mean normalised count is kept
(:func:`bmsc_dge.enrichment.collapse_by_symbol`).
* Unmapped rows keep their identifier as symbol and are counted in the mapping report.

Mouse and rat data are used with their own symbols (MGI / RGD); Ensembl mouse or rat IDs need a
symbol column in the count table because no mouse/rat ID table ships offline.
"""

from __future__ import annotations

import gzip
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

import pandas as pd

from bmsc_dge.errors import IdMappingError

logger = logging.getLogger(__name__)

_ENSEMBL = {
    "ensembl_human": re.compile(r"^ENSG\d{11}(\.\d+)?(_PAR_Y)?$"),
    "ensembl_mouse": re.compile(r"^ENSMUSG\d{11}(\.\d+)?$"),
    "ensembl_rat": re.compile(r"^ENSRNOG\d{11}(\.\d+)?$"),
}
_ENTREZ = re.compile(r"^\d+$")
_SPECIES_OF_TYPE = {"ensembl_human": "human", "ensembl_mouse": "mouse", "ensembl_rat": "rat"}


@dataclass(frozen=True)
class MappingReport:
    """What happened when mapping gene identifiers."""

    id_type: str
    n_genes: int
    n_mapped: int
    n_duplicated_symbols: int
    #: identifiers that mapped to no symbol (they keep their ID as symbol)
    unmapped: tuple[str, ...] = ()
    #: GENCODE ``_PAR_Y`` rows (chrY copies of pseudoautosomal genes), kept apart from their chrX rows
    n_par_y: int = 0
    #: the table the IDs were looked up in
    source: str = ""

    @property
    def rate(self) -> float:
        """Fraction of rows that mapped to a symbol."""
        return self.n_mapped / self.n_genes if self.n_genes else 0.0

    def as_text(self) -> str:
        """One-line summary for logs and reports."""
        par = f"; {self.n_par_y} GENCODE _PAR_Y rows kept apart as '<symbol>_PAR_Y'" if self.n_par_y else ""
        return (
            f"gene IDs look like {self.id_type}; {self.n_mapped}/{self.n_genes} "
            f"({100 * self.rate:.1f}%) mapped to symbols; {self.n_duplicated_symbols} symbols "
            f"are shared by several rows (kept separate for DE, collapsed for GSEA){par}"
        )

    def unmapped_table(self) -> pd.DataFrame:
        """``tables/qc/unmapped_ids.tsv``: each unmapped ID with the table it was looked up in."""
        return pd.DataFrame(
            {
                "gene_id": list(self.unmapped),
                "id_type": self.id_type,
                "mapping_table": self.source,
            }
        )


def detect_id_type(ids: pd.Index | list[str]) -> str:
    """Guess the identifier type from a sample of IDs.

    Returns
    -------
    str
        One of ``ensembl_human``, ``ensembl_mouse``, ``ensembl_rat``, ``entrez``,
        ``symbol_human`` (mostly upper case), ``symbol_mouse_like`` (mostly Title case, as MGI
        and RGD symbols are), or ``unknown``.
    """
    sample = [str(i) for i in list(ids)[:2000]]
    if not sample:
        return "unknown"
    votes: dict[str, int] = {}
    for s in sample:
        kind = "other"
        for name, rx in _ENSEMBL.items():
            if rx.match(s):
                kind = name
                break
        else:
            if _ENTREZ.match(s):
                kind = "entrez"
            elif re.match(r"^[A-Z][a-z0-9]+[a-z0-9\-.]*$", s) and any(c.islower() for c in s):
                kind = "symbol_mouse_like"
            elif re.match(r"^[A-Z0-9][A-Z0-9\-.@]*$", s):
                kind = "symbol_human"
        votes[kind] = votes.get(kind, 0) + 1
    best, n = max(votes.items(), key=lambda kv: kv[1])
    return best if best != "other" and n >= 0.5 * len(sample) else "unknown"


@lru_cache(maxsize=1)
def human_id_table() -> pd.DataFrame:
    """The shipped human gene ID table (ENTREZID, SYMBOL, ENSEMBL, GENETYPE)."""
    path = files("bmsc_dge.genesets") / "data" / "gene_ids_human.tsv.gz"
    with path.open("rb") as raw, gzip.open(raw, "rt") as fh:
        df = pd.read_csv(fh, sep="\t", dtype=str)
    df["_pc"] = (df["GENETYPE"] != "protein-coding").astype(int)
    df["_entrez"] = pd.to_numeric(df["ENTREZID"], errors="coerce")
    return df.sort_values(["_pc", "_entrez"])


@lru_cache(maxsize=4)
def _lookup(kind: str) -> dict[str, str]:
    table = human_id_table()
    if kind == "ensembl":
        sub = table.dropna(subset=["ENSEMBL"])
        return dict(sub.drop_duplicates("ENSEMBL")[["ENSEMBL", "SYMBOL"]].itertuples(index=False, name=None))
    if kind == "entrez":
        return dict(
            table.drop_duplicates("ENTREZID")[["ENTREZID", "SYMBOL"]].itertuples(index=False, name=None)
        )
    return {s: s for s in table["SYMBOL"].dropna().unique()}


def strip_version(gene_id: str) -> str:
    """Drop an Ensembl version suffix (``ENSG00000123456.7`` -> ``ENSG00000123456``)."""
    return re.sub(r"\.\d+(_PAR_Y)?$", r"\1", gene_id)


def map_to_symbols(
    gene_ids: pd.Index,
    species: str,
    *,
    symbols: pd.Series | None = None,
    source: str = "counts",
) -> tuple[pd.Series, MappingReport]:
    """Map data identifiers to gene symbols for ``species``.

    Parameters
    ----------
    gene_ids
        Row identifiers of the count matrix.
    species
        ``human``, ``mouse``, ``rat`` or ``other``.
    symbols
        Symbols supplied with the data (a symbol column), used where given.
    source
        File name for error messages.

    Returns
    -------
    tuple
        Symbols indexed like ``gene_ids`` and a :class:`MappingReport`.

    Raises
    ------
    IdMappingError
        When no identifier maps, naming the ID type seen and the species expected.
    """
    id_type = detect_id_type(gene_ids)
    ids = pd.Series([str(g) for g in gene_ids], index=gene_ids)
    if species == "other":
        out = symbols.reindex(gene_ids) if symbols is not None else ids.copy()
        out = out.fillna(ids)
        return out, MappingReport(
            id_type, len(ids), len(ids), int(out.duplicated().sum()), source="none (species: other)"
        )

    seen_species = _SPECIES_OF_TYPE.get(id_type)
    if seen_species and seen_species != species:
        raise IdMappingError(
            f"gene IDs look like {id_type} (e.g. {ids.iloc[0]}) but species is '{species}'",
            file=source,
            column="gene_id",
            hint=f"set `species: {seen_species}` in the config, or supply counts for {species}",
        )

    par_y = ids.str.endswith("_PAR_Y")
    table = "org.Hs.eg.db 3.16.0 (bmsc_dge/genesets/data/gene_ids_human.tsv.gz)"
    if species == "human":
        if id_type == "ensembl_human":
            mapped = ids.map(strip_version).map(_lookup("ensembl"))
            # chrY copies of pseudoautosomal genes: their chrX row keeps the symbol
            mapped[par_y] = (
                ids[par_y].str.replace(r"(\.\d+)?_PAR_Y$", "", regex=True).map(_lookup("ensembl")) + "_PAR_Y"
            )
        elif id_type == "entrez":
            mapped = ids.map(_lookup("entrez"))
        else:
            mapped = ids.map(_lookup("symbol"))
        if symbols is not None:
            given = symbols.reindex(gene_ids).map(_lookup("symbol"))
            mapped = mapped.fillna(given)
    else:  # mouse, rat: own symbols
        if id_type in ("ensembl_mouse", "ensembl_rat") and symbols is None:
            raise IdMappingError(
                f"{species} Ensembl IDs cannot be mapped offline (no {species} ID table ships)",
                file=source,
                column="gene_id",
                hint="add a symbol column (e.g. 'gene_name') to the counts and set `symbol_column`",
            )
        mapped = symbols.reindex(gene_ids) if symbols is not None else ids.copy()
        if id_type == "symbol_human" and symbols is None:
            mapped = pd.Series(pd.NA, index=gene_ids, dtype=object)
        table = (
            f"{species} symbols of the count file" if symbols is not None else f"{species} symbols as given"
        )

    n_mapped = int(mapped.notna().sum())
    report = MappingReport(id_type, len(ids), n_mapped, 0)
    if n_mapped == 0:
        expect = {
            "human": "Ensembl human (ENSG...), Entrez or HGNC symbols (e.g. FOXQ1)",
            "mouse": "MGI symbols (e.g. Foxq1)",
            "rat": "RGD symbols (e.g. Foxq1)",
        }[species]
        raise IdMappingError(
            f"no gene ID matched: the IDs look like {id_type} (e.g. {', '.join(ids.iloc[:3])}) "
            f"but species '{species}' expects {expect}",
            file=source,
            column="gene_id",
            hint="set `species` to the organism of the data, or `species: other` with your own GMT files",
        )
    out = mapped.fillna(ids).astype(str)
    report = MappingReport(
        id_type,
        len(ids),
        n_mapped,
        int(out[out.duplicated(keep=False)].nunique()),
        unmapped=tuple(ids[mapped.isna().to_numpy()]),
        n_par_y=int(par_y.sum()),
        source=table,
    )
    if report.n_par_y:
        logger.info(
            "%d GENCODE _PAR_Y rows kept apart from their chrX genes (symbol + '_PAR_Y')", report.n_par_y
        )
    logger.info(report.as_text())
    if report.rate < 0.5:
        logger.warning(
            "only %.1f%% of gene IDs in %s mapped to %s symbols", 100 * report.rate, source, species
        )
    return out, report
