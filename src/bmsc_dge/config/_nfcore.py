"""nf-core/differentialabundance contrasts sheets as ``contrasts: contrasts.csv`` (or ``.yaml``).

CSV/TSV: ``id,variable,reference,target[,blocking]`` (``blocking`` semicolon-separated). YAML:
``contrasts: [{id, comparison: [variable, reference, target], blocking_factors: [...]}]`` or
``{id, formula, make_contrasts_str}`` with one coefficient name (R style, e.g.
``genotypeKO.treatmentTreated``). Every contrast becomes a config contrast named by its ``id``.

nf-core fits one model per contrast (``~ blocking + variable``); bmsc-dge fits one design per
study. So the contrasts of a sheet must share their blocking variables (and formula): the design
is then ``~ blocking + variables`` (or the formula), blocking variables are factors (as nf-core
models them), and a config that gives its own ``design`` gets the blocking variables added.
Sheets whose contrasts block on different variables, or exclude samples, are refused with the fix.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bmsc_dge.errors import ConfigError


@dataclass
class ContrastSheet:
    """The contrasts of a sheet, the design they imply and the variables they declare factors."""

    contrasts: list[dict[str, Any]]
    design: str | None
    blocking: list[str] = field(default_factory=list)


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value).split(";") if v.strip()]


def _rows(path: Path) -> list[dict[str, Any]]:
    """The sheet's rows as dicts with ``id``, ``variable``, ``reference``, ``target``, ``blocking``, ..."""
    if not path.is_file():
        raise ConfigError(
            "contrasts file not found", file=path, hint="check `contrasts:` (relative to the config)"
        )
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in {".yml", ".yaml"}:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"not valid YAML ({exc})", file=path, hint="fix the YAML") from exc
        items = data.get("contrasts") if isinstance(data, dict) else None
        if not isinstance(items, list) or not items:
            raise ConfigError(
                "a YAML contrasts file needs a `contrasts:` list",
                file=path,
                hint="see nf-core/differentialabundance's usage",
            )
        rows = []
        for item in items:
            if not isinstance(item, dict):
                raise ConfigError("each contrast must be a mapping", file=path, hint="use `- id: ...`")
            row = dict(item)
            comparison = row.pop("comparison", None)
            if comparison is not None:
                if not isinstance(comparison, list) or len(comparison) != 3:
                    raise ConfigError(
                        f"contrast '{row.get('id')}': comparison must be [variable, reference, target]",
                        file=path,
                        hint="e.g. comparison: [condition, control, T2DM]",
                    )
                row.update(variable=comparison[0], reference=comparison[1], target=comparison[2])
            row["blocking"] = row.pop("blocking_factors", None)
            rows.append(row)
        return rows
    delim = "\t" if path.suffix.lower() == ".tsv" or "\t" in text.splitlines()[0] else ","
    return [
        {k.strip(): (v or "").strip() for k, v in r.items() if k}
        for r in csv.DictReader(text.splitlines(), delimiter=delim)
    ]


def read_contrast_sheet(path: str | Path) -> ContrastSheet:
    """Read an nf-core/differentialabundance contrasts sheet.

    Raises
    ------
    ConfigError
        Naming the file (and the row) for missing columns, sample exclusions, contrasts blocking
        on different variables or using different formulas, and multi-coefficient contrast strings.
    """
    path = Path(path)
    rows = _rows(path)
    if not rows:
        raise ConfigError("contrasts file has no contrasts", file=path, hint="add one row per comparison")
    contrasts: list[dict[str, Any]] = []
    blockings: dict[tuple[str, ...], str] = {}
    formulas: dict[str, str] = {}
    for n, row in enumerate(rows, start=2):
        cid = str(row.get("id") or "").strip()
        if not cid:
            raise ConfigError("contrast without an id", file=path, row=n, hint="give every contrast an `id`")
        if row.get("exclude_samples_col") or row.get("exclude_samples_values"):
            raise ConfigError(
                f"contrast '{cid}' excludes samples; bmsc-dge fits every contrast of a study on the same samples",
                file=path,
                row=n,
                hint="remove those samples from the sample sheet in a config of their own",
            )
        if row.get("formula"):
            formulas[str(row["formula"]).strip()] = cid
            coefficient = str(row.get("make_contrasts_str") or "").strip()
            if not coefficient or any(op in coefficient for op in "+-*/ "):
                raise ConfigError(
                    f"contrast '{cid}': make_contrasts_str {coefficient!r} must name one coefficient",
                    file=path,
                    row=n,
                    hint="bmsc-dge tests one coefficient per contrast (e.g. 'genotypeKO.treatmentTreated')",
                )
            contrasts.append({"name": cid, "coefficient": coefficient})
            continue
        missing = [k for k in ("variable", "reference", "target") if not str(row.get(k) or "").strip()]
        if missing:
            raise ConfigError(
                f"contrast '{cid}' has no {', '.join(missing)}",
                file=path,
                row=n,
                column=missing[0],
                hint="columns: id, variable, reference, target[, blocking]",
            )
        blockings[tuple(sorted(_split(row.get("blocking"))))] = cid
        contrasts.append(
            {
                "name": cid,
                "variable": str(row["variable"]).strip(),
                "target": str(row["target"]).strip(),
                "reference": str(row["reference"]).strip(),
            }
        )
    if len(blockings) > 1 or len(formulas) > 1:
        kinds = [", ".join(b) or "none" for b in blockings] or list(formulas)
        raise ConfigError(
            f"the contrasts use different models ({' | '.join(kinds)}); nf-core fits one model per "
            "contrast, bmsc-dge one design per study",
            file=path,
            hint="split the contrasts into configs that share their blocking variables, or give "
            "`design:` and contrasts in the config itself",
        )
    blocking = list(next(iter(blockings), ()))
    formula = next(iter(formulas), None)
    variables = list(dict.fromkeys(c["variable"] for c in contrasts if "variable" in c))
    design = formula or ("~ " + " + ".join([*blocking, *[v for v in variables if v not in blocking]]))
    return ContrastSheet(contrasts=contrasts, design=design, blocking=blocking)
