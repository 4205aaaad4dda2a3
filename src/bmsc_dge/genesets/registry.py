"""The gene-set registry: curated sets with provenance, bundled broad collections, user GMTs.

Collections
-----------
``curated``
    bmsc-dge's own T2DM-osteoporosis sets (``data/curated_human.json``, built from
    ``data/curated_spec.yaml`` by ``scripts/build_genesets.py``). Each set has a stable id, a
    version, per-gene evidence and an expected direction in T2DM BMSCs.
``hallmark``
    MSigDB Hallmark (v7.5.1 human; v7.0 mouse ortholog conversion), CC BY 4.0.
``go_bp``
    A selection of GO biological-process terms relevant to bone, diabetes and cell death
    (GO 2022-07-01, term plus descendants, all evidence codes), CC BY 4.0.
``gmt:<file stem>``
    Any GMT file named in the config, used as given.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import pandas as pd

from bmsc_dge.config import CURATED, builtin_collections
from bmsc_dge.errors import GeneSetError
from bmsc_dge.genesets.evidence import GeneEvidence
from bmsc_dge.genesets.gmt import read_gmt
from bmsc_dge.genesets.orthologs import convert_genes

logger = logging.getLogger(__name__)

#: the built-in collections, in default order (the registry: :func:`bmsc_dge.config.builtin_collections`)
BUILTIN_COLLECTIONS: tuple[str, ...] = tuple(builtin_collections())


@dataclass(frozen=True)
class GeneSet:
    """One gene set with its provenance."""

    id: str
    name: str
    description: str
    collection: str
    species: str
    genes: tuple[str, ...]
    version: str = ""
    licence: str = ""
    mechanism: str = ""
    expected_t2dm: str = "mixed"
    sources: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, list[str]] = field(default_factory=dict)
    unmapped: tuple[str, ...] = ()
    #: citations behind ``expected_t2dm`` (identifier -> one-line citation) and what they report
    direction_evidence: dict[str, str] = field(default_factory=dict)
    direction_note: str = ""
    #: gene-level direction, grade and sources of every member (:mod:`bmsc_dge.genesets.evidence`)
    gene_evidence: dict[str, GeneEvidence] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Number of genes."""
        return len(self.genes)

    def source_summary(self) -> str:
        """Evidence sets and references, comma-separated."""
        ev = list(self.sources.get("evidence_sets", {}))
        refs = list(self.sources.get("references", {}))
        return ", ".join(ev + refs) or self.sources.get("origin", "")

    def verified_citations(self, gene: str) -> list[str]:
        """Checked literature identifiers (citation table status ``verified``) admitting ``gene``."""
        refs = self.sources.get("references", {})
        tokens = self.evidence.get(gene, self.evidence.get(gene.upper(), []))
        return [
            t
            for t in tokens
            if t.startswith(("PMID:", "DOI:", "URL:")) and not str(refs.get(t, "")).endswith("[unverified]")
        ]

    def evidence_for(self, gene: str) -> GeneEvidence:
        """Gene-level evidence of one member (grade C, direction unknown where none is curated)."""
        ev = self.gene_evidence.get(gene, self.gene_evidence.get(gene.upper()))
        return ev if ev is not None else GeneEvidence()


def _data_path(name: str) -> Any:
    return files("bmsc_dge.genesets") / "data" / name


def collections_meta() -> dict[str, Any]:
    """Format, files, provenance and licence of the bundled collections (the registry)."""
    return builtin_collections()


@lru_cache(maxsize=1)
def _curated_raw() -> dict[str, Any]:
    return dict(json.loads(_data_path("curated_human.json").read_text()))


def library_version() -> str:
    """Version string of the curated library."""
    return str(_curated_raw()["library"]["version"])


def _check_species(species: str) -> None:
    if species not in ("human", "mouse", "rat"):
        raise GeneSetError(
            f"built-in gene sets exist for human, mouse and rat, not '{species}'",
            hint="use `species: other` with your own GMT files under gene_sets.gmt",
        )


