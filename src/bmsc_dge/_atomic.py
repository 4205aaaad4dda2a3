"""Atomic file writes: a temporary file in the target folder, then ``os.replace``.

A reader never sees a half-written file and an interrupted write leaves nothing behind. The base
of every output (gene-set exports, tables, reports), so it sits below all role packages.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def atomic_write(path: Path, write: Any, mode: str = "w") -> Path:
    """Call ``write(tmp)`` on a temporary path beside ``path``, then move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.tmp-", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_tsv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` as tab-separated text (no index, NaN as empty), atomically."""
    return atomic_write(Path(path), lambda tmp: df.to_csv(tmp, sep="\t", index=False, na_rep=""))


def write_json(data: Any, path: str | Path) -> Path:
    """Write JSON (indented, sorted keys), atomically."""
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    return atomic_write(Path(path), lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_text(text: str, path: str | Path) -> Path:
    """Write text, atomically."""
    return atomic_write(Path(path), lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
