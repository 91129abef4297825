"""Where metrics go: TensorBoard event files and a JSON-lines log in the workdir, and
the readers of that log (the CPU hours a run has spent, a run's history carried into a
fork of it).

Only host 0 writes; on other hosts the writer does nothing.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any, Mapping

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


def _logged(workdir: str | os.PathLike, step: int) -> list[tuple[str, dict[str, Any]]]:
    """``(line, record)`` of every line of ``<workdir>/metrics.jsonl`` up to ``step``
    ([] without the file). A line that is not a record (cut short when a process was
    killed while writing it) is left out, so that the run can still resume."""
    path = pathlib.Path(workdir) / METRICS_FILE
    if not path.exists():
        return []
    logged = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("step", step + 1) <= step:
            logged.append((line, record))
    return logged


def logged_cpu_hours(workdir: str | os.PathLike, step: int) -> float:
    """The run's CPU hours logged at the last training line up to ``step`` (0 if none).

    ``cpu_hours`` counts this host's training process (all its threads, from
    ``time.process_time``) summed over the run's restarts; data-loading worker
    processes are not included."""
    hours = [record["cpu_hours"] for _, record in _logged(workdir, step)
             if record.get("split") == "train" and "cpu_hours" in record]
    return hours[-1] if hours else 0.0


def copy_metrics(source: str | os.PathLike, target: str | os.PathLike, step: int,
                 history: bool = True) -> None:
    """Start ``target``'s log with ``source``'s lines up to ``step`` (with ``history``) or
    with its last training line up to ``step`` only, so that a run forked from
    ``source`` (widened, moved to a GPU lease, cooled down) goes on counting its CPU hours."""
    lines = _logged(source, step)
    if not history:
        lines = [(line, record) for line, record in lines if record.get("split") == "train"][-1:]
    (pathlib.Path(target) / METRICS_FILE).write_text("".join(line + "\n" for line, _ in lines))
