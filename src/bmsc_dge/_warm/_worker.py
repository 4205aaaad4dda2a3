"""The warm worker's process: imports, then one forked child per command (see :mod:`bmsc_dge._warm`).

Started as ``python -P -m bmsc_dge._warm._worker SETUP`` by :func:`bmsc_dge._warm.start_worker`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import selectors
import shutil
import signal
import socket
import struct
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from bmsc_dge._warm import (
    CHECK_EVERY,
    FOLDER_FILES,
    WARM_IMPORTS,
    _address,
    _same_user,
    setup_key,
)
from bmsc_dge._workers import workers_dir, write_entry

#: exit handlers registered by the imports a cold run makes after its own last exit handler
_LATE_EXIT_HANDLERS: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []


def reorder_exit_handlers() -> None:
    """In a worker's child: exit handlers of imports a cold run makes later run before its last one.

    ``bmsc_dge.cli.main`` registers its process end first; a cold run's later imports register
    theirs after it, so they run before it (last in, first out). A worker made those imports
    before forking: they are registered again here, after the process end, in the same order.
    """
    import atexit

    for func, _, _ in _LATE_EXIT_HANDLERS:
        atexit.unregister(func)
    for func, args, kwargs in _LATE_EXIT_HANDLERS:
        atexit.register(func, *args, **kwargs)


def _prepare() -> None:
    """Import what a run imports, in a cold run's order, with its Prefect defaults and logging."""
    import atexit
    import gc
    import importlib

    os.environ.setdefault("PREFECT_HOME", str(workers_dir() / "prefect-home"))  # never ~/.prefect
    gc.disable()
    from bmsc_dge.cli import warm_worker_setup

    warm_worker_setup()
    register = atexit.register

    def recording(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
        _LATE_EXIT_HANDLERS.append((func, args, kwargs))
        return register(func, *args, **kwargs)

    atexit.register = recording  # type: ignore[assignment]
    try:
        for name in WARM_IMPORTS:
            importlib.import_module(name)
    finally:
        atexit.register = register
    gc.freeze()
    gc.enable()
    for stream in (sys.stdout, sys.stderr):  # to the log now, not later into a command's terminal
        stream.flush()


class _Worker:
    """The worker's loop: accept commands, fork a child for each, report each child's exit status."""

    def __init__(
        self, key: str, listener: socket.socket, setup: Callable[[], str], lock: Any, listed: dict[str, Any]
    ) -> None:
        self.key, self.listener, self.setup, self.lock, self.listed = key, listener, setup, lock, listed
        self.idle: float | None = listed["timeout"]
        self.children: dict[int, socket.socket] = {}
        self.stopping = False
        self.last_used = time.monotonic()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self._stop)
        self.selector = selectors.DefaultSelector()
        self.selector.register(listener, selectors.EVENT_READ, "accept")
        self.selector.register(self.wake_r, selectors.EVENT_READ, "wake")

    def _stop(self, *_: object) -> None:
        self.stopping = True

    def run(self) -> dict[str, Any] | None:
        """Serve until stopped or idle (returns None); in a forked child, return its request."""
        checked = time.monotonic()
        while not (self.stopping and not self.children):
            for sel_key, _ in self.selector.select(timeout=5.0):
                if sel_key.data == "wake":
                    with contextlib.suppress(BlockingIOError):
                        os.read(self.wake_r, 4096)
                    self._reap()
                elif sel_key.data == "accept":
                    request = self._accept()
                    if request is not None:
                        return request
                elif isinstance(sel_key.data, int):  # the command's process: data or end of file
                    self._client_gone(sel_key.data, sel_key.fileobj)  # type: ignore[arg-type]
            self._reap()
            now = time.monotonic()
            if not self.children and self.idle is not None and now - self.last_used > self.idle:
                self.stopping = True
            if now - checked > CHECK_EVERY:
                checked = now
                if self.setup() != self.key:  # a source file or package changed: serve nobody else
                    self.stopping = True
            if self.stopping and self.listener.fileno() != -1:
                # refuse new commands at once (they run in their own process) while runs finish
                self.selector.unregister(self.listener)
                self.listener.close()
        return None

    def _accept(self) -> dict[str, Any] | None:
        try:
            conn, _ = self.listener.accept()
        except OSError:  # e.g. out of file descriptors: the command runs in its own process
            return None
        fds: list[int] = []
        try:
            conn.settimeout(30)
            if not _same_user(conn):
                raise OSError("another user")
            data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
            size = struct.unpack("!I", data[:4])[0]
            while len(data) < 4 + size:
                chunk = conn.recv(1 << 16)
                if not chunk:
                    raise OSError("truncated")
                data += chunk
            request = json.loads(data[4 : 4 + size])
            if request.get("key") != self.key or len(fds) != 3 or self.setup() != self.key:
                conn.sendall(b'{"refused": "setup"}\n')
                raise OSError("refused")
        except (OSError, ValueError, struct.error):
            for fd in fds:
                os.close(fd)
            conn.close()
            return None
        pid = os.fork()
        if pid == 0:
            try:
                return self._become(request, fds, conn)
            except BaseException:  # never back into the worker's loop: this child ends here
                traceback.print_exc()
                os._exit(1)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        for fd in fds:
            os.close(fd)
        self.children[pid] = conn
        self.last_used = time.monotonic()
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        conn.setblocking(False)
        self.selector.register(conn, selectors.EVENT_READ, pid)
        return None

    def _become(self, request: dict[str, Any], fds: list[int], conn: socket.socket) -> dict[str, Any]:
        """In the forked child: take the command's streams, folder, environment and arguments."""
        os.setpgid(0, 0)
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        self.selector.close()
        for sock in (self.listener, conn, *self.children.values()):
            sock.close()  # (closing a closed socket does nothing)
        self.lock.close()
        os.close(self.wake_r)
        os.close(self.wake_w)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = list(request["argv"])
        sys.stdout.reconfigure(line_buffering=os.isatty(1))  # type: ignore[union-attr]
        if "numpy" in sys.modules:  # numpy's global generator: fresh entropy, as in a new process
            sys.modules["numpy"].random.seed()
        return request

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.children.pop(pid, None)
            if conn is None:
                continue
            with contextlib.suppress(KeyError):  # already, if its command's process went first
                self.selector.unregister(conn)
            with contextlib.suppress(OSError):
                conn.setblocking(True)
                conn.sendall(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
            conn.close()
            self.last_used = time.monotonic()
            with contextlib.suppress(OSError):
                write_entry(self.key, **self.listed, last_used=time.time())

    def _client_gone(self, pid: int, conn: socket.socket) -> None:
        try:
            if conn.recv(4096):
                return
        except BlockingIOError:
            return
        except OSError:
            pass
        # the command's process is gone (killed): so goes its run, as it would in one process
        self.selector.unregister(conn)
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)


