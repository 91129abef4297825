#!/usr/bin/env bash
# Fork a checkpoint of a long constant-rate run into a short cool-down run, for a release.
#
#   train/cooldown.sh RUN_DIR OUT_DIR [STEP] [STEPS] [--config.field=value ...]
#
# Copies checkpoint STEP (default: the last) of RUN_DIR, with the metrics line that
# carries its CPU hours (train.prepare_gpu.copy_checkpoint, as for a GPU lease), and the
# run's compilation cache into OUT_DIR, and continues it in
# the background with train/cpu_run.sh for STEPS more steps (default 1000), the learning
# rate halving every STEPS/4 steps from STEP on (1/2, 1/4, 1/8, 1/16 of the configured
# rate: pass --config.optim.lr=R when the run was restarted with rate R). The
# long run itself is untouched and goes on at its constant rate; the release is exported
# from OUT_DIR's last checkpoint (docs/training.md, "Releases"). The configuration is
# $CONFIG (default configs/variable_rate_n64.py), the run's (train.main refuses another
# model); extra arguments override its fields, as for cpu_run.sh.
set -euo pipefail
usage="usage: train/cooldown.sh RUN_DIR OUT_DIR [STEP] [STEPS] [--config.field=value ...]"
run_dir=$(realpath -m "${1:?$usage}")
out_dir=$(realpath -m "${2:?$usage}")
shift 2
step=
if [[ $# -gt 0 && $1 != --* ]]; then step=$1; shift; fi
steps=1000
if [[ $# -gt 0 && $1 != --* ]]; then steps=$1; shift; fi
[[ -e $out_dir ]] && { echo "$out_dir exists: choose a new folder" >&2; exit 1; }
trap 'rm -rf "$out_dir"' ERR  # leave no half-made folder behind
# The checkpoint and the metrics line that carries the run's CPU hours, as for a GPU lease.
step=$(cd "$(dirname "$0")/.." && python3 - "$run_dir" "$out_dir" "$step" <<'EOF'
import sys
from train.prepare_gpu import copy_checkpoint
run, into, step = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    print(copy_checkpoint(run, into, int(step) if step else None))
except FileNotFoundError as e:
    sys.exit(str(e))
EOF
)
if [[ -d $run_dir/xla-cache ]]; then cp -r "$run_dir/xla-cache" "$out_dir/"; fi
trap - ERR
quarter=$(( steps / 4 > 0 ? steps / 4 : 1 ))
"$(dirname "$0")/cpu_run.sh" "$out_dir" "${CONFIG:-configs/variable_rate_n64.py}" \
    --config.num_steps=$(( step + steps )) --config.optim.first_halving="$step" \
    --config.optim.halving_every="$quarter" --config.checkpoint_every="$quarter" \
    --config.keep_checkpoints=5 "$@"