def load_curated(species: str = "human") -> list[GeneSet]:
    """Curated sets in ``species`` symbols (ortholog-mapped for mouse and rat).

    For rat the sets carry mouse symbols; :func:`restrict_to_data` matches them to rat symbols
    case-insensitively (see :mod:`bmsc_dge.genesets.orthologs`).
    """
    _check_species(species)
    out = []
    for s in _curated_raw()["sets"]:
        genes, missing = convert_genes(s["genes"], species)
        out.append(
            GeneSet(
                id=s["id"],
                name=s["name"],
                description=s["description"],
                collection=CURATED,
                species=species,
                genes=tuple(genes),
                version=s["version"],
                licence=s["licence"],
                mechanism=s["mechanism"],
                expected_t2dm=s["expected_t2dm"],
                sources=s["sources"],
                evidence=s["evidence"],
                unmapped=tuple(missing),
                direction_evidence=dict(s.get("direction_evidence", {})),
                direction_note=str(s.get("direction_note", "")),
                gene_evidence=_species_evidence(s.get("gene_evidence", {}), species),
            )
        )
    return out


def _species_evidence(raw: dict[str, dict[str, Any]], species: str) -> dict[str, GeneEvidence]:
    """Gene-level evidence keyed by the species' symbols (ortholog-mapped for mouse and rat)."""
    evidence = {g: GeneEvidence.from_dict(e) for g, e in raw.items()}
    if species == "human":
        return evidence
    out = {}
    for gene, ev in evidence.items():
        mapped, _ = convert_genes([gene], species)
        for m in mapped:
            out[m] = ev
    return out


def citation_label(identifier: str) -> str:
    """Short label (``Xia SL 2022``) of a citation the curated library uses, else the identifier."""
    return str(_curated_raw()["library"].get("citation_labels", {}).get(identifier, identifier))


def load_builtin(collection: str, species: str = "human") -> list[GeneSet]:
    """A bundled collection (``curated``, ``hallmark`` or ``go_bp``) for ``species``."""
    if collection in BUILTIN_COLLECTIONS and collections_meta()[collection]["format"] == "curated-json":
        return load_curated(species)
    if collection not in BUILTIN_COLLECTIONS:
        raise GeneSetError(
            f"unknown collection '{collection}'", hint=f"choose from {', '.join(BUILTIN_COLLECTIONS)}"
        )
    _check_species(species)
    meta = collections_meta()[collection]
    fname = meta["file"] if species == "human" else meta["mouse_file"]
    path = _data_path(fname)
    raw = _parse_gmt_text(path.read_text(), fname)
    return [
        GeneSet(
            id=k,
            name=k,
            description=d,
            collection=collection,
            species=species,
            genes=tuple(g),
            version=meta["version"],
            licence=meta["licence"],
            sources={"origin": meta["source"]},
        )
        for k, (d, g) in raw.items()
    ]


def _parse_gmt_text(text: str, label: str) -> dict[str, tuple[str, list[str]]]:
    out = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3:
            out[parts[0]] = (parts[1], [g for g in parts[2:] if g])
    if not out:
        raise GeneSetError("bundled gene-set file is empty", file=label)
    return out


def load_user_gmt(path: str | Path, species: str) -> list[GeneSet]:
    """A user GMT file; the collection is called ``gmt:<file stem>``."""
    path = Path(path)
    raw = read_gmt(path)
    coll = f"gmt:{path.stem}"
    return [
        GeneSet(
            id=k,
            name=k,
            description=d,
            collection=coll,
            species=species,
            genes=tuple(g),
            sources={"origin": str(path)},
        )
        for k, (d, g) in raw.items()
    ]


def get_set(set_id: str, species: str = "human") -> GeneSet:
    """Find one set by id across the built-in collections."""
    for coll in BUILTIN_COLLECTIONS:
        for s in load_builtin(coll, species):
            if s.id == set_id:
                return s
    raise GeneSetError(f"no gene set with id '{set_id}'", hint="run `bmsc-dge genesets list`")


