"""Warm workers: ``bmsc-dge run`` forked from a process that has already imported everything.

A cold ``bmsc-dge run`` spends 3-4 s of the example's ~14 s importing Prefect, SciPy, scanpy,
matplotlib, pandas and this package, mostly on one core while the other waits
(docs/performance.md). A *warm worker* is a background process that made those imports once;
a later ``bmsc-dge run`` with the same setup is a fork of it, which starts where a cold run
stands after its imports.

* **The command** (:func:`main`, the ``bmsc-dge`` console script). For ``bmsc-dge run``, when a
  worker for this exact setup is ready, it hands the worker the command: arguments,
  environment, working folder, and its standard input, output and error (the file descriptors
  themselves, over a Unix socket, so the run writes to the same terminal, pipe or file). It
  forwards SIGINT, SIGTERM, SIGHUP and SIGQUIT to the run's process group and ends with the
  run's exit status, or of the run's signal. Otherwise the command runs in its own process, as
  before, and a cold ``run`` that succeeded starts a worker for the next one
  (:func:`start_worker`).
* **The setup** (:func:`setup_key`). A worker serves only commands whose interpreter, package
  files (names, sizes and modification times, data included), installed packages (modification
  times of the site-packages folders), whole environment (but ``PWD``, ``OLDPWD``, ``SHLVL`` and
  ``_``), umask and resource limits, and working folder's ``.env``, ``prefect.toml``, ``pyproject.toml`` and
  ``matplotlibrc`` (files Prefect or matplotlib read at import) equal its own. Anything else,
  an edited source file included, runs cold.
* **The worker** (:func:`bmsc_dge._warm._worker.serve`) imports what a run imports, in its own
  folder (with copies of those four files), then forks one child per command. The child takes
  the command's file descriptors, folder, environment and arguments and runs ``bmsc-dge`` as a
  cold process does, ending through the interpreter's normal exit; where a cold run imports
  Prefect, it has Prefect re-read its settings and logging configuration
  (:func:`bmsc_dge.cli._app.prefect_imported`). The worker reports the child's exit status; if the command's
  process dies first (even of SIGKILL), the run's process group is killed with it.
* **Its end**: after ``BMSC_DGE_SERVER_IDLE_TIMEOUT`` seconds without a command (as the
  background server: default 3600, ``0`` never), as soon as the setup it serves changes
  (checked every 30 s and on each command), or on ``bmsc-dge server --stop --all``. ``BMSC_DGE_WARM=off`` runs
  every command in its own process. Each worker is listed in
  ``$XDG_STATE_HOME/bmsc-dge/warm/<setup>.json`` (default ``~/.local/state``; log beside it).

Only the standard library is imported here (and ``bmsc_dge``'s lazy ``__init__``): the command
that hands a run over starts and imports this in ~60 ms (``python -c "import bmsc_dge._warm"``,
median of 9; ``bmsc-dge run --help`` takes 0.18 s through a worker, 1.6 s in its own process).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import resource
import signal
import site
import socket
import struct
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bmsc_dge._workers import alive, entry, workers_dir

WARM_ENV = "BMSC_DGE_WARM"
#: variables a shell changes between commands without changing what a run does
VOLATILE = frozenset({"PWD", "OLDPWD", "SHLVL", "_"})
#: files of the working folder that Prefect (settings) or matplotlib (rc) read when imported
FOLDER_FILES = (".env", "prefect.toml", "pyproject.toml", "matplotlibrc")
#: what a worker imports: what a run of the example imports, by the modules that import the rest
#: (the ~40 modules a run imports beyond these, in Prefect's and pandas' corners, cost ~0.07 s)
WARM_IMPORTS = (
    "bmsc_dge.cli",
    "bmsc_dge.tl",
    "bmsc_dge.study",
    "bmsc_dge.report",
    "bmsc_dge.pl",
    "scanpy",
    "gseapy",
    "flows.analysis",
    "openpyxl",  # the workbook's column letters (report._export)
    "pyarrow.parquet",  # the Parquet tables
    "fastapi",  # Prefect's client, on the flow run
)
#: resource limits a run inherits (files it may open, memory, CPU time, ...)
_LIMITS = (
    "RLIMIT_NOFILE",
    "RLIMIT_AS",
    "RLIMIT_DATA",
    "RLIMIT_STACK",
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "RLIMIT_NPROC",
)
CHECK_EVERY = 30.0
START_TIMEOUT = 120.0
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def enabled(env: Mapping[str, str] | None = None) -> bool:
    """Whether commands may use warm workers: on Linux, unless ``BMSC_DGE_WARM`` is off.

    Linux only: the worker's socket is in Linux's abstract namespace and both sides check the
    other's user (``SO_PEERCRED``).
    """
    value = (os.environ if env is None else env).get(WARM_ENV, "on").strip().lower()
    return sys.platform.startswith("linux") and value not in ("off", "0", "false", "no")


def _stamp_tree(h: Any, root: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            with contextlib.suppress(OSError):
                st = os.stat(path)
                h.update(f"{os.path.relpath(path, root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())


def _flows_dir() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("flows")
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) if locations else None


def setup_key(env: Mapping[str, str] | None = None, cwd: str | None = None) -> str:
    """The setup a warm worker serves, as a hex digest (see the module docstring)."""
    env = os.environ if env is None else env
    cwd = os.getcwd() if cwd is None else cwd
    h = hashlib.sha256()
    h.update(f"{os.path.realpath(sys.executable)}\0{sys.version}\0{os.getuid()}\n".encode())
    # inherited by a process, not passed with a command: the worker must have the command's own
    mask = os.umask(0o22)
    os.umask(mask)
    limits = [resource.getrlimit(getattr(resource, name)) for name in _LIMITS]
    h.update(f"umask {mask} limits {limits}\n".encode())
    _stamp_tree(h, Path(__file__).resolve().parents[1])  # the whole bmsc_dge package
    flows = _flows_dir()
    if flows is not None:
        h.update(f"flows {flows}\n".encode())
        _stamp_tree(h, flows)
    for folder in sorted({*site.getsitepackages(), site.getusersitepackages()}):
        with contextlib.suppress(OSError):
            h.update(f"{folder}\0{os.stat(folder).st_mtime_ns}\n".encode())
    for k in sorted(env):
        if k not in VOLATILE:
            h.update(f"{k}={env[k]}\0".encode())
    for name in FOLDER_FILES:
        try:
            h.update(f"\n{name}:{hashlib.sha256(Path(cwd, name).read_bytes()).hexdigest()}".encode())
        except OSError:
            h.update(f"\n{name}: -".encode())
    rc_dir = env.get("MPLCONFIGDIR") or str(Path.home() / ".config" / "matplotlib")
    with contextlib.suppress(OSError):
        h.update(f"\nuser rc {os.stat(Path(rc_dir, 'matplotlibrc')).st_mtime_ns}".encode())
    return h.hexdigest()[:24]


def _address(key: str) -> bytes:
    # Linux's abstract namespace: no path length limit and no stale socket file; the peer's uid is
    # checked on both sides (SO_PEERCRED), since any local user could connect to or claim a name
    return f"\0bmsc-dge-warm-{os.getuid()}-{key}".encode()


def _same_user(sock: socket.socket) -> bool:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1] == os.getuid()


def _connect(key: str) -> socket.socket | None:
    """A connection to the ready worker of ``key``; waits for one still importing; else None."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(_address(key))
        except OSError:
            sock.close()
            state = entry(key)
            starting = state is not None and state.get("state") == "starting"
            if not starting or not alive(int(state["pid"])) or time.monotonic() > deadline:  # type: ignore[index]
                return None
            time.sleep(0.05)
            continue
        if _same_user(sock):
            return sock
        sock.close()
        return None


