"""The ``jaxlic`` command line. Each sub-command lives in its own module with
``add_parser(subparsers)``; ``main(argv)`` is callable from tests, ``command()`` is the
installed command (it first re-executes itself with a faster allocator,
``jaxlic.cli.allocator``)."""

from __future__ import annotations

import argparse
import importlib

from jaxlic.cli import allocator

SUBCOMMANDS = ("info", "compress", "decompress", "demo", "evaluate", "bench_codecs", "bd_rate",
               "plot")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxlic", description=__doc__.split("\n")[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(f"jaxlic.cli.{name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one sub-command; returns the exit status."""
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)


def command() -> int:
    """The ``jaxlic`` console command: ``main`` under the faster allocator."""
    allocator.relaunch()
    return main()
