"""The grading rules the library build enforces (bmsc_dge.genesets.evidence.check_gene_evidence)."""

import subprocess
import sys

import pytest
import yaml

from bmsc_dge.genesets.evidence import GeneEvidence, check_gene_evidence, evidence_for_member

from ..conftest import ROOT

CITATIONS = {
    "DOI:primary": {"status": "verified", "kind": "primary"},
    "DOI:primary2": {"status": "verified", "kind": "primary"},
    "DOI:review": {"status": "verified", "kind": "review"},
    "DOI:unchecked": {"status": "unverified", "kind": "primary"},
}
MEMBERS = ["G1", "G2"]


def _errors(entry: dict) -> list[str]:
    return check_gene_evidence({"G1": entry}, CITATIONS, MEMBERS).errors


def test_sound_entries_pass():
    assert not _errors({"direction": "down", "grade": "A", "sources": ["DOI:primary"]})
    assert not _errors({"direction": "up", "grade": "B", "sources": ["DOI:primary", "DOI:review"]})
    assert not _errors({"direction": "mixed", "grade": "A", "sources": ["DOI:primary", "DOI:primary2"]})
    assert not _errors({"direction": "unknown", "grade": "C", "sources": ["DOI:review"]})


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"direction": "up", "grade": "C", "sources": ["DOI:review"]}, "grade C with direction up"),
        ({"direction": "down", "grade": "A", "sources": ["DOI:review"]}, "needs a verified primary source"),
        (
            {"direction": "down", "grade": "A", "sources": ["DOI:unchecked"]},
            "needs a verified primary source",
        ),
        ({"direction": "down", "grade": "B", "sources": []}, "needs a verified primary source"),
        ({"direction": "down", "grade": "A", "sources": ["DOI:missing"]}, "has no row in citations.tsv"),
        ({"direction": "mixed", "grade": "A", "sources": ["DOI:primary"]}, "both sides"),
        ({"direction": "sideways", "grade": "A", "sources": ["DOI:primary"]}, "direction 'sideways'"),
    ],
)
def test_unsupported_directions_are_refused(entry, message):
    errors = _errors(entry)
    assert any(message in e for e in errors), errors
    assert all(e.startswith("gene_evidence G1") for e in errors)


def test_entry_for_a_non_member_is_refused():
    errors = check_gene_evidence({"NOPE": {"direction": "unknown", "grade": "C"}}, CITATIONS, MEMBERS).errors
    assert errors == ["gene_evidence NOPE: not a member of any curated set"]


def test_uncurated_members_are_grade_c_from_what_admits_them():
    ev = evidence_for_member("G2", {}, ["GO:0001", "DOI:review"])
    assert ev == GeneEvidence("unknown", "C", ("GO:0001", "DOI:review"))
    assert not ev.directional and ev.weight == 0.0
    assert GeneEvidence("down", "A", ("DOI:primary",)).weight == 1.0
    assert GeneEvidence("down", "B", ("DOI:primary",)).weight == 0.5
    assert GeneEvidence("mixed", "A", ("DOI:primary", "DOI:primary2")).weight == 0.0


def test_build_fails_on_a_direction_without_a_primary_source(tmp_path):
    """The real build script refuses a spec whose gene-level 'up' rests on the review alone."""
    data = ROOT / "src" / "bmsc_dge" / "genesets" / "data"
    spec = yaml.safe_load((data / "curated_spec.yaml").read_text())
    spec["gene_evidence"]["TFRC"] = {
        "direction": "up",
        "grade": "A",
        "sources": ["DOI:10.3389/fendo.2024.1483512"],  # the review: not a primary study
    }
    bad = tmp_path / "curated_spec.yaml"
    bad.write_text(yaml.safe_dump(spec, sort_keys=False))
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_genesets.py"), "--check", "--spec", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode != 0
    assert "gene_evidence TFRC: grade A needs a verified primary source" in run.stderr + run.stdout
