"""Idle cost of the background Prefect server and of a warm worker: CPU share of one core and memory.

    .venv/bin/python benchmarks/server_idle.py [--seconds 90] [--repeats 3] [--settle 20]

Rows (medians over ``--repeats``; the machine is shared, so read ratios, not single numbers):

* ``bmsc-dge background server``  what ``bmsc-dge run`` starts: :mod:`bmsc_dge._supervisor`
  around :mod:`bmsc_dge._prefect_server` (one-off services off, docket polling every 2 s)
* ``prefect server start``        Prefect's own server with its default services, for comparison
* ``bmsc-dge warm worker``        what a successful ``bmsc-dge run`` leaves for the next one
                                  (:mod:`bmsc_dge._warm`): everything a run imports, waiting

Each server is started in a throw-away folder, left ``--settle`` seconds, then the CPU time of its
whole process group (supervisor and server) is read from ``/proc`` over ``--seconds``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def group_usage(pgid: int) -> tuple[float, float]:
    """CPU seconds and resident MiB of every process in process group ``pgid``."""
    tick = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    cpu = rss = 0.0
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            cpu += (int(fields[11]) + int(fields[12])) / tick
            rss += int(fields[21]) * page / 2**20
    return cpu, rss


def _wait_healthy(api: str, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{api}/health", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"no server at {api}")


def measure(kind: str, seconds: float, settle: float) -> tuple[float, float]:
    """Percent of one core and MiB of one idle server of ``kind``."""
    home = Path(tempfile.mkdtemp(prefix="bmsc-dge-idle-"))
    env = {**os.environ, "PREFECT_HOME": str(home), "BMSC_DGE_SERVER_IDLE_TIMEOUT": "0"}
    env["XDG_STATE_HOME"] = str(home / "state")
    if kind == "warm":
        import json

        from bmsc_dge import _warm

        env["BMSC_DGE_WARM"] = "on"
        _warm.start_worker(env, str(home))
        listed = Path(env["XDG_STATE_HOME"]) / "bmsc-dge" / "warm"
        deadline = time.time() + 180
        while time.time() < deadline:
            ready = [json.loads(p.read_text()) for p in listed.glob("*.json")]
            if ready and ready[0]["state"] == "ready":
                break
            time.sleep(0.2)
        else:
            raise SystemExit("no warm worker became ready")
        pgid = int(ready[0]["pid"])
    elif kind == "bmsc-dge":
        from bmsc_dge.runs import localserver

        os.environ.update({k: env[k] for k in ("BMSC_DGE_SERVER_IDLE_TIMEOUT", "XDG_STATE_HOME")})
        state, _ = localserver.ensure(home)
        pgid, api = int(state["pid"]), str(state["api"])
    else:
        port = 47000 + os.getpid() % 1000
        env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("prefect")), "server", "start", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        pgid, api = proc.pid, f"http://127.0.0.1:{port}/api"
        _wait_healthy(api)
    try:
        time.sleep(settle)
        c0, _ = group_usage(pgid)
        t0 = time.time()
        time.sleep(seconds)
        c1, rss = group_usage(pgid)
        return 100 * (c1 - c0) / (time.time() - t0), rss
    finally:
        os.killpg(pgid, signal.SIGTERM)
        time.sleep(2)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=90)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--settle", type=float, default=20)
    args = ap.parse_args()
    rows = {
        "bmsc-dge background server": "bmsc-dge",
        "prefect server start (default services)": "prefect",
        "bmsc-dge warm worker": "warm",
    }
    results: dict[str, list[tuple[float, float]]] = {r: [] for r in rows}
    for _ in range(args.repeats):  # interleaved, so machine noise falls on both rows alike
        for row, kind in rows.items():
            results[row].append(measure(kind, args.seconds, args.settle))
    print(f"{'row':<42} {'median % of a core':>20} {'median MiB':>11}")
    for row, values in results.items():
        cpu = statistics.median(v[0] for v in values)
        mib = statistics.median(v[1] for v in values)
        print(f"{row:<42} {cpu:>20.2f} {mib:>11.0f}")


if __name__ == "__main__":
    main()
