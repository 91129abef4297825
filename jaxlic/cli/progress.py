"""A progress bar over the coding stages, for the ``compress`` and ``decompress``
commands (``Codec``'s ``progress(stage, fraction)`` callback)."""

from __future__ import annotations

import sys

from tqdm import tqdm

DELAY = 2.0  # seconds before the bar appears: quick images show none

# Share of the time of each stage, in order, measured on large images (docs/performance.md).
ENCODE_STAGES = {"analysis": 0.62, "z_coding": 0.01, "hyper_synthesis": 0.02,
                 "y_coding": 0.35}
# With latent refinement (``--refine``), which takes most of the time.
REFINE_ENCODE_STAGES = {"analysis": 0.02, "refinement": 0.95, "z_coding": 0.002,
                        "hyper_synthesis": 0.003, "y_coding": 0.025}
DECODE_STAGES = {"z_coding": 0.01, "hyper_synthesis": 0.02, "y_coding": 0.37,
                 "synthesis": 0.60}


class StageBar:
    """``bar(stage, fraction)`` moves a percentage bar to the end of the stages before
    ``stage`` plus ``fraction`` of its share; unknown stages are ignored."""

    def __init__(self, stages: dict[str, float], enabled: bool = True):
        self._start = {}
        total = 0.0
        for stage, share in stages.items():
            self._start[stage] = total
            total += share
        self._shares = {stage: share / total for stage, share in stages.items()}
        self._start = {stage: start / total for stage, start in self._start.items()}
        # disable=None: tqdm shows nothing when stderr is not a terminal
        self._bar = tqdm(total=100, delay=DELAY, disable=None if enabled else True,
                         file=sys.stderr,
                         bar_format="{desc:<16}{percentage:3.0f}%|{bar}| {elapsed}<{remaining}",
                         leave=False)

    def __call__(self, stage: str, fraction: float) -> None:
        if stage not in self._shares:
            return
        position = 100.0 * (self._start[stage] + self._shares[stage] * min(fraction, 1.0))
        if position > self._bar.n:
            self._bar.set_description_str(stage.replace("_", " "), refresh=False)
            self._bar.update(position - self._bar.n)

    def close(self) -> None:
        self._bar.close()
