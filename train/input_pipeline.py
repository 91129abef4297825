"""Training images from a folder: random crops from grain workers or from the device.

With grain (the default): every image file (PNG, JPEG, WebP, ...) under a folder,
recursively -> random crops ``[crop, crop, 3]`` uint8 with random flips and optional
random down-scaling, shuffled anew each epoch, batched per host, decoded in worker
processes. The order and the crops depend only on the seed (not on the number of
workers), and each host reads its own shard of the files.

Device-resident (``data.device_resident``, for short accelerator leases): every image is
decoded once into an ``ImagePool`` held on the device as uint8, and ``sample_crops``
draws crops inside the compiled step, each within its own image's true extent.

Validation: ``aligned_images``.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import os
import pathlib

from typing import Any

import flax.struct
import grain
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import flags, logging
from PIL import Image

from jaxlic.images import list_images, read_image
from jaxlic.models import ALIGNMENT

_HEADER_READERS = 16  # threads reading image headers or decoding images


def _image_size(path: pathlib.Path) -> tuple[int, int] | None:
    """``(height, width)`` from the file header, or None if it cannot be read as an image."""
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, ValueError, SyntaxError):
        return None
    return height, width


def usable_images(paths: list[pathlib.Path], min_side: int) -> list[pathlib.Path]:
    """The images whose both sides are at least ``min_side`` pixels.

    Unreadable files and smaller images are skipped with a warning; raises ``ValueError``
    if none is left.
    """
    with concurrent.futures.ThreadPoolExecutor(_HEADER_READERS) as pool:
        sizes = list(pool.map(_image_size, paths))
    unreadable = [p for p, s in zip(paths, sizes) if s is None]
    small = [p for p, s in zip(paths, sizes) if s is not None and min(s) < min_side]
    keep = [p for p, s in zip(paths, sizes) if s is not None and min(s) >= min_side]
    if unreadable:
        logging.warning("skipping %d unreadable image files, e.g. %s", len(unreadable),
                        [str(p) for p in unreadable[:3]])
    if small:
        logging.warning("skipping %d images smaller than %dx%d, e.g. %s", len(small),
                        min_side, min_side, [str(p) for p in small[:3]])
    if not keep:
        raise ValueError(f"none of the {len(paths)} image files under "
                         f"{paths[0].parent} is readable and at least {min_side}x{min_side}")
    return keep


@dataclasses.dataclass(frozen=True)
class RandomCrop(grain.transforms.RandomMap):
    """Path -> random ``[crop_size, crop_size, 3]`` uint8 crop of the RGB image.

    With ``max_downscale > 1`` the image is first shrunk by a log-uniform factor in
    ``[1, max_downscale]``, never below the crop size; with ``random_flip`` the crop is
    flipped horizontally and vertically with probability 1/2 each.
    """

    crop_size: int
    random_flip: bool
    max_downscale: float

    def random_map(self, path: str, rng: np.random.Generator) -> np.ndarray:
        c = self.crop_size
        with Image.open(path) as image:
            image = self._downscale(image.convert("RGB"), rng)
            width, height = image.size
            top = int(rng.integers(0, height - c + 1))
            left = int(rng.integers(0, width - c + 1))
            crop = np.asarray(image.crop((left, top, left + c, top + c)))
        if self.random_flip:
            if rng.random() < 0.5:
                crop = crop[:, ::-1]
            if rng.random() < 0.5:
                crop = crop[::-1]
        return np.ascontiguousarray(crop)

    def _downscale(self, image: Image.Image, rng: np.random.Generator) -> Image.Image:
        smallest = max(1.0 / self.max_downscale, self.crop_size / min(image.size))
        if smallest >= 1.0:
            return image
        scale = math.exp(rng.uniform(math.log(smallest), 0.0))
        size = tuple(max(self.crop_size, round(s * scale)) for s in image.size)
        return image.resize(size, Image.Resampling.BICUBIC)


def train_dataset(data: ml_collections.ConfigDict, batch_size: int, seed: int,
                  shard_index: int = 0, shard_count: int = 1) -> grain.IterDataset:
    """Endless batches ``[batch_size, crop, crop, 3]`` uint8 of this host's shard.

    ``data`` holds ``train_dir``, ``crop_size``, ``random_flip``, ``max_downscale``,
    ``num_workers`` and ``worker_buffer_size`` (see ``configs/default.py``).
    Iterate with ``iter(...)``; the iterator's ``get_state``/``set_state`` resume it.
    """
    paths = usable_images(list_images(data.train_dir), data.crop_size)
    if len(paths) < shard_count:
        raise ValueError(f"{len(paths)} usable images cannot be split over {shard_count} hosts")
    crop = RandomCrop(data.crop_size, data.random_flip, data.max_downscale)
    ds = (grain.MapDataset.source([str(p) for p in paths])[shard_index::shard_count]
          .shuffle(seed=seed)
          .repeat()
          .random_map(crop, seed=seed)
          .batch(batch_size, drop_remainder=True)
          .to_iter_dataset())
    if data.num_workers:
        if not flags.FLAGS.is_parsed():  # grain's workers read absl flags (library use)
            flags.FLAGS.mark_as_parsed()
        ds = ds.mp_prefetch(grain.MultiprocessingOptions(
            num_workers=data.num_workers, per_worker_buffer_size=data.worker_buffer_size))
    return ds


@flax.struct.dataclass
class ImagePool:
    """Training images of any sizes packed into one uint8 buffer.

    Image ``i`` (turned landscape) fills rows ``offsets[i]`` to ``offsets[i] + heights[i]``
    and columns ``0`` to ``widths[i]`` of ``pixels [rows, max_width, 3]``; the columns to
    its right are zero padding that ``sample_crops`` never reads.
    """

    pixels: Any  # [rows, max_width, 3] uint8
    offsets: Any  # [M] int32, first row of each image
    heights: Any  # [M] int32
    widths: Any  # [M] int32


def load_pool(data: ml_collections.ConfigDict) -> ImagePool:
    """Every usable image under ``data.train_dir`` (both sides at least ``data.crop_size``),
    decoded once and packed as an ``ImagePool`` of numpy arrays.

    Portrait images are transposed to landscape, which keeps the padding small; with the
    random flips this is a 90-degree rotation, a harmless augmentation for compression.
    """
    if data.max_downscale != 1.0:
        raise ValueError("data.device_resident takes the images at their own scale: "
                         f"set data.max_downscale to 1 (got {data.max_downscale})")
    paths = usable_images(list_images(data.train_dir), data.crop_size)
    with concurrent.futures.ThreadPoolExecutor(_HEADER_READERS) as pool:
        images = list(pool.map(read_image, paths))
    images = [im.transpose(1, 0, 2) if im.shape[0] > im.shape[1] else im for im in images]
    heights = np.array([im.shape[0] for im in images], np.int32)
    widths = np.array([im.shape[1] for im in images], np.int32)
    offsets = np.concatenate([[0], np.cumsum(heights)[:-1]]).astype(np.int32)
    pixels = np.zeros((int(heights.sum()), int(widths.max()), 3), np.uint8)
    for image, top in zip(images, offsets):
        pixels[top:top + image.shape[0], :image.shape[1]] = image
    return ImagePool(pixels, offsets, heights, widths)


def sample_crops(pool: ImagePool, key: jax.Array, example_ids: jax.Array, crop: int,
                 flip: bool) -> jax.Array:
    """``[B, crop, crop, 3]`` uint8, one crop per entry of ``example_ids [B]``.

    Example ``e`` draws, from ``fold_in(key, e)`` alone, an image uniformly, a position
    uniformly among all ``crop x crop`` windows inside that image, and (with ``flip``)
    horizontal and vertical flips with probability 1/2 each.
    """

    def one(example_id):
        k_image, k_top, k_left, k_flip = jax.random.split(jax.random.fold_in(key, example_id), 4)
        i = jax.random.randint(k_image, (), 0, pool.offsets.shape[0])
        top = jax.random.randint(k_top, (), 0, pool.heights[i] - crop + 1)
        left = jax.random.randint(k_left, (), 0, pool.widths[i] - crop + 1)
        x = jax.lax.dynamic_slice(pool.pixels, (pool.offsets[i] + top, left, 0), (crop, crop, 3))
        if flip:
            flips = jax.random.bernoulli(k_flip, 0.5, (2,))
            x = jnp.where(flips[0], x[:, ::-1], x)
            x = jnp.where(flips[1], x[::-1], x)
        return x

    return jax.vmap(one)(example_ids)


def aligned_images(folder: str | os.PathLike, max_images: int = 0) -> list[np.ndarray]:
    """Validation images, uint8 ``[H, W, 3]`` centre-cropped to multiples of 64.

    ``max_images`` > 0 keeps the first that many files (sorted by path). Images smaller
    than 64 pixels are skipped with a warning.
    """
    paths = usable_images(list_images(folder), ALIGNMENT)
    if max_images:
        paths = paths[:max_images]
    images = []
    for path in paths:
        pixels = read_image(path)
        height, width = (s - s % ALIGNMENT for s in pixels.shape[:2])
        top, left = (pixels.shape[0] - height) // 2, (pixels.shape[1] - width) // 2
        images.append(pixels[top:top + height, left:left + width])
    return images
