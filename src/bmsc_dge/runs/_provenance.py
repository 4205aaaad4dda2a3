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


def arithmetic() -> str:
    """The CPU-dependent parts of this process's floating point: BLAS kernels and numpy's widest SIMD.

    The same counts give tables that differ in the last bits (and, for a gene on a knife edge,
    more) between CPUs whose OpenBLAS kernel sets or numpy SIMD paths differ; R's do not
    (docs/statistics.md). Recording them lets such a difference be explained.

    Returns
    -------
    str
        For example ``"BLAS: libscipy_openblas Haswell; numpy SIMD up to X86_V3"``.
    """
    import scipy.linalg  # noqa: F401  (loads SciPy's own OpenBLAS, so it is listed)
    import threadpoolctl

    try:  # numpy's private record of its dispatched SIMD targets
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:
        __cpu_dispatch__, __cpu_features__ = [], {}
    blas = sorted(
        {
            f"{i['prefix']} {i.get('architecture', '?')}"
            for i in threadpoolctl.threadpool_info()
            if i["user_api"] == "blas"
        }
    )
    simd = [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]
    return f"BLAS: {', '.join(blas) or 'none'}; numpy SIMD up to {simd[-1] if simd else 'baseline'}"


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape the results, and the CPU's ``arithmetic()``."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for p in PACKAGES:
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = "not installed"
    out["arithmetic"] = arithmetic()
    return out


def input_checksums(paths: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """``label -> {path, sha256, bytes}`` for each input file."""
    return {
        k: {"path": str(p), "sha256": sha256(p), "bytes": Path(p).stat().st_size} for k, p in paths.items()
    }
