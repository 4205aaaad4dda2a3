"""The code base stays ruff- and mypy-clean (as the style guide asks)."""

import subprocess
import sys

from .conftest import ROOT


def test_ruff_clean():
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "src", "flows", "tests", "scripts", "data"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_ruff_format_clean():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "format",
            "--check",
            "src",
            "flows",
            "tests",
            "scripts",
            "data",
            "benchmarks",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_no_module_over_400_lines():
    """Modules stay small enough to read whole (the layout issue's rule of thumb), flows included."""
    files = [*(ROOT / "src" / "bmsc_dge").rglob("*.py"), *(ROOT / "flows").rglob("*.py")]
    long = {str(p.relative_to(ROOT)): n for p in files if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long


def test_mypy_clean():
    proc = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
