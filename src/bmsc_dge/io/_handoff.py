"""Hand a checked study from the CLI to the flow in the same process, so inputs are read once per run."""

from __future__ import annotations

import logging
import threading
import uuid

from bmsc_dge.config import StudyConfig
from bmsc_dge.io._sources import input_files
from bmsc_dge.io._study import Study

logger = logging.getLogger(__name__)


_HANDED_OVER: dict[str, tuple[tuple[object, ...], Study]] = {}


_HANDOFF_LOCK = threading.Lock()


def _input_key(cfg: StudyConfig) -> tuple[object, ...]:
    """The config and the size, mtime and inode of every input file: equal keys, equal study."""
    stats = []
    for f in input_files(cfg).values():
        st = f.stat()
        stats.append((str(f), st.st_size, st.st_mtime_ns, st.st_ino))
    return (cfg.model_dump_json(), *stats)


def hand_over(study: Study, cfg: StudyConfig) -> str:
    """Keep ``study`` (loaded from ``cfg``) for one :func:`take_over` in this process; return its token."""
    token = uuid.uuid4().hex
    with _HANDOFF_LOCK:
        _HANDED_OVER[token] = (_input_key(cfg), study)
    return token


def take_over(token: str | None, cfg: StudyConfig) -> Study | None:
    """The study handed over under ``token`` if it was loaded from this config and unchanged files.

    Returns ``None`` (the caller loads the study) for no token, an unknown token (another
    process), a different config or an input file changed since it was read. A token works once.
    """
    if token is None:
        return None
    with _HANDOFF_LOCK:
        entry = _HANDED_OVER.pop(token, None)
    if entry is None:
        return None
    key, study = entry
    if key != _input_key(cfg):
        logger.info("inputs changed since they were checked: reading them again")
        return None
    return study
