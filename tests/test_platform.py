"""Files decode to the same latents whatever the platform: other XLA flags, one core,
another matmul precision, another BLAS thread count, jit disabled, other batches; and
the committed golden file still decodes to its committed latents."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np

from jaxlic import Codec
from jaxlic.cli import allocator
from jaxlic.coding import bitstream

DATA = pathlib.Path(__file__).resolve().parent / "data"
sys.path.insert(0, str(DATA.parent))
from make_golden import latent_digest  # noqa: E402

GOLDEN_LATENTS = "4c62b6a1aef118557afc3bf4c67417b73bc91b9a2436511b700ea23b32b1fc8a"

# For each (weights, file) pair on the command line: decodes the file (or, with "encode",
# first writes it from file.png) and prints the digest of its latents.
PROBE = """
import sys
from jaxlic import Codec
from jaxlic.images import read_image
from make_golden import latent_digest
for weights, path in zip(sys.argv[2::2], sys.argv[3::2]):
    codec = Codec.load(weights)
    if sys.argv[1] == "encode":
        image = read_image(path + ".png")
        with open(path, "wb") as f:
            f.write(codec.compress(image))
        print(latent_digest(codec.latents(image)))
    else:
        with open(path, "rb") as f:
            print(latent_digest(codec.decode_latents(f.read())))
"""

ENVIRONMENTS = {
    "fast-math": {"XLA_FLAGS": "--xla_cpu_enable_fast_math=true"},
    "one core, one Eigen thread": {"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false",
                                   "taskset": "0"},
    "bfloat16 matmuls, one BLAS thread": {"JAX_DEFAULT_MATMUL_PRECISION": "bfloat16",
                                          "OPENBLAS_NUM_THREADS": "1"},
    "no jit": {"JAX_DISABLE_JIT": "1"},
    "the command's allocator": allocator.fast_allocator_env({}) or {},
}


def _image(h, w, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = 127 + 100 * np.sin(x / 5.0 + seed) * np.cos(y / 9.0)
    return np.clip(base[..., None] + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)


def _probe(mode: str, pairs: list[tuple[pathlib.Path, pathlib.Path]], env: dict[str, str]
           ) -> subprocess.Popen:
    """Start the probe on (weights, file) pairs in a process with ``env``."""
    extra = dict(env)
    command = [sys.executable, "-c", PROBE, mode, *(str(p) for pair in pairs for p in pair)]
    core = extra.pop("taskset", None)
    if core is not None and shutil.which("taskset"):
        command = ["taskset", "-c", core, *command]
    environment = {**os.environ, "PYTHONPATH": str(DATA.parent), **extra}
    return subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, text=True)


def _digests(process: subprocess.Popen) -> list[str]:
    out, _ = process.communicate(timeout=600)
    assert process.returncode == 0
    return out.split()


def test_decodes_agree_across_platform_settings(tmp_path, tiny_config, tiny_params):
    """Files written here decode to the encoder's latents in processes with other
    settings, and files written under fast-math decode here to that encoder's latents."""
    from PIL import Image

    codec = Codec(tiny_config, tiny_params)
    weights = tmp_path / "tiny.npz"
    codec.save(weights)
    files, expected = [], []
    for i, (h, w) in enumerate([(64, 96), (47, 131), (100, 70)]):
        image = _image(h, w, i)
        path = tmp_path / f"{i}.jlic"
        path.write_bytes(codec.compress(image))
        Image.fromarray(image).save(f"{path}.png")
        files.append((weights, path))
        expected.append(latent_digest(codec.latents(image)))
    files.append((DATA / "golden_weights.npz", DATA / "golden.jlic"))
    expected.append(GOLDEN_LATENTS)
    decoders = {name: _probe("decode", files, env) for name, env in ENVIRONMENTS.items()}
    encoded = [tmp_path / f"fast{i}.jlic" for i in range(2)]
    for i, path in enumerate(encoded):
        Image.fromarray(_image(80, 64, 10 + i)).save(f"{path}.png")
    encoder = _probe("encode", [(weights, path) for path in encoded], ENVIRONMENTS["fast-math"])
    for name, process in decoders.items():
        assert _digests(process) == expected, name
    for path, digest in zip(encoded, _digests(encoder)):
        assert latent_digest(codec.decode_latents(path.read_bytes())) == digest


def test_batches_decode_like_single_files(tiny_config, tiny_params):
    codec = Codec(tiny_config, tiny_params)
    images = [_image(64, 64, 1), _image(64, 64, 2), _image(40, 90, 3), _image(64, 64, 4)]
    files = codec.compress_batch(images)
    singles = [codec.decompress(f) for f in files]
    for size in (2, 3, 4):
        for out, single in zip(codec.decompress_batch(files[:size]), singles):
            assert np.abs(out.astype(int) - single).max() <= 1  # g_s runs in float


def test_golden_file_still_decodes():
    """A file and weights written by an earlier jaxlic decode to the committed latents,
    and coding those latents again gives the same streams, byte for byte."""
    codec = Codec.load(DATA / "golden_weights.npz")
    data = (DATA / "golden.jlic").read_bytes()
    assert latent_digest(codec.decode_latents(data)) == GOLDEN_LATENTS
    header, z_bytes, y_bytes = bitstream.unpack(data)
    gains = codec._gains(header.quality)
    v = codec._decode_z(z_bytes, (1, 2, codec.config.latent_channels))
    phi = codec._phi(v, gains)
    y_hat = codec._decode_y(header, phi, y_bytes)
    assert codec._encode_z(v) == z_bytes and codec._encode_y(header, phi, y_hat) == y_bytes
    assert codec.decompress(data).shape == (48, 80, 3)
