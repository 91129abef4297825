"""The grain input pipeline: crops, determinism, resumption, sharding, bad folders."""

import logging

import ml_collections
import numpy as np
import pytest
from PIL import Image

from jaxlic.images import list_images
from train import input_pipeline


def _write(path, height, width, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8)
    Image.fromarray(pixels).save(path)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Six usable images in three formats and a subfolder, one too small, one broken."""
    root = tmp_path_factory.mktemp("images")
    for i, name in enumerate(["a.png", "b.jpg", "c.webp", "sub/d.png", "sub/e.JPEG", "f.png"]):
        _write(root / name, 80 + 8 * i, 96, i)
    _write(root / "small.png", 40, 100, 9)
    (root / "broken.png").write_bytes(b"not an image")
    (root / "notes.txt").write_text("ignored")
    return root


def _data(folder, **overrides):
    data = dict(train_dir=str(folder), crop_size=64, random_flip=True, max_downscale=1.5,
                num_workers=0, worker_buffer_size=2)
    return ml_collections.ConfigDict({**data, **overrides})


def _batches(data, count, seed=0, shard=(0, 1)):
    iterator = iter(input_pipeline.train_dataset(data, 2, seed, *shard))
    return [next(iterator) for _ in range(count)]


def test_listing_skips_small_and_unreadable_images_with_a_warning(folder, caplog):
    paths = list_images(folder)
    assert len(paths) == 8 and all(p.suffix != ".txt" for p in paths)
    with caplog.at_level(logging.WARNING):
        usable = input_pipeline.usable_images(paths, 64)
    assert sorted(p.name for p in usable) == ["a.png", "b.jpg", "c.webp", "d.png", "e.JPEG",
                                              "f.png"]
    assert "smaller than 64x64" in caplog.text and "small.png" in caplog.text
    assert "unreadable" in caplog.text and "broken.png" in caplog.text


def test_empty_missing_or_useless_folders_are_clear_errors(tmp_path, folder):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list_images(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="no image files"):
        list_images(tmp_path)
    with pytest.raises(ValueError, match="at least 512x512"):
        input_pipeline.train_dataset(_data(folder, crop_size=512), 2, 0)


def test_crops_are_deterministic_given_the_seed_and_resumable(folder):
    data = _data(folder)
    first = _batches(data, 5)
    assert first[0].shape == (2, 64, 64, 3) and first[0].dtype == np.uint8
    assert all(np.array_equal(a, b) for a, b in zip(first, _batches(data, 5)))
    assert not np.array_equal(first[0], _batches(data, 1, seed=1)[0])
    # 5 batches = 10 crops of 6 images: the second epoch is reshuffled, not repeated.
    assert len({b.tobytes() for batch in first for b in batch}) == 10

    iterator = iter(input_pipeline.train_dataset(data, 2, 0))
    next(iterator), next(iterator)
    state = iterator.get_state()
    resumed = iter(input_pipeline.train_dataset(data, 2, 0))
    resumed.set_state(state)
    assert all(np.array_equal(next(resumed), b) for b in first[2:])


def test_hosts_read_disjoint_shards(tmp_path):
    for i in range(4):
        _write(tmp_path / f"{i}.png", 64, 64, i)
    data = _data(tmp_path, random_flip=False, max_downscale=1.0)
    # 64x64 images: each crop is a whole image. Two batches of 2 = two epochs per host.
    seen = [{b.tobytes() for batch in _batches(data, 2, shard=(i, 2)) for b in batch}
            for i in range(2)]
    assert len(seen[0]) == len(seen[1]) == 2 and not seen[0] & seen[1]


def test_worker_processes_give_the_same_batches(folder):
    data = _data(folder)
    iterator = iter(input_pipeline.train_dataset(_data(folder, num_workers=2), 2, 0))
    try:
        batches = [next(iterator) for _ in range(4)]
    finally:
        iterator.close()
    assert all(np.array_equal(a, b) for a, b in zip(batches, _batches(data, 4)))


def test_validation_images_are_cropped_to_multiples_of_64(folder):
    images = input_pipeline.aligned_images(folder, max_images=3)
    assert [im.shape for im in images] == [(64, 64, 3)] * 3
    with Image.open(folder / "a.png") as original:
        # a.png is 80x96: rows 8..72 and columns 16..80 are the centre 64x64.
        assert np.array_equal(images[0], np.asarray(original)[8:72, 16:80])
