#!/usr/bin/env bash
# One prepared accelerator run (see docs/gpu_training.md): install the carried wheels,
# train for a wall-clock budget from the carried data, export into $OUT.
#   BUDGET=seconds  bash train/gpu_run.sh [extra train.sprint flags]
set -euo pipefail
OUT=${OUT:?set OUT to the output folder}
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
RESUME=()
first=$(compgen -G ".gpu/weights/*.npz*" | sort | head -n 1 || true)
[ -n "$first" ] && RESUME=(--resume "${first%.part[0-9][0-9][0-9]}")
VAL=()
[ -d .gpu/val ] && VAL=(--val .gpu/val)
nvidia-smi -L 2>/dev/null || true
python3 -m train.sprint --data .gpu/data --out "$OUT" --budget_seconds "${BUDGET:-420}" \
  "${RESUME[@]}" "${VAL[@]}" "$@" 2>&1 | tee "$OUT/log.txt"