def restrict_to_data(
    sets: list[GeneSet], data_symbols: pd.Index | list[str], species: str
) -> tuple[dict[str, list[str]], pd.DataFrame]:
    """Match sets to the genes measured and report coverage.

    Parameters
    ----------
    sets
        Gene sets in ``species`` symbols (mouse symbols for rat).
    data_symbols
        Symbols present in the data.
    species
        Data species; ``rat`` matches case-insensitively.

    Returns
    -------
    tuple
        ``set id -> genes found in the data`` (data spelling) and a coverage table with columns
        ``collection``, ``term``, ``size``, ``found``, ``coverage``, ``no_ortholog``,
        ``low_coverage``.
    """
    symbols = [str(s) for s in data_symbols]
    if species == "rat":
        index = {s.upper(): s for s in symbols}

        def look(g: str) -> str | None:
            return index.get(g.upper())
    else:
        present = set(symbols)

        def look(g: str) -> str | None:
            return g if g in present else None

    matched: dict[str, list[str]] = {}
    rows = []
    for s in sets:
        hits = [h for h in (look(g) for g in s.genes) if h is not None]
        hits = list(dict.fromkeys(hits))
        matched[s.id] = hits
        size = len(s.genes) + len(s.unmapped)
        cov = len(hits) / size if size else 0.0
        rows.append(
            {
                "collection": s.collection,
                "term": s.id,
                "size": size,
                "found": len(hits),
                "coverage": round(cov, 4),
                "no_ortholog": len(s.unmapped),
                "low_coverage": cov < 0.5,
            }
        )
    table = pd.DataFrame(rows)
    _warn_low_coverage(table)
    return matched, table


#: more poorly covered sets than this in one collection are reported in one line (a targeted panel
#: or a sparse study would otherwise fill warnings.txt with one line per set)
_MAX_SET_WARNINGS = 5


def _warn_low_coverage(table: pd.DataFrame) -> None:
    """One warning per poorly covered set, or one per collection when there are many."""
    if table.empty:
        return
    for collection, part in table[table["low_coverage"]].groupby("collection", sort=False):
        if len(part) > _MAX_SET_WARNINGS:
            logger.warning(
                "collection %s: %d of %d gene sets have fewer than half of their genes in the data "
                "(per-set counts in tables/genesets/coverage.tsv)",
                collection,
                len(part),
                int((table["collection"] == collection).sum()),
            )
            continue
        for term, found, size, cov in zip(
            part["term"], part["found"], part["size"], part["coverage"], strict=True
        ):
            logger.warning(
                "gene set %s: only %d of %d genes found in the data (%.0f%%)",
                term,
                int(found),
                int(size),
                100.0 * float(cov),
            )


def sets_as_gmt(sets: list[GeneSet]) -> dict[str, tuple[str, list[str]]]:
    """Gene sets in the ``name -> (description, genes)`` form used by :func:`write_gmt`."""
    out = {}
    for s in sets:
        desc = f"{s.name} | {s.collection} {s.version} | {s.source_summary()}".strip()
        out[s.id] = (desc, list(s.genes))
    return out


def load_for_study(collections: list[str], gmt_paths: list[Path], species: str) -> dict[str, list[GeneSet]]:
    """All collections a study asks for: ``collection name -> sets``.

    Raises
    ------
    GeneSetError
        When built-in collections are requested for ``species: other``.
    """
    out: dict[str, list[GeneSet]] = {}
    if collections and species == "other":
        raise GeneSetError(
            f"built-in collections {collections} need species human, mouse or rat",
            hint="for `species: other` set `gene_sets.collections: []` and list your GMT files under gene_sets.gmt",
        )
    for c in collections:
        out[c] = load_builtin(c, species)
    for p in gmt_paths:
        sets = load_user_gmt(p, species)
        out[sets[0].collection] = sets
    return out
