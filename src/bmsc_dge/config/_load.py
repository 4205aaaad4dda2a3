"""YAML / keyword options -> a validated :class:`StudyConfig`; errors name the key."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bmsc_dge.config._nfcore import read_contrast_sheet
from bmsc_dge.config._study import StudyConfig
from bmsc_dge.errors import ConfigError

logger = logging.getLogger(__name__)


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "<top level>"


def with_contrast_sheet(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """``contrasts: <file>`` (nf-core/differentialabundance sheet) -> contrasts, design and factors.

    Without ``design`` the sheet's design is used; with one, the sheet's blocking variables are
    added to it (with a warning). Blocking and contrast variables are declared factors unless
    ``variables`` says otherwise.
    """
    if not isinstance(raw.get("contrasts"), str):
        return raw
    sheet = read_contrast_sheet(base / raw["contrasts"])
    out = {**raw, "contrasts": sheet.contrasts}
    design = raw.get("design")
    if not isinstance(design, str):
        out["design"] = sheet.design
    else:
        present = set(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", design))
        missing = [b for b in sheet.blocking if b not in present]
        if missing:
            out["design"] = design.rstrip() + "".join(f" + {b}" for b in missing)
            logger.warning(
                "blocking variable(s) %s of %s joined the design: %s",
                ", ".join(missing),
                raw["contrasts"],
                out["design"],
            )
    factors = [*sheet.blocking, *(c["variable"] for c in sheet.contrasts if "variable" in c)]
    out["variables"] = {**{v: "factor" for v in factors}, **dict(raw.get("variables") or {})}
    return out


def validate_config(raw: dict[str, Any], source: str | Path, base: Path | None = None) -> StudyConfig:
    """Validate a config mapping (from YAML or keyword options); the error names the offending key.

    ``base``: folder against which a ``contrasts:`` sheet path is read (default: the current one).

    Raises
    ------
    ConfigError
        For an unknown key (listing the allowed ones), a missing key or a wrong value.
    """
    raw = with_contrast_sheet(raw, base or Path.cwd())
    try:
        cfg = StudyConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = _loc(err["loc"])
        if err["type"] == "extra_forbidden":
            parent = err["loc"][:-1]
            model: Any = StudyConfig
            for part in parent:
                if isinstance(part, int):
                    continue
                ann = model.model_fields[part].annotation
                model = getattr(ann, "__args__", [ann])[0] if hasattr(ann, "__args__") else ann
            allowed = ", ".join(sorted(getattr(model, "model_fields", {})))
            msg = f"unknown key '{key}' (allowed here: {allowed})"
        elif err["type"] == "missing":
            msg = f"required key '{key}' is missing"
        elif err["type"] == "value_error" and isinstance(err.get("input"), dict):
            text = str(err["msg"]).removeprefix("Value error, ")
            msg = text if key == "<top level>" else f"key '{key}': {text}"
        else:
            msg = f"key '{key}': {err['msg']} (got {err.get('input')!r})"
        more = f" [+{len(exc.errors()) - 1} more problem(s)]" if len(exc.errors()) > 1 else ""
        raise ConfigError(
            msg + more, file=source, hint="fix the config; see the config reference in README.md"
        ) from exc

    return cfg


def load_config(path: str | Path, *, outdir: str | Path | None = None) -> StudyConfig:
    """Read and validate a study config.

    Parameters
    ----------
    path
        YAML file. Relative paths inside it are resolved against its folder.
    outdir
        Overrides ``outdir`` from the file (resolved against the current directory).

    Returns
    -------
    StudyConfig
        Validated config with absolute paths.

    Raises
    ------
    ConfigError
        When the file is missing, not YAML, not a mapping, or fails validation; the message
        names the offending key.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError("config file not found", file=path, hint="check the path given to `bmsc-dge run`")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(
            "config is not UTF-8 text", file=path, hint="save it as a plain-text YAML file"
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        row = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            f"not valid YAML ({problem}); note that Python object tags such as !!python/object are refused",
            file=path,
            row=row,
            hint="fix the YAML syntax; see configs/example.yaml",
        ) from exc
    if not isinstance(raw, dict):
        raise ConfigError(
            "config must be a YAML mapping of keys to values", file=path, hint="see configs/example.yaml"
        )
    base = path.resolve().parent
    cfg = validate_config(raw, path, base)

    updates: dict[str, Any] = {
        "counts": (base / cfg.counts).resolve(),
        "samples": (base / cfg.samples).resolve() if cfg.samples is not None else None,
        "outdir": Path(outdir).resolve() if outdir is not None else (base / cfg.outdir).resolve(),
        "gene_sets": cfg.gene_sets.model_copy(
            update={"gmt": [(base / g).resolve() for g in cfg.gene_sets.gmt]}
        ),
        "lengths": (base / cfg.lengths).resolve() if cfg.lengths is not None else None,
    }
    if cfg.tximport is not None:
        tx = cfg.tximport
        updates["tximport"] = tx.model_copy(
            update={
                "files": str((base / tx.files).resolve()),
                "tx2gene": (base / tx.tx2gene).resolve() if tx.tx2gene is not None else None,
            }
        )
    if cfg.name == "study":
        stem = re.sub(r"[^A-Za-z0-9_.\-]", "_", path.stem) or "study"
        updates["name"] = stem
    return cfg.model_copy(update=updates)


def config_to_dict(cfg: StudyConfig) -> dict[str, Any]:
    """Resolved config as plain JSON-able data (for the manifest)."""
    return cfg.model_dump(mode="json")
