"""Print sha256 checksums of a run's TSV tables (the example's golden record for refactors).

    .venv/bin/python scripts/example_checksums.py results/example/latest > tests/data/example_tables.sha256

``tests/test_flow.py`` re-runs the bundled example and compares its tables with this record, so a
change that moves code without meaning to change results proves it. Tables that depend on an
earlier run (``tables/changes``) are left out. Regenerate the record only for a change that is
meant to alter the example's results, and say why in the commit.

The record holds on machines that do the same arithmetic: the last bits of a fit depend on the
kernels OpenBLAS picks for the CPU (R's do not; numpy's SIMD paths are recorded too, though
disabling them changed nothing measured here). Its first line names both for the machine that made it, and the test prints them beside this machine's when the record
does not match. Made on an earlier machine until 2026-12-01 (its CPU features were not
recorded); since 2026-12-02 on an AVX2 one without AVX-512 (OpenBLAS "Haswell" kernels), where
the example's tables from two OpenBLAS kernel sets differed by <= 3e-8 relative in p-values and
1.8e-6 in shrunken log2FC, and 26 tied rows of the targets table swapped places (docs/statistics.md).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path


def checksums(run: Path) -> dict[str, str]:
    """``tables/<kind>/<file>.tsv`` -> sha256 for every TSV table of ``run`` except ``changes``."""
    tables = run / "tables"
    return {
        str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(tables.rglob("*.tsv"))
        if p.parent.name != "changes"
    }


def machine() -> str:
    """The CPU-dependent parts of this machine's arithmetic: BLAS kernel sets and numpy's widest SIMD."""
    import numpy as np
    import scipy.linalg  # noqa: F401  (loads SciPy's own OpenBLAS)
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
    return f"numpy {np.__version__}; BLAS: {', '.join(blas)}; numpy SIMD up to {simd[-1] if simd else 'baseline'}"


if __name__ == "__main__":
    print(f"# machine: {machine()}")
    for name, digest in checksums(Path(sys.argv[1]).resolve()).items():
        print(f"{digest}  {name}")
