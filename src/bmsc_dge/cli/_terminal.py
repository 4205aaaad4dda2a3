"""Terminal output of a run: one line per finished stage, and the summary's headline numbers."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console


def summary_lines(summary: Path) -> list[str]:
    """The headline numbers of ``summary.md``: warnings and per-contrast bullets, before the tables."""
    lines = []
    for line in summary.read_text().splitlines():
        if line.startswith("## "):
            lines.append(line[3:])
        elif line.startswith(("- ", "**")) and not line.startswith(("- design:", "- samples:")):
            lines.append("  " + line.lstrip("- ").replace("**", ""))
    return lines


class StageDisplay:
    """One line per finished stage with its wall time; a live spinner on a terminal."""

    def __init__(self, console: Console) -> None:
        import time

        self._console = console
        self._t0 = time.perf_counter()
        self._status = console.status("starting", spinner="dots") if console.is_terminal else None
        if self._status is not None:
            self._status.start()

    def __call__(self, event: str, name: str, seconds: float) -> None:
        import time

        total = time.perf_counter() - self._t0
        if event == "start":
            if self._status is not None:
                self._status.update(f"{name} ... [dim]({total:.0f} s)[/]")
            return
        mark = "[green]ok[/]" if event == "done" else "[red]failed[/]"
        self._console.print(f"{mark} {name} [dim]{seconds:.1f} s[/]", highlight=False, soft_wrap=True)

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()
