"""Stage progress of a run, for whoever listens (the CLI's terminal display).

The flow marks its stages (``with stage("DE T2DM_vs_control"): ...``); listeners registered with
:func:`listen` receive ``("start", name, 0.0)`` and ``("done", name, seconds)`` events (or
``("failed", name, seconds)``). With no listener, a stage costs a clock read. Listeners are
process-global (tasks may run in other threads); a listener that raises is dropped, never the run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)

Listener = Callable[[str, str, float], None]
_listeners: list[Listener] = []
_lock = threading.Lock()


def listen(listener: Listener) -> Callable[[], None]:
    """Register ``listener``; returns a function that unregisters it."""
    with _lock:
        _listeners.append(listener)

    def stop() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return stop


def _emit(event: str, name: str, seconds: float) -> None:
    with _lock:
        current = list(_listeners)
    for listener in current:
        try:
            listener(event, name, seconds)
        except Exception:  # a display problem must not fail the analysis
            logger.debug("progress listener failed; dropped", exc_info=True)
            with _lock:
                if listener in _listeners:
                    _listeners.remove(listener)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Mark one stage of a run (start, then done or failed with its wall time)."""
    t0 = time.perf_counter()
    _emit("start", name, 0.0)
    try:
        yield
    except BaseException:
        _emit("failed", name, time.perf_counter() - t0)
        raise
    _emit("done", name, time.perf_counter() - t0)
