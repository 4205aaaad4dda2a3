"""The background Prefect server process: Prefect's API and UI, quiet when nothing runs.

``python -m bmsc_dge._prefect_server --host H --port P`` serves ``prefect.server.api.server``'s
app as ``prefect server start`` does (uvicorn, the services that are switched on in the
environment). Two things keep an idle one-off server under 1% of a core (measured by
``benchmarks/server_idle.py``):

* the services a server that only records ``bmsc-dge run`` flows does not need are off (the
  scheduler - no deployments are served from it -, late runs, foreman, cancellation clean-up,
  pause expirations, repossessor, clean-up reconciler, automations triggers; see
  :data:`bmsc_dge._supervisor.ONE_OFF_SERVICES_OFF`); the event persister and the task-run
  recorder stay, or task runs would not show in the UI;
* the background task worker (``docket``) polls for work every 2 s instead of every 0.25 s (its
  work here is occasional housekeeping, which a few seconds' delay does not affect).
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

#: how often the idle background task worker looks for work (docket's default: 0.25 s)
DOCKET_POLL_SECONDS = 2.0


def _slow_docket_polling(seconds: float) -> None:
    """Make every docket ``Worker`` created in this process poll every ``seconds`` by default."""
    import docket.worker

    original = docket.worker.Worker.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("minimum_check_interval", timedelta(seconds=seconds))
        kwargs.setdefault("scheduling_resolution", timedelta(seconds=seconds))
        original(self, *args, **kwargs)

    docket.worker.Worker.__init__ = init  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    """Serve the Prefect API and UI on ``--host``/``--port`` until terminated."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args(argv)
    _slow_docket_polling(DOCKET_POLL_SECONDS)
    import prefect
    import uvicorn
    from prefect.server.api.server import create_app

    uvicorn.run(
        app=create_app(final=True),
        app_dir=str(prefect.__module_path__.parent),
        host=args.host,
        port=args.port,
        timeout_keep_alive=5,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
