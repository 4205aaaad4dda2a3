"""Input fingerprints: the cache key of incremental re-analysis."""

from __future__ import annotations

import hashlib
from pathlib import Path

from bmsc_dge import __version__
from bmsc_dge.config import StudyConfig
from bmsc_dge.genesets import library_version
from bmsc_dge.io import input_files
from bmsc_dge.runs._provenance import sha256


def input_fingerprint(cfg: StudyConfig, config_path: str | Path) -> str:
    """SHA-256 over the config file, every input file (:func:`bmsc_dge.io.input_files`) and versions.

    Any change to data, settings, bmsc-dge or the curated gene-set library changes the key; an
    unchanged inbox gives the same key, so the scheduled run reuses the cached result.
    """
    h = hashlib.sha256()
    h.update(Path(config_path).read_bytes())
    for label, p in input_files(cfg).items():
        h.update(label.encode())
        h.update(str(Path(p).name).encode())
        h.update(sha256(p).encode())
    h.update(f"bmsc-dge {__version__}; curated {library_version()}; outdir {cfg.outdir}".encode())
    return h.hexdigest()
