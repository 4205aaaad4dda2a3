"""scripts/example_checksums.py: pinning a fresh process to the arithmetic a golden record names."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from .conftest import ROOT, example_checksums

SCRIPT = ROOT / "scripts" / "example_checksums.py"
RECORD = ROOT / "tests" / "data" / "example_tables.sha256"


def _machine_in_child(env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--machine"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_a_pinned_process_reports_the_machine_it_was_pinned_to():
    """Pinned to the golden record's line, and to this machine's own, a fresh process reports that line."""
    module = example_checksums()
    for line in (RECORD.read_text().splitlines()[0], f"# machine: {module.machine()}"):
        assert _machine_in_child(module.pinning(line)) == line.removeprefix("# machine: ")


def test_pinning_caps_numpy_at_the_recorded_simd_level():
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    module = example_checksums()
    own = [t for t in __cpu_dispatch__ if __cpu_features__.get(t)]
    blas = module.machine().split("; ")[1]
    env = module.pinning(f"numpy {np.__version__}; {blas}; numpy SIMD up to baseline")
    assert env["NPY_DISABLE_CPU_FEATURES"].split() == own
    assert env["OPENBLAS_CORETYPE"] == blas.rsplit(" ", 1)[-1]
    if own:
        capped = module.pinning(f"numpy {np.__version__}; {blas}; numpy SIMD up to {own[0]}")
        assert capped["NPY_DISABLE_CPU_FEATURES"].split() == own[1:]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("# machine: unknown", "not a machine line"),
        ("numpy 1.0.0; BLAS: libopenblas Haswell; numpy SIMD up to baseline", "numpy 1.0.0"),
        ("NUMPY; BLAS: a Haswell, b SkylakeX; numpy SIMD up to baseline", "one set can be pinned"),
        ("NUMPY; BLAS: a ?; numpy SIMD up to baseline", "one set can be pinned"),
        ("NUMPY; BLAS: a Haswell; numpy SIMD up to RISCV_V", "which this CPU lacks"),
    ],
)
def test_pinning_refuses_what_it_cannot_pin(line, reason):
    module = example_checksums()
    with pytest.raises(module.CannotPinError, match=reason):
        module.pinning(line.replace("NUMPY", f"numpy {np.__version__}"))


def test_pin_prints_the_shell_exports_of_the_records_arithmetic():
    """`--pin RECORD` (how the record is regenerated) prints exports a shell can eval: they pin a
    later process to the record's machine line."""
    out = subprocess.run(
        [
            "bash",
            "-c",
            'eval "$("$0" "$1" --pin "$2")" && "$0" "$1" --machine',
            sys.executable,
            SCRIPT,
            RECORD,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == RECORD.read_text().splitlines()[0].removeprefix("# machine: ")
