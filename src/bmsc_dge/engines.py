"""Registered engines: what computes DESeq2 and GSEA, with its name, version and reference.

Each role package registers its engines when it is imported (:mod:`bmsc_dge.deseq2`,
:mod:`bmsc_dge.enrichment`) under the name the config uses (``de.engine``, ``gene_sets.engine``);
the fit and the GSEA call look the engine up here and run its ``implementation``, and the methods
text, the manifest and the report describe the same object, so they always name what ran.
decoupler's method registry is the model. The registry imports none of its plug-ins (they import
it): whoever asks for an engine has imported the role package that provides it.

>>> from bmsc_dge import engines
>>> engines.get("deseq2", "bmsc-dge").version() == engines.get("deseq2", "bmsc-dge").version()
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal

from bmsc_dge.errors import ConfigError

Kind = Literal["deseq2", "gsea"]


@dataclass(frozen=True)
class Engine:
    """One engine of one kind.

    Attributes
    ----------
    kind
        ``"deseq2"`` or ``"gsea"``.
    name
        The config value that selects it.
    package
        The distribution whose installed version is the engine's version.
    label
        Short human name, e.g. ``"bmsc-dge DESeq2 engine"``.
    method
        What it computes, for the methods text (completes "Differential expression used ...").
    reference
        What to cite.
    implementation
        What the caller runs (a callable or classes; the role package documents its shape).
    """

    kind: Kind
    name: str
    package: str
    label: str
    method: str
    reference: str
    implementation: Any = field(repr=False, compare=False, default=None)

    def version(self) -> str:
        """Installed version of :attr:`package` (``"unknown"`` when not installed)."""
        try:
            return version(self.package)
        except PackageNotFoundError:
            return "unknown"

    def describe(self) -> str:
        """``label version (method)`` for the methods text."""
        return f"{self.label} {self.version()} ({self.method})"

    def record(self) -> dict[str, str]:
        """Name, package, version and reference, for the manifest."""
        return {
            "name": self.name,
            "package": self.package,
            "version": self.version(),
            "reference": self.reference,
        }


_REGISTRY: dict[tuple[str, str], Engine] = {}


def register(engine: Engine) -> Engine:
    """Add ``engine`` to the registry (replacing one of the same kind and name) and return it."""
    _REGISTRY[(engine.kind, engine.name)] = engine
    return engine


def get(kind: Kind, name: str) -> Engine:
    """The engine of ``kind`` called ``name``.

    Raises
    ------
    ConfigError
        For an unknown name, listing the registered ones.
    """
    try:
        return _REGISTRY[(kind, name)]
    except KeyError:
        known = ", ".join(sorted(n for k, n in _REGISTRY if k == kind))
        raise ConfigError(f"unknown {kind} engine {name!r}", hint=f"use one of: {known}") from None


def available(kind: Kind) -> list[Engine]:
    """Registered engines of ``kind``, by name."""
    return [e for (k, _), e in sorted(_REGISTRY.items()) if k == kind]


def implementation(kind: Kind, name: str) -> Callable[..., Any] | Any:
    """Shortcut for ``get(kind, name).implementation``."""
    return get(kind, name).implementation
