"""Progress bars for `wait_for_batch(..., progress=True)`: tqdm (a widget in Jupyter when ipywidgets is there,
text elsewhere), else rich, else a `MissingDependencyError` saying to install `meterlocal[notebook]`.

The only place the library draws anything, and only when asked: bars go to stderr (or the notebook's output).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Protocol

from meterlocal.errors import MissingDependencyError

__all__ = ["ProgressBar", "open_bar"]


class ProgressBar(Protocol):
    """What a batch wait needs of a bar."""

    def advance(self, ok: bool) -> None:
        """Count one more finished job (`ok`: completed rather than failed)."""

    def close(self) -> None: ...


def _module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


class _Tqdm:
    def __init__(self, bar: Any) -> None:
        self._bar = bar
        self._failed = 0

    def advance(self, ok: bool) -> None:
        if not ok:
            self._failed += 1
            self._bar.set_postfix(failed=self._failed, refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


class _Rich:
    def __init__(self, rich: ModuleType, console: Any, total: int, description: str) -> None:
        columns = (
            rich.TextColumn(description),
            rich.BarColumn(),
            rich.MofNCompleteColumn(),
            rich.TimeElapsedColumn(),
            rich.TextColumn("{task.fields[failed]}"),
        )
        self._progress = rich.Progress(*columns, console=console, transient=False)
        self._task = self._progress.add_task(description, total=total, failed="")
        self._failed = 0
        self._progress.start()

    def advance(self, ok: bool) -> None:
        self._failed += not ok
        self._progress.update(self._task, advance=1, failed=f"{self._failed} failed" if self._failed else "")

    def close(self) -> None:
        self._progress.stop()


def open_bar(total: int, *, done: int = 0, description: str = "batch") -> ProgressBar:
    """A bar of `total` jobs, `done` of them already finished."""
    auto = _module("tqdm.auto")
    if auto is not None:
        try:
            bar = auto.tqdm(total=total, initial=done, desc=description, unit="job")
        except ImportError:  # Jupyter without ipywidgets: tqdm.auto picked the widget but cannot draw it
            bar = importlib.import_module("tqdm.std").tqdm(total=total, initial=done, desc=description, unit="job")
        return _Tqdm(bar)
    rich, consoles = _module("rich.progress"), _module("rich.console")
    if rich is not None and consoles is not None:
        shown = _Rich(rich, consoles.Console(stderr=True), total, description)
        for _ in range(done):
            shown.advance(True)
        return shown
    raise MissingDependencyError("wait_for_batch(progress=True)", "tqdm", "notebook")
