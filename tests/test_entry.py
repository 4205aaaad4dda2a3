"""The `bmsc-dge` entry point: exit statuses and complete output with the fast process end."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _main_with(app_body: str) -> subprocess.CompletedProcess:
    """Run ``bmsc_dge.cli.main()`` in a fresh interpreter with ``app`` replaced by ``app_body``."""
    script = f"""
import sys
import bmsc_dge.cli as cli
def app():
{app_body}
cli.app = app
sys.exit(cli.main())
"""
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)


def test_success_prints_everything_and_exits_zero():
    proc = _main_with("    for i in range(20000):\n        print(f'line {i}')")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 20000 and lines[-1] == "line 19999"  # nothing lost to the fast end


@pytest.mark.parametrize(("body", "status"), [("    raise SystemExit(2)", 2), ("    raise SystemExit(0)", 0)])
def test_exit_statuses_pass_through(body, status):
    assert _main_with(body).returncode == status


def test_an_unexpected_error_exits_one_with_its_traceback():
    proc = _main_with("    raise RuntimeError('boom')")
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "RuntimeError: boom" in proc.stderr


def test_a_message_exit_is_printed_and_fails():
    proc = _main_with("    raise SystemExit('bad thing')")
    assert proc.returncode == 1 and "bad thing" in proc.stderr


def test_exit_handlers_registered_during_the_command_still_run(tmp_path):
    marker = tmp_path / "ran"
    body = f"    import atexit\n    atexit.register(lambda: open({str(marker)!r}, 'w').write('yes'))"
    assert _main_with(body).returncode == 0
    assert marker.read_text() == "yes"


def test_a_run_freezes_its_start_up_objects_only_in_its_own_process():
    """``long_lived`` pauses the collector and freezes (in ``bmsc-dge``); in-process it changes nothing."""
    import gc

    from bmsc_dge.cli._app import long_lived

    before = gc.get_freeze_count()
    with long_lived():
        assert gc.isenabled()  # in-process (tests): the collector is not paused ...
        kept = [[] for _ in range(1000)]
    assert gc.get_freeze_count() == before and gc.isenabled()  # ... and nothing is frozen
    del kept
    body = (
        "    import gc\n"
        "    from bmsc_dge.cli._app import long_lived\n"
        "    with long_lived():\n"
        "        print('paused', not gc.isenabled())\n"
        "        kept = [[] for _ in range(1000)]\n"
        "    print('frozen', gc.get_freeze_count() >= 1000, 'enabled', gc.isenabled())"
    )
    proc = _main_with(body)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["paused", "True", "frozen", "True", "enabled", "True"]


def test_reading_a_study_and_starting_its_refits_does_not_import_scanpy():
    """``bmsc-dge run`` starts the refits once the engine is imported and the inputs read; scanpy
    (sample QC and pseudobulk only, ~0.4 s with numba) is not on that path (the CLI imports it
    beside the refits)."""
    script = (
        "import sys, bmsc_dge.cli, bmsc_dge.study, bmsc_dge.tl, bmsc_dge.targets\n"
        "print('scanpy' in sys.modules, 'numba' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]
