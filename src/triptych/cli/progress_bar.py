"""A rich progress bar fed by a job's progress callback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from triptych.cli.output import err_console


@contextlib.contextmanager
def job_progress(label: str, enabled: bool = True) -> Iterator[Any]:
    """Yield a ``progress(fraction, preview)`` callback drawing a bar on stderr."""
    if not enabled:
        yield None
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(),
                   TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                   console=err_console, transient=True)
    with bar:
        task = bar.add_task(label, total=1.0)

        def callback(fraction: float, _preview: Any = None) -> None:
            bar.update(task, completed=fraction)

        yield callback