def _lines(sock: socket.socket) -> Any:
    buf = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield json.loads(line)


def hand_over(argv: list[str]) -> int | None:
    """Run ``argv`` in a ready warm worker and return its exit status; None when there is none."""
    key = setup_key()
    sock = _connect(key)
    if sock is None:
        return None
    with sock:
        payload = json.dumps({"key": key, "argv": argv, "env": dict(os.environ), "cwd": os.getcwd()})
        data = struct.pack("!I", len(payload.encode())) + payload.encode()
        replies = _lines(sock)
        try:
            sent = socket.send_fds(sock, [data], [0, 1, 2])
            sock.sendall(data[sent:])
            first = next(replies, None)
        except OSError:  # a closed standard stream, a worker just stopping, ...: run here
            return None
        if first is None or "pid" not in first:
            return None  # refused (its setup changed) or gone before forking: run here
        pid = int(first["pid"])

        def forward(signum: int, _frame: object) -> None:
            with contextlib.suppress(OSError):
                os.killpg(pid, signum)

        for sig in _FORWARDED:
            signal.signal(sig, forward)
        try:
            last = next(replies, None)
        except OSError:
            last = None
    if last is None or "exit" not in last:  # the worker was killed: its run may still go on
        while alive(pid):
            time.sleep(0.2)
        print(
            f"bmsc-dge: the warm worker ended before its run (pid {pid}) did, so the run's exit status "
            f"is unknown; check its output above, or run again (with {WARM_ENV}=off: in this process)",
            file=sys.stderr,
        )
        return 1
    code = int(last["exit"])
    if code < 0:  # the run died of a signal: so does this process, as the run's own would
        for sig in _FORWARDED:
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        return 128 - code
    return code


def main() -> None:
    """Entry point of the ``bmsc-dge`` command: a warm worker's fork when one is ready, else this process."""
    argv = list(sys.argv)
    if argv[1:2] == ["run"] and enabled():
        code = hand_over(argv)
        if code is not None:
            sys.stdout.flush()
            os._exit(code)
    env, cwd = dict(os.environ), os.getcwd()
    from bmsc_dge.cli import main as cli_main

    try:
        cli_main()
    except SystemExit as exc:
        if argv[1:2] == ["run"] and exc.code in (0, None):
            start_worker(env, cwd)  # the next run with this setup starts warm
        raise


def start_worker(env: dict[str, str], cwd: str) -> None:
    """Start a warm worker for the setup of ``env`` and ``cwd`` unless one runs (in the background)."""
    if not enabled(env):
        return
    import subprocess

    key = setup_key(env, cwd)
    state = entry(key, env)
    if state is not None and alive(int(state["pid"])):
        return
    folder = workers_dir(env)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(folder / f"{key}.log", "ab") as log, contextlib.suppress(OSError):  # e.g. cwd gone
        # -P: the working folder is not put on sys.path (a cold run's is the script's folder)
        subprocess.Popen(
            [sys.executable, "-P", "-m", "bmsc_dge._warm._worker", key],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
