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


@pytest.mark.e2e
def test_warm_flow_measurement_times_a_second_run_in_one_process(tmp_path):
    """``--one flow:warm`` (the ``--startup`` diagnostic) runs the example twice and times the second."""
    import os

    from .test_cli import run_cli

    env = {**os.environ, "PREFECT_HOME": str(tmp_path / ".prefect"), "BMSC_DGE_LOCAL_SERVER": "on"}
    env.pop("PREFECT_API_URL", None)  # the first run must start the folder's server
    try:
        out = subprocess.run(
            [sys.executable, str(SCRIPT), "--one", "flow:warm", "0", "0"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        res = json.loads(out.stdout.strip().splitlines()[-1])  # the run's own lines went to stderr
        assert res["seconds"] > 0 and res["peak_mib"] > 50
        runs = sorted(p.name for p in (tmp_path / "runs").iterdir() if not p.name.startswith("."))
        assert len(runs) == 2, runs
        # the first run started the folder's server and set PREFECT_API_URL; the second used it
        assert out.stderr.count("started in the background") == 1, out.stderr[-3000:]
    finally:
        run_cli("server", "--stop", cwd=tmp_path, extra_env={"BMSC_DGE_LOCAL_SERVER": "on"})
