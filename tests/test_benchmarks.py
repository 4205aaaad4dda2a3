"""The benchmark script keeps working (tiny sizes; timings are not asserted)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


@pytest.mark.parametrize("kind", ["de:bmsc-dge", "gsea:bmsc-dge:71"])
def test_one_measurement_prints_seconds_and_memory(kind):
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--one", kind, "1500", "6"], capture_output=True, text=True, check=True
    )
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["seconds"] > 0 and res["peak_mib"] > 50
