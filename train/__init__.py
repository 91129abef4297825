"""The training program: grain input pipeline, pmap loop, orbax checkpoints, metrics.

Run it with ``python -m train.main --config=configs/<setting>.py --workdir=<dir>``.
"""
