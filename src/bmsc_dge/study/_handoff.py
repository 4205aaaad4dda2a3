"""Hand a checked config and study from the CLI to the flow in the same process.

The command line parses the config and reads the inputs once, before Prefect starts; the flow
takes both over (:func:`take_over`) instead of parsing and reading again. A study is taken over
only while every input file is unchanged; the config always is (it was checked when parsed).
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass

from bmsc_dge.config import StudyConfig
from bmsc_dge.io import input_files
from bmsc_dge.study._study import Study

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Handed:
    """What a caller handed over: the checked config, and the study when its files are unchanged."""

    cfg: StudyConfig
    study: Study | None


_HANDED_OVER: dict[str, tuple[StudyConfig, tuple[object, ...] | None, Study | None]] = {}
_HANDOFF_LOCK = threading.Lock()


def _input_key(cfg: StudyConfig) -> tuple[object, ...]:
    """The config and the size, mtime and inode of every input file: equal keys, equal study."""
    stats = []
    for f in input_files(cfg).values():
        st = f.stat()
        stats.append((str(f), st.st_size, st.st_mtime_ns, st.st_ino))
    return (cfg.model_dump_json(), *stats)


def hand_over(cfg: StudyConfig, study: Study | None = None) -> str:
    """Keep ``cfg`` (and ``study``, loaded from it) for one :func:`take_over` in this process; return the token."""
    token = uuid.uuid4().hex
    with _HANDOFF_LOCK:
        _HANDED_OVER[token] = (cfg, _input_key(cfg) if study is not None else None, study)
    return token


def take_over(token: str | None) -> Handed | None:
    """What was handed over under ``token`` (once), or ``None`` (no token, or another process's).

    The study is dropped (``Handed.study is None``: the caller reads the inputs) when an input
    file changed since it was read.
    """
    if token is None:
        return None
    with _HANDOFF_LOCK:
        entry = _HANDED_OVER.pop(token, None)
    if entry is None:
        return None
    cfg, key, study = entry
    if study is not None and key != _input_key(cfg):
        logger.info("inputs changed since they were checked: reading them again")
        study = None
    return Handed(cfg, study)
