"""``jaxlic bd-rate ANCHOR RESULTS...``: Bjontegaard deltas of curves against an anchor."""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("bd-rate", help="BD-rate and BD-PSNR against an anchor curve")
    p.add_argument("anchor", help="results JSON of the anchor (e.g. VTM)")
    p.add_argument("results", nargs="+", help="results JSONs, or folders of them")
    p.add_argument("--metric", default="psnr", choices=["psnr", "ms-ssim"],
                   help="quality measure: PSNR-RGB or MS-SSIM in dB (default: psnr)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from jaxlic.eval.bdrate import bd_psnr, bd_rate
    from jaxlic.eval.results import expand_paths, read_curve

    try:
        anchor = read_curve(args.anchor)
        curves = [read_curve(p) for p in expand_paths(args.results)]
        anchor_quality = anchor.quality(args.metric)
        if anchor_quality is None:
            raise ValueError(f"the anchor {anchor.name} has no {args.metric} values")
    except ValueError as error:
        print(f"jaxlic bd-rate: {error}", file=sys.stderr)
        return 2
    rows = []
    for curve in curves:
        if curve.name == anchor.name:
            continue
        row = {"name": curve.name, "bd_rate_percent": None, "bd_quality_db": None, "note": ""}
        quality = curve.quality(args.metric)
        try:
            if quality is None:
                raise ValueError(f"no {args.metric} values")
            row["bd_rate_percent"] = bd_rate(anchor.bpp, anchor_quality, curve.bpp, quality)
            row["bd_quality_db"] = bd_psnr(anchor.bpp, anchor_quality, curve.bpp, quality)
        except ValueError as error:
            row["note"] = str(error)
        rows.append(row)
    if args.json:
        print(json.dumps({"anchor": anchor.name, "metric": args.metric, "rows": rows}, indent=1))
        return 0
    unit = "BD-PSNR dB" if args.metric == "psnr" else "BD-MS-SSIM dB"
    print(f"| codec | BD-rate vs {anchor.name} | {unit} |\n|---|---:|---:|")
    for row in rows:
        if row["note"]:
            print(f"| {row['name']} | n/a | n/a ({row['note']}) |")
        else:
            print(f"| {row['name']} | {row['bd_rate_percent']:+.1f} % "
                  f"| {row['bd_quality_db']:+.2f} |")
    return 0
