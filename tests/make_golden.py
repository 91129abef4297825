"""Write the golden weights and bitstream of ``test_platform.py`` (tests/data).

    python tests/make_golden.py

Run it only when the bitstream format changes on purpose (and raise its version): the
point of the golden files is that later code still decodes them. Prints the checksum of
the decoded latents to put into ``test_platform.GOLDEN_LATENTS``.
"""

from __future__ import annotations

import hashlib
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from jaxlic import Codec, ModelConfig, init_params
from jaxlic.coding.exact import ExactEntropyModel, MixtureGrid
from jaxlic.coding.exact.mixture import build_tables
from jaxlic.images import read_image

DATA = pathlib.Path(__file__).resolve().parent / "data"
CONFIG = ModelConfig(latent_channels=4, ep_hidden=8, rate_levels=2)
# A coarse grid keeps the weights file small; decoders read whatever tables a file holds.
GRID = MixtureGrid(scale_max=32.0, ratio=1.15, phases=4.0, max_phase_bits=3)
QUALITY = 1.5


def latent_digest(y_hat: np.ndarray) -> str:
    """SHA-256 of a latent as little-endian int32."""
    return hashlib.sha256(np.ascontiguousarray(y_hat, "<i4").tobytes()).hexdigest()


def main() -> None:
    params = init_params(CONFIG, jax.random.PRNGKey(10))
    params = jax.device_get(jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float16), params))
    exact = ExactEntropyModel.build(params, build_tables(GRID))
    codec = Codec(CONFIG, params, exact=exact)
    codec.save(DATA / "golden_weights.npz", half_precision=True,
               extra={"purpose": "golden file of tests/test_platform.py"})
    codec = Codec.load(DATA / "golden_weights.npz")
    image = read_image(pathlib.Path(__file__).resolve().parents[1] / "jaxlic/data/sample.png")
    data = codec.compress(image[100:148, 200:280], quality=QUALITY)
    (DATA / "golden.jlic").write_bytes(data)
    print(f"{len(data)} bytes; latents {latent_digest(codec.decode_latents(data))}")


if __name__ == "__main__":
    main()
