"""What makes a training step cheaper on a CPU: allocators, XLA options, devices, crop size.

    python benchmarks/cpu_train_options.py                  # every variant, N=64 variable rate
    python benchmarks/cpu_train_options.py --only base,tcmalloc --steps 8
    python benchmarks/cpu_train_options.py --pipeline       # + the input pipeline's cost

Each variant runs the training program's own step (``train.parallel.make_parallel_step``:
pmap, Adam + the auxiliary Adam, clipping) of the shipped configuration
(``configs/variable_rate_n64.py``) in a fresh subprocess with its environment, on random
images, and reports the median wall time per step, the process CPU seconds per step (less
sensitive to other jobs on the machine than wall time) and images/s. ``--pipeline`` also
times the grain input pipeline alone (decode, crop, flip, batch) in the main process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = "/usr/lib/x86_64-linux-gnu"
TCMALLOC = {"LD_PRELOAD": f"{LIB}/libtcmalloc_minimal.so.4"}
JEMALLOC = {"LD_PRELOAD": f"{LIB}/libjemalloc.so.2"}


def _xla(flags: str, **env: str) -> dict[str, str]:
    return {**TCMALLOC, "XLA_FLAGS": flags, **env}


# name -> (environment, batch, crop, local devices); "JAXLIC_DTYPE" sets the compute dtype
VARIANTS = {
    "base": ({}, 8, 128, 1),
    "tcmalloc": (TCMALLOC, 8, 128, 1),
    "jemalloc": (JEMALLOC, 8, 128, 1),
    "tcmalloc+xnnpack": (_xla("--xla_cpu_use_xnnpack=true"), 8, 128, 1),
    "tcmalloc+onednn": (_xla("--xla_cpu_use_onednn=true"), 8, 128, 1),
    "tcmalloc+no-thunks": (_xla("--xla_cpu_use_thunk_runtime=false"), 8, 128, 1),
    "tcmalloc+fast-math": (_xla("--xla_cpu_enable_fast_math=true"), 8, 128, 1),
    "2-devices": ({"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}, 8, 128, 2),
    "tcmalloc+2-devices": (_xla("--xla_force_host_platform_device_count=2"), 8, 128, 2),
    "tcmalloc+1-core": ({**TCMALLOC, "JAXLIC_TASKSET": "0"}, 8, 128, 1),
    "tcmalloc+crop64": (TCMALLOC, 32, 64, 1),
    "tcmalloc+crop256": (TCMALLOC, 2, 256, 1),
    "tcmalloc+batch16": (TCMALLOC, 16, 128, 1),
    "tcmalloc+bfloat16": ({**TCMALLOC, "JAXLIC_DTYPE": "bfloat16"}, 8, 128, 1),
    "tcmalloc+bfloat16+onednn": (_xla("--xla_cpu_use_onednn=true", JAXLIC_DTYPE="bfloat16"),
                                 8, 128, 1),
}


def time_step(batch: int, crop: int, steps: int) -> dict:
    """In this process: median wall and CPU seconds of the shipped config's step."""
    sys.path.insert(0, ROOT)
    import jax
    import numpy as np

    from configs import default
    from jaxlic import ModelConfig, init_params
    from train import loop, parallel

    config = default.variable_rate_config("n64")
    config.batch_size = batch
    config.compute_dtype = os.environ.get("JAXLIC_DTYPE", "float32")
    model_config = ModelConfig.from_dict(config.model.to_dict())
    program = loop._program(model_config, config.compute_dtype,
                            tuple(sorted(config.optim.items())), loop.loss_config(config))
    state = parallel.replicate(jax.device_get(
        program.create_state(init_params(model_config, jax.random.PRNGKey(0)))))
    images = np.random.default_rng(0).integers(0, 256, (batch, crop, crop, 3), np.uint8)
    images = parallel.split_batch(images, jax.local_device_count())
    rng = jax.random.PRNGKey(1)
    walls, cpus = [], []
    for i in range(steps + 2):  # two untimed: compilation, then one warm step
        wall, cpu = time.perf_counter(), time.process_time()
        state, metrics = program.step(state, images, rng)
        jax.block_until_ready(metrics["loss"])
        if i >= 2:
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
    wall = float(np.median(walls))
    return {"sec_per_step": wall, "cpu_sec_per_step": float(np.median(cpus)),
            "images_per_sec": batch / wall, "megapixels_per_sec": batch * crop**2 / wall / 1e6,
            "devices": jax.local_device_count()}


def run_variant(name: str, steps: int) -> dict:
    env, batch, crop, _ = VARIANTS[name]
    env = {**os.environ, **env}
    command = [sys.executable, os.path.abspath(__file__), "--child", str(batch), str(crop),
               str(steps)]
    if "JAXLIC_TASKSET" in env:
        command = ["taskset", "-c", env.pop("JAXLIC_TASKSET")] + command
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        return {"variant": name, "error": out.stderr.strip().splitlines()[-1:]}
    return {"variant": name, "batch": batch, "crop": crop, **json.loads(lines[-1])}


def time_pipeline(batches: int) -> dict:
    """Seconds per batch of the grain pipeline of the shipped config, in this process."""
    sys.path.insert(0, ROOT)
    from configs import default
    from train import input_pipeline

    config = default.variable_rate_config("n64")
    config.data.num_workers = 0
    data = iter(input_pipeline.train_dataset(config.data, config.batch_size, 0))
    next(data)
    start = time.perf_counter()
    for _ in range(batches):
        next(data)
    return {"variant": "input pipeline (0 workers)",
            "sec_per_batch": (time.perf_counter() - start) / batches}


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        batch, crop, steps = (int(a) for a in sys.argv[2:5])
        print(json.dumps(time_step(batch, crop, steps)))
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", help="comma-separated variant names (default: all)")
    p.add_argument("--steps", type=int, default=5, help="timed steps per variant")
    p.add_argument("--pipeline", action="store_true", help="also time the input pipeline")
    args = p.parse_args()
    names = args.only.split(",") if args.only else list(VARIANTS)
    results = []
    for name in names:
        results.append(run_variant(name, args.steps))
        print(json.dumps(results[-1]), flush=True)
    if args.pipeline:
        print(json.dumps(time_pipeline(20)), flush=True)
    print(f"\n| variant | batch x crop | s/step | CPU s/step | images/s | Mpixel/s |")
    print("|---|---|---|---|---|---|")
    for r in results:
        if "error" in r:
            print(f"| {r['variant']} | failed: {r['error']} | | | | |")
            continue
        print(f"| {r['variant']} | {r['batch']} x {r['crop']} | {r['sec_per_step']:.3f} | "
              f"{r['cpu_sec_per_step']:.2f} | {r['images_per_sec']:.2f} | "
              f"{r['megapixels_per_sec']:.3f} |")


if __name__ == "__main__":
    main()
