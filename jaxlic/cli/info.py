"""``jaxlic info``: parameters and multiply-accumulates per component of a model."""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("info", help="parameter counts and MACs/pixel of a model")
    p.add_argument("--config", default="n128", help="model preset: n128, n256 or tiny")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from jaxlic.models import ModelConfig
    from jaxlic.models.complexity import COMPONENTS, summary

    info = summary(ModelConfig.preset(args.config))
    if args.json:
        print(json.dumps({"preset": args.config, **info}, indent=2))
        return 0
    params, macs = info["parameters"], info["macs_per_pixel"]
    print(f"model preset {args.config}: N = {info['config']['latent_channels']}")
    print(f"{'component':<20}{'parameters':>14}{'kMAC/pixel':>14}")
    for name in COMPONENTS:
        print(f"{name:<20}{params[name]:>14,}{macs[name] / 1e3:>14.2f}")
    print(f"{'total':<20}{params['total']:>14,}")
    print(f"encoder {macs['encoder'] / 1e3:.1f} kMAC/pixel, "
          f"decoder {macs['decoder'] / 1e3:.1f} kMAC/pixel")
    return 0
