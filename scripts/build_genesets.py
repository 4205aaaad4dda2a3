"""Resolve the curated gene-set spec and bundle the broad collections as package data.

Run from the repository root:

    .venv/bin/python scripts/build_genesets.py [--reference ../shared/reference] [--check]

Inputs (see ../shared/reference/SOURCES.md for their provenance):
  reference_human.gmt       GO BP (org.Hs.eg.db 3.16.0), KEGG (evidence only), MSigDB Hallmark v7.5.1
  reference_mouse.gmt       Hallmark v7.0 mouse (Mouse-GEM) and ortholog-mapped GO/KEGG sets
  gene_ids_human.tsv.gz     Entrez/symbol/Ensembl table from org.Hs.eg.db 3.16.0
  human_mouse_orthologs.tsv Alliance of Genome Resources HGNC->MGI pairs

Outputs in src/bmsc_dge/genesets/data/:
  curated_human.json        every curated set with per-gene evidence
  go_bp_human.gmt, hallmark_human.gmt, go_bp_mouse.gmt, hallmark_mouse.gmt
  gene_ids_human.tsv.gz, human_mouse_orthologs.tsv.gz
  collections.json          provenance and licence of each bundled collection

With --check nothing is written; the script exits 1 if the committed outputs differ from a
fresh resolution (used by the test suite when the reference folder is present).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import sys
from pathlib import Path

import pandas as pd
import yaml

from bmsc_dge.genesets.evidence import check_gene_evidence, evidence_for_member, is_citation

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "bmsc_dge" / "genesets" / "data"


def read_gmt(path: Path) -> dict[str, tuple[str, list[str]]]:
    sets: dict[str, tuple[str, list[str]]] = {}
    for line in path.read_text().splitlines():
        parts = [p for p in line.rstrip("\n").split("\t")]
        if len(parts) < 3:
            continue
        genes = [g.strip() for g in parts[2:] if g.strip()]
        sets[parts[0]] = (parts[1], genes)
    return sets


def token_for(name: str) -> str | None:
    """Map a reference set name to an evidence token (GO:..., KEGG:..., MSigDB:...)."""
    if name.endswith("__MM_ORTHO"):
        return None
    m = re.search(r"__GO_(\d{7})$", name)
    if m:
        return f"GO:{m.group(1)}"
    m = re.search(r"__(hsa\d{5})$", name)
    if m:
        return f"KEGG:{m.group(1)}"
    if name.startswith("HALLMARK_"):
        return f"MSigDB:{name}"
    return None


CITATION_COLUMNS = [
    "identifier",
    "first_author",
    "year",
    "journal",
    "title",
    "claim",
    "checked_at",
    "status",
    "kind",
]
CITATION_KINDS = ("primary", "review", "resource")


def read_citations(path: Path) -> dict[str, dict[str, str]]:
    """The citation table: identifier -> row (every column filled, status verified/unverified)."""
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    if list(table.columns) != CITATION_COLUMNS:
        raise SystemExit(f"{path}: columns must be {CITATION_COLUMNS}")
    bad = table[
        (table == "").any(axis=1)
        | ~table["status"].isin(["verified", "unverified"])
        | ~table["kind"].isin(CITATION_KINDS)
    ]
    if len(bad):
        raise SystemExit(f"{path}: incomplete rows, bad status or kind: {', '.join(bad['identifier'])}")
    if table["identifier"].duplicated().any():
        raise SystemExit(f"{path}: duplicated identifiers")
    return {str(r["identifier"]): dict(r) for r in table.to_dict(orient="records")}


def cite_label(row: dict[str, str]) -> str:
    """Short label of a citation for tables: ``Xia SL 2022``."""
    if row["first_author"].startswith("("):  # author not in the record read: name the record
        return row["journal"] if row["year"] == "n.d." else f"{row['journal']} {row['year']}"
    return f"{row['first_author']} {row['year']}"


def cite_text(row: dict[str, str]) -> str:
    """One-line citation, with ``[unverified]`` where the record was not checked."""
    flag = "" if row["status"] == "verified" else " [unverified]"
    return f"{row['first_author']} et al. {row['title']}. {row['journal']} ({row['year']}).{flag}"


def check_citations(s: dict, citations: dict[str, dict[str, str]]) -> list[str]:
    """Errors for identifiers without a citation-table row and for unsupported set directions."""
    errors = []
    used = list(s.get("references", [])) + list(s.get("direction_evidence", []))
    used += [r for refs in (s.get("literature", {}) or {}).values() for r in refs]
    for r in used:
        if r not in citations:
            errors.append(f"{s['id']}: {r} has no row in citations.tsv (add it, checked, or remove it)")
    if s["expected_t2dm"] in ("up", "down"):
        ok = [r for r in s.get("direction_evidence", []) if citations.get(r, {}).get("status") == "verified"]
        if not ok:
            errors.append(
                f"{s['id']}: expected_t2dm {s['expected_t2dm']} without verified direction_evidence"
            )
    elif s["expected_t2dm"] != "mixed":
        errors.append(f"{s['id']}: expected_t2dm must be up, down or mixed")
    return errors


def gmt_text(sets: dict[str, tuple[str, list[str]]]) -> str:
    lines = [f"{k}\t{d}\t" + "\t".join(g) for k, (d, g) in sets.items()]
    return "\n".join(lines) + "\n"


def resolve(reference: Path, spec_path: Path = OUT / "curated_spec.yaml") -> dict[str, bytes]:
    spec = yaml.safe_load(spec_path.read_text())
    citations = read_citations(OUT / "citations.tsv")
    gene_entries = spec.get("gene_evidence", {}) or {}
    # gene-level directions first: they need no reference collection to be judged
    graded = check_gene_evidence(gene_entries, citations, [g for s in spec["sets"] for g in s["genes"]])
    if graded.errors:
        raise SystemExit("curation errors:\n  " + "\n  ".join(graded.errors))
    human = read_gmt(reference / "reference_human.gmt")
    mouse = read_gmt(reference / "reference_mouse.gmt")
    ids = pd.read_csv(reference / "gene_ids_human.tsv.gz", sep="\t", dtype=str)
    known_symbols = set(ids["SYMBOL"].dropna())

    evidence_index: dict[str, set[str]] = {}
    evidence_names: dict[str, str] = {}
    for name, (_desc, genes) in human.items():
        tok = token_for(name)
        if tok:
            evidence_index[tok] = set(genes)
            evidence_names[tok] = name

    errors: list[str] = []
    lib = spec["library"]
    used_labels: set[str] = set()
    out_sets = []
    for s in spec["sets"]:
        errors += check_citations(s, citations)
        ev_sets = s["evidence_sets"]
        for tok in ev_sets:
            if tok not in evidence_index:
                errors.append(f"{s['id']}: evidence set {tok} is not in the reference collections")
        lit = s.get("literature", {}) or {}
        for gene in lit:
            if gene not in s["genes"]:
                errors.append(f"{s['id']}: literature entry for {gene}, which is not a member")
        evidence: dict[str, list[str]] = {}
        for gene in s["genes"]:
            if gene not in known_symbols:
                errors.append(f"{s['id']}: {gene} is not a current HGNC symbol in gene_ids_human")
            toks = [t for t in ev_sets if gene in evidence_index.get(t, set())]
            verified = [r for r in lit.get(gene, []) if citations.get(r, {}).get("status") == "verified"]
            if not toks and not verified:
                errors.append(f"{s['id']}: {gene} has no evidence (no evidence set, no verified reference)")
            evidence[gene] = toks + list(lit.get(gene, []))
        if len(set(s["genes"])) != len(s["genes"]):
            errors.append(f"{s['id']}: duplicated genes")
        if "gene_directions" in s:
            errors.append(
                f"{s['id']}: gene_directions is gone; give gene-level directions under gene_evidence"
            )
        gene_evidence = {g: evidence_for_member(g, gene_entries, evidence[g]).as_dict() for g in s["genes"]}
        ev_refs = {t for e in gene_evidence.values() for t in e["sources"] if is_citation(t)}
        used_labels |= ev_refs
        used_sets = sorted({t for toks in evidence.values() for t in toks if not is_citation(t)})
        used_refs = sorted(
            {t for toks in evidence.values() for t in toks if is_citation(t)}
            | set(s.get("references", []))
            | ev_refs
        )
        out_sets.append(
            {
                "id": s["id"],
                "name": s["name"],
                "description": s["description"],
                "mechanism": s["mechanism"],
                "expected_t2dm": s["expected_t2dm"],
                "direction_evidence": {r: cite_text(citations[r]) for r in s.get("direction_evidence", [])},
                "direction_note": s.get("direction_note", ""),
                "species": "human",
                "version": lib["version"],
                "date": lib["date"],
                "licence": lib["licence"],
                "sources": {
                    "evidence_sets": {t: evidence_names[t] for t in used_sets if t in evidence_names},
                    "references": {r: cite_text(citations[r]) for r in used_refs if r in citations},
                },
                "genes": s["genes"],
                "evidence": evidence,
                "gene_evidence": gene_evidence,
            }
        )
    if errors:
        raise SystemExit("curation errors:\n  " + "\n  ".join(errors))

    lib = dict(lib) | {"citation_labels": {r: cite_label(citations[r]) for r in sorted(used_labels)}}
    curated = {"library": lib, "sets": out_sets}
    go_h = {
        k.split("__")[0]: (f"{token_for(k)} | {d}", g) for k, (d, g) in human.items() if k.startswith("GOBP_")
    }
    hm_h = {k: (d, g) for k, (d, g) in human.items() if k.startswith("HALLMARK_")}
    go_m = {
        k.split("__")[0]: (d, g)
        for k, (d, g) in mouse.items()
        if k.startswith("GOBP_") and k.endswith("__MM_ORTHO")
    }
    hm_m = {k: (d, g) for k, (d, g) in mouse.items() if k.startswith("HALLMARK_")}
    # the registry of built-in collections: config validation, the loader and the CLI read it
    # (src/bmsc_dge/config/_base.py: builtin_collections); order = default order of a run
    collections = {
        "curated": {
            "format": "curated-json",
            "default": True,
            "description": "bmsc-dge's T2DM-osteoporosis library (expected directions, gene-level evidence)",
            "file": "curated_human.json",
            "licence": lib["licence"],
            "version": lib["version"],
            "source": "bmsc-dge curation, see docs/genesets.md",
        },
        "hallmark": {
            "format": "gmt",
            "default": True,
            "description": "MSigDB Hallmark, 50 sets",
            "file": "hallmark_human.gmt",
            "mouse_file": "hallmark_mouse.gmt",
            "licence": "CC BY 4.0 (MSigDB, Broad Institute)",
            "version": "MSigDB Hallmark v7.5.1 (human); v7.0 mouse ortholog conversion (Mouse-GEM)",
            "source": "MSigDB",
            "attribution": "Liberzon et al. Cell Syst 2015",
        },
        "go_bp": {
            "format": "gmt",
            "default": True,
            "description": "GO biological-process terms on bone, diabetes, autophagy, cell death, inflammation",
            "file": "go_bp_human.gmt",
            "mouse_file": "go_bp_mouse.gmt",
            "licence": "CC BY 4.0 (Gene Ontology Consortium)",
            "version": "GO 2022-07-01 via org.Hs.eg.db 3.16.0 (all evidence codes incl. IEA; term plus descendants)",
            "source": "Gene Ontology; mouse sets ortholog-mapped (Alliance best=Yes)",
            "attribution": "Ashburner et al. Nat Genet 2000; Gene Ontology Consortium, Nucleic Acids Res 2023",
        },
    }
    orth = (reference / "human_mouse_orthologs.tsv").read_bytes()
    return {
        "curated_human.json": (json.dumps(curated, indent=1, sort_keys=False) + "\n").encode(),
        "go_bp_human.gmt": gmt_text(go_h).encode(),
        "hallmark_human.gmt": gmt_text(hm_h).encode(),
        "go_bp_mouse.gmt": gmt_text(go_m).encode(),
        "hallmark_mouse.gmt": gmt_text(hm_m).encode(),
        "collections.json": (json.dumps(collections, indent=1) + "\n").encode(),
        "human_mouse_orthologs.tsv.gz": _gz(orth),
        "gene_ids_human.tsv.gz": _gz(gzip.decompress((reference / "gene_ids_human.tsv.gz").read_bytes())),
    }


def _gz(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as fh:
        fh.write(data)
    return buf.getvalue()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", type=Path, default=ROOT.parent / "shared" / "reference")
    ap.add_argument("--check", action="store_true")
    ap.add_argument(
        "--spec", type=Path, default=OUT / "curated_spec.yaml", help="curation spec (default: the package's)"
    )
    args = ap.parse_args()
    outputs = resolve(args.reference, args.spec)
    stale = []
    for name, data in outputs.items():
        path = OUT / name
        if args.check:
            if not path.exists() or path.read_bytes() != data:
                stale.append(name)
        else:
            path.write_bytes(data)
    if args.check and stale:
        print("stale bundled gene-set files: " + ", ".join(stale), file=sys.stderr)
        return 1
    print(("up to date: " if args.check else "wrote: ") + ", ".join(outputs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
