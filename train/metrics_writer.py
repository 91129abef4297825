"""Where metrics go: TensorBoard event files and a JSON-lines log in the workdir.

Only host 0 writes; on other hosts the writer does nothing.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Mapping

import tensorboardX

METRICS_FILE = "metrics.jsonl"


class MetricWriter:
    """``write(step, "train", {...})`` -> tags ``train/<name>`` in ``<workdir>/tensorboard``
    and one line ``{"step": ..., "split": "train", ...}`` in ``<workdir>/metrics.jsonl``."""

    def __init__(self, workdir: str | os.PathLike, enabled: bool = True):
        self.enabled = enabled
        if enabled:
            workdir = pathlib.Path(workdir)
            self.tensorboard = tensorboardX.SummaryWriter(str(workdir / "tensorboard"))
            self.log = open(workdir / METRICS_FILE, "a", encoding="utf-8")

    def write(self, step: int, split: str, scalars: Mapping[str, float]) -> None:
        if not self.enabled:
            return
        for name, value in scalars.items():
            self.tensorboard.add_scalar(f"{split}/{name}", value, step)
        self.log.write(json.dumps({"step": step, "split": split, **scalars}) + "\n")
        self.log.flush()
        self.tensorboard.flush()

    def close(self) -> None:
        if self.enabled:
            self.tensorboard.close()
            self.log.close()
