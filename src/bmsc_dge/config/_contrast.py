"""One comparison of a study (``contrasts:`` in the config)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from bmsc_dge.config._base import _SAFE_NAME, _Strict


class Contrast(_Strict):
    """One comparison.

    Three forms:

    * ``variable``, ``target``, ``reference``: Wald test of ``target`` vs ``reference`` levels;
    * ``coefficient``: Wald test of one model coefficient, e.g. an interaction
      ``"sex[T.M]:condition[T.T2DM]"`` (R's ``sexM.conditionT2DM`` is accepted too);
    * ``test: lrt`` with ``reduced``: likelihood-ratio test of the full design against the reduced
      formula (R's ``test = "LRT"``); the reported log2 fold change is ``variable``/``target``/
      ``reference`` or ``coefficient`` if given, else the last coefficient (as R reports).

    ``name`` becomes part of file names, so it is restricted to letters, digits, ``_``, ``.``
    and ``-``.
    """

    name: str
    variable: str | None = None
    target: str | None = None
    reference: str | None = None
    coefficient: str | None = None
    test: Literal["wald", "lrt"] = "wald"
    reduced: str | None = None
    lfc_threshold: float = Field(0.0, ge=0)
    alt_hypothesis: Literal["greaterAbs", "lessAbs", "greater", "less"] = "greaterAbs"

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        if not _SAFE_NAME.match(v) or v in {".", ".."}:
            raise ValueError(
                f"contrast name {v!r} must start with a letter or digit and use only letters, "
                "digits, '_', '.', '-' (it is used in file names)"
            )
        return v

    @model_validator(mode="after")
    def _form(self) -> Contrast:
        levels = (self.variable, self.target, self.reference)
        has_levels = all(x is not None for x in levels)
        if any(x is not None for x in levels) and not has_levels:
            raise ValueError("give all three of variable, target and reference")
        if has_levels and self.target == self.reference:
            raise ValueError(f"target and reference are both {self.target!r}")
        if has_levels and self.coefficient is not None:
            raise ValueError("give either variable/target/reference or coefficient, not both")
        if self.alt_hypothesis == "lessAbs" and self.lfc_threshold == 0:
            raise ValueError("alt_hypothesis 'lessAbs' needs lfc_threshold > 0 (as in R's results())")
        if self.test == "lrt" and (self.lfc_threshold != 0 or self.alt_hypothesis != "greaterAbs"):
            raise ValueError("lfc_threshold / alt_hypothesis apply to Wald tests, not to `test: lrt`")
        if self.test == "wald":
            if self.reduced is not None:
                raise ValueError("`reduced` is only used with `test: lrt`")
            if not has_levels and self.coefficient is None:
                raise ValueError("a Wald contrast needs variable/target/reference or coefficient")
        elif self.reduced is None or not self.reduced.strip().startswith("~"):
            raise ValueError("`test: lrt` needs `reduced`, a formula such as '~ batch'")
        return self

    @property
    def label(self) -> str:
        """Human-readable description of the comparison."""
        if self.test == "lrt":
            return f"LRT: full design vs {self.reduced}"
        base = (
            f"{self.variable} {self.target} vs {self.reference}"
            if self.variable is not None
            else f"coefficient {self.coefficient}"
        )
        return f"{base} ({self.hypothesis})" if self.lfc_threshold > 0 else base

    @property
    def hypothesis(self) -> str:
        """The tested alternative in words, as R's ``results(lfcThreshold, altHypothesis)``."""
        t = self.lfc_threshold
        if self.test == "lrt":
            return "LRT"
        return {
            "greaterAbs": f"|log2FC| > {t:g}" if t > 0 else "log2FC != 0",
            "lessAbs": f"|log2FC| < {t:g}",
            "greater": f"log2FC > {t:g}",
            "less": f"log2FC < {-t:g}",
        }[self.alt_hypothesis]
