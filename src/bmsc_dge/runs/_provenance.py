"""Run provenance: input checksums, package versions, gene-set versions, timings."""

from __future__ import annotations

import hashlib
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

PACKAGES = (
    "bmsc-dge",
    "pydeseq2",
    "gseapy",
    "scanpy",
    "anndata",
    "numpy",
    "pandas",
    "scipy",
    "prefect",
    "prefect-dask",
    "matplotlib",
    "pydantic",
)


def sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape the results."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for p in PACKAGES:
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = "not installed"
    return out


def input_checksums(paths: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """``label -> {path, sha256, bytes}`` for each input file."""
    return {
        k: {"path": str(p), "sha256": sha256(p), "bytes": Path(p).stat().st_size} for k, p in paths.items()
    }
