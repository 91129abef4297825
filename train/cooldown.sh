#!/usr/bin/env bash
# Fork a checkpoint of a long constant-rate run into a short cool-down run, for a release.
#
#   train/cooldown.sh RUN_DIR OUT_DIR [STEP] [STEPS] [--config.field=value ...]
#
# Copies checkpoint STEP (default: the last) of RUN_DIR, with the run's config and its
# metrics up to STEP (so that CPU hours keep counting), into OUT_DIR and continues it in
# the background with train/cpu_run.sh for STEPS more steps (default 1000), the learning
# rate halving every STEPS/4 steps from STEP on (1/2, 1/4, 1/8, 1/16 of the configured
# rate: pass --config.optim.lr=R when the run was restarted with rate R). The
# long run itself is untouched and goes on at its constant rate; the release is exported
# from OUT_DIR's last checkpoint (docs/training.md, "Releases"). The configuration is
# $CONFIG (default configs/variable_rate_n64.py), the run's (train.main refuses another
# model); extra arguments override its fields, as for cpu_run.sh.
set -euo pipefail
run_dir=${1:?usage: train/cooldown.sh RUN_DIR OUT_DIR [STEP] [STEPS] [--config.field=value ...]}
out_dir=${2:?usage: train/cooldown.sh RUN_DIR OUT_DIR [STEP] [STEPS] [--config.field=value ...]}
shift 2
out_dir=$(realpath -m "$out_dir")
step=$(ls "$run_dir/checkpoints" 2>/dev/null | grep -E '^[0-9]+$' | sort -n | tail -n 1 || true)
if [[ $# -gt 0 && $1 != --* ]]; then step=$1; shift; fi
steps=1000
if [[ $# -gt 0 && $1 != --* ]]; then steps=$1; shift; fi
[[ -n $step && -d $run_dir/checkpoints/$step ]] || {
    echo "no checkpoint ${step:-at all} in $run_dir/checkpoints" >&2; exit 1; }
[[ -f $run_dir/metrics.jsonl ]] || { echo "no metrics.jsonl in $run_dir" >&2; exit 1; }
[[ -e $out_dir ]] && { echo "$out_dir exists: choose a new folder" >&2; exit 1; }
trap 'rm -rf "$out_dir"' ERR  # leave no half-made folder behind
mkdir -p "$out_dir/checkpoints"
cp -r "$run_dir/checkpoints/$step" "$out_dir/checkpoints/"
cp "$run_dir/config.json" "$out_dir/"
if [[ -d $run_dir/xla-cache ]]; then cp -r "$run_dir/xla-cache" "$out_dir/"; fi
# The metrics up to STEP (CPU hours continue from them); a line the running job is still
# writing is skipped.
python3 - "$run_dir/metrics.jsonl" "$out_dir/metrics.jsonl" "$step" <<'EOF'
import json, sys
source, target, step = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(source) as lines, open(target, "w") as out:
    for line in lines:
        try:
            if json.loads(line)["step"] <= step:
                out.write(line)
        except ValueError:
            pass
EOF
trap - ERR
quarter=$(( steps / 4 > 0 ? steps / 4 : 1 ))
"$(dirname "$0")/cpu_run.sh" "$out_dir" "${CONFIG:-configs/variable_rate_n64.py}" \
    --config.num_steps=$(( step + steps )) --config.optim.first_halving="$step" \
    --config.optim.halving_every="$quarter" --config.checkpoint_every="$quarter" \
    --config.keep_checkpoints=5 "$@"
