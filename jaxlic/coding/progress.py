"""Seconds per coding stage and progress reports, for ``Codec``'s ``timings`` and
``progress`` arguments."""

from __future__ import annotations

from typing import Callable

Progress = Callable[[str, float], None]  # (stage, fraction of that stage done)


class StageClock(dict):
    """Seconds per stage (a dict, as ``Codec``'s ``timings``), copied into the caller's
    dict if one was given, with progress reports to ``progress(stage, fraction)``.

    Recording a stage's time reports it as done; long stages also report fractions
    along the way (``report``).
    """

    def __init__(self, timings: dict[str, float] | None = None,
                 progress: Progress | None = None):
        super().__init__(timings or {})
        self._timings = timings
        self._progress = progress

    @classmethod
    def of(cls, timings: dict[str, float] | None, progress: Progress | None = None
           ) -> "StageClock":
        """``timings`` itself if it is already a clock and there is no new ``progress``."""
        if isinstance(timings, cls) and progress is None:
            return timings
        return cls(timings, progress)

    def __setitem__(self, stage: str, seconds: float) -> None:
        super().__setitem__(stage, seconds)
        if self._timings is not None:
            self._timings[stage] = seconds
        self.report(stage, 1.0)

    def report(self, stage: str, fraction: float) -> None:
        """Tell the progress callback (if any) that ``stage`` is ``fraction`` done."""
        if self._progress is not None:
            self._progress(stage, fraction)

    def reporter(self, stage: str) -> Callable[[float], None]:
        """``report`` bound to one stage."""
        return lambda fraction: self.report(stage, fraction)
