"""Print sha256 checksums of a run's TSV tables (the example's golden record for refactors).

    .venv/bin/python scripts/example_checksums.py results/example/latest > tests/data/example_tables.sha256

``tests/test_flow.py`` re-runs the bundled example and compares its tables with this record, so a
change that moves code without meaning to change results proves it. Tables that depend on an
earlier run (``tables/changes``) are left out. Regenerate the record only for a change that is
meant to alter the example's results, and say why in the commit.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path


def checksums(run: Path) -> dict[str, str]:
    """``tables/<kind>/<file>.tsv`` -> sha256 for every TSV table of ``run`` except ``changes``."""
    tables = run / "tables"
    return {
        str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(tables.rglob("*.tsv"))
        if p.parent.name != "changes"
    }


if __name__ == "__main__":
    for name, digest in checksums(Path(sys.argv[1]).resolve()).items():
        print(f"{digest}  {name}")
