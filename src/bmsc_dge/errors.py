"""Domain errors.

Every error a user can meet derives from :class:`BmscDgeError`. Input errors name the file and,
where it applies, the row and column, and say what to do; the CLI prints ``str(error)`` as one
line and exits non-zero, without a traceback.
"""

from __future__ import annotations

from pathlib import Path


class BmscDgeError(Exception):
    """Base class of all bmsc-dge errors."""

    exit_code = 2


class InputError(BmscDgeError):
    """A problem with a user-supplied file (counts, sample sheet, config, GMT).

    Parameters
    ----------
    message
        What is wrong.
    file
        The offending file.
    row
        Row label or line number, when one row is at fault.
    column
        Column name, when one column is at fault.
    hint
        What the user should do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        row: str | int | None = None,
        column: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.row = row
        self.column = column
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        text = (", ".join(where) + ": " if where else "") + self.message
        if self.hint:
            text += f" -> {self.hint}"
        return text


class ConfigError(InputError):
    """The YAML configuration is malformed, has unknown keys or wrong types."""


class CountsError(InputError):
    """The count matrix cannot be used as DESeq2 input."""


class SampleSheetError(InputError):
    """The sample sheet is malformed or does not match the count matrix."""


class DesignError(InputError):
    """The design formula or a contrast cannot be fitted with these samples."""


class GeneSetError(InputError):
    """A gene-set file or id is unusable."""


class IdMappingError(InputError):
    """Gene identifiers could not be mapped for the configured species."""


class RunDirError(BmscDgeError):
    """The output folder cannot be used safely (e.g. it would overwrite a run)."""


class ForkedWorkError(BmscDgeError):
    """Work split over forked processes failed (the message carries the child's traceback)."""


class FigureError(ForkedWorkError):
    """Drawing the run's figures failed (the message carries the drawing process's traceback)."""


class StabilityError(ForkedWorkError):
    """A leave-one-out refit process raised or died (the message carries its traceback)."""


class FitError(BmscDgeError):
    """The numerical fit failed on these data (for example a singular matrix in stock PyDESeq2)."""
