"""Short-lived forked processes for CPU-bound work inside one step of a run.

Some steps are many independent pieces of Python-level work that hold the GIL (matplotlib drawing,
the leave-one-out DESeq2 refits), so threads do not help. A forked child starts in milliseconds
with everything already imported and the inputs already in memory; a Dask or spawned worker would
first spend seconds importing and receiving the data, which is the whole budget of these steps.
Dask (through prefect-dask) remains the way to spread *studies and fits* over machines; this
module only splits one step over the cores of the machine it already runs on.

Rules the children keep: they freeze what they inherit (``gc.freeze``), never log (the parent's
handlers, e.g. Prefect's API logger, are not theirs), never touch Prefect, leave with
``os._exit``, and are killed by Linux when the thread that forked them dies
(``PR_SET_PDEATHSIG``), so a run killed with SIGKILL leaves none behind. Create and collect a
:class:`Forked` in the same thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from typing import Generic, NoReturn, TypeVar

from bmsc_dge.errors import ForkedWorkError

T = TypeVar("T")
R = TypeVar("R")


def _die_with(parent: int) -> None:
    """Ask Linux to SIGKILL this child when its parent dies (no orphans writing into a run folder)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: children finish their share and exit
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _drawing_lock() -> threading.RLock | None:
    """Matplotlib's drawing lock (one for all figures), or None when matplotlib is not loaded.

    A child forked while another thread of the parent draws a figure (``bmsc-dge batch`` runs
    studies in threads, and a run's own process draws figures too) would inherit that lock held
    by a thread it does not have, and hang at its first figure. The forking thread takes the lock
    (waiting for a figure being drawn to finish) and each child releases its copy.
    """
    figure = sys.modules.get("matplotlib.figure")
    return figure.Figure._render_lock if figure is not None else None


def _child_main(fd: int, work: Callable[[], object]) -> NoReturn:
    # Everything inherited lives until the child exits: moved to the permanent generation, it is
    # skipped by the child's collections (each full one walked the parent's whole heap, ~0.3-0.4 s
    # in a figure child) and its pages are not written to (Python's advice for fork without exec).
    gc.freeze()
    code = 0
    try:
        logging.disable(logging.CRITICAL)
        try:
            payload = pickle.dumps(("ok", work()), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:
            payload = pickle.dumps(("error", traceback.format_exc()))
            code = 1
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
    finally:
        os._exit(code)


class Forked(Generic[R]):
    """``shares[k]()`` run in forked child ``k`` while the parent goes on; :meth:`result` collects.

    With one share, or where ``os.fork`` does not exist, nothing is forked and the share runs in
    :meth:`result` in this process.

    Parameters
    ----------
    shares
        Zero-argument callables; each returns a picklable value.
    what
        Names the work in error messages (e.g. ``"drawing figures"``).
    error
        The error raised when a child fails (a :class:`~bmsc_dge.errors.ForkedWorkError`).
    """

    def __init__(
        self,
        shares: Sequence[Callable[[], R]],
        what: str,
        error: type[ForkedWorkError] = ForkedWorkError,
    ) -> None:
        self._shares = list(shares)
        self._what = what
        self._error = error
        self._children: list[tuple[int, int]] = []  # (pid, read fd)
        if len(self._shares) > 1 and hasattr(os, "fork"):
            parent = os.getpid()
            drawing = _drawing_lock()
            with drawing or contextlib.nullcontext():
                for share in self._shares:
                    read, write = os.pipe()
                    pid = os.fork()
                    if pid == 0:  # child
                        if drawing is not None:
                            drawing.release()  # taken by the thread it is a copy of
                        _die_with(parent)
                        os.close(read)
                        _child_main(write, share)
                    os.close(write)
                    self._children.append((pid, read))

    def cancel(self) -> None:
        """Kill and reap the children (when the step fails before :meth:`result`)."""
        for pid, read in self._children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read)
        self._children = []
        self._shares = []

    def result(self) -> list[R]:
        """Wait for every share; their values in share order.

        Raises
        ------
        ForkedWorkError
            (the ``error`` class) when a child raised (its traceback) or died without a result.
        """
        if not self._children:
            return [share() for share in self._shares]
        values: list[R] = []
        errors = []
        for pid, read in self._children:
            with os.fdopen(read, "rb") as fh:
                payload = fh.read()
            _, status = os.waitpid(pid, 0)
            try:
                kind, value = pickle.loads(payload)
            except Exception:
                kind, value = "error", f"process {pid} ended with status {status} and no result"
            if kind == "ok":
                values.append(value)
            else:
                errors.append(str(value))
        self._children = []
        if errors:
            raise self._error(f"{self._what} failed:\n" + "\n".join(errors))
        return values


class Claims:
    """Numbered pieces of work handed out, in order, to whichever process asks first.

    Every process (the parent and its forked children) walks the same numbered pieces in the same
    order and does piece ``i`` only when :meth:`claim` gives it to it, so a process that met a slow
    piece takes fewer of the rest: no process idles while another still has a queue (a fixed
    round-robin deal left one figure process working ~0.6 s alone). Create it before forking
    (its counter lives in shared memory).
    """

    def __init__(self) -> None:
        # the next unclaimed number; its lock is a semaphore in shared memory, valid across fork
        self._next = multiprocessing.Value("q", 0)

    def claim(self, i: int) -> bool:
        """True when piece ``i`` is this process's to do (each number is given out once).

        A process asks for every number in turn, so when it asks for ``i`` every smaller number
        has been given out: ``i`` is free exactly when it is the next unclaimed number.
        """
        with self._next.get_lock():
            if self._next.value == i:
                self._next.value = i + 1
                return True
            return False


class ForkedMap(Generic[R]):
    """``function`` over ``items`` under way in forked children (:func:`fork_map_start`)."""

    def __init__(self, work: Forked[list[R]], n_items: int, n_shares: int) -> None:
        self._work = work
        self._n_items = n_items
        self._n_shares = n_shares

    def cancel(self) -> None:
        """Kill and reap the children."""
        self._work.cancel()

    def result(self) -> list[R]:
        """The values in the order of the items (raises the ``error`` class if a child failed)."""
        out: list[R] = [None] * self._n_items  # type: ignore[list-item]
        for k, part in enumerate(self._work.result()):
            for j, value in enumerate(part):
                out[k + j * self._n_shares] = value
        return out


def fork_map_start(
    function: Callable[[T], R],
    items: Sequence[T],
    processes: int,
    what: str,
    error: type[ForkedWorkError] = ForkedWorkError,
) -> ForkedMap[R]:
    """Start ``function`` over ``items``, dealt round-robin to ``processes`` forked children.

    Returns at once; :meth:`ForkedMap.result` waits and returns the values in the order of
    ``items``. ``processes <= 1`` (or a single item) runs everything in this process, in
    :meth:`ForkedMap.result`.
    """
    n = max(1, min(processes, len(items)))
    shares = [
        (lambda k=k: [function(items[i]) for i in range(k, len(items), n)])  # type: ignore[misc]
        for k in range(n)
    ]
    return ForkedMap(Forked(shares, what, error), len(items), n)
