"""``Codec``: compress images to bytes and back, with real range-coded bitstreams.

Encoder::

    pad -> g_a -> y~ -> h_a -> z -> round about medians -> z stream -> z^ -> h_s -> phi
    y^ = round(y~) -> per wavefront: GMM tables from (causal taps, phi) -> y stream

Decoder: z stream -> z^ -> h_s -> phi -> per wavefront: the same tables from the already
decoded taps -> y^ -> PQF -> g_s -> clip, round, crop.

A variable-rate model multiplies y~ and z by the gains of the requested quality before
rounding and y^ and z^ by the inverse gains before g_s and h_s; the quality travels in
the header.

Everything from z^ to the y coding tables is exact integer arithmetic
(``jaxlic.coding.exact``): h_s, the context model and the entropy-parameter head are
integer networks evaluated with float64 BLAS on integers whose partial sums stay below
2**53, and the mixture is combined from stored integer tables in int32. Encoder and
decoder therefore compute identical tables on any machine, backend, thread count or
batch, and the encoder may evaluate all positions at once while the decoder goes
wavefront by wavefront. The file carries a CRC of the latents as a last safety net.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxlic.coding import bitstream, weights
from jaxlic.coding.errors import BitstreamError
from jaxlic.coding.exact import ExactEntropyModel
from jaxlic.coding.exact.linear import IntLinear
from jaxlic.coding.exact.model import PREFIX as EXACT_PREFIX
from jaxlic.coding.exact.model import (
    coding_tables, exact_xla, hyper_synthesis, to_device)
from jaxlic.coding.gains import (
    QUALITY_SCALE, HostGains, host_gains, quality_code, quality_lmbda)
from jaxlic.coding.progress import Progress, StageClock
from jaxlic.coding.range_coder import Decoder, Encoder
from jaxlic.coding.refine import Refinement, refine_latents
from jaxlic.coding.tables import ZTables, build_z_tables
from jaxlic.coding.transforms import Transforms, pad_image, padded_size
from jaxlic.coding.wavefront import TapGatherer, wavefronts
from jaxlic.images import DEFAULT_MAX_PIXELS, to_rgb
from jaxlic.losses import QUALITY_LMBDAS
from jaxlic.models import ALIGNMENT, ModelConfig, init_params

RADII = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)  # y alphabet radii (one program each)
CHANNEL_BUCKET = 16  # coded-channel counts are rounded up to a multiple of this
POSITION_BUCKET = 64  # position counts: multiples of 4 up to this, then multiples of it
ENCODE_CHUNK = 1024  # the encoder evaluates the head for this many positions at a time
MAX_LATENT = 1 << 24  # largest |y^| or |z^ - median| a file may carry
DOWNSAMPLING = 16  # image pixels per y position along each side
DEFAULT_QUALITY = 6.0  # of variable-rate models, when the caller names none


def _zigzag(v: np.ndarray) -> np.ndarray:
    return np.where(v >= 0, 2 * v, -2 * v - 1)


def _unzigzag(u: np.ndarray) -> np.ndarray:
    return np.where(u % 2 == 0, u // 2, -(u + 1) // 2)


@contextmanager
def _stage(timings: dict[str, float] | None, name: str) -> Iterator[None]:
    """Add the wall time of the block to ``timings[name]`` (seconds), if timings is given."""
    start = time.perf_counter()
    yield
    if timings is not None:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start


class Codec:
    """A model configuration, its parameters and the derived coding tables.

    ``compress(image) -> bytes`` and ``decompress(bytes) -> image`` work on uint8
    ``[H, W, 3]`` arrays of any size (grayscale and RGBA inputs are converted). Every
    malformed input to ``decompress`` raises ``jaxlic.BitstreamError``.

    A variable-rate model (``config.rate_levels`` = L > 0) compresses at any quality from
    1 (smallest files) to L (best), fractional values included, or at the quality that
    best meets a bit budget (``target_bpp``).

    ``compress(..., refine=Refinement())`` optimises each image's latents for its own
    rate-distortion cost before coding (``jaxlic.coding.refine``): slower encoding, the
    same decoder.
    """

    def __init__(self, config: ModelConfig, params: Any, z_tables: ZTables | None = None,
                 exact: ExactEntropyModel | None = None, training: dict | None = None):
        """``z_tables`` and ``exact`` (the integer entropy model) are derived from
        ``params`` unless given (as read from a weights file); ``training`` is the
        weights file's training record (``lmbda`` or ``level_lmbdas``, ``distortion``)."""
        self.config = config
        self.training = dict(training or {})
        self.params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), params)
        if z_tables is None:
            z_tables = build_z_tables(self.params["entropy_bottleneck"])
        if exact is None:
            exact = ExactEntropyModel.build(jax.device_get(self.params))
        self.z_tables = z_tables
        self.exact = exact
        self.model_id = weights.model_id(config, self.params, self._tables_arrays())
        self._medians = np.asarray(self.params["entropy_bottleneck"]["quantiles"][:, 1],
                                   np.float32)
        with exact_xla():
            self._mixture_tables = exact.tables.device()
        self._device_head = to_device(exact.head)
        self._device_hyper = to_device(exact.hyper)
        self._transforms = Transforms(config)
        self._gain_cache: dict[int, HostGains] = {}

    def _tables_arrays(self) -> dict[str, np.ndarray]:
        """Every integer array of the weights file: z tables and the exact model."""
        return {**self.z_tables.arrays(), **self.exact.arrays()}

    # -- construction and persistence -------------------------------------------------

    @classmethod
    def random(cls, config: ModelConfig, seed: int = 0) -> "Codec":
        """An untrained codec with freshly initialised parameters (tests, research)."""
        return cls(config, init_params(config, jax.random.PRNGKey(seed)))

    @classmethod
    def load(cls, path: str | os.PathLike, config: ModelConfig | None = None) -> "Codec":
        """Load a weights file; with ``config``, refuse a file of another configuration."""
        file_config, params, tables, meta = weights.load(path)
        if config is not None and config != file_config:
            raise weights.WeightsError(
                f"{path} holds weights for {file_config}, not for the requested {config}")
        exact_arrays = {k: v for k, v in tables.items() if k.startswith(EXACT_PREFIX)}
        try:
            z_tables = ZTables(**{k: v for k, v in tables.items() if k not in exact_arrays})
            # Version 1 files predate the exact model: derive it from the parameters.
            exact = ExactEntropyModel.from_arrays(exact_arrays) if exact_arrays else None
        except (TypeError, KeyError, ValueError) as e:
            raise weights.WeightsError(f"{path}: bad coding tables: {e}") from e
        return cls(file_config, params, z_tables, exact, meta.get("training"))

    def save(self, path: str | os.PathLike, half_precision: bool = False,
             extra: dict[str, Any] | None = None) -> None:
        """Write the weights file. ``half_precision`` stores float16 parameters (the z
        tables and the integer networks are rebuilt from the rounded values, so the file
        describes the codec it loads as). The training record goes with it; ``extra``
        adds JSON metadata."""
        codec = self
        if half_precision:
            rounded = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float16), self.params)
            exact = ExactEntropyModel.build(jax.device_get(rounded), self.exact.tables)
            codec = Codec(self.config, rounded, exact=exact)
        record = {"training": self.training} if self.training else {}
        weights.save(path, codec.config, codec.params, codec._tables_arrays(),
                     "float16" if half_precision else "float32", {**record, **(extra or {})})

    # -- public coding API ------------------------------------------------------------

    def compress(self, image: np.ndarray, timings: dict[str, float] | None = None, *,
                 quality: float | None = None, target_bpp: float | None = None,
                 refine: Refinement | None = None, progress: Progress | None = None) -> bytes:
        """Compress a uint8 image; ``timings`` (if given) receives seconds per stage and
        ``progress(stage, fraction)`` (if given) hears how far the stages are.

        For a variable-rate model, ``quality`` in ``[1, L]`` (default ``DEFAULT_QUALITY``,
        kept to 1/1000), or ``target_bpp``: the highest quality whose file does not exceed
        that many bits per pixel (``ValueError`` if even quality 1 does). Fixed-rate models
        take neither. ``refine`` optimises the latents first (``Refinement``; not with
        ``target_bpp``).
        """
        timings = StageClock.of(timings, progress)
        if target_bpp is None:
            return self.compress_batch([image], timings, quality=quality, refine=refine)[0]
        if quality is not None:
            raise ValueError("give either quality or target_bpp, not both")
        if refine is not None:
            raise ValueError("latent refinement works at a given quality, not with target_bpp")
        return self._compress_to_bpp(to_rgb(image), float(target_bpp), timings)

    def decompress(self, data: bytes, timings: dict[str, float] | None = None, *,
                   max_pixels: int = DEFAULT_MAX_PIXELS,
                   progress: Progress | None = None) -> np.ndarray:
        """Decode a file written by ``compress`` with the same weights: uint8 ``[H, W, 3]``.

        Files declaring more than ``max_pixels`` pixels are refused before anything is
        allocated (the default is Pillow's ``MAX_IMAGE_PIXELS``; the format's own limit is
        2**28). Every failure, an allocation failure included, raises ``BitstreamError``.
        """
        return self.decompress_batch([data], timings, max_pixels=max_pixels,
                                     progress=progress)[0]

    def latents(self, image: np.ndarray, quality: float | None = None) -> np.ndarray:
        """The quantised latent ``y^`` (int64 ``[h, w, M]``) that ``compress`` codes
        (without refinement)."""
        image = to_rgb(image)
        gains = self._gains(self._quality_code(quality))
        y = self._transforms.analysis(self.params, [image])[0]
        return _round(_scaled(y, gains and gains.y)).astype(np.int64)

    def decode_latents(self, data: bytes) -> np.ndarray:
        """The latent ``y^`` (int64 ``[h, w, M]``) a file decodes to, before the inverse
        gain (variable-rate models) and synthesis."""
        return self._decode_latents(data, None)[0]

    # -- quality ----------------------------------------------------------------------

    def _quality_code(self, quality: float | None) -> int:
        """The header's quality code (0 for a fixed-rate model); ``ValueError`` if the
        quality does not fit the model."""
        levels = self.config.rate_levels
        if not levels:
            if quality is not None:
                raise ValueError("this model has a fixed rate; it takes no quality")
            return 0
        return quality_code(DEFAULT_QUALITY if quality is None else quality, levels)

    def _gains(self, code: int) -> HostGains | None:
        """Gain vectors of a quality code (None for a fixed-rate model), cached."""
        if not code:
            return None
        if code not in self._gain_cache:
            self._gain_cache[code] = host_gains(self.params, code)
        return self._gain_cache[code]

    def compress_batch(self, images: Sequence[np.ndarray],
                       timings: dict[str, float] | None = None, *,
                       quality: float | None = None, refine: Refinement | None = None,
                       progress: Progress | None = None) -> list[bytes]:
        """Compress several images (at one ``quality``, for a variable-rate model, and
        with ``refine``, see ``compress``); same-size images share batched transforms."""
        timings = StageClock.of(timings, progress)
        code = self._quality_code(quality)
        lmbda = None if refine is None else self._refinement_lmbda(code)
        images = [to_rgb(im) for im in images]
        out: list[bytes | None] = [None] * len(images)
        for shape, indices in _group_by(images, lambda im: im.shape[:2]).items():
            with _stage(timings, "analysis"):
                y = self._transforms.analysis(self.params, [images[i] for i in indices],
                                              timings.reporter("analysis"))
            for j, i in enumerate(indices):
                latents = self._latents(y[j], code, timings)
                if refine is not None:
                    with _stage(timings, "refinement"):
                        latents = refine_latents(
                            self.config, self.params, pad_image(images[i]), shape, *latents,
                            self._gains(code), lmbda, self.training.get("distortion", "mse"),
                            refine, timings.reporter("refinement"))
                out[i] = self._encode_latents(*latents, shape, code, timings)
        return out

    def _compress_to_bpp(self, image: np.ndarray, bpp: float,
                         timings: dict[str, float] | None) -> bytes:
        """The file of the highest quality (to 1/100) within ``bpp`` bits per pixel.

        Bisection over the quality, assuming the size grows with it; g_a runs once, each
        probe codes the latents again.
        """
        levels = self.config.rate_levels
        if not levels:
            raise ValueError("target_bpp needs a variable-rate model; this one has a fixed rate")
        shape = image.shape[:2]
        budget = bpp * shape[0] * shape[1] / 8.0  # bytes
        with _stage(timings, "analysis"):
            y = self._transforms.analysis(self.params, [image], timings.reporter("analysis"))[0]

        def encode(hundredths: int) -> bytes:
            code = hundredths * QUALITY_SCALE // 100
            return self._encode_latents(*self._latents(y, code, timings), shape, code, timings)

        low, high = 100, 100 * levels
        best = encode(low)
        if len(best) > budget:
            raise ValueError(f"even quality 1 needs {8 * len(best) / (shape[0] * shape[1]):.4f}"
                             f" bpp, more than the target {bpp} bpp")
        top = encode(high)
        if len(top) <= budget:
            return top
        while high - low > 1:  # invariant: low fits the budget, high does not
            mid = (low + high) // 2
            data = encode(mid)
            if len(data) <= budget:
                low, best = mid, data
            else:
                high = mid
        return best

    def decompress_batch(self, files: Sequence[bytes],
                         timings: dict[str, float] | None = None, *,
                         max_pixels: int = DEFAULT_MAX_PIXELS,
                         progress: Progress | None = None) -> list[np.ndarray]:
        """Decode several files (see ``decompress``); same-size images share a batched
        synthesis transform."""
        timings = StageClock.of(timings, progress)
        try:
            return self._decompress_batch(files, timings, max_pixels)
        except BitstreamError:
            raise
        except MemoryError as e:
            raise BitstreamError(f"out of memory while decoding: {e or 'no details'}") from e
        except Exception as e:  # the decoder promises BitstreamError and nothing else
            raise BitstreamError(f"decoding failed: {type(e).__name__}: {e}") from e

    def _decompress_batch(self, files: Sequence[bytes], timings: StageClock,
                          max_pixels: int) -> list[np.ndarray]:
        decoded = [self._decode_latents(f, timings, max_pixels) for f in files]
        out: list[np.ndarray | None] = [None] * len(files)
        for shape, indices in _group_by(decoded, lambda d: d[1]).items():
            y_hat = np.stack([_scaled(decoded[i][0].astype(np.float32),
                                      decoded[i][2] and decoded[i][2].y_inverse)
                              for i in indices])
            with _stage(timings, "synthesis"):
                pixels = self._transforms.synthesis(self.params, y_hat,
                                                    timings.reporter("synthesis"))
            for j, i in enumerate(indices):
                out[i] = pixels[j, : shape[0], : shape[1]]
        return out

    # -- the two streams --------------------------------------------------------------

    def _refinement_lmbda(self, code: int) -> float:
        """The lambda that latent refinement optimises at quality code ``code``: the
        training lambda that the weights record (CompressAI's eight for an eight-level
        model whose weights record none); ``ValueError`` when there is none."""
        levels = self.config.rate_levels
        if not levels:
            if "lmbda" in self.training:
                return float(self.training["lmbda"])
        else:
            lmbdas = self.training.get("level_lmbdas")
            if lmbdas is None and levels == len(QUALITY_LMBDAS):
                lmbdas = QUALITY_LMBDAS
            if lmbdas is not None and len(lmbdas) == levels:
                return quality_lmbda(code, tuple(lmbdas))
        raise ValueError("latent refinement needs the lambda the model was trained for, "
                         "and these weights do not record it")

    def _latents(self, y: np.ndarray, quality: int, timings: dict[str, float] | None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """``(y~, z)`` of g_a's output ``y [h, w, M]`` at quality code ``quality`` (0
        for a fixed-rate model): after the gains, before rounding."""
        gains = self._gains(quality)
        with _stage(timings, "analysis"):
            y_tilde = _scaled(y, gains and gains.y)
            z = self._transforms.hyper_analysis(self.params, y_tilde)
            return y_tilde, _scaled(z, gains and gains.z)

    def _encode_latents(self, y_tilde: np.ndarray, z: np.ndarray, size: tuple[int, int],
                        quality: int, timings: dict[str, float] | None) -> bytes:
        """The file of one image's latents ``y~ [h, w, M]`` and ``z [h/4, w/4, N]``
        (after any gains) at quality code ``quality`` (0 for a fixed-rate model)."""
        gains = self._gains(quality)
        if not (np.all(np.isfinite(y_tilde)) and np.all(np.isfinite(z))):
            raise ValueError("the model produced non-finite latents for this image")
        with _stage(timings, "z_coding"):
            v = np.floor(z - self._medians + 0.5)
            if np.abs(v).max(initial=0) > MAX_LATENT:
                raise ValueError("hyper latent out of the codable range")
            v = v.astype(np.int64)
            z_bytes = self._encode_z(v)
        with _stage(timings, "hyper_synthesis"):
            phi = self._phi(v, gains)
        with _stage(timings, "y_coding"):
            y_hat = _round(y_tilde)
            if np.abs(y_hat).max(initial=0) > MAX_LATENT:
                raise ValueError("latent out of the codable range")
            y_hat = y_hat.astype(np.int64)
            coded = np.any(y_hat != 0, axis=(0, 1))
            minmax = int(np.abs(y_hat).max(initial=0))
            radius = next((r for r in RADII if r >= minmax), RADII[-1])
            header = bitstream.Header(self.model_id, size[0], size[1],
                                      self.config.latent_channels, radius,
                                      minmax > radius, coded, quality,
                                      bitstream.latent_checksum(v, y_hat))
            y_bytes = self._encode_y(header, phi, y_hat)
        return bitstream.pack(header, z_bytes, y_bytes)

    def _decode_latents(self, data: bytes, timings: dict[str, float] | None,
                        max_pixels: int = DEFAULT_MAX_PIXELS
                        ) -> tuple[np.ndarray, tuple[int, int], HostGains | None]:
        """``(y_hat [h, w, M] int64, (height, width), gains)`` of one file."""
        header, z_bytes, y_bytes = bitstream.unpack(data)
        if header.height * header.width > max_pixels:
            raise BitstreamError(
                f"the file declares a {header.width}x{header.height} image "
                f"({header.height * header.width:,} pixels), more than the limit of "
                f"{max_pixels:,}: refused as a possible decompression bomb (raise the "
                "limit with max_pixels, or --max-pixels on the command line, if you trust "
                "the file)")
        if header.model_id != self.model_id:
            raise BitstreamError(
                f"file was written by model {header.model_id.hex()}, but these weights are "
                f"model {self.model_id.hex()}: decode it with the weights that wrote it")
        if header.channels != self.config.latent_channels or header.radius not in RADII:
            raise BitstreamError(f"header does not fit this model (M={header.channels}, "
                                 f"radius={header.radius})")
        levels = self.config.rate_levels
        if (header.quality != 0 if not levels
                else not QUALITY_SCALE <= header.quality <= levels * QUALITY_SCALE):
            raise BitstreamError(f"header quality code {header.quality} does not fit this model")
        gains = self._gains(header.quality)
        height, width = padded_size(header.height, header.width)
        with _stage(timings, "z_coding"):
            shape = (height // ALIGNMENT, width // ALIGNMENT, self.config.transform_width)
            v = self._decode_z(z_bytes, shape)
        with _stage(timings, "hyper_synthesis"):
            phi = self._phi(v, gains)
        with _stage(timings, "y_coding"):
            y_hat = self._decode_y(header, phi, y_bytes)
        if bitstream.latent_checksum(v, y_hat) != header.latent_crc:
            raise BitstreamError("the decoded latents do not match the file's latent checksum: "
                                 "the file is corrupted or forged")
        return y_hat, (header.height, header.width), gains

    def _phi(self, v: np.ndarray, gains: HostGains | None) -> np.ndarray:
        """Integer h_s of the hyper latent ``z^ = v + median`` (times the inverse hyper gain
        of a variable-rate model): ``v [hz, wz, N] -> phi [h, w, 2M]`` (float64 integers).

        The input is formed in float64 with IEEE-rounded additions and multiplications
        only, so it is bit-identical on every machine.
        """
        z = v.astype(np.float64) + self._medians.astype(np.float64)
        if gains is not None:
            z = z * gains.z_inverse.astype(np.float64)
        with exact_xla():
            return hyper_synthesis(self._device_hyper, z)

    def _z_tables_of(self, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Channel index and table row of every element of a ``[hz, wz, N]`` hyper latent."""
        channel = np.broadcast_to(np.arange(shape[-1]), shape).ravel()
        return channel, self.z_tables.frequencies[channel]

    def _encode_z(self, v: np.ndarray) -> bytes:
        """The z stream of the integer offsets ``v [hz, wz, N]`` from the medians."""
        t = self.z_tables
        channel, freqs = self._z_tables_of(v.shape)
        flat = v.ravel()
        index = flat - t.offsets[channel]
        inside = (index >= 0) & (index < t.lengths[channel])
        encoder = Encoder()
        encoder.encode(np.where(inside, index, t.frequencies.shape[1] - 1), freqs)
        encoder.encode_unbounded(_zigzag(flat[~inside]))
        return encoder.to_bytes()

    def _decode_z(self, data: bytes, shape: tuple[int, ...]) -> np.ndarray:
        """The offsets ``v [hz, wz, N]`` (int64) from the z stream."""
        t = self.z_tables
        channel, freqs = self._z_tables_of(shape)
        decoder = Decoder(data)
        symbols = decoder.decode(freqs).astype(np.int64)
        escaped = symbols >= t.lengths[channel]
        flat = symbols + t.offsets[channel]
        flat[escaped] = _unzigzag(decoder.decode_unbounded(int(escaped.sum())))
        if np.abs(flat).max(initial=0) > MAX_LATENT:
            raise BitstreamError("hyper latent out of range: the file is corrupted")
        decoder.finish()
        return flat.reshape(shape)

    def _encode_y(self, header: bitstream.Header, phi: np.ndarray, y_hat: np.ndarray) -> bytes:
        """The y stream of ``y_hat [h, w, M]``, wavefront by wavefront.

        The tables do not depend on how positions are grouped, so the head runs on chunks
        of whole steps (``ENCODE_CHUNK`` positions) rather than one step at a time.
        """
        h, w, n = y_hat.shape
        encoder = Encoder()
        coded = np.flatnonzero(header.coded)
        if not coded.size:
            return encoder.to_bytes()
        schedule = wavefronts(h, w, self.config.context_kernel)
        taps = TapGatherer(h, w, n, self.config.context_kernel)
        rows, cols = np.indices((h, w)).reshape(2, -1)
        taps.write(rows, cols, y_hat[rows, cols])
        out = self._output_layer(coded)
        for chunk in _chunks(schedule.counts, ENCODE_CHUNK):
            rows, cols = schedule.span(chunk.start, chunk.stop)
            freqs = self._frequencies(taps.taps(rows, cols), phi[rows, cols], out,
                                      coded.size, header.radius)
            first = schedule.starts[chunk.start]
            for t in chunk:
                r, c = schedule.positions(t)
                block = freqs[schedule.starts[t] - first: schedule.starts[t + 1] - first]
                self._encode_values(encoder, y_hat[r, c][:, coded],
                                    block.reshape(-1, block.shape[-1]), header)
        return encoder.to_bytes()

    def _decode_y(self, header: bitstream.Header, phi: np.ndarray, data: bytes) -> np.ndarray:
        """Decode ``y_hat [h, w, M]`` (int64) from the y stream."""
        h, w, n = phi.shape[0], phi.shape[1], self.config.latent_channels
        decoder = Decoder(data)
        y_hat = np.zeros((h, w, n), np.int64)
        coded = np.flatnonzero(header.coded)
        if coded.size:
            taps = TapGatherer(h, w, n, self.config.context_kernel)
            schedule = wavefronts(h, w, self.config.context_kernel)
            out = self._output_layer(coded)
            for t in range(schedule.steps):
                rows, cols = schedule.positions(t)
                freqs = self._frequencies(taps.taps(rows, cols), phi[rows, cols], out,
                                          coded.size, header.radius)
                freqs = freqs.reshape(-1, 2 * header.radius + 1)
                block = y_hat[rows, cols]
                block[:, coded] = self._decode_values(decoder, freqs, header).reshape(len(rows), -1)
                y_hat[rows, cols] = block
                taps.write(rows, cols, block)
        decoder.finish()
        return y_hat

    def _output_layer(self, coded: np.ndarray) -> IntLinear:
        """The head's last layer (on the device) for the coded channels in ascending order,
        padded to a multiple of ``CHANNEL_BUCKET`` channels by repeating the last one, so
        that few programs are compiled."""
        size = -(-coded.size // CHANNEL_BUCKET) * CHANNEL_BUCKET
        channels = np.pad(coded, (0, size - coded.size), mode="edge")
        return to_device(self.exact.head.columns(channels, self.config.mixture_components))

    def _frequencies(self, taps: np.ndarray, phi: np.ndarray, out: IntLinear,
                     channels: int, radius: int) -> np.ndarray:
        """Integer tables ``[P, channels, 2 radius + 1]`` at P positions from their taps
        ``[P, 12N]`` and ``phi [P, 2N]``, with ``out`` from ``_output_layer``.

        Positions are padded to a multiple of 4 (of ``POSITION_BUCKET`` above it) by
        repeating the last, so that few programs are compiled and little padding is
        computed; the padding is cut off again.
        """
        count = taps.shape[0]
        step = 4 if count <= POSITION_BUCKET else POSITION_BUCKET
        positions = -(-count // step) * step
        pad = ((0, positions - count), (0, 0))
        with exact_xla():
            freqs = coding_tables(self._device_head, out, np.pad(taps, pad, mode="edge"),
                                  np.pad(phi, pad, mode="edge"), self._mixture_tables,
                                  self.config.mixture_components, radius)
        return np.asarray(freqs)[:count, :channels]

    @staticmethod
    def _encode_values(coder: Encoder, values: np.ndarray, freqs: np.ndarray,
                       header: bitstream.Header) -> None:
        r = header.radius
        flat = values.ravel()
        coder.encode(np.clip(flat, -r, r) + r, freqs)
        if header.escapes:
            edge = np.abs(flat) >= r
            coder.encode_unbounded(np.abs(flat[edge]) - r)

    @staticmethod
    def _decode_values(coder: Decoder, freqs: np.ndarray, header: bitstream.Header) -> np.ndarray:
        r = header.radius
        values = coder.decode(freqs).astype(np.int64) - r
        if header.escapes:
            edge = np.abs(values) >= r
            excess = coder.decode_unbounded(int(edge.sum()))
            values[edge] += np.sign(values[edge]) * excess
            if np.abs(values).max(initial=0) > MAX_LATENT:
                raise BitstreamError("latent out of range: the file is corrupted")
        return values


def _scaled(x: np.ndarray, gain: np.ndarray | None) -> np.ndarray:
    """``x [..., C] * gain [C]`` in float32; ``x`` itself when ``gain`` is None."""
    return x if gain is None else (x.astype(np.float32) * gain).astype(np.float32)


def _round(y: np.ndarray) -> np.ndarray:
    """Round half up (``floor(y + 1/2)``), as the encoder quantises y."""
    return np.floor(y + 0.5)


def _chunks(counts: np.ndarray, limit: int) -> list[range]:
    """Consecutive runs of steps with at most ``limit`` positions in all (a single step
    may exceed it)."""
    runs, start, total = [], 0, 0
    for t, count in enumerate(counts):
        if t > start and total + count > limit:
            runs.append(range(start, t))
            start, total = t, 0
        total += count
    return runs + [range(start, len(counts))]


def _group_by(items: Sequence[Any], key) -> dict[Any, list[int]]:
    groups: dict[Any, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(key(item), []).append(i)
    return groups
