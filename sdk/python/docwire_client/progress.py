"""The progress bar ``show_progress=True`` draws on stderr: documents and requests done, and their rate."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

__all__ = ["ProgressBar"]


class ProgressBar:
    """Counts the documents and requests whose replies came back; a no-op unless ``enabled``.

    The total is unknown (inputs may be a generator), so the bar pulses and the
    counts and the rate tell how far the work is.
    """

    def __init__(self, enabled: bool, description: str = "", console: Console | None = None) -> None:
        self._progress: Progress | None = None
        self.docs = 0
        self.requests = 0
        if not enabled:
            return
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[docs]:,} docs, {task.fields[requests]:,} requests"),
            TextColumn("{task.fields[rate]:,.0f} docs/s"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
        )
        self._task = self._progress.add_task(description, total=None, docs=0, requests=0, rate=0.0)

    def advance(self, docs: int) -> None:
        """One more request done, carrying ``docs`` documents."""
        self.docs += docs
        self.requests += 1
        if self._progress is None:
            return
        elapsed = self._progress.tasks[0].elapsed or 0.0
        rate = self.docs / elapsed if elapsed > 0 else 0.0
        self._progress.update(self._task, docs=self.docs, requests=self.requests, rate=rate)

    def __enter__(self) -> ProgressBar:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
