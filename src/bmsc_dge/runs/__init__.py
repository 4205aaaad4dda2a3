"""Run machinery: run folders, provenance, fingerprints, changes, progress and the local server.

Run folders are atomic and never overwritten; the project's background Prefect server is started
once per folder, reused, and stops itself when idle (``bmsc-dge server --status`` / ``--stop``).
"""

from bmsc_dge.runs import _localserver as localserver
from bmsc_dge.runs._changes import compare_contrast, previous_run
from bmsc_dge.runs._fingerprint import input_fingerprint
from bmsc_dge.runs._localserver import server_environment
from bmsc_dge.runs._progress import listen, stage
from bmsc_dge.runs._provenance import input_checksums, package_versions, sha256
from bmsc_dge.runs._rundir import RunDir, clean_stale_partials, new_run_id
from bmsc_dge.runs._servers import ServerStatus, server_statuses, stop_all, worker_lines

__all__ = [
    "RunDir",
    "ServerStatus",
    "clean_stale_partials",
    "compare_contrast",
    "input_checksums",
    "input_fingerprint",
    "listen",
    "localserver",
    "new_run_id",
    "package_versions",
    "previous_run",
    "server_environment",
    "server_statuses",
    "sha256",
    "stage",
    "stop_all",
    "worker_lines",
]
