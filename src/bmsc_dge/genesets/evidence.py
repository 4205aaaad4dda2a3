"""Gene-level evidence of the curated library: a direction in T2DM, a grade and its sources.

Every member of every curated set carries one :class:`GeneEvidence` (``gene_evidence`` in
``curated_human.json``). The grade says what the direction rests on:

``A``
    a primary study that measured this gene (transcript or protein) in BMSCs, osteoblasts,
    osteocytes or bone of T2DM patients or models, or under high glucose;
``B``
    a primary study in another diabetic cell or tissue, or of this gene's pathway in BMSCs;
``C``
    a review statement or pathway-database membership only.

A gene-level ``up``/``down`` needs grade A or B and a ``verified`` *primary* source in
``citations.tsv``; ``mixed`` (contested) needs at least two such sources; grade C genes are
``unknown`` at gene level (their set's ``expected_t2dm`` still frames GSEA). The target prior
credits a change only in a gene-level A/B direction, weighted by :data:`GRADE_WEIGHTS`.
:func:`check_gene_evidence` enforces the rules when the library is built
(``scripts/build_genesets.py``), so a direction without a primary source never ships.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

DIRECTIONS = ("up", "down", "mixed", "unknown")
GRADES = ("A", "B", "C")
#: share of the prior's direction credit a concordant significant change earns, by grade
GRADE_WEIGHTS: dict[str, float] = {"A": 1.0, "B": 0.5, "C": 0.0}


@dataclass(frozen=True)
class GeneEvidence:
    """What the library knows about one gene's change in T2DM.

    Attributes
    ----------
    direction
        ``up``, ``down``, ``mixed`` (sources disagree) or ``unknown``.
    grade
        ``A``, ``B`` or ``C`` (module docstring).
    sources
        Identifiers (``DOI:``, ``PMID:``, ``URL:``; for grade C also evidence sets such as
        ``GO:...``) the grade and direction rest on.
    note
        What the sources measured, where it needs saying (contested biology, protein vs mRNA).
    """

    direction: str = "unknown"
    grade: str = "C"
    sources: tuple[str, ...] = ()
    note: str = ""

    @property
    def directional(self) -> bool:
        """True for an ``up``/``down`` direction of grade A or B (the only ones the prior credits)."""
        return self.direction in ("up", "down") and self.grade in ("A", "B")

    @property
    def weight(self) -> float:
        """Share of the direction credit (0 unless :attr:`directional`)."""
        return GRADE_WEIGHTS[self.grade] if self.directional else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON form (as stored in ``curated_human.json``)."""
        out: dict[str, Any] = {
            "direction": self.direction,
            "grade": self.grade,
            "sources": list(self.sources),
        }
        if self.note:
            out["note"] = self.note
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> GeneEvidence:
        """Inverse of :meth:`as_dict`."""
        return cls(
            direction=str(raw.get("direction", "unknown")),
            grade=str(raw.get("grade", "C")),
            sources=tuple(str(s) for s in raw.get("sources", [])),
            note=str(raw.get("note", "")),
        )


def is_citation(token: str) -> bool:
    """True for literature identifiers (``PMID:``, ``DOI:``, ``URL:``), False for evidence sets."""
    return token.startswith(("PMID:", "DOI:", "URL:"))


@dataclass
class EvidenceCheck:
    """Errors found by :func:`check_gene_evidence` (empty when the curation is sound)."""

    errors: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return not self.errors


def check_gene_evidence(
    entries: Mapping[str, Mapping[str, Any]],
    citations: Mapping[str, Mapping[str, str]],
    members: Iterable[str],
) -> EvidenceCheck:
    """Check the curated gene-level evidence against the citation table.

    Parameters
    ----------
    entries
        Gene symbol -> ``{direction, grade, sources, note}`` (the ``gene_evidence`` section of
        ``curated_spec.yaml``; genes not listed are grade C, direction unknown).
    citations
        Identifier -> citation-table row (needs ``status`` and ``kind``).
    members
        Every gene of every curated set (an entry for a non-member is a curation slip).

    Returns
    -------
    EvidenceCheck
        One message per violation, naming the gene and what to fix.
    """
    check = EvidenceCheck()
    known = set(members)
    for gene, raw in entries.items():
        direction, grade = raw.get("direction"), raw.get("grade")
        sources = list(raw.get("sources", []) or [])
        if gene not in known:
            check.errors.append(f"gene_evidence {gene}: not a member of any curated set")
        if direction not in DIRECTIONS or grade not in GRADES:
            check.errors.append(
                f"gene_evidence {gene}: direction {direction!r} / grade {grade!r} "
                f"(direction one of {', '.join(DIRECTIONS)}; grade one of {', '.join(GRADES)})"
            )
            continue
        for s in sources:
            if is_citation(s) and s not in citations:
                check.errors.append(f"gene_evidence {gene}: {s} has no row in citations.tsv")
        primary = [
            s
            for s in sources
            if citations.get(s, {}).get("status") == "verified"
            and citations.get(s, {}).get("kind") == "primary"
        ]
        if grade == "C" and direction != "unknown":
            check.errors.append(
                f"gene_evidence {gene}: grade C with direction {direction}; a review or pathway "
                "membership gives no gene-level direction (set it unknown, or cite a primary study as A/B)"
            )
        if grade in ("A", "B") and not primary:
            check.errors.append(
                f"gene_evidence {gene}: grade {grade} needs a verified primary source in citations.tsv "
                f"(sources: {', '.join(sources) or 'none'})"
            )
        if direction == "mixed" and len(primary) < 2:
            check.errors.append(
                f"gene_evidence {gene}: mixed (contested) needs the verified primary sources of both sides"
            )
    return check


def evidence_for_member(
    gene: str, entries: Mapping[str, Mapping[str, Any]], admitting: Iterable[str]
) -> GeneEvidence:
    """The evidence record of one set member: its curated entry, else grade C from what admits it.

    Parameters
    ----------
    gene
        Human symbol.
    entries
        The ``gene_evidence`` section of the spec.
    admitting
        The tokens that admit the gene to its set (evidence sets, literature identifiers), used
        as the sources of a grade-C record.
    """
    raw = entries.get(gene)
    if raw is None:
        return GeneEvidence(sources=tuple(admitting))
    ev = GeneEvidence.from_dict(raw)
    if ev.grade == "C" and not ev.sources:
        return GeneEvidence(ev.direction, ev.grade, tuple(admitting), ev.note)
    return ev