def serve(key: str) -> dict[str, Any] | None:
    """Be the warm worker of ``key``; returns in each forked child with its request, else None."""
    from bmsc_dge._supervisor import idle_timeout

    folder = workers_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    env = dict(os.environ)  # the setup served (the imports change the environment)
    try:
        origin = os.getcwd()
    except FileNotFoundError:  # the command's folder is gone already
        return None
    lock = open(folder / f"{key}.lock", "w")  # noqa: SIM115  (held for the worker's life)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return None  # another worker serves this setup
    # the worker's own folder, with copies of the files of the command's folder that imports read:
    # the command's folder may go (a temporary one) while the worker lives
    cwd = folder / f"{key}.cwd"
    shutil.rmtree(cwd, ignore_errors=True)
    cwd.mkdir()
    for name in FOLDER_FILES:
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            shutil.copyfile(os.path.join(origin, name), cwd / name)
    os.chdir(cwd)

    def setup() -> str:
        return setup_key(env, str(cwd))

    if setup() != key:
        return None  # the setup changed between the cold run and this start
    # what `bmsc-dge server --status` shows of this worker (bmsc_dge.runs.worker_lines)
    shown = {"started": time.time(), "cwd": origin, "timeout": idle_timeout()}
    listed = folder / f"{key}.json"
    write_entry(key, state="starting", **shown)
    request = None
    worker = os.getpid()
    try:
        _prepare()
        import threading

        if threading.active_count() > 1:  # forking a process with threads is not safe
            print(f"not serving: {threading.active_count()} threads after the imports", file=sys.stderr)
            return None
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(_address(key))
        listener.listen(16)
        shown["state"] = "ready"
        write_entry(key, **shown)
        request = _Worker(key, listener, setup, lock, shown).run()
        return request
    finally:
        if os.getpid() == worker:  # the worker ends (a child returns with its request)
            with contextlib.suppress(OSError):
                listed.unlink()
            shutil.rmtree(cwd, ignore_errors=True)


def _worker_main(key: str) -> None:
    request = serve(key)
    if request is None:
        return
    from bmsc_dge.cli import main as cli_main
    from bmsc_dge.cli import warm_child

    warm_child()
    cli_main(before_command=reorder_exit_handlers)


if __name__ == "__main__":
    _worker_main(sys.argv[1])
