"""Helpers shared by the coding sub-commands: options, weights, path checks, messages."""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import warnings
from contextlib import contextmanager
from typing import Callable, Iterator


class UserError(Exception):
    """A problem with the command's inputs, reported as one line and exit status 2."""


def reporting_user_errors(command: str, run: Callable[[argparse.Namespace], int]
                          ) -> Callable[[argparse.Namespace], int]:
    """``run`` that prints a ``UserError`` as ``jaxlic COMMAND: message`` on stderr and
    returns 2 instead of raising it."""

    def wrapped(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except UserError as e:
            print(f"jaxlic {command}: {e}", file=sys.stderr)
            return 2

    return wrapped


def enable_compile_cache() -> None:
    """Keep compiled XLA programs on disk so that repeated commands start quickly
    (in ``$JAXLIC_CACHE_DIR``, default ``~/.cache/jaxlic/xla``; a cache the caller already
    configured is kept)."""
    import jax

    if jax.config.jax_compilation_cache_dir:
        return
    cache = os.environ.get("JAXLIC_CACHE_DIR",
                           str(pathlib.Path.home() / ".cache" / "jaxlic" / "xla"))
    jax.config.update("jax_compilation_cache_dir", cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def add_file_command(subparsers, name: str, help: str, input_help: str, output_help: str,
                     run) -> argparse.ArgumentParser:
    """A sub-command ``NAME INPUT [OUTPUT] [--weights FILE | --model NAME]`` with
    ``--max-pixels``, ``--verbose`` and ``--no-progress``."""
    p = subparsers.add_parser(name, help=help)
    p.add_argument("input", help=input_help)
    p.add_argument("output", nargs="?", help=output_help)
    add_weights_argument(p)
    p.add_argument("--max-pixels", type=positive_int, metavar="N", default=None,
                   help="refuse images of more than N pixels (default 89478485, Pillow's "
                        "limit against decompression bombs)")
    p.add_argument("--verbose", action="store_true", help="print the seconds of every stage")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (it appears after 2 s on long images)")
    p.set_defaults(run=run)
    return p


def positive_int(text: str) -> int:
    """argparse type: an integer above zero."""
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def add_weights_argument(parser: argparse.ArgumentParser) -> None:
    from jaxlic import zoo

    default = zoo.default_name()
    parser.add_argument("--weights", help="weights file (default: the shipped model "
                                          f"{default!r} of jaxlic.zoo)" if default else
                                          "weights file (this build ships no default model)")
    parser.add_argument("--model", help="name of a shipped model (see jaxlic.zoo)")


def model_label(args: argparse.Namespace) -> str | None:
    """What ``load_codec`` loads: the weights file, the named or the default model."""
    from jaxlic import zoo

    return args.weights or args.model or zoo.default_name()


def load_codec(args: argparse.Namespace):
    """The codec named by ``--weights`` or ``--model``, else the shipped default.
    ``UserError`` if there is none or the file cannot be used."""
    from jaxlic import zoo
    from jaxlic.coding import Codec, WeightsError

    try:
        if args.weights:
            if not pathlib.Path(args.weights).is_file():
                raise UserError(f"no such weights file: {args.weights}")
            return Codec.load(args.weights)
        return zoo.load(args.model)
    except (WeightsError, LookupError) as e:
        raise UserError(str(e)) from e


def existing_file(path: str) -> pathlib.Path:
    """``path`` as a Path; ``UserError`` unless it is a readable file."""
    p = pathlib.Path(path)
    if not p.exists():
        raise UserError(f"no such file: {path}")
    if not p.is_file():
        raise UserError(f"{path} is not a file")
    if not os.access(p, os.R_OK):
        raise UserError(f"{path} is not readable")
    return p


def output_path(path: pathlib.Path, source: pathlib.Path) -> pathlib.Path:
    """``path`` after checking, before any work, that it can be written: its folder
    exists and is writable, it is not a folder and not the input file."""
    folder = path.parent
    if not folder.is_dir():
        raise UserError(f"cannot write {path}: the folder {folder} does not exist")
    if path.is_dir():
        raise UserError(f"cannot write {path}: it is a folder")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UserError(f"cannot write {path}: permission denied")
    if path.exists() and path.resolve() == source.resolve():
        raise UserError(f"the output {path} is the input file; choose another name")
    return path


def writable_image_suffix(path: pathlib.Path) -> None:
    """``UserError`` unless Pillow writes images with the suffix of ``path``."""
    from PIL import Image

    formats = Image.registered_extensions()
    suffix = path.suffix.lower()
    if formats.get(suffix) not in Image.SAVE:
        raise UserError(f"cannot write {path}: unknown image format "
                        f"{suffix or '(no suffix)'}; use .png (lossless), .bmp, .tif, .ppm, "
                        ".webp or .jpg")


@contextmanager
def notes(command: str) -> Iterator[None]:
    """Print ``ConversionNote`` warnings raised inside the block as ``jaxlic CMD: note: ...``
    lines on stderr (other warnings pass through)."""
    from jaxlic.images import ConversionNote

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConversionNote)
        try:
            yield
        finally:
            for w in caught:
                if issubclass(w.category, ConversionNote):
                    print(f"jaxlic {command}: note: {w.message}", file=sys.stderr)
                else:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def print_timings(timings: dict[str, float]) -> None:
    """One line per stage, in seconds."""
    for stage, seconds in timings.items():
        print(f"  {stage:<16} {seconds:8.3f} s")
