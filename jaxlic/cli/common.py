"""Helpers shared by the coding sub-commands."""

from __future__ import annotations

import argparse
import os
import pathlib


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
    """A sub-command ``NAME INPUT [OUTPUT] [--weights FILE | --model NAME]``."""
    p = subparsers.add_parser(name, help=help)
    p.add_argument("input", help=input_help)
    p.add_argument("output", nargs="?", help=output_help)
    add_weights_argument(p)
    p.set_defaults(run=run)
    return p


def add_weights_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", help="weights file (default: the shipped default model)")
    parser.add_argument("--model", help="name of a shipped model (see jaxlic.zoo)")


def load_codec(args: argparse.Namespace):
    """The codec named by ``--weights`` or ``--model``, else the shipped default."""
    from jaxlic import zoo
    from jaxlic.coding import Codec

    if args.weights:
        return Codec.load(args.weights)
    return zoo.load(args.model)
