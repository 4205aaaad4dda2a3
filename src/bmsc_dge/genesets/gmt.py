"""Read and write GMT files (one gene set per line: name, description, genes...)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from bmsc_dge._atomic import write_text
from bmsc_dge.errors import GeneSetError


def read_gmt(path: str | Path) -> dict[str, tuple[str, list[str]]]:
    """Parse a GMT file.

    Parameters
    ----------
    path
        GMT file (tab-separated; blank genes ignored; duplicate genes in a set dropped).

    Returns
    -------
    dict
        ``name -> (description, genes)`` in file order.

    Raises
    ------
    GeneSetError
        For a missing, empty, binary or malformed file, or a repeated set name; names the line.
    """
    path = Path(path)
    if not path.is_file():
        raise GeneSetError("GMT file not found", file=path, hint="check `gene_sets.gmt` in the config")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise GeneSetError(
            "GMT file is not UTF-8 text",
            file=path,
            hint="a GMT file is plain text: name<TAB>description<TAB>gene...",
        ) from exc
    sets: dict[str, tuple[str, list[str]]] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.rstrip("\r\n").split("\t")
        if len(parts) < 3:
            raise GeneSetError(
                "a GMT line needs a name, a description and at least one gene, separated by tabs",
                file=path,
                row=lineno,
                hint="check the delimiter (tabs, not spaces or commas)",
            )
        name = parts[0].strip()
        if not name:
            raise GeneSetError(
                "gene set without a name",
                file=path,
                row=lineno,
                hint="the first field of each line is the set name",
            )
        if name in sets:
            raise GeneSetError(
                f"gene set '{name}' appears twice", file=path, row=lineno, hint="give each set a unique name"
            )
        genes = list(dict.fromkeys(g.strip() for g in parts[2:] if g.strip()))
        if not genes:
            raise GeneSetError(
                f"gene set '{name}' has no genes", file=path, row=lineno, hint="remove the line or add genes"
            )
        sets[name] = (parts[1].strip(), genes)
    if not sets:
        raise GeneSetError("GMT file holds no gene sets", file=path, hint="check the file")
    return sets


def write_gmt(sets: Mapping[str, tuple[str, Sequence[str]]], path: str | Path) -> Path:
    """Write gene sets as GMT, atomically (temporary file then rename).

    Parameters
    ----------
    sets
        ``name -> (description, genes)``.
    path
        Destination file.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    lines = []
    for name, (desc, genes) in sets.items():
        clean = " ".join(str(desc).split())
        lines.append("\t".join([name, clean, *genes]))
    return write_text("\n".join(lines) + "\n", path)
