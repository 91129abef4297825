#!/usr/bin/env bash
# Start or continue a long CPU training run in the background, detached from the shell.
#
#   train/cpu_run.sh RUN_DIR [CONFIG] [--config.field=value ...]
#
# RUN_DIR holds the checkpoints (resumed when present), train.log and train.pid; CONFIG
# defaults to configs/variable_rate_n64.py. (train.main picks the memory allocator itself:
# tcmalloc when the system has it, jaxlic.cli.allocator.) The script splits each batch over
# CPU_DEVICES XLA host devices (default: one per core, at most 8; pmap then keeps every
# core busy, where one device leaves one core mostly idle), and keeps compiled programs in
# RUN_DIR/xla-cache so that a restart does not recompile. Stop with `kill $(cat
# RUN_DIR/train.pid)` (the run finishes its step and writes a checkpoint first); pause
# with `kill -STOP`, continue with `kill -CONT`.
set -euo pipefail
run_dir=${1:?usage: train/cpu_run.sh RUN_DIR [CONFIG] [--config.field=value ...]}
shift
config=configs/variable_rate_n64.py
if [[ $# -gt 0 && $1 != --* ]]; then config=$1; shift; fi
cd "$(dirname "$0")/.."
mkdir -p "$run_dir"
cores=$(nproc)
devices=${CPU_DEVICES:-$(( cores < 8 ? cores : 8 ))}
export XLA_FLAGS="${XLA_FLAGS:-} --xla_force_host_platform_device_count=$devices"
export JAX_COMPILATION_CACHE_DIR=$run_dir/xla-cache
nohup python -m train.main --config="$config" --workdir="$run_dir" --resume \
    --config.progress_bar=False "$@" >> "$run_dir/train.log" 2>&1 &
echo $! > "$run_dir/train.pid"
echo "training in the background: pid $(cat "$run_dir/train.pid"), log $run_dir/train.log"
