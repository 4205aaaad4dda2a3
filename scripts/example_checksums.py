"""Print sha256 checksums of a run's TSV tables (the example's golden record for refactors).

To regenerate the record with the arithmetic it names (any x86-64 CPU with AVX2 and FMA)::

    eval "$(.venv/bin/python scripts/example_checksums.py --pin tests/data/example_tables.sha256)"
    .venv/bin/bmsc-dge run configs/example.yaml --outdir /tmp/example
    .venv/bin/python scripts/example_checksums.py /tmp/example/latest > tests/data/example_tables.sha256

(without the first line the record takes this CPU's own arithmetic, which the test then pins).

``tests/test_flow.py`` re-runs the bundled example and compares its tables with this record, so a
change that moves code without meaning to change results proves it. Tables that depend on an
earlier run (``tables/changes``) are left out. Regenerate the record only for a change that is
meant to alter the example's results, and say why in the commit.

The last bits of a fit depend on the CPU (R's do not): on the kernels OpenBLAS picks for it and on
numpy's widest SIMD paths (its AVX-512 ``exp``, ``log``, ``log1p``, ``expm1`` and ``power``
round differently from its AVX2 ones: 0.04-10% of 1e6 values each, measured here). The
record's first line names both for the machine that made it. The test does not depend on meeting
that machine again: it runs the example in a fresh process pinned to the record's arithmetic
(``pinning``: ``OPENBLAS_CORETYPE`` and ``NPY_DISABLE_CPU_FEATURES``, which only work before numpy
is imported), so one record should hold on every x86-64 CPU with the recorded SIMD level. Measured
2026-12-02 on an AMD EPYC with AVX-512: unpinned, the example's p-values moved by <= 7e-6 relative
(median 2e-12), shrunken log2FC by <= 1.3e-6, and 14 tied rows of the targets table swapped
places; no call changed; pinned, every table equalled the record made on an AVX2 machine
byte for byte (docs/statistics.md).
"""

from __future__ import annotations

import hashlib
import re
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
    """This process's numpy and the CPU-dependent parts of its arithmetic (BLAS kernels, numpy SIMD)."""
    import numpy as np

    from bmsc_dge.runs._provenance import arithmetic

    return f"numpy {np.__version__}; {arithmetic()}"


class CannotPinError(RuntimeError):
    """This machine cannot be made to do the arithmetic a record was made with."""


def pinning(made_on: str) -> dict[str, str]:
    """Environment that makes a fresh process on this CPU do the arithmetic ``made_on`` names.

    Parameters
    ----------
    made_on
        A record's machine line, as ``machine()`` prints it (with or without ``# machine:``).

    Returns
    -------
    dict
        ``OPENBLAS_CORETYPE`` (the recorded OpenBLAS kernel set) and ``NPY_DISABLE_CPU_FEATURES``
        (this CPU's numpy SIMD targets above the recorded one). Both are read once, when the
        libraries load, so they only pin a process that has not imported numpy yet.

    Raises
    ------
    CannotPinError
        When the line cannot be read, names another numpy, several OpenBLAS kernel sets, or a SIMD
        level this CPU lacks.
    """
    import numpy as np

    found = re.search(r"numpy (\S+); BLAS: (.*); numpy SIMD up to (\S+)", made_on)
    if found is None:
        raise CannotPinError(f"not a machine line: {made_on!r}")
    version, blas, simd = found.groups()
    if version != np.__version__:
        raise CannotPinError(f"record made with numpy {version}, this environment has {np.__version__}")
    kernels = {entry.rsplit(" ", 1)[-1] for entry in blas.split(", ")}
    if len(kernels) != 1 or "?" in kernels:
        raise CannotPinError(f"record names OpenBLAS kernels {sorted(kernels)}; one set can be pinned")
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError as err:  # numpy moved its private record
        raise CannotPinError(f"numpy's SIMD dispatch record is not readable: {err}") from err
    targets = list(__cpu_dispatch__)
    if simd != "baseline" and (simd not in targets or not __cpu_features__.get(simd)):
        raise CannotPinError(f"record made with numpy SIMD up to {simd}, which this CPU lacks")
    above = targets[targets.index(simd) + 1 :] if simd != "baseline" else targets
    return {
        "OPENBLAS_CORETYPE": kernels.pop(),
        "NPY_DISABLE_CPU_FEATURES": " ".join(t for t in above if __cpu_features__.get(t)),
    }


def main(argv: list[str] | None = None) -> None:
    """``RUN``: the record of a run folder; ``--pin RECORD``: shell exports that pin a later process
    to the record's arithmetic; ``--machine``: this process's machine line."""
    import argparse
    import shlex

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("run", nargs="?", type=Path, help="a run folder (e.g. results/example/latest)")
    group.add_argument("--pin", type=Path, metavar="RECORD", help="print exports pinning to RECORD's machine")
    group.add_argument("--machine", action="store_true", help="print this process's machine line")
    args = parser.parse_args(argv)
    if args.machine:
        print(machine())
    elif args.pin is not None:
        try:
            env = pinning(args.pin.read_text().splitlines()[0])
        except CannotPinError as err:
            sys.exit(f"error: {err}")
        print("export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()))
    else:
        print(f"# machine: {machine()}")
        for name, digest in checksums(args.run.resolve()).items():
            print(f"{digest}  {name}")


if __name__ == "__main__":
    main()
