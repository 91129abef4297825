"""``jaxlic info``: parameters and multiply-accumulates per component of a model."""

from __future__ import annotations

import argparse
import json

from jaxlic.cli.common import UserError, add_weights_argument, load_codec, model_label, \
    reporting_user_errors


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("info", help="parameter counts and MACs/pixel of a model")
    p.add_argument("--config", help="model preset: n64, n128, n256 or tiny (default: the "
                                    "model of --weights or --model, else the shipped one)")
    add_weights_argument(p)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(run=reporting_user_errors("info", run))


def run(args: argparse.Namespace) -> int:
    from jaxlic.models import ModelConfig
    from jaxlic.models.complexity import COMPONENTS, summary

    if args.config and (args.weights or args.model):
        raise UserError("--config describes a preset; leave out --weights and --model")
    if args.config:
        try:
            config, label = ModelConfig.preset(args.config), f"preset {args.config}"
        except ValueError as e:
            raise UserError(str(e)) from e
    else:
        config, label = load_codec(args).config, f"model {model_label(args)}"
    info = summary(config)
    if args.json:
        print(json.dumps({"model": label, **info}, indent=2))
        return 0
    params, macs = info["parameters"], info["macs_per_pixel"]
    rate = f"{config.rate_levels} quality levels" if config.variable_rate else "fixed rate"
    print(f"{label}: M = {config.latent_channels}, N = {config.transform_width}, {rate}")
    print(f"{'component':<20}{'parameters':>14}{'kMAC/pixel':>14}")
    for name in COMPONENTS:
        if params[name] or macs[name]:
            print(f"{name:<20}{params[name]:>14,}{macs[name] / 1e3:>14.2f}")
    print(f"{'total':<20}{params['total']:>14,}")
    print(f"encoder {macs['encoder'] / 1e3:.1f} kMAC/pixel, "
          f"decoder {macs['decoder'] / 1e3:.1f} kMAC/pixel")
    return 0
