import os

import pytest

from bmsc_dge.errors import RunDirError
from bmsc_dge.runs import RunDir, clean_stale_partials, new_run_id


def test_commit_moves_partial_and_latest(tmp_path):
    run = RunDir(tmp_path)
    run.create()
    run.path("tables", "x.tsv").write_text("a\n")
    assert not (tmp_path / "latest").exists()
    final = run.commit()
    assert final == tmp_path / "runs" / run.run_id
    assert (final / "tables" / "x.tsv").read_text() == "a\n"
    assert not run.partial.exists()
    assert os.readlink(tmp_path / "latest") == f"runs/{run.run_id}"


def test_second_run_never_overwrites_first(tmp_path):
    a, b = RunDir(tmp_path), RunDir(tmp_path)
    assert a.run_id != b.run_id
    a.create()
    a.path("f").write_text("first")
    b.create()
    b.path("f").write_text("second")
    fa, fb = a.commit(), b.commit()
    assert (fa / "f").read_text() == "first" and (fb / "f").read_text() == "second"
    assert (tmp_path / "latest").resolve() == fb.resolve()
    with pytest.raises(RunDirError, match="already exists"):
        RunDir(tmp_path, run_id=a.run_id).create()


def test_abort_leaves_nothing(tmp_path):
    run = RunDir(tmp_path)
    run.create()
    run.path("half.tsv").write_text("x")
    run.abort()
    assert list((tmp_path / "runs").iterdir()) == []
    assert not (tmp_path / "latest").exists()


def test_paths_cannot_escape(tmp_path):
    run = RunDir(tmp_path)
    run.create()
    with pytest.raises(RunDirError, match="outside the run folder"):
        run.path("..", "..", "etc", "passwd")


def test_run_id_format_and_stale_cleanup(tmp_path):
    rid = new_run_id()
    assert len(rid) == len("20261128T000000Z-abcdef") and rid[8] == "T"
    live = RunDir(tmp_path)
    live.create()  # owned by this (alive) process: kept
    (tmp_path / ".partial-old").mkdir()
    (tmp_path / ".partial-old" / ".owner").write_text(f"{__import__('socket').gethostname()} 999999999\n")
    assert clean_stale_partials(tmp_path) == [tmp_path / ".partial-old"]
    assert live.partial.is_dir()
