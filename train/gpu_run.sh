#!/usr/bin/env bash
# One GPU lease (docs/gpu_training.md), run on the device machine in the repository root
# after `python -m train.prepare_gpu` filled .gpu/ and .whl/ here:
#   BUDGET=seconds [CONFIG=configs/lease.py:BASE] bash train/gpu_run.sh [--config.field=value ...]
# Installs the carried wheels, continues the run in .gpu/run (or starts it from
# .gpu/weights.npz) with CONFIG (default configs/lease.py, whose base is the shipped
# variable_rate_n64) for BUDGET seconds of training (default 420), then leaves in
# $OUT: the final checkpoint as a tar in pieces of at most 15 MiB, its float16 weights
# file (and one of its moving average, where the configuration keeps one), metrics.jsonl
# and train.log. The checkpoint is packed even when training failed.
set -uo pipefail
OUT=${OUT:?set OUT to the output folder}
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
START=()
[ -f .gpu/weights.npz ] && START=(--config.init_weights=.gpu/weights.npz)
nvidia-smi -L 2>/dev/null || true
python3 -m train.main --config="${CONFIG:-configs/lease.py}" --workdir=.gpu/run --resume \
  --config.time_budget="${BUDGET:-420}" "${START[@]}" "$@" 2>&1 | tee "$OUT/train.log"
status=${PIPESTATUS[0]}
step=$(ls .gpu/run/checkpoints 2>/dev/null | grep -E '^[0-9]+$' | sort -n | tail -n 1)
if [ -n "$step" ]; then
  python3 -m train.export --workdir=.gpu/run --step="$step" --half_precision \
    --out="$OUT/weights-$step-f16.npz" 2>&1 | tail -n 1 | tee -a "$OUT/train.log"
  python3 -m train.export --workdir=.gpu/run --step="$step" --half_precision --ema \
    --out="$OUT/weights-$step-ema-f16.npz" 2>&1 | tail -n 1 | tee -a "$OUT/train.log"
  tar -C .gpu/run -cf - "checkpoints/$step" | split -d -a 1 -b 15M - "$OUT/checkpoint-$step.tar."
fi
cp .gpu/run/metrics.jsonl "$OUT/" 2>/dev/null
ls -l "$OUT"
exit "$status"
