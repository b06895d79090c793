"""Progress and stage timing on screen for long CLI runs (the CLI's ``Progress``).

On a terminal a stage is a live rich progress line (spinner, bar when the total is known,
elapsed time). When stderr is not a terminal (cron, CI, a log file) the same stages become plain
timestamped lines, and progress inside a stage is logged every 10 % (or every 30 s when the
total is unknown) so a nightly log stays short but still shows where a run hung. ``quiet``
prints nothing but still records timings, so a summary can be built either way.
"""

from __future__ import annotations

import datetime as dt
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from fraudlens.progress import Stage, StageTimer

LOG_EVERY_FRACTION = 0.1
LOG_EVERY_SECONDS = 30.0


class Reporter(StageTimer):
    """``with reporter.stage("embed", total=n): ... reporter.advance(k)``; timings in ``reporter.timings``."""

    def __init__(self, quiet: bool = False, console: Console | None = None, live: bool | None = None) -> None:
        super().__init__()
        self.console = console or Console(stderr=True)
        self.quiet = quiet
        self.live = self.console.is_terminal if live is None else live
        self._progress: Progress | None = None

    # -- output ---------------------------------------------------------------------------

    def _line(self, message: str) -> None:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.console.print(f"{stamp} {message}", markup=False, highlight=False, soft_wrap=True)

    def info(self, message: str) -> None:
        """A message between progress lines (rich markup allowed on a terminal)."""
        if self.quiet:
            return
        if self.live:
            (self._progress.console if self._progress else self.console).print(message, highlight=False,
                                                                                soft_wrap=True)
        else:
            self._line(Text.from_markup(message).plain)

    def print(self, renderable) -> None:
        """A rich renderable (a summary table) unless quiet; rich drops colours when not a terminal."""
        if not self.quiet:
            self.console.print(renderable, highlight=False, soft_wrap=True)

    # -- stages ---------------------------------------------------------------------------

    def _on_start(self, stage: Stage) -> None:
        stage.next_fraction = LOG_EVERY_FRACTION
        if self.quiet:
            return
        if self.live:
            if self._progress is None:
                self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                          MofNCompleteColumn(), TimeElapsedColumn(), console=self.console)
                self._progress.start()
            stage.task = self._progress.add_task(("  " * (len(self._stack) - 1)) + stage.name, total=stage.total)
        else:
            self._line(f"stage {stage.name}: started" + (f" ({stage.total:,.0f} to do)" if stage.total else ""))

    def _on_end(self, stage: Stage, elapsed: float, failed: bool) -> None:
        if self.quiet:
            return
        verdict = "failed" if failed else "done"
        if self.live and self._progress is not None:
            self._progress.update(stage.task, description=f"{'  ' * len(self._stack)}{stage.name} ({verdict})",
                                  **({"completed": stage.total} if stage.total and not failed else {}))
            if not self._stack:
                self._progress.stop()
                self._progress = None
        else:
            count = f", {stage.done:,.0f} done" if stage.done else ""
            self._line(f"stage {stage.name}: {verdict} in {elapsed:.1f} s{count}, peak RSS "
                       f"{self.peak_rss_gib[stage.name]:.2f} GiB")

    def _on_advance(self, stage: Stage, n: float, note: str | None) -> None:
        if self.quiet:
            return
        if self.live and self._progress is not None:
            description = ("  " * (len(self._stack) - 1)) + stage.name + (f"  {note}" if note else "")
            self._progress.update(stage.task, advance=n, description=description)
            return
        now = time.perf_counter()
        if stage.total:
            fraction = stage.done / stage.total
            if fraction + 1e-12 < stage.next_fraction and stage.done < stage.total:
                return
            while stage.next_fraction <= fraction + 1e-12:
                stage.next_fraction += LOG_EVERY_FRACTION
            where = f"{stage.done:,.0f}/{stage.total:,.0f} ({100 * min(fraction, 1):.0f} %)"
        else:
            if now - stage.last_log < LOG_EVERY_SECONDS:
                return
            where = f"{stage.done:,.0f} done"
        stage.last_log = now
        self._line(f"stage {stage.name}: {where}" + (f"  {note}" if note else ""))
